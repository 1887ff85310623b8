"""Convolutions on planes of at most 2x2 pixels as one dense product (``tinycnn/accel/small_plane.py``) give
the im2col path's numbers: forward and every gradient in float64, for strides, paddings (asymmetric too),
dilation and kernel sizes, through conv2d with the switch on and off, finite differences, and the rule."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
from tinycnn.nn import functional as F
from tinycnn.utils.gradcheck import gradcheck

pytest.importorskip("numba", reason="the small-plane path belongs to the Numba kernel set")
from tinycnn.accel import numba_kernels as nk
from tinycnn.accel import small_plane

RNG = np.random.default_rng(5)


def _grads(settings, x, w, b, **conv):
    xt = tinycnn.tensor(x, requires_grad=True)
    wt = tinycnn.tensor(w, requires_grad=True)
    bt = None if b is None else tinycnn.tensor(b, requires_grad=True)
    with tinycnn.config(kernels="numba", **settings):
        y = F.conv2d(xt, wt, bt, **conv)
        (y * tinycnn.tensor(np.sin(np.arange(y.numel()).reshape(y.shape)))).sum().backward()
    return [y.numpy(), xt.grad.numpy(), wt.grad.numpy()] + ([] if b is None else [bt.grad.numpy()])


@pytest.mark.parametrize("shape, k, conv, bias", [
    ((4, 24, 2, 2, 40), 3, dict(padding=1), True),             # ResNet-18's third stage at CIFAR size
    ((3, 24, 2, 2, 48), 3, dict(stride=2, padding=1), False),  # its stride-2 layer: 2x2 -> 1x1
    ((2, 16, 1, 2, 40), 3, dict(padding=1), True),              # a 1x2 plane
    ((2, 16, 2, 2, 40), 3, dict(padding=2, dilation=2), True),  # dilation: only the centre and corners
    ((2, 16, 2, 1, 40), 5, dict(padding=2), False),             # 5x5 kernel on a 2x1 plane
])
def test_conv2d_through_the_small_plane_path_equals_the_im2col_path_in_float64(shape, k, conv, bias, monkeypatch):
    n, c, h, wd, cout = shape
    x = RNG.standard_normal((n, c, h, wd))
    w = RNG.standard_normal((cout, c, k, k))
    b = RNG.standard_normal(cout) if bias else None
    calls = []
    original = nk.small_plane_conv2d_forward
    monkeypatch.setattr(nk, "small_plane_conv2d_forward", lambda *a: calls.append(1) or original(*a))
    fast = _grads({}, x, w, b, **conv)
    assert calls == [1]
    slow = _grads({"conv_direct": False, "conv_winograd": False}, x, w, b, **conv)
    assert calls == [1]                                  # the switch turns it off
    for got, ref in zip(fast, slow):
        assert got.shape == ref.shape
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_asymmetric_padding_reads_the_right_taps():
    x = RNG.standard_normal((2, 16, 2, 2))
    w = RNG.standard_normal((8, 16, 3, 3))
    args = dict(stride=(1, 1), padding=(0, 1, 1, 0), dilation=(1, 1))     # top, bottom, left, right
    assert small_plane.small_plane_conv_applies(x.shape, w.shape, groups=1, **args)
    y, _ = small_plane.small_plane_conv2d_forward(x, w, None, **args)
    xp = np.pad(x, ((0, 0), (0, 0), (0, 1), (1, 0)))                       # (3, 3): one output
    assert y.shape == (2, 8, 1, 1)
    np.testing.assert_allclose(y[:, :, 0, 0], np.einsum("ncij,ocij->no", xp, w), rtol=0, atol=1e-12)


def test_gradcheck_float64():
    x = tinycnn.tensor(RNG.standard_normal((2, 3, 2, 2)), requires_grad=True)
    w = tinycnn.tensor(RNG.standard_normal((4, 3, 3, 3)), requires_grad=True)
    b = tinycnn.tensor(RNG.standard_normal(4), requires_grad=True)
    with tinycnn.config(kernels="numba"):
        assert small_plane.small_plane_conv_applies(x.shape, w.shape, (1, 1), (1, 1, 1, 1), (1, 1), 1)
        assert gradcheck(lambda a, k, c: F.conv2d(a, k, c, padding=1), (x, w, b))


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, groups, expected", [
    ((8, 256, 2, 2), (256, 256, 3, 3), (1, 1), (1, 1, 1, 1), 1, True),
    ((8, 256, 2, 2), (512, 256, 3, 3), (2, 2), (1, 1, 1, 1), 1, True),
    ((8, 128, 4, 4), (128, 128, 3, 3), (1, 1), (1, 1, 1, 1), 1, False),    # 16 pixels: Winograd's
    ((8, 128, 2, 2), (128, 1, 3, 3), (1, 1), (1, 1, 1, 1), 128, False),   # depthwise
    ((8, 128, 2, 2), (64, 128, 1, 1), (1, 1), (0, 0, 0, 0), 1, False),    # 1x1 kernel: the 1x1 path's
    ((8, 128, 2, 2), (64, 128, 2, 2), (1, 1), (0, 0, 0, 0), 1, False),    # as many pixels as taps
])
def test_the_rule(x_shape, w_shape, stride, padding, groups, expected):
    assert small_plane.small_plane_conv_applies(x_shape, w_shape, stride, padding, (1, 1), groups) is expected
