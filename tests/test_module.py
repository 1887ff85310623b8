"""nn.Module, containers and state dicts."""
from collections import OrderedDict

import numpy as np
import pytest

import tinycnn
from tinycnn import nn


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(tinycnn.randn(3, 2))
        self.register_buffer("running", tinycnn.zeros(2))
        self.register_buffer("scratch", tinycnn.zeros(1), persistent=False)
        self.inner = nn.Sequential(nn.Identity())
        self.plain = 5

    def forward(self, x):
        return x @ self.weight


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = Block()
        self.b = Block()
        self.shared = self.a          # the same module twice: counted once


def test_registration_and_traversal():
    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["a.weight", "b.weight"]
    assert [n for n, _ in net.named_buffers()] == ["a.running", "a.scratch", "b.running", "b.scratch"]
    assert [n for n, _ in net.named_children()] == ["a", "b", "shared"]
    names = [n for n, _ in net.named_modules()]
    assert names == ["", "a", "a.inner", "a.inner.0", "b", "b.inner", "b.inner.0"]
    assert len(list(net.parameters())) == 2
    assert net.a.plain == 5


def test_state_dict_keys_skip_non_persistent_buffers():
    assert list(Net().state_dict()) == ["a.weight", "a.running", "b.weight", "b.running"]


def test_load_state_dict_accepts_arrays_and_tensors_and_keeps_dtype():
    net = Net()
    sd = {k: np.full(v.shape, 2.0, dtype=np.float64) for k, v in net.state_dict().items()}
    sd["b.weight"] = tinycnn.ones(3, 2)
    net.load_state_dict(sd)
    assert net.a.weight.dtype == np.float32
    assert net.a.weight.numpy()[0, 0] == 2.0 and net.b.weight.numpy()[0, 0] == 1.0


def test_load_state_dict_strict_names_every_problem():
    net = Net()
    sd = net.state_dict()
    del sd["a.running"]
    sd["extra"] = np.zeros(1)
    sd["b.weight"] = np.zeros((2, 2))
    with pytest.raises(RuntimeError) as info:
        net.load_state_dict(sd)
    msg = str(info.value)
    assert "missing keys: a.running" in msg and "unexpected keys: extra" in msg
    assert "b.weight: checkpoint (2, 2) vs model (3, 2)" in msg
    del sd["b.weight"]
    missing, unexpected = net.load_state_dict(sd, strict=False)
    assert missing == ["a.running", "b.weight"] and unexpected == ["extra"]


def test_state_dict_round_trip_through_save_and_load(tmp_path):
    net = Net()
    tinycnn.save(net.state_dict(), tmp_path / "w.npz")
    other = Net()
    other.load_state_dict(tinycnn.load(tmp_path / "w.npz"))
    np.testing.assert_array_equal(other.a.weight.numpy(), net.a.weight.numpy())


def test_train_eval_zero_grad_requires_grad_apply():
    net = Net()
    net.eval()
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    out = net.a(tinycnn.ones(1, 3)).sum()
    out.backward()
    assert net.a.weight.grad is not None
    net.zero_grad()
    assert net.a.weight.grad is None
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    visited = []
    net.apply(lambda m: visited.append(type(m).__name__))
    assert visited[-1] == "Net"


def test_assigning_wrong_types_is_an_error():
    block = Block()
    with pytest.raises(TypeError, match="parameter 'weight'"):
        block.weight = tinycnn.ones(3, 2)
    with pytest.raises(TypeError, match="buffer 'running'"):
        block.running = np.zeros(2)
    block.weight = None
    assert "weight" not in dict(block.named_parameters())


def test_sequential_indexing_iteration_and_ordered_dict():
    seq = nn.Sequential(nn.Identity(), nn.Sequential(), nn.Identity())
    assert len(seq) == 3 and isinstance(seq[1], nn.Sequential) and isinstance(seq[-1], nn.Identity)
    assert len(seq[:2]) == 2
    named = nn.Sequential(OrderedDict(first=nn.Identity(), second=nn.Identity()))
    assert [n for n, _ in named.named_children()] == ["first", "second"]
    with pytest.raises(IndexError):
        seq[3]
    x = tinycnn.ones(2)
    assert seq[0](x) is x


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Identity(), nn.Identity()])
    ml.append(Block())
    assert len(ml) == 3 and len(list(ml.parameters())) == 1
    md = nn.ModuleDict({"x": Block()})
    md["y"] = Block()
    assert list(md.keys()) == ["x", "y"] and "x" in md
    assert [n for n, _ in md.named_parameters()] == ["x.weight", "y.weight"]


def test_repr_is_nested_and_readable():
    text = repr(nn.Sequential(nn.Identity(), Block()))
    assert text.startswith("Sequential(\n  (0): Identity()\n  (1): Block(")


def test_forgetting_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.x = 1

    with pytest.raises(AttributeError, match="super"):
        Bad()
