"""1x1 convolutions as one product per image (``tinycnn/accel/pointwise.py``) give the im2col path's numbers:
forward and every gradient in float64, both ways of summing the weight gradient, strides, through conv2d
with the switch on and off, finite differences, and PyTorch."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
from tinycnn.nn import functional as F
from tinycnn.utils.gradcheck import gradcheck

pytest.importorskip("numba", reason="the 1x1 path belongs to the Numba kernel set")
from tinycnn.accel import numba_kernels as nk
from tinycnn.accel import pointwise

RNG = np.random.default_rng(3)


def _grads(settings, x, w, b, stride):
    xt = tinycnn.tensor(x, requires_grad=True)
    wt = tinycnn.tensor(w, requires_grad=True)
    bt = None if b is None else tinycnn.tensor(b, requires_grad=True)
    with tinycnn.config(kernels="numba", **settings):
        y = F.conv2d(xt, wt, bt, stride=stride)
        (y * tinycnn.tensor(np.sin(np.arange(y.numel()).reshape(y.shape)))).sum().backward()
    return [y.numpy(), xt.grad.numpy(), wt.grad.numpy()] + ([] if b is None else [bt.grad.numpy()])


@pytest.mark.parametrize("shape, stride, bias", [
    ((2, 40, 7, 9, 48), 1, True),     # more channels than the direct path takes
    ((3, 40, 7, 9, 48), 2, False),    # stride 2 on odd sizes: the last row and column are never read
    ((1, 64, 5, 5, 40), (2, 1), True),
    ((8, 40, 2, 3, 64), 1, True),     # N*Cout*C larger than x and gy: the weight gradient as one GEMM
])
def test_conv2d_through_the_1x1_path_equals_the_im2col_path_in_float64(shape, stride, bias, monkeypatch):
    n, c, h, wd, cout = shape
    x = RNG.standard_normal((n, c, h, wd))
    w = RNG.standard_normal((cout, c, 1, 1))
    b = RNG.standard_normal(cout) if bias else None
    calls = []
    original = nk.pointwise_conv2d_forward
    monkeypatch.setattr(nk, "pointwise_conv2d_forward", lambda *a: calls.append(1) or original(*a))
    fast = _grads({}, x, w, b, stride)
    assert calls == [1]
    slow = _grads({"conv_direct": False}, x, w, b, stride)
    assert calls == [1]                                  # the switch turns it off
    for got, ref in zip(fast, slow):
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("k, stride", [(3, 1), (3, 2), (5, 1)])
def test_a_kxk_kernel_on_a_1x1_input_through_its_centre_tap_equals_the_im2col_path(k, stride, monkeypatch):
    x = RNG.standard_normal((4, 40, 1, 1))
    w = RNG.standard_normal((48, 40, k, k))
    b = RNG.standard_normal(48)
    calls = []
    original = nk.pointwise_conv2d_forward
    monkeypatch.setattr(nk, "pointwise_conv2d_forward", lambda *a: calls.append(1) or original(*a))

    def grads(settings):
        xt, wt, bt = (tinycnn.tensor(a, requires_grad=True) for a in (x, w, b))
        with tinycnn.config(kernels="numba", **settings):
            y = F.conv2d(xt, wt, bt, stride=stride, padding=k // 2)
            (y * tinycnn.tensor(np.sin(np.arange(y.numel()).reshape(y.shape)))).sum().backward()
        return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()

    fast = grads({})
    assert calls == [1]
    slow = grads({"conv_direct": False})
    for got, ref in zip(fast, slow):
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    assert not np.any(np.delete(fast[2].reshape(48, 40, -1), (k * k) // 2, axis=2))   # zero off the centre


def test_only_the_wanted_gradients_are_computed():
    x = RNG.standard_normal((2, 8, 4, 4))
    w = RNG.standard_normal((6, 8, 1, 1))
    y, xs = pointwise.pointwise_conv2d_forward(x, w, None, (1, 1))
    gy = RNG.standard_normal(y.shape)
    gx, gw, gb = pointwise.pointwise_conv2d_backward(gy, xs, w, x.shape, (1, 1))
    assert pointwise.pointwise_conv2d_backward(gy, xs, w, x.shape, (1, 1), need_w=False, need_b=False)[1:] \
        == (None, None)
    only_w = pointwise.pointwise_conv2d_backward(gy, xs, w, x.shape, (1, 1), need_x=False, need_b=False)
    assert only_w[0] is None and only_w[2] is None and np.array_equal(only_w[1], gw)


def test_which_layers_take_it():
    applies = pointwise.pointwise_conv_applies
    assert applies((2, 64, 8, 8), (128, 64, 1, 1), (0, 0, 0, 0), 1)
    assert not applies((2, 64, 8, 8), (128, 64, 1, 1), (1, 1, 1, 1), 1)      # padded
    assert not applies((2, 64, 8, 8), (128, 32, 1, 1), (0, 0, 0, 0), 2)      # grouped
    assert not applies((2, 64, 8, 8), (128, 64, 3, 3), (0, 0, 0, 0), 1)
    assert applies((2, 512, 1, 1), (512, 512, 3, 3), (1, 1, 1, 1), 1)          # the centre tap only
    assert not applies((2, 512, 2, 2), (512, 512, 3, 3), (1, 1, 1, 1), 1)      # every tap reads a pixel
    assert not applies((2, 512, 1, 1), (512, 512, 3, 3), (1, 1, 1, 1), 1, (2, 2))
    assert not applies((2, 512, 1, 1), (512, 512, 3, 3), (0, 0, 0, 0), 1)


def test_finite_differences_through_conv2d():
    x = tinycnn.tensor(RNG.standard_normal((2, 40, 5, 3)), requires_grad=True)
    w = tinycnn.tensor(RNG.standard_normal((48, 40, 1, 1)), requires_grad=True)
    b = tinycnn.tensor(RNG.standard_normal(48), requires_grad=True)
    with tinycnn.config(kernels="numba"):
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2), [x, w, b], directional=True)


def test_a_mobilenet_expand_layer_matches_pytorch_in_float32():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 24, 12, 12)).astype(np.float32)
    w = (RNG.standard_normal((144, 24, 1, 1)) / 5).astype(np.float32)
    b = RNG.standard_normal(144).astype(np.float32)
    ours = _grads({}, x, w, b, 1)
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = torch.nn.functional.conv2d(xt, wt, bt)
    (yt * torch.sin(torch.arange(yt.numel(), dtype=torch.float64).reshape(yt.shape))).sum().backward()
    for got, ref in zip(ours, (yt, xt.grad, wt.grad, bt.grad)):
        ref = ref.detach().numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())
