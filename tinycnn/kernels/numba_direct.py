"""Direct (im2col-free) Numba convolution for stride 1, dilation 1, one group: the small-channel fast path.

Why: for LeNet-sized layers (K = C*kh*kw <= a few hundred, few output channels) the im2col matrix is large
(conv1 of LeNet at batch 128: 25 x 100,352 floats = 10 MB) while the GEMM on it is skinny, so writing and
re-reading cols costs more than the arithmetic. Here each image is handled by one thread, entirely in cache.

The trick ("flat shifted rows"): copy image n, zero-padded, into xpad (C, Hp*Wp) with Hp = OH+kh-1,
Wp = OW+kw-1 (stride 1: exactly the padded input). Output (a, b) sits at flat position t = a*Wp + b of a
Wp-wide grid, and its input pixel for offset (i, j) is xpad[c, t + i*Wp + j]. So, with span = (OH-1)*Wp+OW,

    forward   acc[o, t]     = b[o] + sum_{c,i,j} w[o,c,i,j] * xpad[c, i*Wp + j + t]      (t < span)
    weight    gw[o,c,i,j]  += sum_t gyf[o, t] * xpad[c, i*Wp + j + t]
    input     gxpad[c, i*Wp + j + t] += sum_o w[o,c,i,j] * gyf[o, t]

where gyf is gy laid on the same Wp-wide grid with zeros in the Wp-OW gap columns (t with t % Wp >= OW are
not outputs: the forward drops them, and the zeros make them contribute nothing backward). Every inner loop
runs over contiguous memory (axpy or dot product) and vectorises; slicing the shifted row first keeps Numba
from inserting negative-index checks that would block vectorisation. These are the same sums as the im2col
formulation in ``ops/conv.py`` (cols[(c,i,j), (n,t)] = xpad[n, c, i*Wp + j + t]), in another order; tests
check equality in float64.

Determinism: the weight gradient sums per-chunk partials (a fixed number of chunks of the batch, whatever
the thread count) in a fixed order, so results do not depend on how many threads run.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

# Reassociation lets LLVM vectorise the dot products (float32 sums in another order, as any BLAS does);
# no 'nnan'/'ninf': NaN and inf propagate as in the reference path.
_FAST = {"reassoc", "contract", "nsz", "arcp"}
_WGRAD_CHUNKS = 16


@njit(cache=True)
def _pad_image(x, n, xpad, pt, pl, wp):
    """xpad[c, (r+pt)*wp + q+pl] = x[n, c, r, q]; the border stays as allocated (zeros)."""
    c_in, h, wd = x.shape[1], x.shape[2], x.shape[3]
    for c in range(c_in):
        for r in range(h):
            row = xpad[c][(r + pt) * wp + pl:(r + pt) * wp + pl + wd]
            src = x[n, c, r]
            for q in range(wd):
                row[q] = src[q]


@njit(cache=True)
def _grid_grad(gy, n, gyf, wp):
    """gyf[o, a*wp + b] = gy[n, o, a, b]; the gap columns b >= OW stay zero."""
    c_out, oh, ow = gy.shape[1], gy.shape[2], gy.shape[3]
    for o in range(c_out):
        for a in range(oh):
            row = gyf[o][a * wp:a * wp + ow]
            src = gy[n, o, a]
            for b in range(ow):
                row[b] = src[b]


@njit(cache=True)
def _tap_offsets(c_in, kh, kw, hp, wp):
    """offs[(c*kh + i)*kw + j] = c*hp*wp + i*wp + j: where tap (c, i, j)'s shifted row starts in flat xpad."""
    offs = np.empty(c_in * kh * kw, np.int64)
    for c in range(c_in):
        for i in range(kh):
            for j in range(kw):
                offs[(c * kh + i) * kw + j] = c * hp * wp + i * wp + j
    return offs


@njit(parallel=True, cache=True, fastmath=_FAST)
def _direct_fwd(x, w, b, y, pt, pl):
    n_img, c_in = x.shape[0], x.shape[1]
    c_out, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    oh, ow = y.shape[2], y.shape[3]
    hp, wp = oh + kh - 1, ow + kw - 1
    span = (oh - 1) * wp + ow
    n_k = c_in * kh * kw
    w2 = w.reshape(c_out, n_k)
    offs = _tap_offsets(c_in, kh, kw, hp, wp)
    for n in prange(n_img):
        xpad = np.zeros((c_in, hp * wp), x.dtype)
        _pad_image(x, n, xpad, pt, pl, wp)
        flat = xpad.reshape(c_in * hp * wp)
        acc = np.empty((c_out, span), x.dtype)
        for o in range(c_out):
            acc[o][:] = b[o]
        k4 = n_k - n_k % 4
        for k in range(0, k4, 4):          # four kernel taps per pass: a quarter of the acc traffic
            x0 = flat[offs[k]:offs[k] + span]           # the shifted rows, sliced: vectorises
            x1 = flat[offs[k + 1]:offs[k + 1] + span]
            x2 = flat[offs[k + 2]:offs[k + 2] + span]
            x3 = flat[offs[k + 3]:offs[k + 3] + span]
            for o in range(c_out):
                w0, w1, w2_, w3 = w2[o, k], w2[o, k + 1], w2[o, k + 2], w2[o, k + 3]
                ao = acc[o]
                for t in range(span):
                    ao[t] += w0 * x0[t] + w1 * x1[t] + w2_ * x2[t] + w3 * x3[t]
        for k in range(k4, n_k):
            xs = flat[offs[k]:offs[k] + span]
            for o in range(c_out):
                wv = w2[o, k]
                ao = acc[o]
                for t in range(span):
                    ao[t] += wv * xs[t]
        for o in range(c_out):
            for a in range(oh):
                src = acc[o][a * wp:a * wp + ow]
                dst = y[n, o, a]
                for q in range(ow):
                    dst[q] = src[q]


@njit(parallel=True, cache=True, fastmath=_FAST)
def _direct_wgrad(x, gy, gw_parts, gb_parts, pt, pl):
    n_img, c_in = x.shape[0], x.shape[1]
    n_chunks, c_out, _, kh, kw = gw_parts.shape
    oh, ow = gy.shape[2], gy.shape[3]
    hp, wp = oh + kh - 1, ow + kw - 1
    span = (oh - 1) * wp + ow
    for k in prange(n_chunks):
        xpad = np.zeros((c_in, hp * wp), x.dtype)
        gyf = np.zeros((c_out, span), gy.dtype)
        for n in range(k * n_img // n_chunks, (k + 1) * n_img // n_chunks):
            _pad_image(x, n, xpad, pt, pl, wp)
            _grid_grad(gy, n, gyf, wp)
            for o in range(c_out):
                go = gyf[o]
                s = gy.dtype.type(0)
                for t in range(span):
                    s += go[t]
                gb_parts[k, o] += s
            o4 = c_out - c_out % 4
            for c in range(c_in):
                for i in range(kh):
                    for j in range(kw):
                        xs = xpad[c][i * wp + j:i * wp + j + span]
                        for o in range(0, o4, 4):      # four channels share each load of xs
                            g0, g1, g2, g3 = gyf[o], gyf[o + 1], gyf[o + 2], gyf[o + 3]
                            s0 = s1 = s2 = s3 = gy.dtype.type(0)
                            for t in range(span):
                                v = xs[t]
                                s0 += g0[t] * v
                                s1 += g1[t] * v
                                s2 += g2[t] * v
                                s3 += g3[t] * v
                            gw_parts[k, o, c, i, j] += s0
                            gw_parts[k, o + 1, c, i, j] += s1
                            gw_parts[k, o + 2, c, i, j] += s2
                            gw_parts[k, o + 3, c, i, j] += s3
                        for o in range(o4, c_out):
                            go = gyf[o]
                            s = gy.dtype.type(0)
                            for t in range(span):
                                s += go[t] * xs[t]
                            gw_parts[k, o, c, i, j] += s


@njit(parallel=True, cache=True, fastmath=_FAST)
def _direct_xgrad(gy, w, gx, pt, pl):
    n_img, c_in, h, wd = gx.shape
    c_out, kh, kw = w.shape[0], w.shape[2], w.shape[3]
    oh, ow = gy.shape[2], gy.shape[3]
    hp, wp = oh + kh - 1, ow + kw - 1
    span = (oh - 1) * wp + ow
    for n in prange(n_img):
        gyf = np.zeros((c_out, span), gy.dtype)
        _grid_grad(gy, n, gyf, wp)
        gxpad = np.zeros((c_in, hp * wp), gy.dtype)
        row = np.empty(span, gy.dtype)
        for c in range(c_in):
            for i in range(kh):
                for j in range(kw):
                    # sum over o into an aligned scratch row first, then one shifted add: adding each o
                    # straight into the shifted window (overlapping the last one's by all but one element)
                    # stalls on store-to-load forwarding and was measured 1.5x slower
                    row[:] = 0
                    o4 = c_out - c_out % 4
                    for o in range(0, o4, 4):          # four channels per pass: a quarter of the row traffic
                        w0, w1, w2, w3 = w[o, c, i, j], w[o + 1, c, i, j], w[o + 2, c, i, j], w[o + 3, c, i, j]
                        g0, g1, g2, g3 = gyf[o], gyf[o + 1], gyf[o + 2], gyf[o + 3]
                        for t in range(span):
                            row[t] += w0 * g0[t] + w1 * g1[t] + w2 * g2[t] + w3 * g3[t]
                    for o in range(o4, c_out):
                        wv = w[o, c, i, j]
                        go = gyf[o]
                        for t in range(span):
                            row[t] += wv * go[t]
                    gs = gxpad[c][i * wp + j:i * wp + j + span]
                    for t in range(span):
                        gs[t] += row[t]
        for c in range(c_in):                      # crop the padding away
            for r in range(h):
                src = gxpad[c][(r + pt) * wp + pl:(r + pt) * wp + pl + wd]
                dst = gx[n, c, r]
                for q in range(wd):
                    dst[q] = src[q]


def direct_conv_applies(x_shape, w_shape, stride, dilation, groups) -> bool:
    """Whether the direct path is used: stride 1, dilation 1, one group, and few channels (K = C*kh*kw <= 400,
    Cout <= 32), where im2col's traffic dominates. Wider layers (ResNet/VGG) keep im2col + one big GEMM."""
    cout, cg, kh, kw = w_shape
    return (tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and cg * kh * kw <= 400 and cout <= 32)


def conv2d_direct_forward(x, w, b, padding):
    """y (N, Cout, OH, OW) = conv2d(x, w, b) with stride 1; padding (top, bottom, left, right)."""
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    pt, pb, pl, pr = padding
    oh, ow = h + pt + pb - kh + 1, wd + pl + pr - kw + 1
    y = np.empty((n, cout, oh, ow), dtype=x.dtype)
    bias = b if b is not None else np.zeros(cout, dtype=x.dtype)
    _direct_fwd(np.ascontiguousarray(x), np.ascontiguousarray(w), bias, y, pt, pl)
    return y


def conv2d_direct_weight_grad(x, gy, w_shape, padding):
    """(gw, gb): gw = sum_n x_n correlated with gy_n (the weight's shape), gb = gy summed over n, a, b."""
    cout, c, kh, kw = w_shape
    chunks = max(1, min(_WGRAD_CHUNKS, x.shape[0]))
    gw_parts = np.zeros((chunks, cout, c, kh, kw), dtype=gy.dtype)
    gb_parts = np.zeros((chunks, cout), dtype=gy.dtype)
    _direct_wgrad(np.ascontiguousarray(x), np.ascontiguousarray(gy), gw_parts, gb_parts, padding[0], padding[2])
    return gw_parts.sum(axis=0), gb_parts.sum(axis=0)


def conv2d_direct_input_grad(gy, w, x_shape, padding):
    """gx (x_shape): the full correlation of gy with the rotated kernel, as scattered sums (see module doc)."""
    gx = np.empty(x_shape, dtype=gy.dtype)
    _direct_xgrad(np.ascontiguousarray(gy), np.ascontiguousarray(w), gx, padding[0], padding[2])
    return gx
