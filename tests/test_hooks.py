"""Module forward/backward hooks and Tensor.register_hook, with PyTorch's call order, signatures, return-value
rules and gradient values (torch as the oracle for the gradients a hook sees)."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
import tinycnn.nn as nn
from tinycnn import Tensor

pytestmark = pytest.mark.filterwarnings("ignore:Full backward hook is firing:UserWarning")   # torch, no input grad


def TwoInputs(lib):
    """A module of ``lib`` (tinycnn or torch) computing lin(a) * scale + b * b: two tensor inputs, so
    grad_input has two entries."""

    class Module(lib.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lib.nn.Linear(3, 3)

        def forward(self, a, b, scale=1.0):
            return self.lin(a) * scale + b * b
    return Module()


def test_forward_pre_hook_and_forward_hook_can_replace_inputs_and_outputs():
    lin = nn.Linear(2, 2)
    calls = []
    h1 = lin.register_forward_pre_hook(lambda m, args: calls.append(("pre", len(args))) or (args[0] * 0,))
    h2 = lin.register_forward_hook(lambda m, args, out: calls.append(("post", tuple(out.shape))) or out + 1)
    y = lin(tinycnn.randn(4, 2))
    np.testing.assert_allclose(y.numpy(), np.broadcast_to(lin.bias.numpy() + 1, (4, 2)), rtol=1e-6)
    assert calls == [("pre", 1), ("post", (4, 2))]
    h1.remove()
    with h2:                                   # a handle is a context manager
        pass
    x = tinycnn.randn(4, 2)
    np.testing.assert_array_equal(lin(x).numpy(), (x @ lin.weight.t() + lin.bias).numpy())
    assert not lin._has_hooks()


def test_hook_order_prepend_kwargs_and_always_call():
    lin, order = nn.Linear(2, 2), []
    lin.register_forward_hook(lambda m, a, o: order.append("a"))
    lin.register_forward_hook(lambda m, a, o: order.append("b"), prepend=True)
    lin.register_forward_pre_hook(lambda m, a, kw: order.append(("kw", sorted(kw))), with_kwargs=True)
    lin.register_forward_hook(lambda m, a, kw, o: order.append(("post-kw", sorted(kw))), with_kwargs=True)
    lin(tinycnn.randn(1, 2))
    assert order == [("kw", []), "b", "a", ("post-kw", [])]
    seen = []
    bad = nn.Linear(2, 2)
    bad.register_forward_hook(lambda m, a, o: seen.append(o), always_call=True)
    bad.register_forward_hook(lambda m, a, o: seen.append("not on error"))
    with pytest.raises(ValueError, match="expects input with 2 features"):
        bad(tinycnn.randn(1, 3))
    assert seen == [None]


def test_pre_hook_with_kwargs_can_replace_kwargs():
    m = TwoInputs(tinycnn)
    m.register_forward_pre_hook(lambda mod, args, kw: (args, dict(kw, scale=0.0)), with_kwargs=True)
    a, b = tinycnn.randn(2, 3), tinycnn.randn(2, 3)
    np.testing.assert_allclose(m(a, b, scale=5.0).numpy(), (b * b).numpy())


def _run_backward_hooks(lib, make, inputs, requires):
    """Build the module with ``lib`` (tinycnn or torch), record what its full backward hooks see."""
    gen = np.random.default_rng(0)
    m = make(lib)
    if lib is tinycnn:
        m.double()
    else:
        m.double()
    seen = {}

    def pre(mod, grad_output):
        seen["pre"] = [None if g is None else g.numpy().copy() for g in grad_output]

    def hook(mod, grad_input, grad_output):
        seen["in"] = [None if g is None else g.numpy().copy() for g in grad_input]
        seen["out"] = [None if g is None else g.numpy().copy() for g in grad_output]

    m.register_full_backward_pre_hook(pre)
    m.register_full_backward_hook(hook)
    tensor = lib.tensor
    xs = [tensor(x.copy(), requires_grad=r) for x, r in zip(inputs, requires)]
    out = m(*xs)
    out.backward(tensor(gen.standard_normal(tuple(out.shape))))
    return seen, [x.grad.numpy() if x.grad is not None else None for x in xs], m


MODULES = [
    ("conv", lambda lib: lib.nn.Conv2d(2, 3, 3, padding=1), [(2, 2, 5, 5)], [True]),
    ("conv, input without grad", lambda lib: lib.nn.Conv2d(2, 3, 3), [(2, 2, 5, 5)], [False]),
    ("sequential", lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Linear(4, 2)),
     [(5, 3)], [True]),
    ("two inputs", TwoInputs, [(4, 3), (4, 3)], [True, True]),
    ("two inputs, one with grad", TwoInputs, [(4, 3), (4, 3)], [False, True]),
]


@pytest.mark.parametrize("name,make,shapes,requires", MODULES, ids=[m[0] for m in MODULES])
def test_full_backward_hooks_see_torch_s_gradients(torch, name, make, shapes, requires):
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal(s) for s in shapes]
    tm = make(torch)
    ours_module = make(tinycnn)
    ours_module.load_state_dict({k: v.detach().numpy() for k, v in tm.double().state_dict().items()})

    def fixed(lib):
        return ours_module if lib is tinycnn else tm
    ours, ours_grads, _ = _run_backward_hooks(tinycnn, fixed, inputs, requires)
    theirs, their_grads, _ = _run_backward_hooks(torch, fixed, inputs, requires)
    for key in ("pre", "out", "in"):
        assert len(ours[key]) == len(theirs[key])
        for a, b in zip(ours[key], theirs[key]):
            assert (a is None) == (b is None), key
            if a is not None:
                np.testing.assert_allclose(a, b, atol=1e-12, err_msg=key)
    for a, b in zip(ours_grads, their_grads):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, atol=1e-12)


def test_backward_hooks_can_replace_gradients(torch):
    def run(lib):
        m = TwoInputs(lib).double()
        m.lin.weight.data = lib.tensor(np.eye(3)).data if lib is tinycnn else torch.eye(3, dtype=torch.float64)
        m.register_full_backward_pre_hook(lambda mod, go: (go[0] * 2,))
        m.register_full_backward_hook(lambda mod, gi, go: (gi[0] * 10, None))
        a = lib.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
        b = lib.tensor(np.ones((2, 3)), requires_grad=True)
        m(a, b).sum().backward()
        return a.grad.numpy(), b.grad
    (ga, gb), (ta, tb) = run(tinycnn), run(torch)
    np.testing.assert_allclose(ga, ta.numpy() if hasattr(ta, "numpy") else ta)
    np.testing.assert_allclose(ga, 20.0)                     # upstream 1, doubled, times the identity, times 10
    assert tb is None
    assert gb is None or not gb.numpy().any()                # torch gives None; replaced by None -> no gradient


def test_hooks_on_fused_layers_still_fire():
    """A hook on a Conv2d inside Sequential (conv -> relu -> pool) sees its own output, also after fuse()."""
    tinycnn.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))
    x = tinycnn.randn(1, 1, 6, 6)
    expected = seq(x)
    seen = []
    seq[0].register_forward_hook(lambda m, a, o: seen.append(tuple(o.shape)))
    seq[2].register_full_backward_hook(lambda m, gi, go: seen.append(tuple(gi[0].shape)))
    tinycnn.accel.fuse(seq)              # a watched layer is left alone
    assert [type(m) for m in seq] == [nn.Conv2d, nn.ReLU, nn.MaxPool2d]
    out = seq(x.requires_grad_())
    out.sum().backward()
    assert seen == [(1, 2, 4, 4), (1, 2, 4, 4)]
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


def test_tensor_register_hook_matches_torch(torch):
    def run(lib):
        x = lib.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
        calls = []
        hx = x.register_hook(lambda g: calls.append("leaf") or g * 3)
        y = x * x
        y.register_hook(lambda g: calls.append("y1"))
        hy = y.register_hook(lambda g: calls.append("y2") or g + 1)
        y.retain_grad()
        (y * 2).sum().backward(retain_graph=True)
        first = (x.grad.numpy().copy(), y.grad.numpy().copy())
        hx.remove()
        hy.remove()
        x.grad = None
        (y * 2).sum().backward()
        return first, x.grad.numpy(), calls
    ours, theirs = run(tinycnn), run(torch)
    for a, b in zip(ours[0], theirs[0]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ours[1], theirs[1])
    assert ours[2] == theirs[2] == ["y1", "y2", "leaf", "y1"]


def test_register_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        tinycnn.zeros(2).register_hook(lambda g: g)
    x = tinycnn.ones(2, requires_grad=True)
    x.register_hook(lambda g: tinycnn.ones(3))
    with pytest.raises(RuntimeError, match="returned a gradient of shape"):
        (x * 2).sum().backward()
    handle = nn.Linear(1, 1).register_forward_hook(lambda *a: None)
    assert "RemovableHandle" in repr(handle)
    assert isinstance(Tensor(np.zeros(1), requires_grad=True).register_hook(lambda g: None), type(handle))


def test_the_examples_in_docs_nn_md_run():
    import contextlib
    import io
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "nn.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for code in blocks:
            exec(compile(code, "<docs/nn.md>", "exec"), {"__name__": "__docs__"})
    printed = out.getvalue()
    assert "tinycnn.Size([2, 4, 6, 6]) tinycnn.Size([2, 4, 6, 6])" in printed
    assert "Linear(in_features=4704, out_features=10, bias=True)" in printed and "47206" in printed
