"""Depthwise convolution (groups = C_in, one input channel per kernel) as Numba loops, without im2col.

Why: MobileNet's depthwise layers have one 3x3 kernel per channel, so the im2col path builds a cols matrix
nine times the size of the input and then runs C tiny GEMMs of shape (m, 9) @ (9, N*L), one per group; the
copy, not the arithmetic, is the cost. Here each output plane is summed directly from its input plane,
which stays in cache.

Notation: input x (N, C, H, W), weight w (C*m, 1, kh, kw) with m the channel multiplier (output channel o
reads input channel c = o // m), stride s, dilation d, padding (pt, pb, pl, pr), output y (N, C*m, OH, OW).
Along one axis output a reads input row r = a*s - pt + i*d for tap i; rows outside [0, H) are the zero
padding and are skipped, never stored. So, with c = o // m,

    forward  y[n, o, a, b]  = b[o] + sum_{i,j} w[o, 0, i, j] * x[n, c, a*s_h - pt + i*d_h, b*s_w - pl + j*d_w]
    input    gx[n, c, r, q] = sum_{k<m} sum_{a,b,i,j : r = a*s_h - pt + i*d_h, q = b*s_w - pl + j*d_w}
                                  w[c*m + k, 0, i, j] * gy[n, c*m + k, a, b]
    weight   gw[o, 0, i, j] = sum_{n,a,b} gy[n, o, a, b] * x[n, c, a*s_h - pt + i*d_h, b*s_w - pl + j*d_w]
    bias     gb[o]          = sum_{n,a,b} gy[n, o, a, b]

the sums of ``ops/conv.py`` with one input channel per group (its cols[(c,i,j), (n,a,b)] is the x term
above); the input gradient is written as a scatter, each gradient row adding into the rows it came from.
For tap j the outputs b whose column q = b*s_w - pl + j*d_w lies inside the image form one range [lo, hi)
(``_valid_range``), so the inner loops over b run without bounds tests, over contiguous memory for stride 1.

Parallelism and determinism: the forward runs one task per (image, output channel) and the input gradient
one per (image, input channel), each writing only its own plane; the weight and bias gradients one task per
output channel, looping over the images inside, so no two threads write one sum and the order of each sum is
fixed whatever the thread count. Plain ``@njit(parallel=True, cache=True)`` loops (small kernels: they compile
in about a second each, so they do not need ``numba_launch.py``'s background compilation).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels.numpy_kernels import conv_out_size

# Reassociation lets LLVM vectorise the weight gradient's dot products; contraction makes FMAs. No flags
# that change NaN/inf handling.
_FAST = {"reassoc", "contract"}


@njit(inline="always")
def _u(i):
    """An index as unsigned (it is never negative here): Numba then emits no wrap-around test for negative
    indices, which kept LLVM from vectorising the inner loops (measured: scalar FMAs only)."""
    return np.uint64(i)


@njit(cache=True)
def _valid_range(off, s, size, out):
    """Output positions b in [lo, hi) whose input index b*s + off lies inside [0, size); 0 <= lo <= hi <= out."""
    lo = min(out, 0 if off >= 0 else (-off + s - 1) // s)
    hi = 0 if size - 1 - off < 0 else min(out, (size - 1 - off) // s + 1)
    return lo, max(lo, hi)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _forward(x, w, b, y, n_img, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw):
    m = c_out // c_in
    for task in prange(n_img * c_out):
        n, o = task // c_out, task % c_out
        x0 = (n * c_in + o // m) * h * wd
        y0 = task * oh * ow
        for t in range(oh * ow):
            y[_u(y0 + t)] = b[o]
        # tap by tap over the whole plane (a few KB, in L1): the row and column ranges are found once per
        # tap, not once per output row, which matters for MobileNet's 3x3 to 24x24 planes
        for i in range(kh):
            a_lo, a_hi = _valid_range(i * dh - pt, sh, h, oh)
            for j in range(kw):
                off = j * dw - pl
                lo, hi = _valid_range(off, sw, wd, ow)
                wij = w[(o * kh + i) * kw + j]
                for a in range(a_lo, a_hi):
                    yr = y0 + a * ow
                    xr = x0 + (a * sh + i * dh - pt) * wd + off
                    for q in range(lo, hi):
                        y[_u(yr + q)] += wij * x[_u(xr + q * sw)]


@njit(parallel=True, cache=True, fastmath=_FAST)
def _input_grad(gy, w, gx, n_img, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw):
    """gx must arrive zeroed."""
    m = c_out // c_in
    for task in prange(n_img * c_in):
        n, c = task // c_in, task % c_in
        x0 = task * h * wd
        for o in range(c * m, (c + 1) * m):
            g0 = (n * c_out + o) * oh * ow
            for i in range(kh):
                a_lo, a_hi = _valid_range(i * dh - pt, sh, h, oh)
                for j in range(kw):
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, wd, ow)
                    wij = w[(o * kh + i) * kw + j]
                    for a in range(a_lo, a_hi):
                        gr = g0 + a * ow
                        xr = x0 + (a * sh + i * dh - pt) * wd + off
                        for q in range(lo, hi):
                            gx[_u(xr + q * sw)] += wij * gy[_u(gr + q)]


@njit(parallel=True, cache=True, fastmath=_FAST)
def _weight_grad(x, gy, gw, gb, n_img, c_in, h, wd, c_out, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw, need_w, need_b):
    """gw and gb must arrive zeroed; each task owns gw[o] and gb[o]."""
    m = c_out // c_in
    zero = gy.dtype.type(0)
    for o in prange(c_out):
        for n in range(n_img):
            x0 = (n * c_in + o // m) * h * wd
            g0 = (n * c_out + o) * oh * ow
            if need_b:
                s = zero
                for t in range(oh * ow):
                    s += gy[_u(g0 + t)]
                gb[o] += s
            if not need_w:
                continue
            for i in range(kh):
                a_lo, a_hi = _valid_range(i * dh - pt, sh, h, oh)
                for j in range(kw):
                    off = j * dw - pl
                    lo, hi = _valid_range(off, sw, wd, ow)
                    s = zero
                    for a in range(a_lo, a_hi):
                        gr = g0 + a * ow
                        xr = x0 + (a * sh + i * dh - pt) * wd + off
                        for q in range(lo, hi):
                            s += gy[_u(gr + q)] * x[_u(xr + q * sw)]
                    gw[(o * kh + i) * kw + j] += s


def depthwise_conv_applies(x_shape, w_shape, groups) -> bool:
    """Whether conv2d with these shapes is depthwise: one input channel per group, groups = C_in > 1 (any
    kernel size, stride, padding, dilation and channel multiplier C_out / C_in)."""
    return groups > 1 and groups == x_shape[1] and w_shape[1] == 1 and w_shape[0] % groups == 0


def _sizes(x_shape, w_shape, stride, padding, dilation):
    n, c, h, wd = x_shape
    c_out, _, kh, kw = w_shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    oh, ow = conv_out_size(h, kh, sh, pt + pb, dh), conv_out_size(wd, kw, sw, pl + pr, dw)
    return n, c, h, wd, c_out, kh, kw, oh, ow, sh, sw, pt, pl, dh, dw


def _flat(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def depthwise_conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, C*m, OH, OW) of the depthwise convolution (module docstring); ``padding`` is (pt, pb, pl, pr)."""
    sizes = _sizes(x.shape, w.shape, stride, padding, dilation)
    n, c_out, oh, ow = sizes[0], sizes[4], sizes[7], sizes[8]
    bias = np.zeros(c_out, x.dtype) if b is None else _flat(b, x.dtype)
    y = np.empty((n, c_out, oh, ow), dtype=x.dtype)
    _forward(_flat(x, x.dtype), _flat(w, x.dtype), bias, y.reshape(-1), *sizes)
    return y


def depthwise_conv2d_backward(gy, x, w, stride, padding, dilation, need_x=True, need_w=True, need_b=True):
    """(gx, gw, gb) of the depthwise convolution (module docstring); each is None when not asked for."""
    sizes = _sizes(x.shape, w.shape, stride, padding, dilation)
    dtype = gy.dtype
    g = _flat(gy, dtype)
    gx = gw = gb = None
    if need_x:
        gx = np.zeros(x.shape, dtype=dtype)
        _input_grad(g, _flat(w, dtype), gx.reshape(-1), *sizes)
    if need_w or need_b:
        gw_flat = np.zeros(w.size, dtype=dtype)
        gb = np.zeros(w.shape[0], dtype=dtype)
        _weight_grad(_flat(x, dtype), g, gw_flat, gb, *sizes, need_w, need_b)
        gw = gw_flat.reshape(w.shape) if need_w else None
        gb = gb if need_b else None
    return gx, gw, gb
