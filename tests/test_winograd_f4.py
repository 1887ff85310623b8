"""The Winograd F(4x4, 3x3) convolution (``tinycnn/accel/winograd_f4.py``): its matrices give the 1-D and 2-D
correlation exactly, forward and all gradients equal the im2col path in float64, the float32 error stays
within the stated bound, finite differences and PyTorch agree, and the rule sends large planes to it."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
from tinycnn.nn import functional as F
from tinycnn.utils.gradcheck import gradcheck

f4 = pytest.importorskip("tinycnn.accel.winograd_f4", reason="the Winograd kernels need Numba")
from tinycnn.accel import numba_kernels as nk  # noqa: E402  (after the skip: it imports Numba)
from test_winograd import _im2col_conv, _layer_grads  # noqa: E402

RNG = np.random.default_rng(1)


def test_the_matrices_compute_the_correlation():
    g, d = RNG.standard_normal(3), RNG.standard_normal(6)
    direct = np.array([g @ d[i:i + 3] for i in range(4)])
    np.testing.assert_allclose(f4.AT @ ((f4.G @ g) * (f4.BT @ d)), direct, rtol=0, atol=1e-14 * 8)
    g2, d2 = RNG.standard_normal((3, 3)), RNG.standard_normal((6, 6))
    direct2 = np.array([[np.sum(g2 * d2[i:i + 3, j:j + 3]) for j in range(4)] for i in range(4)])
    got = f4.AT @ ((f4.G @ g2 @ f4.G.T) * (f4.BT @ d2 @ f4.BT.T)) @ f4.AT.T
    np.testing.assert_allclose(got, direct2, rtol=0, atol=1e-13 * np.abs(direct2).max())


def test_the_compiled_one_dimensional_transforms_are_the_matrices():
    v = RNG.standard_normal(6)
    f = (0.25, 1 / 6, 1 / 12, 1 / 24)
    np.testing.assert_allclose(f4._bt.py_func(*v), f4.BT @ v, atol=1e-14)
    np.testing.assert_allclose(f4._b.py_func(*v), f4.BT.T @ v, atol=1e-14)
    np.testing.assert_allclose(f4._at.py_func(*v), f4.AT @ v, atol=1e-14)
    np.testing.assert_allclose(f4._a.py_func(*v[:4]), f4.AT.T @ v[:4], atol=1e-14)
    np.testing.assert_allclose(f4._g.py_func(*v[:3], f), f4.G @ v[:3], atol=1e-15)
    np.testing.assert_allclose(f4._gt.py_func(*v, f), f4.G.T @ v, atol=1e-15)
    numba = pytest.importorskip("numba")          # compiled, float32 stays float32 (no promotion by constants)
    bt, b, at, a = f4._bt, f4._b, f4._at, f4._a
    for wrapped in (numba.njit(lambda x: bt(x, x, x, x, x, x)), numba.njit(lambda x: b(x, x, x, x, x, x)),
                    numba.njit(lambda x: at(x, x, x, x, x, x)), numba.njit(lambda x: a(x, x, x, x))):
        wrapped(np.float32(1))
        assert set(wrapped.nopython_signatures[0].return_type) == {numba.float32}


SHAPES = [  # (N, C, H, W, Cout, (top, bottom, left, right))
    (2, 3, 7, 9, 5, (1, 1, 1, 1)),      # 7x9 output: partial tiles on the bottom and right edges
    (1, 2, 10, 10, 3, (0, 0, 0, 0)),    # 8x8 output, no padding: whole tiles
    (3, 4, 5, 6, 2, (2, 0, 1, 2)),      # asymmetric padding wider than the kernel's reach on one side
    (2, 2, 3, 3, 2, (1, 1, 1, 1)),      # a single partial tile
    (1, 1, 3, 8, 1, (0, 0, 0, 0)),      # a single row of outputs
    (2, 3, 6, 5, 4, (2, 2, 2, 2)),      # padding 2: outputs larger than the input
    (1, 2, 13, 11, 2, (1, 1, 1, 1)),    # outputs of 4k + 1 and 4k + 3
]


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_gradients_equal_im2col_in_float64(shape, monkeypatch):
    monkeypatch.setattr(f4, "MIN_F4_OUTPUT", 1)          # every shape through F(4x4)
    monkeypatch.setattr(f4, "MIN_F4_CHANNELS", 1)
    monkeypatch.setattr(f4, "MAX_MULTIPLIES", 10.0)
    monkeypatch.setattr(f4, "ENABLED", True)
    n, c, h, wd, cout, pad = shape
    x = RNG.standard_normal((n, c, h, wd))
    w = RNG.standard_normal((cout, c, 3, 3))
    b = RNG.standard_normal(cout)
    y_ref, backward = _im2col_conv(x, w, b, pad)
    y, u = f4.winograd_forward(x, w, b, pad)
    assert u.shape == (36, cout, c)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12 * np.abs(y_ref).max())
    gy = RNG.standard_normal(y.shape)
    gx_ref, gw_ref = backward(gy)
    gx, gw = f4.winograd_backward(gy, u, x, w.shape, pad)
    np.testing.assert_allclose(gx, gx_ref, rtol=0, atol=1e-12 * np.abs(gx_ref).max())
    np.testing.assert_allclose(gw, gw_ref, rtol=0, atol=1e-12 * np.abs(gw_ref).max())
    only_x, none_w = f4.winograd_backward(gy, u, x, w.shape, pad, need_w=False)
    assert none_w is None and np.array_equal(only_x, gx)
    none_x, only_w = f4.winograd_backward(gy, u, x, w.shape, pad, need_x=False)
    assert none_x is None and np.array_equal(only_w, gw)


FLOAT32_TOLERANCE = 3e-5      # of the result's largest magnitude (the module docstring's "Numerics")


def test_float32_error_is_within_the_stated_tolerance(monkeypatch):
    monkeypatch.setattr(f4, "ENABLED", True)
    x64 = RNG.standard_normal((4, 64, 16, 16))
    w64 = RNG.standard_normal((64, 64, 3, 3)) / 24
    b64 = np.zeros(64)
    exact, backward = _im2col_conv(x64, w64, b64, (1, 1, 1, 1))
    gy64 = RNG.standard_normal(exact.shape)
    gx_exact, gw_exact = backward(gy64)
    x, w, b, gy = (a.astype(np.float32) for a in (x64, w64, b64, gy64))
    y_im2col, back32 = _im2col_conv(x, w, b, (1, 1, 1, 1))
    gx_im2col, gw_im2col = back32(gy)
    assert f4.f4_applies(x.shape, (1, 1, 1, 1))
    y, u = f4.winograd_forward(x, w, b, (1, 1, 1, 1))
    gx, gw = f4.winograd_backward(gy, u, x, w.shape, (1, 1, 1, 1))
    assert y.dtype == gx.dtype == gw.dtype == np.float32
    for ours, im2col, ref in ((y, y_im2col, exact), (gx, gx_im2col, gx_exact), (gw, gw_im2col, gw_exact)):
        scale = np.abs(ref).max()
        np.testing.assert_allclose(ours, im2col, rtol=0, atol=FLOAT32_TOLERANCE * scale)
        assert np.abs(ours - ref).max() <= FLOAT32_TOLERANCE * scale


def test_finite_differences_through_conv2d_in_float64(monkeypatch):
    monkeypatch.setattr(f4, "ENABLED", True)
    monkeypatch.setattr(f4, "MIN_F4_CHANNELS", 16)      # 48 channels: narrower than the rule's floor
    x = tinycnn.tensor(RNG.standard_normal((1, 48, 16, 12)), requires_grad=True)    # wide enough for Winograd
    w = tinycnn.tensor(RNG.standard_normal((48, 48, 3, 3)) / 20, requires_grad=True)
    b = tinycnn.tensor(RNG.standard_normal(48), requires_grad=True)
    calls = []
    original = f4.kernel_transform

    def counted(*args):
        calls.append(1)
        return original(*args)

    f4.kernel_transform = counted
    try:
        with tinycnn.config(kernels="numba"):
            assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), [x, w, b], directional=True)
    finally:
        f4.kernel_transform = original
    assert calls                                  # the check ran through the F(4x4) path


def test_conv2d_through_f4_equals_conv2d_through_im2col(monkeypatch):
    monkeypatch.setattr(f4, "ENABLED", True)
    monkeypatch.setattr(f4, "MIN_F4_CHANNELS", 16)      # 48 channels: narrower than the rule's floor
    x = RNG.standard_normal((2, 48, 20, 16))
    w = RNG.standard_normal((48, 48, 3, 3))
    b = RNG.standard_normal(48)
    assert f4.f4_applies(x.shape, (1, 1, 1, 1))
    fast = _layer_grads({"conv_winograd": True}, x, w, b, 1)
    slow = _layer_grads({"conv_winograd": False}, x, w, b, 1)
    for a, r in zip(fast, slow):
        np.testing.assert_allclose(a, r, rtol=0, atol=1e-12 * np.abs(r).max())


def test_the_rule_sends_large_planes_to_f4_and_small_ones_to_f2(monkeypatch):
    monkeypatch.setattr(f4, "ENABLED", True)
    p1 = (1, 1, 1, 1)
    for hw in (56, 32, 28, 16, 8):
        assert f4.f4_applies((16, 64, hw, hw), p1)
    for hw in (14, 7, 4, 2):                                   # 4x4 tiles that waste rows, or too few
        assert not f4.f4_applies((16, 64, hw, hw), p1)
    assert f4.f4_applies((16, 64, 8, 8), (0, 0, 0, 0)) is False                   # 6x6 outputs
    assert not f4.f4_applies((64, 32, 26, 26), (0, 0, 0, 0))        # the MNIST net's 32 -> 64 layer
    monkeypatch.setattr(f4, "MIN_F4_CHANNELS", 16)
    assert nk.winograd_forward is f4.winograd_forward
    x = RNG.standard_normal((1, 16, 5, 5)).astype(np.float32)
    w = RNG.standard_normal((16, 16, 3, 3)).astype(np.float32)        # (the dispatch itself: any width)
    assert nk.winograd_forward(x, w, None, p1)[1].shape[0] == 16                   # F(2x2)'s U
    x = RNG.standard_normal((1, 16, 20, 20)).astype(np.float32)
    assert nk.winograd_forward(x, w, None, p1)[1].shape[0] == 36
    monkeypatch.setattr(f4, "ENABLED", False)
    assert nk.winograd_forward(x, w, None, p1)[1].shape[0] == 16


def test_a_vgg_sized_layer_matches_pytorch_in_float32(monkeypatch):
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(f4, "ENABLED", True)
    x = RNG.standard_normal((2, 64, 32, 32)).astype(np.float32)
    w = (RNG.standard_normal((64, 64, 3, 3)) / 24).astype(np.float32)
    b = RNG.standard_normal(64).astype(np.float32)
    assert f4.f4_applies(x.shape, (1, 1, 1, 1))
    y, gx, gw, gb = _layer_grads({}, x, w, b, 1)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, padding=1)
    (yt * torch.cos(torch.arange(yt.numel(), dtype=torch.float64).reshape(yt.shape))).sum().backward()
    for ours, theirs in ((y, yt), (gx, xt.grad), (gw, wt.grad)):
        ref = theirs.detach().numpy()
        np.testing.assert_allclose(ours, ref, rtol=0, atol=FLOAT32_TOLERANCE * np.abs(ref).max())
    np.testing.assert_allclose(gb, bt.grad.numpy(), rtol=1e-4, atol=1e-4 * np.abs(gb).max())   # a plain sum


def test_the_transformed_input_is_not_kept_and_the_pool_is_reused(monkeypatch):
    from tinycnn.accel import cols_pool
    monkeypatch.setattr(f4, "ENABLED", True)
    cols_pool.clear_cols_pool()
    x = tinycnn.tensor(RNG.standard_normal((16, 64, 28, 28)).astype(np.float32), requires_grad=True)
    w = tinycnn.tensor(RNG.standard_normal((64, 64, 3, 3)).astype(np.float32), requires_grad=True)
    v_bytes = 36 * 64 * 16 * 7 * 7 * 4
    with tinycnn.config(kernels="numba"):
        y = F.conv2d(x, w, padding=1)
        assert y.grad_fn.u.shape[0] == 36
        saved = [a for a in y.grad_fn.__dict__.values() if isinstance(a, np.ndarray)]
        assert all(a.nbytes < v_bytes for a in saved)            # x and U only: V went back to the pool
        assert cols_pool.pooled_bytes() >= v_bytes
        for _ in range(3):
            F.conv2d(x, w, padding=1).sum().backward()
    assert cols_pool.pooled_bytes() <= 4 * v_bytes               # reused step after step, not piled up
    cols_pool.clear_cols_pool()
