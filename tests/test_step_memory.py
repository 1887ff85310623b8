"""What a training step keeps: the im2col convolution keeps x, not its cols, and gets the same gradients; the
buffer pool shares buffers by size between shapes and stays within its bounds."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn.accel import cols_pool
from tinycnn.kernels import numpy_kernels
from tinycnn.ops.conv import Conv2dFunction

RNG = np.random.default_rng(7)


def _reference_grads(x, w, b, gy, stride, padding, dilation, groups):
    """The kept-cols backward, written out: gw = GY cols^T per group, gx = col2im(W^T GY), gb = sum gy."""
    cout, cg, kh, kw = w.shape
    pad4 = (padding[0], padding[0], padding[1], padding[1])
    cols = numpy_kernels.im2col(x, (kh, kw), stride, pad4, dilation)
    gy_g = gy.transpose(1, 0, 2, 3).reshape(groups, cout // groups, -1)
    gw = (gy_g @ cols.reshape(groups, cg * kh * kw, -1).transpose(0, 2, 1)).reshape(w.shape)
    gcols = (w.reshape(groups, cout // groups, -1).transpose(0, 2, 1) @ gy_g).reshape(groups * cg * kh * kw, -1)
    gx = numpy_kernels.col2im(gcols, x.shape, (kh, kw), stride, pad4, dilation)
    return gx, gw, gy.sum(axis=(0, 2, 3))


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
@pytest.mark.parametrize("stride, padding, dilation, groups", [((1, 1), (1, 1), (1, 1), 1),
                                                               ((2, 2), (3, 3), (1, 1), 1),
                                                               ((2, 1), (0, 2), (2, 1), 2)])
def test_im2col_backward_from_x_equals_the_kept_cols_backward(kernels, stride, padding, dilation, groups):
    x = RNG.standard_normal((3, 4, 11, 10))
    w = RNG.standard_normal((6, 4 // groups, 3, 5 if groups == 1 else 3))
    b = RNG.standard_normal(6)
    xt, wt, bt = (tinycnn.tensor(a, requires_grad=True) for a in (x, w, b))
    with tinycnn.config(kernels=kernels, conv_direct=False, conv_winograd=False):
        y = F.conv2d(xt, wt, bt, stride=stride, padding=padding, dilation=dilation, groups=groups)
        assert y.grad_fn.path is None                                          # the im2col path
        k = w.shape[1] * w.shape[2] * w.shape[3]
        saved = list(y.grad_fn._saved_arrays())
        assert not any(a.ndim == 2 and a.shape[0] == k * groups for a in saved)  # no cols kept
        assert sum(a.nbytes for a in saved) <= x.nbytes + w.nbytes
        gy = RNG.standard_normal(y.shape)
        y.backward(tinycnn.tensor(gy))
    for ours, ref in zip((xt.grad, wt.grad, bt.grad), _reference_grads(x, w, b, gy, stride, padding, dilation,
                                                                         groups)):
        np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kernels", ["numpy", "numba"])
def test_im2col_conv_gradcheck(kernels):
    x = tinycnn.tensor(RNG.standard_normal((2, 2, 6, 5)), requires_grad=True)
    w = tinycnn.tensor(RNG.standard_normal((3, 2, 3, 2)), requires_grad=True)
    with tinycnn.config(kernels=kernels, conv_direct=False, conv_winograd=False):
        assert tinycnn.gradcheck(lambda a, b: F.conv2d(a, b, stride=2, padding=1), [x, w])


def test_conv_input_changed_in_place_after_the_forward_is_an_error_when_w_needs_grad():
    # backward reads x again (as PyTorch's convolution saves its input), so changing it would corrupt gw
    x = tinycnn.tensor(RNG.standard_normal((1, 2, 5, 5)), requires_grad=True)
    w = tinycnn.tensor(RNG.standard_normal((2, 2, 3, 3)), requires_grad=True)
    h = x * 1.0
    with tinycnn.config(conv_direct=False, conv_winograd=False):
        y = Conv2dFunction.apply(h, w, None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1)
        h.array[...] += 1.0
        h._version_counter.value += 1
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.sum().backward()


@pytest.fixture
def empty_pool():
    cols_pool.clear_cols_pool()
    yield
    cols_pool.clear_cols_pool()


def test_pool_hands_a_released_buffer_to_a_request_of_another_shape(empty_pool):
    big = np.empty((16, 64, 4096), np.float32)                      # 16 MiB
    cols_pool.release_cols(big[:, :32])                              # a view: its owner goes back
    assert cols_pool.pooled_bytes() == big.nbytes
    got = cols_pool.take((576, 3000), np.dtype(np.float32))
    assert got.shape == (576, 3000) and got.flags.c_contiguous and np.shares_memory(got, big)
    assert cols_pool.pooled_bytes() == 0
    cols_pool.release_cols(got)
    cols_pool.release_cols(got)                                      # twice: kept once
    assert cols_pool.pooled_bytes() == big.nbytes
    assert cols_pool.take((big.size + 1,), np.dtype(np.float32)) is None   # too big for it


def test_pool_takes_the_smallest_buffer_that_fits_and_stays_within_its_bounds(empty_pool, monkeypatch):
    sizes = [8, 5, 12, 6]
    bufs = [np.empty(s << 20, np.uint8) for s in sizes]
    for b in bufs:
        cols_pool.release_cols(b)
    got = cols_pool.take((6 << 18,), np.dtype(np.float32))         # 6 MiB: the 6 MiB buffer, not the 8
    assert np.shares_memory(got, bufs[3])
    cols_pool.release_cols(got)
    monkeypatch.setattr(cols_pool, "MAX_BYTES", 20 << 20)
    cols_pool.release_cols(np.empty(4 << 20, np.uint8))              # over the bound: the smallest go first
    assert cols_pool.pooled_bytes() == (12 + 8) << 20
    monkeypatch.setattr(cols_pool, "MAX_BUFFERS", 1)
    cols_pool.release_cols(np.empty(5 << 20, np.uint8))
    assert cols_pool.pooled_bytes() == 12 << 20
    cols_pool.release_cols(np.empty(1 << 20, np.uint8))              # under MIN_BYTES: not kept
    assert cols_pool.pooled_bytes() == 12 << 20
