"""Numba-compiled CPU kernels: the same functions and signatures as ``numpy_kernels`` (read its docstring for
the layouts), written as plain loops that Numba compiles to machine code.

Each public function allocates its output and calls an ``@njit(parallel=True, cache=True)`` loop nest whose
outer ``prange`` runs over the batch (im2col/col2im) or over batch*channels (pooling), so threads never
write the same element and no locks or atomics are needed. Loops are ordered so the innermost one walks
contiguous memory. ``cache=True`` stores the machine code on disk: only the first run of a new dtype pays
the compilation. This module imports numba at import time; ``tinycnn.kernels`` imports it only when numba is
installed and wanted.

It is the "numba" kernel set of ``tinycnn/kernels/interface.py``: the required functions, and every fast path
(the direct and fused convolutions of ``numba_direct.py``, the Winograd convolution of ``winograd.py``, the
depthwise one of ``numba_depthwise.py``, one-pass ReLU and hardtanh, training-mode batch norm of
``numba_norm.py``, the buffer pool ``cols_pool.py``).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels.interface import CAPABILITIES
from ..kernels.numpy_kernels import avg_pool_divisor, conv_out_size
from .numba_launch import NjitKernel
from .cols_pool import clear_cols_pool, release_cols, take  # noqa: F401  (the "cols_pool" capability)
from .numba_depthwise import (depthwise_conv2d_backward, depthwise_conv2d_forward,  # noqa: F401
                              depthwise_conv_applies)
from .numba_direct import (conv2d_direct_backward, conv2d_direct_forward,  # noqa: F401
                           conv2d_direct_input_grad, conv2d_direct_relu_maxpool, conv2d_direct_weight_grad,
                           direct_conv_applies)
from .numba_norm import (BATCH_NORM_MIN_SIZE, batch_norm_applies, batch_norm_backward,  # noqa: F401
                         batch_norm_forward)
from .pointwise import pointwise_conv2d_backward, pointwise_conv2d_forward, pointwise_conv_applies  # noqa: F401
from .threads import run_memory_bound
from .small_plane import small_plane_conv2d_backward, small_plane_conv2d_forward, small_plane_conv_applies  # noqa: F401
from .winograd import winograd_applies
from .winograd_f4 import winograd_backward, winograd_forward  # noqa: F401  (F(4x4) or F(2x2) by plane size)

# How the parallel loops' threads wait between kernels is set when the first one runs (accel/threads.py).
NAME = "numba"
PROVIDES = frozenset(CAPABILITIES)            # every fast path of the interface


def _a(dtype, ndim):
    """An empty C-contiguous array: an example argument of a kernel's signature (numba_launch.NjitKernel)."""
    return np.empty((0,) * ndim, dtype=dtype)


_INTS = (0,) * 16          # example int64 arguments


def _registered(kernel, family, example):
    return NjitKernel(kernel, example, name=f"{__name__}:{kernel.py_func.__name__}", family=f"{__name__}:{family}")

# Each parallel kernel below is wrapped in a NjitKernel of a small family (the kernels one layer type uses
# together): on a fresh install, the first call of one starts its family's others in a compile worker.


# ---- im2col / col2im ----------------------------------------------------------------------------------------
@njit(cache=True)
def _valid_range(off, s, size, out):
    """Output positions o in [lo, hi) whose input index o*s + off lies inside [0, size); 0 <= lo <= hi <= out
    (a left padding wider than the whole output row gives lo = hi = out, not past the row's end)."""
    lo = min(out, 0 if off >= 0 else (-off + s - 1) // s)
    hi = 0 if size - 1 - off < 0 else min(out, (size - 1 - off) // s + 1)
    return lo, max(lo, hi)


@njit(parallel=True, cache=True)
def _im2col(x, cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    n_img, n_ch, h, w = x.shape
    plane = oh * ow
    # one task per (image, channel): enough tasks for two threads even at batch 1, and each task writes its
    # own rows c*kh*kw.. of its own column block n, so no two tasks touch the same element. Plain indexed
    # loops, no slice objects: with ResNet's 7x7 / 14x14 planes the rows are short and slicing overhead
    # dominated (measured 3.2 -> 1.9 ms on (16, 512, 7, 7), 10.7 -> 10.0 ms on (16, 64, 56, 56)).
    for task in prange(n_img * n_ch):
        n, c = task // n_ch, task % n_ch
        for i in range(kh):
            for j in range(kw):
                dst = cols[(c * kh + i) * kw + j]
                off = j * dw - pl
                lo, hi = _valid_range(off, sw, w, ow)   # bounds hoisted out of the pixel loop
                base = n * plane
                for y in range(oh):
                    hh = y * sh - pt + i * dh
                    if hh < 0 or hh >= h:
                        for xo in range(ow):
                            dst[base + xo] = 0
                    else:
                        for xo in range(lo):
                            dst[base + xo] = 0
                        for xo in range(lo, hi):
                            dst[base + xo] = x[n, c, hh, xo * sw + off]
                        for xo in range(hi, ow):
                            dst[base + xo] = 0
                    base += ow



_im2col = _registered(_im2col, "im2col", lambda dt: (_a(dt, 4), _a(dt, 2), *_INTS[:10]))

@njit(parallel=True, cache=True)
def _col2im(cols, x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    n_img, n_ch, h, w = x.shape
    plane = oh * ow
    for n in prange(n_img):          # image n only receives columns of image n: no write conflicts
        for c in range(n_ch):
            for i in range(kh):
                for j in range(kw):
                    srcrow = cols[(c * kh + i) * kw + j]
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, w, ow)
                    for y in range(oh):
                        hh = y * sh - pt + i * dh
                        if hh < 0 or hh >= h:
                            continue
                        base = n * plane + y * ow
                        dst = x[n, c, hh]
                        for xo in range(lo, hi):
                            dst[xo * sw + off] += srcrow[base + xo]



_col2im = _registered(_col2im, "im2col", lambda dt: (_a(dt, 2), _a(dt, 4), *_INTS[:10]))

def im2col(x, kernel_size, stride, padding, dilation):
    """(N, C, H, W) -> cols (C*kh*kw, N*OH*OW); see numpy_kernels.im2col."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = conv_out_size(h, kh, sh, pt + pb, dh), conv_out_size(w, kw, sw, pl + pr, dw)
    # every element is written below (padding as explicit zeros), so a reused buffer needs no clearing
    cols = take((c * kh * kw, n * oh * ow), x.dtype)
    if cols is None:
        cols = np.empty((c * kh * kw, n * oh * ow), dtype=x.dtype)
    _im2col(np.ascontiguousarray(x), cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
    return cols


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """cols (C*kh*kw, N*OH*OW) -> (N, C, H, W), summing overlaps; see numpy_kernels.col2im."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = conv_out_size(h, kh, sh, pt + pb, dh), conv_out_size(w, kw, sw, pl + pr, dw)
    x = np.zeros(x_shape, dtype=cols.dtype)
    _col2im(np.ascontiguousarray(cols), x, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow)
    return x


# ---- max pooling --------------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _max_pool_fwd(x, y, idx, kh, kw, sh, sw, ph, pw, dh, dw):
    nc, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in prange(nc):
        for a in range(oh):
            hs = a * sh - ph
            h0 = hs
            while h0 < 0:
                h0 += dh
            for b in range(ow):
                ws = b * sw - pw
                w0 = ws
                while w0 < 0:
                    w0 += dw
                best = -np.inf
                best_i = h0 * w + w0                 # a window of only -inf points at its first real element
                if h0 >= h or h0 > hs + (kh - 1) * dh or w0 >= w or w0 > ws + (kw - 1) * dw:
                    best_i = -1                      # ... and one of padding only (dilation) at nothing
                for i in range(kh):
                    hh = hs + i * dh
                    if hh < 0 or hh >= h:
                        continue
                    for j in range(kw):
                        ww = ws + j * dw
                        if ww < 0 or ww >= w:
                            continue
                        v = x[p, hh, ww]
                        if v > best or np.isnan(v):  # PyTorch's rule: first max wins, NaN always wins
                            best = v
                            best_i = hh * w + ww
                y[p, a, b] = best
                idx[p, a, b] = best_i



_max_pool_fwd = _registered(_max_pool_fwd, "max_pool", lambda dt: (_a(dt, 3), _a(dt, 3), _a(np.int32, 3), *_INTS[:8]))

@njit(parallel=True, cache=True)
def _max_pool_bwd(gy, idx, gx):
    nc, oh, ow = gy.shape
    w = gx.shape[2]
    for p in prange(nc):
        for a in range(oh):
            for b in range(ow):
                k = idx[p, a, b]
                if k >= 0:  # -1: a window of padding only (dilation) has no input element to feed
                    gx[p, k // w, k % w] += gy[p, a, b]



_max_pool_bwd = _registered(_max_pool_bwd, "max_pool", lambda dt: (_a(dt, 3), _a(np.int32, 3), _a(dt, 3)))

@njit(parallel=True, cache=True)
def _max_pool_fwd_inside(x, y, idx, kh, kw, sh, sw):
    """_max_pool_fwd for windows that lie inside the image (no padding, dilation 1, no ceil_mode overhang):
    no bounds tests. Starting from the window's first element equals starting from -inf under the rule
    'replace when v > best or v is NaN' (a first element of -inf keeps best = -inf at that index)."""
    nc, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in prange(nc):
        for a in range(oh):
            for b in range(ow):
                r0, q0 = a * sh, b * sw
                best = x[p, r0, q0]
                best_i = r0 * w + q0
                for i in range(kh):
                    row = x[p, r0 + i]
                    for j in range(kw):
                        v = row[q0 + j]
                        if v > best or np.isnan(v):
                            best = v
                            best_i = (r0 + i) * w + q0 + j
                y[p, a, b] = best
                idx[p, a, b] = best_i


@njit(parallel=True, cache=True)
def _max_pool_fwd_2x2(x, y, idx):
    """_max_pool_fwd_inside for kernel 2x2, stride 2 (LeNet, VGG), unrolled: ~4x faster than the loops."""
    nc, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in prange(nc):
        for a in range(oh):
            top, bottom = x[p, 2 * a], x[p, 2 * a + 1]
            i0, i1 = 2 * a * w, (2 * a + 1) * w
            for b in range(ow):
                q = 2 * b
                best, best_i = top[q], i0 + q
                v = top[q + 1]
                if v > best or np.isnan(v):   # the same row-major rule as _max_pool_fwd
                    best, best_i = v, i0 + q + 1
                v = bottom[q]
                if v > best or np.isnan(v):
                    best, best_i = v, i1 + q
                v = bottom[q + 1]
                if v > best or np.isnan(v):
                    best, best_i = v, i1 + q + 1
                y[p, a, b] = best
                idx[p, a, b] = best_i



_max_pool_fwd_2x2 = _registered(_max_pool_fwd_2x2, "max_pool_2x2", lambda dt: (_a(dt, 3), _a(dt, 3), _a(np.int32, 3)))

def max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size, index_dtype=np.int64):
    """-> (y, indices); see numpy_kernels.max_pool2d_forward for the tie rule. ``index_dtype=np.int32``
    halves the index traffic (ops/pooling.py asks for it when the indices stay internal)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel_size, stride, padding, dilation, out_size
    y = np.empty((n * c, oh, ow), dtype=x.dtype)
    idx = np.empty((n * c, oh, ow), dtype=index_dtype)
    x3 = np.ascontiguousarray(x).reshape(n * c, h, w)
    inside = (ph, pw, dh, dw) == (0, 0, 1, 1) and (oh - 1) * sh + kh <= h and (ow - 1) * sw + kw <= w
    if inside and (kh, kw, sh, sw) == (2, 2, 2, 2):
        _max_pool_fwd_2x2(x3, y, idx)
    elif inside:
        _max_pool_fwd_inside(x3, y, idx, kh, kw, sh, sw)     # no edge tests
    else:
        _max_pool_fwd(x3, y, idx, kh, kw, sh, sw, ph, pw, dh, dw)
    return y.reshape(n, c, oh, ow), idx.reshape(n, c, oh, ow)


@njit(parallel=True, cache=True)
def _max_pool_bwd_2x2(gy, idx, gx):
    """_max_pool_bwd for 2x2 windows at stride 2 inside the image. The windows tile the plane without
    overlap, so each element gets its window's gradient or 0: the plane is zeroed while it is in cache (no
    separate pass over the whole gx), then one store per window at its argmax, found from the offset inside
    the window (0, 1, W or W + 1) instead of a division by W. ``g + zero`` is what the general kernel stores
    (0 + g, so -0.0 becomes +0.0): both give the same bits. Rows and columns past the last window (odd H or
    W) stay 0."""
    nc, oh, ow = gy.shape
    h, w = gx.shape[1], gx.shape[2]
    zero = gx.dtype.type(0)
    for p in prange(nc):
        for r in range(h):
            for q in range(w):
                gx[p, r, q] = zero
        for a in range(oh):
            for b in range(ow):
                d = idx[p, a, b] - 2 * a * w - 2 * b
                bottom = d >= w
                gx[p, 2 * a + (1 if bottom else 0), 2 * b + (d - w if bottom else d)] = gy[p, a, b] + zero



_max_pool_bwd_2x2 = _registered(_max_pool_bwd_2x2, "max_pool_2x2", lambda dt: (_a(dt, 3), _a(np.int32, 3), _a(dt, 3)))

def max_pool2d_backward(gy, indices, x_shape, window=None):
    """Scatter each output gradient to its argmax; overlapping windows accumulate. ``window``: see
    numpy_kernels.max_pool2d_backward; 2x2 windows at stride 2 inside the image take a one-pass kernel."""
    n, c, h, w = x_shape
    oh, ow = gy.shape[2], gy.shape[3]
    gy3 = np.ascontiguousarray(gy).reshape(n * c, oh, ow)
    idx3 = np.ascontiguousarray(indices).reshape(n * c, oh, ow)
    if window == ((2, 2), (2, 2), (0, 0), (1, 1)) and 2 * oh <= h and 2 * ow <= w:
        gx = np.empty((n * c, h, w), dtype=gy.dtype)
        _max_pool_bwd_2x2(gy3, idx3, gx)
    else:
        gx = np.zeros((n * c, h, w), dtype=gy.dtype)
        _max_pool_bwd(gy3, idx3, gx)
    return gx.reshape(x_shape)


# ---- average pooling ----------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _avg_pool_fwd(x, y, div, zero, kh, kw, sh, sw, ph, pw):
    nc, h, w = x.shape
    oh, ow = y.shape[1], y.shape[2]
    for p in prange(nc):
        for a in range(oh):
            hs = a * sh - ph
            for b in range(ow):
                ws = b * sw - pw
                acc = zero                          # typed like x: float32 sums stay float32
                for hh in range(max(hs, 0), min(hs + kh, h)):
                    for ww in range(max(ws, 0), min(ws + kw, w)):
                        acc += x[p, hh, ww]
                y[p, a, b] = acc / div[a, b]


@njit(parallel=True, cache=True)
def _avg_pool_bwd(gy, gx, div, kh, kw, sh, sw, ph, pw):
    nc, h, w = gx.shape
    oh, ow = gy.shape[1], gy.shape[2]
    for p in prange(nc):
        for a in range(oh):
            hs = a * sh - ph
            for b in range(ow):
                ws = b * sw - pw
                g = gy[p, a, b] / div[a, b]
                for hh in range(max(hs, 0), min(hs + kh, h)):
                    for ww in range(max(ws, 0), min(ws + kw, w)):
                        gx[p, hh, ww] += g


def avg_pool2d_forward(x, kernel_size, stride, padding, out_size, count_include_pad=True,
                       divisor_override=None):
    """y = window sum / divisor; see numpy_kernels.avg_pool_divisor for the divisor."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel_size, stride, padding, out_size
    div = avg_pool_divisor((h, w), kernel_size, stride, padding, out_size, count_include_pad,
                           divisor_override).astype(x.dtype)
    y = np.empty((n * c, oh, ow), dtype=x.dtype)
    _avg_pool_fwd(np.ascontiguousarray(x).reshape(n * c, h, w), y, div, x.dtype.type(0), kh, kw, sh, sw, ph, pw)
    return y.reshape(n, c, oh, ow)


def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding, out_size, count_include_pad=True,
                        divisor_override=None):
    """gx[p] = sum over windows containing p of gy / divisor."""
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel_size, stride, padding, out_size
    div = avg_pool_divisor((h, w), kernel_size, stride, padding, out_size, count_include_pad,
                           divisor_override).astype(gy.dtype)
    gx = np.zeros((n * c, h, w), dtype=gy.dtype)
    _avg_pool_bwd(np.ascontiguousarray(gy).reshape(n * c, oh, ow), gx, div, kh, kw, sh, sw, ph, pw)
    return gx.reshape(x_shape)


# ---- ReLU (elementwise, but worth a parallel kernel: LeNet's activations are 600k elements) ---------------
RELU_MIN_SIZE = 1 << 15            # below this, NumPy's two passes beat a parallel launch


@njit(parallel=True, cache=True)
def _relu_fwd(x, y, mask):
    for i in prange(x.size):
        v = x[i]
        # exactly np.maximum(v, 0): v when v > 0 or NaN, else +0 (also for -0.0); and the mask x > 0
        y[i] = v if (v > 0 or np.isnan(v)) else 0
        mask[i] = v > 0



_relu_fwd = _registered(_relu_fwd, "activations", lambda dt: (_a(dt, 1), _a(dt, 1), _a(np.bool_, 1)))

@njit(parallel=True, cache=True)
def _relu_bwd(gy, mask, gx):
    one, zero = gy.dtype.type(1), gy.dtype.type(0)
    for i in prange(gy.size):
        gx[i] = gy[i] * (one if mask[i] else zero)     # exactly gy * mask (NaN * 0 stays NaN, as NumPy)



_relu_bwd = _registered(_relu_bwd, "activations", lambda dt: (_a(dt, 1), _a(np.bool_, 1), _a(dt, 1)))

def relu_forward(x):
    """(y, mask) = (np.maximum(x, 0), x > 0) in one pass (on ``MEMORY_BOUND_THREADS``: accel/threads.py)."""
    xc = np.ascontiguousarray(x)
    y = np.empty_like(xc)
    mask = np.empty(xc.shape, dtype=np.bool_)
    run_memory_bound(_relu_fwd, xc.reshape(-1), y.reshape(-1), mask.reshape(-1))
    return y, mask


def relu_backward(gy, mask):
    """gy * mask in one pass."""
    gc = np.ascontiguousarray(gy)
    gx = np.empty_like(gc)
    run_memory_bound(_relu_bwd, gc.reshape(-1), np.ascontiguousarray(mask).reshape(-1), gx.reshape(-1))
    return gx


# ---- hardtanh / ReLU6 (MobileNetV2's activation), the same scheme as ReLU ------------------------------------
HARDTANH_MIN_SIZE = RELU_MIN_SIZE


@njit(parallel=True, cache=True)
def _hardtanh_fwd(x, lo, hi, y, mask):
    for i in prange(x.size):
        v = x[i]
        # exactly np.clip(v, lo, hi): NaN passes through, -0.0 stays -0.0 at lo = 0; and the mask lo < v < hi
        t = lo if v < lo else v
        y[i] = hi if t > hi else t
        mask[i] = (v > lo) and (v < hi)



_hardtanh_fwd = _registered(_hardtanh_fwd, "activations",
                            lambda dt: (_a(dt, 1), dt.type(0), dt.type(0), _a(dt, 1), _a(np.bool_, 1)))

def hardtanh_forward(x, min_val, max_val):
    """(np.clip(x, min_val, max_val), (x > min_val) & (x < max_val)) in one pass. The bounds are
    first rounded to x's dtype, as NumPy rounds Python floats."""
    xc = np.ascontiguousarray(x)
    y = np.empty_like(xc)
    mask = np.empty(xc.shape, dtype=np.bool_)
    lo, hi = xc.dtype.type(min_val), xc.dtype.type(max_val)
    run_memory_bound(_hardtanh_fwd, xc.reshape(-1), lo, hi, y.reshape(-1), mask.reshape(-1))
    return y, mask


hardtanh_backward = relu_backward      # gy * mask: the same pass, whichever function made the mask


# ---- which kernel families a model will use (for numba_launch.prepare) ---------------------------------------
def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _conv_family(m):
    """The families of the paths a Conv2d-like layer ``m`` can take (see ops/conv.py's fast_conv_path), judged
    from its settings alone (its input size is not known yet: a Winograd layer's plane picks F(2x2) or
    F(4x4)), or () for the BLAS-only 1x1 path."""
    w_shape = (m.out_channels, m.in_channels // m.groups, *_pair(m.kernel_size))
    stride, dilation = _pair(m.stride), _pair(m.dilation)
    if direct_conv_applies(None, w_shape, stride, dilation, m.groups):
        return ("tinycnn.accel.numba_direct",)
    if winograd_applies((1, m.in_channels, 16, 16), w_shape, stride, (1, 1, 1, 1), dilation, m.groups):
        return "tinycnn.accel.winograd", "tinycnn.accel.winograd_f4"
    if w_shape[2:] == (1, 1) and m.groups == 1:
        return ()
    if depthwise_conv_applies((1, m.in_channels), w_shape, m.groups):
        return ("tinycnn.accel.numba_depthwise",)
    return (f"{__name__}:im2col",)


def cold_start_families(model, training=True):
    """The kernel families (numba_launch.py) that training (or, ``training=False``, running) ``model``
    will call, judged from its layers' types and settings: what ``tinycnn train`` has compiled in the
    background while it loads its data. A guess errs both ways at no cost to the numbers: a family not
    used only costs a worker's time, one missed is compiled on first use as without ``prepare``."""
    families = []
    for m in model.modules():
        kind = type(m).__name__
        if kind in ("Conv2d", "FusedConv2dReLUMaxPool2d"):
            found = _conv_family(m)
        elif kind.startswith("BatchNorm") and kind != "BatchNorm1d" and training:
            found = ("tinycnn.accel.numba_norm",)
        elif kind in ("ReLU", "ReLU6", "Hardtanh"):
            found = (f"{__name__}:activations",)
        elif kind == "MaxPool2d":
            window = (_pair(m.kernel_size), _pair(m.stride), _pair(m.padding))
            found = (f"{__name__}:max_pool_2x2" if window == ((2, 2), (2, 2), (0, 0)) else f"{__name__}:max_pool",)
        else:
            continue
        families += [f for f in found if f not in families]
    return families
