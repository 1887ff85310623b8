"""Numba kernels for training-mode batch norm: the "batch_norm" capability of
``tinycnn/kernels/interface.py``.

Batch norm computes exactly the formulas derived in ``BatchNormTrain``'s docstring
(``tinycnn/ops/normalization.py``), on x viewed as (N, C, L):

* forward, per channel c:  mu = (1/M) sum x,  var = (1/M) sum (x - mu)^2 (``_channel_stats``: exact
  two-pass sums per row, merged without cancellation),  s = 1/sqrt(var + eps),  then y = (x - mu) * (s w) + b;
* backward, per channel c:  gb = sum gy,  gw = s * sum gy (x - mu), then (when the input needs a gradient)
  gx = (w s) * (gy - gb/M - (x - mu) * (s gw / M)).

One task per channel (``prange`` over C, run on ``MEMORY_BOUND_THREADS``: ``accel/threads.py`` says why):
each reads its channel's N*L values, a few hundred KiB at most in ResNet's and MobileNet's layers, so the
later passes over the channel find it in the core's L2 cache, and a channel's statistics and its output are
written by that task alone. The sums are accumulated in float64 for float32 data too (NumPy's einsum
accumulates float32 in float32), so float32 statistics are exact to their float32 rounding; the
elementwise formulas are then evaluated in the data's dtype, in the same order as the NumPy path. LLVM may
reorder the reductions (``fastmath`` with reassociation only, so that they vectorise), not the elementwise
passes.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .numba_launch import NjitKernel
from .threads import run_memory_bound

BATCH_NORM_MIN_SIZE = 1 << 15   # below this many elements NumPy's passes cost less than a kernel call
_REDUCE = {"reassoc"}            # lets LLVM vectorise the float64 sums; no other fast-math liberty


# Plain indexing x3[n, c, i] throughout: iterating over row views x3[n, c] inside the loops was 20x slower
# (measured on (16, 256, 196) float32: 8 ms against 0.4 ms for one sum over every channel).
@njit(cache=True, fastmath=_REDUCE)
def _channel_stats(x3, c):
    """(mean, biased variance) of channel c in float64, reading the channel from memory once: each row
    x3[n, c] (small enough to stay in L1/L2) gets its own mean and sum of squared deviations by two passes,
    and the rows are merged with Chan et al.'s pairwise rule,
        M2 = M2_a + M2_b + (mean_b - mean_a)^2 * n_a n_b / (n_a + n_b),
    which, like the plain two-pass formula, never subtracts two large sums of squares."""
    n_img, _, n_pix = x3.shape
    mean = 0.0
    m2 = 0.0
    count = 0.0
    for n in range(n_img):
        acc = 0.0
        for i in range(n_pix):
            acc += x3[n, c, i]
        row_mean = acc / n_pix
        acc = 0.0
        for i in range(n_pix):
            d = x3[n, c, i] - row_mean
            acc += d * d
        total = count + n_pix
        delta = row_mean - mean
        mean += delta * (n_pix / total)
        m2 += acc + delta * delta * (count * n_pix / total)
        count = total
    return mean, m2 / count


@njit(cache=True, fastmath=_REDUCE)
def _channel_grad_sums(gy3, x3, c, mu):
    """(sum gy, sum gy (x - mu)) over channel c, in float64."""
    sb = 0.0
    sw = 0.0
    for n in range(x3.shape[0]):
        for i in range(x3.shape[2]):
            g = np.float64(gy3[n, c, i])
            sb += g
            sw += g * (x3[n, c, i] - mu)
    return sb, sw


@njit(parallel=True, cache=True)
def _bn_fwd(x3, w, b, eps, y3, mean, var, s):
    n_img, n_ch, n_pix = x3.shape
    for c in prange(n_ch):
        mu, v = _channel_stats(x3, c)
        mean[c], var[c], s[c] = mu, v, 1.0 / np.sqrt(v + eps)
        mc, scale, shift = mean[c], s[c] * w[c], b[c]        # in x's dtype, as the NumPy path
        for n in range(n_img):
            for i in range(n_pix):
                y3[n, c, i] = (x3[n, c, i] - mc) * scale + shift


@njit(parallel=True, cache=True)
def _bn_bwd(gy3, x3, mean, s, w, need_gx, gx3, gw, gb):
    n_img, n_ch, n_pix = x3.shape
    m = n_img * n_pix
    for c in prange(n_ch):
        mc, sc = mean[c], s[c]
        sb, sw = _channel_grad_sums(gy3, x3, c, np.float64(mc))
        gb[c] = sb
        gw[c] = sw * sc
        if need_gx:
            k = x3.dtype.type(-(np.float64(sc) * sw * sc) / m)    # -(s gw)/M
            kb = x3.dtype.type(sb / m)                             # gb/M
            k1 = sc * w[c]                                         # w s
            for n in range(n_img):
                for i in range(n_pix):
                    gx3[n, c, i] = ((x3[n, c, i] - mc) * k + gy3[n, c, i] - kb) * k1


def _a(dtype, ndim):
    return np.empty((0,) * ndim, dtype=dtype)


# one family: on a fresh install the first call of one compiles the other in a worker (numba_launch.py)
_bn_fwd = NjitKernel(_bn_fwd, lambda dt: (_a(dt, 3), _a(dt, 1), _a(dt, 1), 0.0, _a(dt, 3), *[_a(dt, 1)] * 3),
                     name=f"{__name__}:_bn_fwd")
_bn_bwd = NjitKernel(_bn_bwd, lambda dt: (_a(dt, 3), _a(dt, 3), *[_a(dt, 1)] * 3, True, _a(dt, 3),
                                          _a(dt, 1), _a(dt, 1)), name=f"{__name__}:_bn_bwd")


def batch_norm_applies(shape3) -> bool:
    """Whether the kernels gain on x3 of this (N, C, L) shape: not for L = 1 (BatchNorm1d on features), where
    each channel is a strided column and NumPy's einsum was 3x faster ((64, 512): 0.12 against 0.37 ms)."""
    return shape3[2] > 1


def batch_norm_forward(x3, w, b, eps):
    """(y3, mean, var, s) for x3 of shape (N, C, L); ``w``/``b`` (C,) or None. mean, var (biased) and
    s = 1/sqrt(var + eps) are (C,) arrays of x's dtype (see the module docstring)."""
    x3 = np.ascontiguousarray(x3)
    dt, c = x3.dtype, x3.shape[1]
    ones = w if w is not None else np.ones(c, dt)
    zeros = b if b is not None else np.zeros(c, dt)
    y3 = np.empty_like(x3)
    mean, var, s = np.empty(c, dt), np.empty(c, dt), np.empty(c, dt)
    run_memory_bound(_bn_fwd, x3, np.ascontiguousarray(ones), np.ascontiguousarray(zeros), float(eps),
                     y3, mean, var, s)
    return y3, mean, var, s


def batch_norm_backward(gy3, x3, mean, s, w, need_input_grad=True):
    """(gx3 or None, gw, gb) for batch norm's forward on x3 (N, C, L) with the saved mean and s; gw, gb
    are (C,) whether or not the layer is affine (the caller drops what it does not need)."""
    gy3, x3 = np.ascontiguousarray(gy3), np.ascontiguousarray(x3)
    dt, c = x3.dtype, x3.shape[1]
    k1 = np.ascontiguousarray(w) if w is not None else np.ones(c, dt)
    gx3 = np.empty_like(x3) if need_input_grad else np.empty((0, c, 0), dt)
    gw, gb = np.empty(c, dt), np.empty(c, dt)
    run_memory_bound(_bn_bwd, gy3, x3, mean, s, k1, bool(need_input_grad), gx3, gw, gb)
    return (gx3 if need_input_grad else None), gw, gb
