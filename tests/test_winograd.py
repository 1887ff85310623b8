"""The Winograd F(2x2, 3x3) convolution (``tinycnn/accel/winograd.py``) computes the im2col convolution's
numbers: forward and all three gradients equal the im2col path in float64, its float32 error is of the same
order as im2col's, finite differences agree, PyTorch agrees, and the layer choice and the switch work."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
from tinycnn.nn import functional as F
from tinycnn.utils.gradcheck import gradcheck

winograd = pytest.importorskip("tinycnn.accel.winograd", reason="the Winograd kernels need Numba")
from tinycnn.accel import numba_kernels as nk  # noqa: E402  (after the skip: it imports Numba)

RNG = np.random.default_rng(0)


def _im2col_conv(x, w, b, pad):
    """The reference: one im2col GEMM forward, GY @ cols^T and col2im backward (ops/conv.py's formulas)."""
    cout = w.shape[0]
    cols = nk.im2col(x, (3, 3), (1, 1), pad, (1, 1))
    oh, ow = x.shape[2] + pad[0] + pad[1] - 2, x.shape[3] + pad[2] + pad[3] - 2
    y = (w.reshape(cout, -1) @ cols).reshape(cout, x.shape[0], oh, ow).transpose(1, 0, 2, 3) + b.reshape(1, -1, 1, 1)

    def backward(gy):
        g = gy.transpose(1, 0, 2, 3).reshape(cout, -1)
        gx = nk.col2im(w.reshape(cout, -1).T @ g, x.shape, (3, 3), (1, 1), pad, (1, 1))
        return gx, (g @ cols.T).reshape(w.shape)
    return y, backward


SHAPES = [  # (N, C, H, W, Cout, (top, bottom, left, right))
    (2, 3, 7, 9, 5, (1, 1, 1, 1)),      # odd output: half tiles on the bottom and right edges
    (1, 2, 8, 8, 3, (0, 0, 0, 0)),      # no padding
    (3, 4, 5, 6, 2, (2, 0, 1, 2)),      # asymmetric padding wider than the kernel's reach on one side
    (2, 2, 3, 3, 2, (1, 1, 1, 1)),
    (1, 1, 3, 4, 1, (0, 0, 0, 0)),      # a single row of outputs
    (2, 3, 4, 4, 4, (2, 2, 2, 2)),      # padding 2: outputs larger than the input
]


@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_gradients_equal_im2col_in_float64(shape):
    n, c, h, wd, cout, pad = shape
    x = RNG.standard_normal((n, c, h, wd))
    w = RNG.standard_normal((cout, c, 3, 3))
    b = RNG.standard_normal(cout)
    y_ref, backward = _im2col_conv(x, w, b, pad)
    y, u = winograd.winograd_forward(x, w, b, pad)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-12 * np.abs(y_ref).max())
    gy = RNG.standard_normal(y.shape)
    gx_ref, gw_ref = backward(gy)
    gx, gw = winograd.winograd_backward(gy, u, x, w.shape, pad)
    np.testing.assert_allclose(gx, gx_ref, rtol=0, atol=1e-12 * np.abs(gx_ref).max())
    np.testing.assert_allclose(gw, gw_ref, rtol=0, atol=1e-12 * np.abs(gw_ref).max())
    only_x, none_w = winograd.winograd_backward(gy, u, x, w.shape, pad, need_w=False)
    assert none_w is None and np.array_equal(only_x, gx)
    none_x, only_w = winograd.winograd_backward(gy, u, x, w.shape, pad, need_x=False)
    assert none_x is None and np.array_equal(only_w, gw)


def test_float32_error_is_of_the_order_of_im2cols():
    x64 = RNG.standard_normal((4, 64, 14, 14))
    w64 = RNG.standard_normal((64, 64, 3, 3)) / 24
    b64 = np.zeros(64)
    exact, backward = _im2col_conv(x64, w64, b64, (1, 1, 1, 1))
    gy64 = RNG.standard_normal(exact.shape)
    gx_exact, gw_exact = backward(gy64)
    x, w, b, gy = (a.astype(np.float32) for a in (x64, w64, b64, gy64))
    y_im2col, back32 = _im2col_conv(x, w, b, (1, 1, 1, 1))
    gx_im2col, gw_im2col = back32(gy)
    y, u = winograd.winograd_forward(x, w, b, (1, 1, 1, 1))
    gx, gw = winograd.winograd_backward(gy, u, x, w.shape, (1, 1, 1, 1))
    assert y.dtype == gx.dtype == gw.dtype == np.float32
    for ours, im2col, ref in ((y, y_im2col, exact), (gx, gx_im2col, gx_exact), (gw, gw_im2col, gw_exact)):
        err, err_im2col = np.abs(ours - ref).max(), np.abs(im2col - ref).max()
        assert err <= 8 * err_im2col + 1e-7 * np.abs(ref).max(), (err, err_im2col)


def test_finite_differences_through_conv2d_in_float64():
    x = tinycnn.tensor(RNG.standard_normal((2, 64, 5, 4)), requires_grad=True)
    w = tinycnn.tensor(RNG.standard_normal((64, 64, 3, 3)) / 24, requires_grad=True)
    b = tinycnn.tensor(RNG.standard_normal(64), requires_grad=True)
    calls = []
    original = nk.winograd_forward

    def counted(*args):
        calls.append(1)
        return original(*args)

    nk.winograd_forward = counted
    try:
        with tinycnn.config(kernels="numba"):
            assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), [x, w, b], directional=True)
    finally:
        nk.winograd_forward = original
    assert calls                                  # the check ran through the Winograd path


def _layer_grads(settings, x, w, b, padding):
    xt = tinycnn.tensor(x, requires_grad=True)
    wt = tinycnn.tensor(w, requires_grad=True)
    bt = tinycnn.tensor(b, requires_grad=True)
    with tinycnn.config(kernels="numba", **settings):
        y = F.conv2d(xt, wt, bt, padding=padding)
        (y * tinycnn.tensor(np.cos(np.arange(y.numel()).reshape(y.shape)))).sum().backward()
    return y.numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy()


@pytest.mark.parametrize("padding", [1, 0, 2, "same"])
def test_conv2d_through_winograd_equals_conv2d_through_im2col(padding):
    x = RNG.standard_normal((2, 64, 6, 7))
    w = RNG.standard_normal((64, 64, 3, 3))
    b = RNG.standard_normal(64)
    fast = _layer_grads({"conv_winograd": True}, x, w, b, padding)
    slow = _layer_grads({"conv_winograd": False}, x, w, b, padding)
    for a, r in zip(fast, slow):
        np.testing.assert_allclose(a, r, rtol=0, atol=1e-12 * np.abs(r).max())


def test_the_layers_it_takes_and_the_switch(monkeypatch):
    applies = winograd.winograd_applies
    s1, d1, p1 = (1, 1), (1, 1), (1, 1, 1, 1)
    assert applies((8, 64, 56, 56), (64, 64, 3, 3), s1, p1, d1, 1)
    assert applies((8, 512, 2, 2), (512, 512, 3, 3), s1, p1, d1, 1)           # 2x2 outputs: one exact tile
    assert not applies((8, 512, 1, 1), (512, 512, 3, 3), s1, p1, d1, 1)       # 1 output in a 2x2 tile
    assert not applies((8, 8, 28, 28), (64, 8, 3, 3), s1, p1, d1, 1)          # too few input channels
    assert not applies((8, 64, 28, 28), (8, 64, 3, 3), s1, p1, d1, 1)         # too few output channels
    assert not applies((8, 64, 28, 28), (64, 64, 3, 3), (2, 2), p1, d1, 1)    # strided
    assert not applies((8, 64, 28, 28), (64, 64, 3, 3), s1, p1, (2, 2), 1)    # dilated
    assert not applies((8, 64, 28, 28), (64, 32, 3, 3), s1, p1, d1, 2)        # grouped
    assert not applies((8, 64, 28, 28), (64, 64, 5, 5), s1, p1, d1, 1)        # 5x5
    calls = []
    original = nk.winograd_forward
    monkeypatch.setattr(nk, "winograd_forward", lambda *a: calls.append(1) or original(*a))
    x = tinycnn.tensor(RNG.standard_normal((1, 64, 6, 6)).astype(np.float32))
    w = tinycnn.tensor(RNG.standard_normal((64, 64, 3, 3)).astype(np.float32))
    with tinycnn.config(kernels="numba", conv_winograd=False):
        F.conv2d(x, w, padding=1)
    assert not calls
    with tinycnn.config(kernels="numba"):
        F.conv2d(x, w, padding=1)
    assert calls == [1]
    with tinycnn.config(kernels="numpy"):          # the NumPy kernel set has no Winograd path
        F.conv2d(x, w, padding=1)
    assert calls == [1]


def test_a_resnet_sized_layer_matches_pytorch_in_float32():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((4, 64, 14, 14)).astype(np.float32)
    w = (RNG.standard_normal((128, 64, 3, 3)) / 24).astype(np.float32)
    b = RNG.standard_normal(128).astype(np.float32)
    y, gx, gw, gb = _layer_grads({}, x, w, b, 1)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    yt = torch.nn.functional.conv2d(xt, wt, bt, padding=1)
    (yt * torch.cos(torch.arange(yt.numel(), dtype=torch.float64).reshape(yt.shape))).sum().backward()
    for ours, theirs in ((y, yt), (gx, xt.grad), (gw, wt.grad), (gb, bt.grad)):
        ref = theirs.detach().numpy()
        np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def test_the_transformed_input_is_not_kept_between_forward_and_backward(monkeypatch):
    from tinycnn.accel import cols_pool, winograd_f4
    monkeypatch.setattr(winograd_f4, "ENABLED", False)           # F(2x2)'s sizes (F(4x4)'s: its own test)
    cols_pool.clear_cols_pool()
    x = tinycnn.tensor(RNG.standard_normal((16, 64, 28, 28)).astype(np.float32), requires_grad=True)
    w = tinycnn.tensor(RNG.standard_normal((64, 64, 3, 3)).astype(np.float32), requires_grad=True)
    v_bytes = 16 * 64 * 16 * 14 * 14 * 4
    with tinycnn.config(kernels="numba"):
        y = F.conv2d(x, w, padding=1)
        saved = [a for a in y.grad_fn.__dict__.values() if isinstance(a, np.ndarray)]
        assert all(a.nbytes < v_bytes for a in saved)            # x and U only: V went back to the pool
        assert cols_pool.pooled_bytes() >= v_bytes
        for _ in range(3):
            F.conv2d(x, w, padding=1).sum().backward()
    assert cols_pool.pooled_bytes() <= 4 * v_bytes               # reused step after step, not piled up
    cols_pool.clear_cols_pool()


def test_inference_gives_the_training_forward_and_reuses_the_pool(monkeypatch):
    from tinycnn.accel import cols_pool, winograd_f4
    monkeypatch.setattr(winograd_f4, "ENABLED", False)           # F(2x2)'s sizes (F(4x4)'s: its own test)
    x = tinycnn.tensor(RNG.standard_normal((8, 64, 28, 28)).astype(np.float32))
    w = tinycnn.tensor(RNG.standard_normal((64, 64, 3, 3)).astype(np.float32), requires_grad=True)
    with tinycnn.config(kernels="numba"):
        trained = F.conv2d(x, w, padding=1).numpy()
        cols_pool.clear_cols_pool()
        with tinycnn.no_grad():
            inferred = F.conv2d(x, w, padding=1).numpy()
            pooled = cols_pool.pooled_bytes()
            again = F.conv2d(x, w, padding=1).numpy()
    assert pooled >= 16 * 64 * 8 * 14 * 14 * 4
    assert cols_pool.pooled_bytes() == pooled                    # the second call reused the buffers
    assert np.array_equal(inferred, trained) and np.array_equal(again, trained)
    cols_pool.clear_cols_pool()
