"""Module semantics that ported code relies on, each checked against PyTorch doing the same thing: a re-assigned
child keeps its place, apply's order, named_modules with duplicates, register_buffer(persistent=),
zero_grad(set_to_none=False), requires_grad_, to(device), container editing, load_state_dict's result."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
import tinycnn.nn as nn
from tinycnn.models import resnet18


def small_net(lib):
    class Net(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = lib.nn.Conv2d(1, 4, 3)
            self.relu = lib.nn.ReLU()
            self.conv2 = lib.nn.Conv2d(4, 4, 3)
            self.pool = lib.nn.AdaptiveAvgPool2d(1)
            self.flat = lib.nn.Flatten()
            self.fc = lib.nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(self.flat(self.pool(self.conv2(self.relu(self.conv1(x))))))
    return Net()


def test_reassigned_child_keeps_its_place_like_torch(torch):
    ours, theirs = small_net(tinycnn), small_net(torch)
    for m, lib in ((ours, tinycnn), (theirs, torch)):
        m.conv1 = lib.nn.Conv2d(1, 4, 5)               # replace the first layer ...
        m.fc = lib.nn.Linear(4, 10)                     # ... and the head
    assert [n for n, _ in ours.named_children()] == [n for n, _ in theirs.named_children()]
    assert [n for n, _ in ours.named_modules()] == [n for n, _ in theirs.named_modules()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    # everything but the head: drops the wrong layer unless reassignment keeps the order
    body = nn.Sequential(*list(ours.children())[:-1])
    t_body = torch.nn.Sequential(*list(theirs.children())[:-1])
    assert [type(m).__name__ for m in body] == [type(m).__name__ for m in t_body]
    assert body[0] is ours.conv1 and body(tinycnn.randn(2, 1, 9, 9)).shape == (2, 4)


def test_torchvision_style_head_replacement_keeps_the_key_order(torchvision):
    ours, theirs = resnet18(), torchvision.models.resnet18()
    ours.fc, theirs.fc = nn.Linear(512, 10), type(theirs.fc)(512, 10)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert list(ours.children())[-1] is ours.fc


def test_reassigning_parameters_and_buffers_keeps_their_place(torch):
    for lib in (tinycnn, torch):
        m = lib.nn.BatchNorm1d(3)
        m.weight = lib.nn.Parameter(lib.ones(3) * 2)
        m.running_mean = lib.zeros(3) + 1
        assert list(m.state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    m = nn.Linear(2, 2)
    m.weight = nn.Linear(2, 2)       # a module where a parameter was: it moves to the modules, as in PyTorch
    assert [n for n, _ in m.named_parameters(recurse=False)] == ["bias"] and "weight" in dict(m.named_children())


def test_apply_visits_children_first_in_order_like_torch(torch):
    def order(lib):
        seq = lib.nn.Sequential(lib.nn.Sequential(lib.nn.Linear(1, 1), lib.nn.ReLU()), lib.nn.Tanh())
        seen = []
        seq.apply(lambda m: seen.append(type(m).__name__))
        return seen
    assert order(tinycnn) == order(torch) == ["Linear", "ReLU", "Sequential", "Tanh", "Sequential"]


def test_init_with_apply_as_tutorials_do():
    def init_weights(m):
        if type(m) in (nn.Linear, nn.Conv2d):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    net = small_net(tinycnn)
    net.apply(init_weights)
    assert not net.fc.bias.numpy().any() and not net.conv1.bias.numpy().any()


def test_named_modules_remove_duplicate_like_torch(torch):
    for lib in (tinycnn, torch):
        shared = lib.nn.Linear(1, 1)
        seq = lib.nn.Sequential(shared, shared)
        assert [n for n, _ in seq.named_modules()] == ["", "0"]
        assert [n for n, _ in seq.named_modules(remove_duplicate=False)] == ["", "0", "1"]
        assert [n for n, _ in seq.named_modules(prefix="net")] == ["net", "net.0"]


def test_register_buffer_persistent_and_name_rules(torch):
    for lib in (tinycnn, torch):
        m = lib.nn.Module()
        m.register_buffer("scratch", lib.zeros(2), persistent=False)
        assert list(m.state_dict()) == [] and [n for n, _ in m.named_buffers()] == ["scratch"]
        m.register_buffer("scratch", lib.ones(2))                  # re-registered as persistent
        assert list(m.state_dict()) == ["scratch"]
        with pytest.raises(KeyError, match="contain"):
            m.register_buffer("a.b", lib.zeros(1))
        m.register_parameter("w", lib.nn.Parameter(lib.zeros(1)))
        with pytest.raises(KeyError, match="already exists"):
            m.register_buffer("w", lib.zeros(1))
        with pytest.raises(KeyError, match="already exists"):
            m.register_buffer("train", lib.zeros(1))


def test_zero_grad_set_to_none_false_zeroes_in_place_and_requires_grad():
    net = small_net(tinycnn)
    net(tinycnn.randn(2, 1, 9, 9)).sum().backward()
    grad = net.fc.weight.grad
    array = grad.array
    net.zero_grad(set_to_none=False)
    assert net.fc.weight.grad is grad and grad.array is array and not array.any()
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    net.requires_grad_(False)
    assert not any(p.requires_grad for p in net.parameters())
    net.fc.requires_grad_(True)
    assert [n for n, p in net.named_parameters() if p.requires_grad] == ["fc.weight", "fc.bias"]


def test_to_device_and_dtype_forms():
    net = small_net(tinycnn)
    dev = tinycnn.device("cpu")
    assert net.to(dev) is net and net.to(device=dev) is net
    assert repr(tinycnn.device("cuda", 0)) == "device(type='cuda', index=0)" and str(tinycnn.device("cuda:1")) == \
        "cuda:1"
    assert tinycnn.device("cpu") == "cpu" == dev and tinycnn.device("cuda:0") != tinycnn.device("cuda")
    assert hash(tinycnn.device("cpu")) == hash(dev)
    net.to(torch_like := tinycnn.zeros(1, dtype=tinycnn.float64))
    assert torch_like.dtype == net.fc.weight.dtype == np.float64
    net.to("float32")
    assert net.fc.weight.dtype == np.float32
    net.to(dev, tinycnn.float64, non_blocking=True)
    assert net.conv1.weight.dtype == np.float64
    x = tinycnn.randn(1, 1, 9, 9).to(dev).double()
    assert net(x).shape == (1, 3)
    with pytest.raises(ValueError, match="unknown device"):
        tinycnn.device("tpu")


def test_to_cuda_moves_parameters_and_buffers():
    if not tinycnn.cuda.is_available():
        pytest.skip("CuPy with a GPU is not available")
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).to(tinycnn.device("cuda:0"))
    assert all(p.device == "cuda" for p in net.parameters()) and net[1].running_mean.device == "cuda"


def test_container_editing_like_torch(torch):
    def edit(lib):
        seq = lib.nn.Sequential(lib.nn.ReLU(), lib.nn.Tanh(), lib.nn.Sigmoid())
        seq.insert(1, lib.nn.Identity())
        seq.append(lib.nn.ReLU6())
        del seq[0]
        seq.extend([lib.nn.ELU()])
        popped = seq.pop(2)
        ml = lib.nn.ModuleList([lib.nn.ReLU(), lib.nn.Tanh()])
        ml.insert(0, lib.nn.Sigmoid())
        del ml[1]
        md = lib.nn.ModuleDict({"a": lib.nn.ReLU()})
        md.update({"b": lib.nn.Tanh()})
        return ([n for n, _ in seq.named_children()], [type(m).__name__ for m in seq], type(popped).__name__,
                [type(m).__name__ for m in ml], list(md.keys()), type(md.pop("a")).__name__)
    assert edit(tinycnn) == edit(torch)


def test_load_state_dict_returns_the_incompatible_keys(torch):
    for lib in (tinycnn, torch):
        m = lib.nn.Linear(2, 2)
        result = m.load_state_dict({"weight": lib.zeros(2, 2), "extra": lib.zeros(1)}, strict=False)
        assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]


def test_get_submodule_parameter_buffer():
    net = nn.Sequential(nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    assert net.get_submodule("0.1") is net[0][1]
    assert net.get_parameter("0.0.weight") is net[0][0].weight
    assert net.get_buffer("0.1.running_mean") is net[0][1].running_mean
    with pytest.raises(AttributeError, match="no submodule '2'"):
        net.get_submodule("0.2")
