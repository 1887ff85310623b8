"""Numba-compiled CPU kernels: the same functions and signatures as ``numpy_kernels`` (read its docstring for
the layouts), written as plain loops that Numba compiles to machine code.

Each public function allocates its output and calls an ``@njit(parallel=True, cache=True)`` loop nest whose
outer ``prange`` runs over the batch (im2col/col2im) or over batch*channels (pooling), so threads never
write the same element and no locks or atomics are needed. Loops are ordered so the innermost one walks
contiguous memory. ``cache=True`` stores the machine code on disk: only the first run of a new dtype pays
the compilation. This module imports numba at import time; ``tinycnn.kernels`` imports it only when numba is
installed and wanted.
"""
from __future__ import annotations

import os

import numba
import numpy as np
from numba import njit, prange

# Threading layer: Numba's default here is OpenMP, whose idle threads spin-wait after each parallel loop and
# then fight OpenBLAS's threads for the same cores during the GEMM that follows every im2col. Measured on the
# 2-core machine (im2col + GEMM + col2im, LeNet conv2 shape): OpenMP 20-97 ms under load vs 6.7-11 ms with
# the 'workqueue' layer (no spinning). A user's NUMBA_THREADING_LAYER still wins. (workqueue must not be
# entered from two Python threads at once; tinycnn calls kernels from the main thread only.)
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"

from .numpy_kernels import avg_pool_divisor, conv_out_size


# ---- im2col / col2im ----------------------------------------------------------------------------------------
@njit(cache=True)
def _valid_range(off, s, size, out):
    """Output positions o in [lo, hi) whose input index o*s + off lies inside [0, size)."""
    lo = 0 if off >= 0 else (-off + s - 1) // s
    hi = 0 if size - 1 - off < 0 else min(out, (size - 1 - off) // s + 1)
    return lo, max(lo, hi)


@njit(parallel=True, cache=True)
def _im2col(x, cols, kh, kw, sh, sw, pt, pl, dh, dw, oh, ow):
    n_img, n_ch, h, w = x.shape
    plane = oh * ow
    for n in prange(n_img):
        for c in range(n_ch):
            for i in range(kh):
                for j in range(kw):
                    dst = cols[(c * kh + i) * kw + j]
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, w, ow)   # bounds hoisted out of the pixel loop
                    for y in range(oh):
                        hh = y * sh - pt + i * dh
                        base = n * plane + y * ow
                        if hh < 0 or hh >= h:
                            dst[base:base + ow] = 0
                            continue
                        src = x[n, c, hh]
                        dst[base:base + lo] = 0
                        for xo in range(lo, hi):
                            dst[base + xo] = src[xo * sw + off]
                        dst[base + hi:base + ow] = 0


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


def im2col(x, kernel_size, stride, padding, dilation):
    """(N, C, H, W) -> cols (C*kh*kw, N*OH*OW); see numpy_kernels.im2col."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = conv_out_size(h, kh, sh, pt + pb, dh), conv_out_size(w, kw, sw, pl + pr, dw)
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


@njit(parallel=True, cache=True)
def _max_pool_bwd(gy, idx, gx):
    nc, oh, ow = gy.shape
    h, w = gx.shape[1], gx.shape[2]
    for p in prange(nc):
        for a in range(oh):
            for b in range(ow):
                k = idx[p, a, b]
                if k >= 0:  # -1: a window of padding only (dilation) has no input element to feed
                    gx[p, k // w, k % w] += gy[p, a, b]


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size):
    """-> (y, indices); see numpy_kernels.max_pool2d_forward for the tie rule."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel_size, stride, padding, dilation, out_size
    y = np.empty((n * c, oh, ow), dtype=x.dtype)
    idx = np.empty((n * c, oh, ow), dtype=np.int64)
    _max_pool_fwd(np.ascontiguousarray(x).reshape(n * c, h, w), y, idx, kh, kw, sh, sw, ph, pw, dh, dw)
    return y.reshape(n, c, oh, ow), idx.reshape(n, c, oh, ow)


def max_pool2d_backward(gy, indices, x_shape):
    """Scatter each output gradient to its argmax; overlapping windows accumulate."""
    n, c, h, w = x_shape
    oh, ow = gy.shape[2], gy.shape[3]
    gx = np.zeros((n * c, h, w), dtype=gy.dtype)
    _max_pool_bwd(np.ascontiguousarray(gy).reshape(n * c, oh, ow),
                  np.ascontiguousarray(indices).reshape(n * c, oh, ow), gx)
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
