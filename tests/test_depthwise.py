"""The depthwise convolution of the Numba set (groups = C_in): the same numbers as the im2col path, forward
and every gradient, over kernel sizes, strides, paddings, dilations, channel multipliers and bias; float64
gradcheck; PyTorch agreement; and the dispatch (which layers take it, which settings turn it off)."""
from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest

import tinycnn
from tinycnn import Tensor
from tinycnn.nn import functional as F

NB = pytest.importorskip("tinycnn.accel.numba_kernels")


@pytest.fixture
def calls(monkeypatch):
    """Counts the calls of the depthwise kernels that Conv2dFunction makes (through the kernel set)."""
    counts = collections.Counter()
    for name in ("depthwise_conv2d_forward", "depthwise_conv2d_backward"):
        original = getattr(NB, name)

        def counted(*args, _original=original, _name=name, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(NB, name, counted)
    return counts


def run_conv(x, w, b, needs=(True, True, True), seed=1, **kwargs):
    """y and (gx, gw, gb) of sum(u * conv2d(x, w, b)) for a fixed random u; None for inputs not asked for."""
    tensors = [None if a is None else Tensor(a, requires_grad=need) for a, need in zip((x, w, b), needs)]
    y = F.conv2d(*tensors, groups=x.shape[1], **kwargs)
    u = np.random.default_rng(seed).standard_normal(y.shape).astype(y.dtype)
    y.backward(Tensor(u))
    return y.numpy(), [None if t is None or t.grad is None else t.grad.numpy() for t in tensors]


def make(rng, n, c, hw, mult, kernel, bias, dtype=np.float64):
    x = rng.standard_normal((n, c, *hw)).astype(dtype)
    w = rng.standard_normal((c * mult, 1, *kernel)).astype(dtype)
    return x, w, (rng.standard_normal(c * mult).astype(dtype) if bias else None)


# kernel, stride, padding ('same': stride 1 only), dilation, multiplier, bias, batch
GRID = [case for case in itertools.product((3, 5), (1, 2), (0, 1, 2, "same"), (1, 2), (1, 2), (True, False),
                                           (1, 2))
        if not (case[2] == "same" and case[1] != 1)]
ODD = [  # non-square kernels, strides and dilations; 'same' with an even kernel pads asymmetrically
    ((3, 2), (2, 1), (1, 0), (1, 2), 1, True, 2),
    ((4, 4), 1, "same", 1, 2, True, 1),
    ((2, 5), 1, "same", (2, 1), 1, False, 2),
    ((1, 1), 3, 2, 1, 3, True, 1),                 # padding wider than the kernel: all-zero output rows
    (3, 3, 1, 1, 1, False, 1),                     # stride 3 on 10: the last input rows reach no output
]


@pytest.mark.parametrize("kernel,stride,padding,dilation,mult,bias,n", GRID + ODD)
def test_equals_the_im2col_path(calls, kernel, stride, padding, dilation, mult, bias, n):
    rng = np.random.default_rng(0)
    kernel2 = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    x, w, b = make(rng, n, 3, (11, 10), mult, kernel2, bias)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    y, grads = run_conv(x, w, b, **kwargs)
    assert calls["depthwise_conv2d_forward"] == 1 and calls["depthwise_conv2d_backward"] == 1
    with tinycnn.config(conv_direct=False):
        y_ref, grads_ref = run_conv(x, w, b, **kwargs)
    assert calls["depthwise_conv2d_forward"] == 1            # the reference ran im2col
    assert y.shape == y_ref.shape and y.flags.c_contiguous
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12)
    for name, g, g_ref in zip(("input", "weight", "bias"), grads, grads_ref):
        if g_ref is None:
            assert g is None
        else:
            assert g.shape == g_ref.shape
            np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("needs", [(False, True, True), (True, False, False), (False, False, True),
                                   (True, True, False)])
def test_only_the_asked_gradients(calls, needs):
    """Frozen inputs get no gradient, and the others are still right (the kernels skip what is not needed)."""
    rng = np.random.default_rng(2)
    x, w, b = make(rng, 2, 4, (7, 7), 2, (3, 3), True)
    _, grads = run_conv(x, w, b, needs=needs, stride=2, padding=1)
    with tinycnn.config(conv_direct=False):
        _, grads_ref = run_conv(x, w, b, needs=needs, stride=2, padding=1)
    assert calls["depthwise_conv2d_backward"] == 1
    for need, g, g_ref in zip(needs, grads, grads_ref):
        assert (g is None) == (not need) == (g_ref is None)
        if need:
            np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-12)


def test_float32_stays_float32(calls):
    rng = np.random.default_rng(3)
    x, w, b = make(rng, 2, 8, (12, 12), 1, (3, 3), True, dtype=np.float32)
    y, grads = run_conv(x, w, b, stride=1, padding=1)
    with tinycnn.config(conv_direct=False):
        y_ref, grads_ref = run_conv(x, w, b, stride=1, padding=1)
    assert calls["depthwise_conv2d_forward"] == 1
    assert y.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
    for g, g_ref in zip(grads, grads_ref):
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("mult,stride,dilation", [(1, 1, 1), (2, 2, 1), (1, 2, 2)])
def test_gradcheck(calls, mult, stride, dilation):
    rng = np.random.default_rng(4)
    x, w, b = make(rng, 2, 3, (7, 6), mult, (3, 3), True)
    fn = lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=1, dilation=dilation, groups=3)
    assert tinycnn.gradcheck(fn, [Tensor(x, requires_grad=True), Tensor(w, requires_grad=True),
                                  Tensor(b, requires_grad=True)])
    assert calls["depthwise_conv2d_backward"] >= 1


@pytest.mark.parametrize("kernel,stride,padding,dilation,mult", [
    (3, 1, 1, 1, 1), (3, 2, 1, 1, 1), (5, 2, 2, 1, 2), (3, 1, "same", 2, 1), ((3, 4), (2, 1), (0, 2), 1, 2)])
def test_matches_torch(calls, kernel, stride, padding, dilation, mult):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    kernel2 = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    x, w, b = make(rng, 2, 6, (9, 10), mult, kernel2, True)
    kwargs = dict(stride=stride, padding=padding, dilation=dilation)
    y, (gx, gw, gb) = run_conv(x, w, b, **kwargs)
    assert calls["depthwise_conv2d_forward"] == 1
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.conv2d(tx, tw, tb, groups=6, **kwargs)
    ty.backward(torch.tensor(np.random.default_rng(1).standard_normal(y.shape)))
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=0, atol=1e-12)
    for ours, theirs in ((gx, tx), (gw, tw), (gb, tb)):
        np.testing.assert_allclose(ours, theirs.grad.numpy(), rtol=0, atol=1e-12)


def test_which_layers_and_settings_take_it(calls):
    rng = np.random.default_rng(6)
    x = Tensor(rng.standard_normal((1, 4, 8, 8)))
    F.conv2d(x, Tensor(rng.standard_normal((4, 1, 3, 3))), groups=4)                      # depthwise
    F.conv2d(x, Tensor(rng.standard_normal((8, 1, 3, 3))), groups=4)                      # multiplier 2
    assert calls["depthwise_conv2d_forward"] == 2
    F.conv2d(x, Tensor(rng.standard_normal((4, 2, 3, 3))), groups=2)                      # grouped, not depthwise
    F.conv2d(x, Tensor(rng.standard_normal((4, 4, 3, 3))))                                # ordinary
    with tinycnn.config(conv_direct=False):
        F.conv2d(x, Tensor(rng.standard_normal((4, 1, 3, 3))), groups=4)
    with tinycnn.config(kernels="numpy"):
        F.conv2d(x, Tensor(rng.standard_normal((4, 1, 3, 3))), groups=4)
    assert calls["depthwise_conv2d_forward"] == 2


def test_applies_only_to_depthwise_shapes():
    assert NB.depthwise_conv_applies((2, 8, 5, 5), (8, 1, 3, 3), 8)
    assert NB.depthwise_conv_applies((2, 8, 5, 5), (16, 1, 3, 3), 8)
    assert not NB.depthwise_conv_applies((2, 8, 5, 5), (8, 2, 3, 3), 4)
    assert not NB.depthwise_conv_applies((2, 1, 5, 5), (4, 1, 3, 3), 1)     # groups 1: an ordinary conv


def test_mobilenet_block_matches_the_im2col_path(calls):
    """A MobileNetV2 inverted residual in training mode (expand, depthwise stride 2, project), float64."""
    from tinycnn.models.mobilenet_v2 import InvertedResidual
    tinycnn.manual_seed(0)
    block = InvertedResidual(8, 16, 2, 6).double()
    x = np.random.default_rng(7).standard_normal((2, 8, 12, 12))

    def step():
        block.zero_grad()
        X = Tensor(x, requires_grad=True)
        y = block(X)
        (y * y).sum().backward()
        return [y.numpy(), X.grad.numpy()] + [p.grad.numpy() for p in block.parameters()]

    ours = step()
    assert calls["depthwise_conv2d_forward"] == 1
    with tinycnn.config(conv_direct=False):
        ref = step()
    for a, r in zip(ours, ref):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10)


def test_same_numbers_whatever_the_thread_count(calls):
    """Every sum has one owner and a fixed order, so one thread and all threads agree bit for bit."""
    numba = pytest.importorskip("numba")
    rng = np.random.default_rng(8)
    x, w, b = make(rng, 3, 5, (9, 9), 2, (3, 3), True, dtype=np.float32)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = run_conv(x, w, b, stride=2, padding=1)
    finally:
        numba.set_num_threads(before)
    many = run_conv(x, w, b, stride=2, padding=1)
    assert calls["depthwise_conv2d_backward"] == 2
    np.testing.assert_array_equal(one[0], many[0])
    for g1, g2 in zip(one[1], many[1]):
        np.testing.assert_array_equal(g1, g2)
