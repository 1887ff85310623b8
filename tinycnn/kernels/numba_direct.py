"""Direct (im2col-free) Numba convolution for stride 1, dilation 1, one group: the small-channel fast path,
and its fusion with a following ReLU and max pooling.

Why: for LeNet-sized layers (K = C*kh*kw <= a few hundred, few output channels) the im2col matrix is large
(conv1 of LeNet at batch 128: 25 x 100,352 floats = 10 MB) while the GEMM on it is skinny, so writing and
re-reading cols costs more than the arithmetic. Here each image is handled by one thread, entirely in cache.

The trick ("flat shifted rows"): copy image n, zero-padded, into xpad (C, Hp*Wp) with Hp = OH+kh-1,
Wp = OW+kw-1 (stride 1: exactly the padded input). Output (a, b) sits at flat position t = a*Wp + b of a
Wp-wide grid, and its input pixel for tap k = (c, i, j) is xpad[c, t + i*Wp + j] = flat[offs[k] + t]. So, with
span = (OH-1)*Wp + OW,

    forward   acc[o, t]     = b[o] + sum_k w[o, k] * flat[offs[k] + t]                     (t < span)
    weight    gw[o, k]     += sum_t gyf[o, t] * flat[offs[k] + t]
    input     gxpad[c, i*Wp + j + t] += sum_o w[o, c, i, j] * gyf[o, t]

where gyf is gy laid on the same Wp-wide grid with zeros in the Wp-OW gap columns (t with t % Wp >= OW are
not outputs: the forward drops them, and the zeros make them contribute nothing backward). These are the
same sums as the im2col formulation in ``ops/conv.py`` (cols[(c,i,j), (n,t)] = xpad[n, c, i*Wp + j + t]), in
another order; tests check equality in float64.

Register blocking. Every inner loop runs over t, contiguous memory that LLVM vectorises (slicing the shifted
rows first keeps Numba from inserting negative-index checks that would block it). What limits these loops is
memory traffic per multiply-add, so each pass does a 4 x 4 (or 4 x 2) block of work on what it loads:

    forward  four taps x four output channels: 4 row loads + 4 accumulator loads/stores per 16 FMAs (a single
             channel per pass is 1 FMA per load and store, and one long chain of dependent FMAs per element)
    weight   four output channels x two taps: 6 loads per 8 FMAs, the 8 sums kept in registers
    input    four input channels x four output channels, like the forward

Output channels are processed in blocks of four; weights are packed per block (zero rows fill the last
block), so one loop shape serves every channel count. Measured on LeNet's layers (one thread): conv2
forward 1.86 -> 1.36 ms, weight gradient 2.2 -> 1.9 ms.

Fusion with ReLU and max pooling (conv -> relu -> max_pool2d, LeNet's and VGG's pattern): the forward pools
each block of four channels while it is still in cache, writing the pooled maximum and, per window, the
position a*Wp + b (on the grid) of its argmax in the conv output, or -1 when that maximum is not positive (ReLU then passes
no gradient). The full-size conv output, ReLU output and mask are never written. Backward, the pooled
gradient is scattered onto the grid (``_grid_grad_pooled``) by the weight- and input-gradient kernels
themselves. The numbers are those of the three separate ops (tests check bitwise equality).

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
_BLOCK = 4                 # output channels per block (the register blocking above)


# ---- per-image helpers (serial; inlined into the parallel kernels) ------------------------------------------
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
    """gyf[o, a*wp + b] = gy[n, o, a, b]; the gap columns b >= OW (and rows o >= Cout) stay zero."""
    c_out, oh, ow = gy.shape[1], gy.shape[2], gy.shape[3]
    for o in range(c_out):
        for a in range(oh):
            row = gyf[o][a * wp:a * wp + ow]
            src = gy[n, o, a]
            for b in range(ow):
                row[b] = src[b]


@njit(cache=True)
def _grid_grad_pooled(gyp, idx, n, gyf):
    """gyf = the gradient of the conv output of image n, from the gradient of relu + max pooling after it:
    each pooled gradient goes to its window's argmax (idx: its position on the grid) when that was positive
    (idx >= 0)."""
    c_out, ph, pw = gyp.shape[1], gyp.shape[2], gyp.shape[3]
    for o in range(c_out):
        row = gyf[o]
        row[:] = 0
        for a in range(ph):
            for c in range(pw):
                t = idx[n, o, a, c]
                if t >= 0:      # overlapping windows (stride < kernel) add up, in window order
                    row[t] += gyp[n, o, a, c]


@njit(cache=True)
def _tap_offsets(c_in, kh, kw, hp, wp):
    """offs[(c*kh + i)*kw + j] = c*hp*wp + i*wp + j: where tap (c, i, j)'s shifted row starts in flat xpad."""
    offs = np.empty(c_in * kh * kw, np.int64)
    for c in range(c_in):
        for i in range(kh):
            for j in range(kw):
                offs[(c * kh + i) * kw + j] = c * hp * wp + i * wp + j
    return offs


@njit(cache=True, fastmath=_FAST)
def _conv_block(flat, offs, wk, acc, span):
    """acc[r, t] += sum_k wk[k, r] * flat[offs[k] + t] for the four channels r of one block (t < span)."""
    n_k = offs.size
    k4 = n_k - n_k % 4
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    for k in range(0, k4, 4):
        x0 = flat[offs[k]:offs[k] + span]
        x1 = flat[offs[k + 1]:offs[k + 1] + span]
        x2 = flat[offs[k + 2]:offs[k + 2] + span]
        x3 = flat[offs[k + 3]:offs[k + 3] + span]
        p0, q0, r0, s0 = wk[k, 0], wk[k, 1], wk[k, 2], wk[k, 3]
        p1, q1, r1, s1 = wk[k + 1, 0], wk[k + 1, 1], wk[k + 1, 2], wk[k + 1, 3]
        p2, q2, r2, s2 = wk[k + 2, 0], wk[k + 2, 1], wk[k + 2, 2], wk[k + 2, 3]
        p3, q3, r3, s3 = wk[k + 3, 0], wk[k + 3, 1], wk[k + 3, 2], wk[k + 3, 3]
        for t in range(span):
            v0, v1, v2, v3 = x0[t], x1[t], x2[t], x3[t]
            a0[t] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
            a1[t] += q0 * v0 + q1 * v1 + q2 * v2 + q3 * v3
            a2[t] += r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3
            a3[t] += s0 * v0 + s1 * v1 + s2 * v2 + s3 * v3
    for k in range(k4, n_k):
        xs = flat[offs[k]:offs[k] + span]
        p0, q0, r0, s0 = wk[k, 0], wk[k, 1], wk[k, 2], wk[k, 3]
        for t in range(span):
            v = xs[t]
            a0[t] += p0 * v
            a1[t] += q0 * v
            a2[t] += r0 * v
            a3[t] += s0 * v


@njit(cache=True)
def _image_blocks(x, n, wb, b, pt, pl, kh, kw, oh, ow):
    """Shared set-up of the forward kernels for image n: its padded copy, the tap offsets, the block buffer."""
    c_in = x.shape[1]
    hp, wp = oh + kh - 1, ow + kw - 1
    xpad = np.zeros((c_in, hp * wp), x.dtype)
    _pad_image(x, n, xpad, pt, pl, wp)
    return xpad.reshape(c_in * hp * wp), _tap_offsets(c_in, kh, kw, hp, wp), np.empty((_BLOCK, (oh - 1) * wp + ow),
                                                                                   x.dtype)


@njit(cache=True)
def _start_block(acc, b, o0):
    """acc[r, :] = b[o0 + r] (b is padded with zeros to whole blocks)."""
    for r in range(_BLOCK):
        acc[r][:] = b[o0 + r]


# ---- parallel kernels ---------------------------------------------------------------------------------------
@njit(parallel=True, cache=True)
def _direct_fwd(x, wb, b, y, pt, pl, kh, kw):
    n_img, c_out, oh, ow = x.shape[0], y.shape[1], y.shape[2], y.shape[3]
    wp = ow + kw - 1
    for n in prange(n_img):
        flat, offs, acc = _image_blocks(x, n, wb, b, pt, pl, kh, kw, oh, ow)
        for ob in range(wb.shape[0]):
            _start_block(acc, b, ob * _BLOCK)
            _conv_block(flat, offs, wb[ob], acc, acc.shape[1])
            for r in range(min(_BLOCK, c_out - ob * _BLOCK)):
                for a in range(oh):
                    src = acc[r][a * wp:a * wp + ow]
                    dst = y[n, ob * _BLOCK + r, a]
                    for q in range(ow):
                        dst[q] = src[q]


@njit(cache=True)
def _relu_maxpool_plane(src, yp, idx, wp, pkh, pkw, psh, psw):
    """yp[a, c] = max over window (a, c) of relu(src) on the Wp-wide grid, idx[a, c] = the grid position
    t = row*Wp + col of that maximum, or -1 when it is <= 0 (ReLU passes no gradient there).

    Written without branches on the data (selects only): the comparisons are unpredictable, and branching
    on them was measured 3x slower. relu(v) = 0 if v <= 0 else v is exactly np.maximum(v, 0), NaN and -0.0
    included; a window's first maximum wins and NaN always wins, as in ``MaxPool2dFunction``."""
    zero = src.dtype.type(0)
    ph, pw = yp.shape
    for a in range(ph):
        yrow, irow = yp[a], idx[a]
        for c in range(pw):
            base = a * psh * wp + c * psw
            best = src[base]
            best = zero if best <= 0 else best
            best_t = base
            for i in range(pkh):
                for j in range(pkw):
                    t = base + i * wp + j
                    v = src[t]
                    v = zero if v <= 0 else v
                    take = (v > best) | (v != v)
                    best = v if take else best
                    best_t = t if take else best_t
            yrow[c] = best
            irow[c] = best_t if best > 0 else -1


@njit(parallel=True, cache=True)
def _direct_fwd_relu_maxpool(x, wb, b, yp, idx, pt, pl, kh, kw, oh, ow, pkh, pkw, psh, psw):
    n_img, c_out = x.shape[0], yp.shape[1]
    wp = ow + kw - 1
    for n in prange(n_img):
        flat, offs, acc = _image_blocks(x, n, wb, b, pt, pl, kh, kw, oh, ow)
        for ob in range(wb.shape[0]):
            _start_block(acc, b, ob * _BLOCK)
            _conv_block(flat, offs, wb[ob], acc, acc.shape[1])
            for r in range(min(_BLOCK, c_out - ob * _BLOCK)):
                _relu_maxpool_plane(acc[r], yp[n, ob * _BLOCK + r], idx[n, ob * _BLOCK + r], wp, pkh, pkw,
                                    psh, psw)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _direct_wgrad(x, gy, gyp, idx, pooled, gw_parts, gb_parts, pt, pl, kh, kw, oh, ow):
    n_img, c_in = x.shape[0], x.shape[1]
    n_chunks, c_pad, n_k = gw_parts.shape
    c_out = gb_parts.shape[1]
    hp, wp = oh + kh - 1, ow + kw - 1
    span = (oh - 1) * wp + ow
    k2 = n_k - n_k % 2
    offs = _tap_offsets(c_in, kh, kw, hp, wp)
    for ch in prange(n_chunks):
        xpad = np.zeros((c_in, hp * wp), x.dtype)
        flat = xpad.reshape(c_in * hp * wp)
        gyf = np.zeros((c_pad, span), x.dtype)      # rows >= Cout stay zero: they pad the last block
        gw = gw_parts[ch]
        for n in range(ch * n_img // n_chunks, (ch + 1) * n_img // n_chunks):
            _pad_image(x, n, xpad, pt, pl, wp)
            if pooled:
                _grid_grad_pooled(gyp, idx, n, gyf)
            else:
                _grid_grad(gy, n, gyf, wp)
            for o in range(c_out):
                go = gyf[o]
                s = x.dtype.type(0)
                for t in range(span):
                    s += go[t]
                gb_parts[ch, o] += s
            for o in range(0, c_pad, 4):
                g0, g1, g2, g3 = gyf[o], gyf[o + 1], gyf[o + 2], gyf[o + 3]
                for k in range(0, k2, 2):       # four channels x two taps: 8 sums share 6 loads
                    x0 = flat[offs[k]:offs[k] + span]
                    x1 = flat[offs[k + 1]:offs[k + 1] + span]
                    s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = x.dtype.type(0)
                    for t in range(span):
                        u0, u1 = x0[t], x1[t]
                        e0, e1, e2, e3 = g0[t], g1[t], g2[t], g3[t]
                        s00 += e0 * u0
                        s01 += e0 * u1
                        s10 += e1 * u0
                        s11 += e1 * u1
                        s20 += e2 * u0
                        s21 += e2 * u1
                        s30 += e3 * u0
                        s31 += e3 * u1
                    gw[o, k] += s00
                    gw[o, k + 1] += s01
                    gw[o + 1, k] += s10
                    gw[o + 1, k + 1] += s11
                    gw[o + 2, k] += s20
                    gw[o + 2, k + 1] += s21
                    gw[o + 3, k] += s30
                    gw[o + 3, k + 1] += s31
                for k in range(k2, n_k):
                    xs = flat[offs[k]:offs[k] + span]
                    s0 = s1 = s2 = s3 = x.dtype.type(0)
                    for t in range(span):
                        v = xs[t]
                        s0 += g0[t] * v
                        s1 += g1[t] * v
                        s2 += g2[t] * v
                        s3 += g3[t] * v
                    gw[o, k] += s0
                    gw[o + 1, k] += s1
                    gw[o + 2, k] += s2
                    gw[o + 3, k] += s3


@njit(parallel=True, cache=True, fastmath=_FAST)
def _direct_xgrad(gy, gyp, idx, pooled, wt, gx, pt, pl, oh, ow):
    n_img, c_in, h, wd = gx.shape
    kh, kw, c_pad = wt.shape[0], wt.shape[1], wt.shape[2]
    hp, wp = oh + kh - 1, ow + kw - 1
    span = (oh - 1) * wp + ow
    c4 = c_in - c_in % 4
    for n in prange(n_img):
        gyf = np.zeros((c_pad, span), gx.dtype)
        if pooled:
            _grid_grad_pooled(gyp, idx, n, gyf)
        else:
            _grid_grad(gy, n, gyf, wp)
        gxpad = np.zeros((c_in, hp * wp), gx.dtype)
        rows = np.empty((4, span), gx.dtype)
        r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
        for i in range(kh):
            for j in range(kw):
                wij = wt[i, j]                                       # (Cout padded, C)
                # sum over o into aligned scratch rows first, then one shifted add: adding straight into the
                # shifted window (overlapping the last one's by all but one element) stalls on
                # store-to-load forwarding and was measured 1.5x slower
                for c in range(0, c4, 4):                            # four input channels per pass
                    rows[:] = 0
                    for o in range(0, c_pad, 4):                     # ... times four output channels
                        g0, g1, g2, g3 = gyf[o], gyf[o + 1], gyf[o + 2], gyf[o + 3]
                        p0, p1, p2, p3 = wij[o, c], wij[o + 1, c], wij[o + 2, c], wij[o + 3, c]
                        q0, q1, q2, q3 = wij[o, c + 1], wij[o + 1, c + 1], wij[o + 2, c + 1], wij[o + 3, c + 1]
                        u0, u1, u2, u3 = wij[o, c + 2], wij[o + 1, c + 2], wij[o + 2, c + 2], wij[o + 3, c + 2]
                        s0, s1, s2, s3 = wij[o, c + 3], wij[o + 1, c + 3], wij[o + 2, c + 3], wij[o + 3, c + 3]
                        for t in range(span):
                            v0, v1, v2, v3 = g0[t], g1[t], g2[t], g3[t]
                            r0[t] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
                            r1[t] += q0 * v0 + q1 * v1 + q2 * v2 + q3 * v3
                            r2[t] += u0 * v0 + u1 * v1 + u2 * v2 + u3 * v3
                            r3[t] += s0 * v0 + s1 * v1 + s2 * v2 + s3 * v3
                    for r in range(4):
                        dst = gxpad[c + r][i * wp + j:i * wp + j + span]
                        src = rows[r]
                        for t in range(span):
                            dst[t] += src[t]
                for c in range(c4, c_in):                            # the last 1-3 input channels alone
                    r0[:] = 0
                    for o in range(0, c_pad, 4):
                        g0, g1, g2, g3 = gyf[o], gyf[o + 1], gyf[o + 2], gyf[o + 3]
                        p0, p1, p2, p3 = wij[o, c], wij[o + 1, c], wij[o + 2, c], wij[o + 3, c]
                        for t in range(span):
                            r0[t] += p0 * g0[t] + p1 * g1[t] + p2 * g2[t] + p3 * g3[t]
                    dst = gxpad[c][i * wp + j:i * wp + j + span]
                    for t in range(span):
                        dst[t] += r0[t]
        for c in range(c_in):                      # crop the padding away
            for r in range(h):
                src = gxpad[c][(r + pt) * wp + pl:(r + pt) * wp + pl + wd]
                dst = gx[n, c, r]
                for q in range(wd):
                    dst[q] = src[q]


# ---- Python entry points ------------------------------------------------------------------------------------
def direct_conv_applies(x_shape, w_shape, stride, dilation, groups) -> bool:
    """Whether the direct path is used: stride 1, dilation 1, one group, and few channels (K = C*kh*kw <= 400,
    Cout <= 32), where im2col's traffic dominates. Wider layers (ResNet/VGG) keep im2col + one big GEMM."""
    cout, cg, kh, kw = w_shape
    return (tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and cg * kh * kw <= 400 and cout <= 32)


def _blocks(c_out: int) -> int:
    return -(-c_out // _BLOCK)


def _pack_weights(w):
    """wb[ob, k, r] = w[ob*4 + r, k] for tap k = (c, i, j); zero rows fill the last block."""
    cout = w.shape[0]
    w2 = w.reshape(cout, -1)
    wb = np.zeros((_blocks(cout) * _BLOCK, w2.shape[1]), dtype=w.dtype)
    wb[:cout] = w2
    return np.ascontiguousarray(wb.reshape(_blocks(cout), _BLOCK, -1).transpose(0, 2, 1))


def _out_hw(x_shape, w_shape, padding):
    pt, pb, pl, pr = padding
    return x_shape[2] + pt + pb - w_shape[2] + 1, x_shape[3] + pl + pr - w_shape[3] + 1


def _bias(b, w):
    """The bias padded with zeros to whole blocks of channels (zeros when there is none)."""
    bp = np.zeros(_blocks(w.shape[0]) * _BLOCK, dtype=w.dtype)
    if b is not None:
        bp[:w.shape[0]] = b
    return bp


def conv2d_direct_forward(x, w, b, padding):
    """y (N, Cout, OH, OW) = conv2d(x, w, b) with stride 1; padding (top, bottom, left, right)."""
    oh, ow = _out_hw(x.shape, w.shape, padding)
    y = np.empty((x.shape[0], w.shape[0], oh, ow), dtype=x.dtype)
    _direct_fwd(np.ascontiguousarray(x), _pack_weights(w), _bias(b, w), y, padding[0], padding[2],
                w.shape[2], w.shape[3])
    return y


def conv2d_direct_relu_maxpool(x, w, b, padding, pool_kernel, pool_stride):
    """max_pool2d(relu(conv2d(x, w, b)), pool_kernel, pool_stride) (no pool padding, floor mode) without the
    full-size intermediates. Returns (y, idx, (OH, OW)): idx[n, o, a, c] = the position a*Wp + b (Wp = OW + kw - 1,
    the kernels' grid) of window (a, c)'s argmax in the conv output, or -1 where the maximum is <= 0 (or NaN):
    where ReLU passes no gradient. ``grid_to_plane_index`` turns it into max_pool2d's a*OW + b."""
    oh, ow = _out_hw(x.shape, w.shape, padding)
    (pkh, pkw), (psh, psw) = pool_kernel, pool_stride
    ph, pw = (oh - pkh) // psh + 1, (ow - pkw) // psw + 1
    y = np.empty((x.shape[0], w.shape[0], ph, pw), dtype=x.dtype)
    idx = np.empty(y.shape, dtype=np.int32)
    _direct_fwd_relu_maxpool(np.ascontiguousarray(x), _pack_weights(w), _bias(b, w), y, idx, padding[0],
                             padding[2], w.shape[2], w.shape[3], oh, ow, pkh, pkw, psh, psw)
    return y, idx, (oh, ow)


def grid_to_plane_index(idx, conv_hw, kw):
    """The fused kernel's argmax positions (a*Wp + b) as max_pool2d's indices (a*OW + b); -1 stays -1."""
    ow = conv_hw[1]
    wp = ow + kw - 1
    return np.where(idx >= 0, (idx // wp) * ow + idx % wp, -1)


def _grad_source(gy, pooled, dtype):
    """(gy, gyp, idx, is_pooled, (OH, OW)): the conv output gradient, dense or as (pooled gradient, argmax,
    conv size); the unused arrays are empty stand-ins of the right types, so one compiled kernel serves both."""
    if pooled is None:
        return (np.ascontiguousarray(gy), np.empty((0, 0, 0, 0), dtype), np.empty((0, 0, 0, 0), np.int32), False,
                gy.shape[2:])
    gyp, idx, conv_hw = pooled
    return (np.empty((0, 0, 0, 0), dtype), np.ascontiguousarray(gyp), np.ascontiguousarray(idx), True,
            tuple(conv_hw))


def conv2d_direct_weight_grad(x, gy, w_shape, padding, pooled=None):
    """(gw, gb): gw = sum_n x_n correlated with gy_n (the weight's shape), gb = gy summed over n, a, b.
    ``pooled = (gyp, idx, (OH, OW))`` gives gy as the gradient through relu + max pooling (fused op)."""
    cout, c, kh, kw = w_shape
    g, gyp, idx, is_pooled, (oh, ow) = _grad_source(gy, pooled, x.dtype)
    chunks = max(1, min(_WGRAD_CHUNKS, x.shape[0]))
    gw_parts = np.zeros((chunks, _blocks(cout) * _BLOCK, c * kh * kw), dtype=x.dtype)
    gb_parts = np.zeros((chunks, cout), dtype=x.dtype)
    _direct_wgrad(np.ascontiguousarray(x), g, gyp, idx, is_pooled, gw_parts, gb_parts, padding[0], padding[2],
                  kh, kw, oh, ow)
    return gw_parts.sum(axis=0)[:cout].reshape(w_shape), gb_parts.sum(axis=0)


def conv2d_direct_input_grad(gy, w, x_shape, padding, pooled=None):
    """gx (x_shape): the full correlation of gy with the rotated kernel, as scattered sums (see module doc)."""
    cout, c, kh, kw = w.shape
    g, gyp, idx, is_pooled, (oh, ow) = _grad_source(gy, pooled, w.dtype)
    wt = np.zeros((kh, kw, _blocks(cout) * _BLOCK, c), dtype=w.dtype)     # wt[i, j, o, c] = w[o, c, i, j]
    wt[:, :, :cout] = w.transpose(2, 3, 0, 1)
    gx = np.empty(x_shape, dtype=w.dtype)
    _direct_xgrad(g, gyp, idx, is_pooled, wt, gx, padding[0], padding[2], oh, ow)
    return gx
