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
position a*Wp + b (on the grid) of its argmax in the conv output, or -1 when that maximum is not positive
(ReLU then passes no gradient). The full-size conv output, ReLU output and mask are never written.
Backward, the pooled gradient is scattered onto the grid (``_grid_grad_pooled``) image by image. The
numbers are those of the three separate ops (tests check bitwise equality).

How the kernels are compiled (first use on a fresh install used to cost 15 s; see ``numba_launch.py``):
each kernel is one per-item function over raw pointers, compiled once per dtype as a C callback, and a
tiny parallel loop calls it for every image (forward) or chunk of images (backward). Backward computes the
weight and the input gradient in the same pass over the images, so a layer is two kernels in all.

Determinism: the weight gradient sums per-chunk partials (a fixed number of chunks of the batch, whatever
the thread count) in a fixed order, so results do not depend on how many threads run.
"""
from __future__ import annotations

import numpy as np
from numba import carray, njit

from .numba_launch import ParallelKernel, _DRIVERS
from numba import prange
@njit(parallel=True)
def _drive6(fn, n, a, b, c, d, e, f):
    for i in prange(n):
        fn(a.ctypes, b.ctypes, c.ctypes, d.ctypes, e.ctypes, f.ctypes, np.int64(i))
_DRIVERS[6] = _drive6
from .numpy_kernels import conv_out_size

# The kernels are compiled with these fast-math flags (Numba applies the caller's flags to inlined helpers).
# Reassociation lets LLVM vectorise the dot products (float32 sums in another order, as any BLAS does) and
# contraction makes FMAs; no 'nnan'/'ninf'/'nsz': NaN, inf and -0.0 behave as in the reference path, and
# ReLU's and max pooling's comparisons keep their exact rules.
_FAST = {"reassoc", "contract"}
_WGRAD_CHUNKS = 16
_BLOCK = 4                 # output channels per block (the register blocking above)

# Layout of the int64 ``dims`` array each kernel reads its sizes from.
(D_N, D_C, D_H, D_W, D_COUT, D_CPAD, D_K, D_KH, D_KW, D_PT, D_PL, D_OH, D_OW,        # the convolution
 D_MODE, D_PH, D_PW, D_PKH, D_PKW, D_PSH, D_PSW,                                      # pooling (fused op)
 D_NEED_W, D_NEED_X, D_CHUNKS, D_LEN) = range(24)
MODE_CONV, MODE_RELU_MAXPOOL, MODE_RELU_MAXPOOL22 = 0, 1, 2   # forward: conv2d's output, or relu + max pooling
PARITY_MIN_WIDTH = 16      # conv outputs at least this wide pool 2x2/2 by column parity (_forward_image_22)


# ---- per-image building blocks (inlined into the kernels by Numba) --------------------------------------------
@njit(inline="always")
def _round_up(n, m):
    return (n + m - 1) // m * m


@njit(inline="always")
def _copy_rows(src, src_start, src_stride, dst, dst_start, dst_stride, rows, cols):
    """dst[dst_start + r*dst_stride + q] = src[src_start + r*src_stride + q] for r < rows, q < cols (flat
    arrays): how a plane moves between the image layout and the Wp-wide grid, in either direction."""
    for r in range(rows):
        s = src[src_start + r * src_stride:src_start + r * src_stride + cols]
        d = dst[dst_start + r * dst_stride:dst_start + r * dst_stride + cols]
        for q in range(cols):
            d[q] = s[q]


@njit(inline="always")
def _pad_image(x, n, xpad, pt, pl, wp):
    """xpad[c, (r+pt)*wp + q+pl] = x[n, c, r, q]; the border stays as allocated (zeros)."""
    c_in, h, wd = x.shape[1], x.shape[2], x.shape[3]
    for c in range(c_in):
        _copy_rows(x[n, c].reshape(h * wd), 0, wd, xpad[c], pt * wp + pl, wp, h, wd)


@njit(inline="always")
def _tap_offsets(c_in, kh, kw, hp, wp, n_taps):
    """offs[(c*kh + i)*kw + j] = c*hp*wp + i*wp + j: where tap (c, i, j)'s shifted row starts in flat xpad.
    Taps past C*kh*kw (padding the count to whole blocks) point at the zero tail after the image."""
    offs = np.full(n_taps, c_in * hp * wp, np.int64)
    for c in range(c_in):
        for i in range(kh):
            for j in range(kw):
                offs[(c * kh + i) * kw + j] = c * hp * wp + i * wp + j
    return offs


@njit(inline="always")
def _grid_grad(gy, n, gyf, wp):
    """gyf[o, a*wp + b] = gy[n, o, a, b]; the gap columns b >= OW (and rows o >= Cout) stay zero."""
    c_out, oh, ow = gy.shape[1], gy.shape[2], gy.shape[3]
    for o in range(c_out):
        _copy_rows(gy[n, o].reshape(oh * ow), 0, ow, gyf[o], 0, wp, oh, ow)


@njit(inline="always")
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


@njit(fastmath=_FAST, cache=True)
def _conv_block(flat, offs, wk, acc, span):
    """acc[r, t] += sum_k wk[k, r] * flat[offs[k] + t] for the four channels r of one block (t < span).
    The tap count is a multiple of four (padding taps have zero weights and read zeros)."""
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    for k in range(0, offs.size, 4):
        _fma_4x4(flat[offs[k]:offs[k] + span], flat[offs[k + 1]:offs[k + 1] + span],
                 flat[offs[k + 2]:offs[k + 2] + span], flat[offs[k + 3]:offs[k + 3] + span], wk[k:k + 4],
                 a0, a1, a2, a3, span)


@njit(inline="always")
def _fma_4x4(x0, x1, x2, x3, w, a0, a1, a2, a3, span):
    """a_r[t] += sum_m w[m, r] * x_m[t] for four input rows x_m and four output rows a_r (t < span): the
    register block of the forward (m: taps, r: output channels) and of the input gradient (m: output
    channels, r: input channels). Per element: 4 + 4 loads, 4 stores, 16 FMAs."""
    p0, q0, r0, s0 = w[0, 0], w[0, 1], w[0, 2], w[0, 3]
    p1, q1, r1, s1 = w[1, 0], w[1, 1], w[1, 2], w[1, 3]
    p2, q2, r2, s2 = w[2, 0], w[2, 1], w[2, 2], w[2, 3]
    p3, q3, r3, s3 = w[3, 0], w[3, 1], w[3, 2], w[3, 3]
    for t in range(span):
        v0, v1, v2, v3 = x0[t], x1[t], x2[t], x3[t]
        a0[t] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
        a1[t] += q0 * v0 + q1 * v1 + q2 * v2 + q3 * v3
        a2[t] += r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3
        a3[t] += s0 * v0 + s1 * v1 + s2 * v2 + s3 * v3


@njit(inline="always")
def _relu_maxpool_plane(src, yp, idx, wp, pkh, pkw, psh, psw):
    """yp[a, c] = max over window (a, c) of relu(src) on the Wp-wide grid, idx[a, c] = the grid position
    t = row*Wp + col of that maximum, or -1 when it is <= 0 (ReLU passes no gradient there).

    Selects, no branches on the data (the comparisons are unpredictable). relu(v) = 0 if v <= 0 else v is
    exactly np.maximum(v, 0), NaN and -0.0 included; a window's first maximum wins and NaN always wins, as
    in ``MaxPool2dFunction``."""
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


@njit(inline="always")
def _pad_image_parity(x, n, xpad, pt, pl, wp2):
    """The padded image split by column parity: xpad[2c + q % 2, r*wp2 + q // 2] = xpad_c[r, q]."""
    c_in, h, wd = x.shape[1], x.shape[2], x.shape[3]
    for c in range(c_in):
        for r in range(h):
            src = x[n, c, r]
            for q in range(wd):
                qq = q + pl
                xpad[2 * c + qq % 2, (r + pt) * wp2 + qq // 2] = src[q]


@njit(inline="always")
def _parity_offsets(c_in, kh, kw, hp, wp2, parity, n_taps):
    """Tap offsets for the outputs of one column parity: output column 2u + parity reads padded column
    2u + parity + j, which is plane (parity + j) % 2 at u + (parity + j) // 2 (padding taps: the zero tail)."""
    offs = np.full(n_taps, 2 * c_in * hp * wp2, np.int64)
    for c in range(c_in):
        for i in range(kh):
            for j in range(kw):
                q = parity + j
                offs[(c * kh + i) * kw + j] = (2 * c + q % 2) * hp * wp2 + i * wp2 + q // 2
    return offs


@njit(inline="always")
def _relu_maxpool22_row(e0, o0, e1, o1, yrow, irow, t0, t1):
    """One row of 2x2/2 windows from the column-parity outputs: window c is e0[c], o0[c] (top row, even and
    odd column) and e1[c], o1[c] (bottom row), all contiguous, so the selects vectorise. Same rules as
    ``_relu_maxpool_plane``; the argmax is reported on the ordinary grid (t0, t1: the rows' starts)."""
    zero = e0.dtype.type(0)
    for c in range(yrow.size):
        v00, v01, v10, v11 = e0[c], o0[c], e1[c], o1[c]
        v00 = zero if v00 <= 0 else v00
        v01 = zero if v01 <= 0 else v01
        v10 = zero if v10 <= 0 else v10
        v11 = zero if v11 <= 0 else v11
        best, bt = v00, t0 + 2 * c
        take = (v01 > best) | (v01 != v01)
        best, bt = (v01, t0 + 2 * c + 1) if take else (best, bt)
        take = (v10 > best) | (v10 != v10)
        best, bt = (v10, t1 + 2 * c) if take else (best, bt)
        take = (v11 > best) | (v11 != v11)
        best, bt = (v11, t1 + 2 * c + 1) if take else (best, bt)
        yrow[c] = best
        irow[c] = bt if best > 0 else -1


@njit(inline="always")
def _weight_grad_image(flat, offs, gyf, gw, span):
    """gw[o, k] += sum_t gyf[o, t] * flat[offs[k] + t]: four channels x two taps per pass, 8 sums in registers.
    The tap count is even (a padding tap reads zeros)."""
    c_pad, n_k = gw.shape
    zero = flat.dtype.type(0)
    for o in range(0, c_pad, 4):
        g0, g1, g2, g3 = gyf[o], gyf[o + 1], gyf[o + 2], gyf[o + 3]
        for k in range(0, n_k, 2):
            x0 = flat[offs[k]:offs[k] + span]
            x1 = flat[offs[k + 1]:offs[k + 1] + span]
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
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


@njit(inline="always")
def _input_grad_image(gyf, wt, gxpad, rows, wp, span):
    """gxpad[c, i*wp + j + t] += sum_o wt[i, j, o, c] * gyf[o, t]: four input x four output channels per pass.

    The sum over o goes into aligned scratch rows first, then one shifted add: adding straight into the
    shifted window (overlapping the last one's by all but one element) stalls on store-to-load forwarding
    and was measured 1.5x slower."""
    kh, kw, c_pad, c_in = wt.shape
    c4 = c_in - c_in % 4
    r0, r1, r2, r3 = rows[0], rows[1], rows[2], rows[3]
    for i in range(kh):
        for j in range(kw):
            wij = wt[i, j]                                       # (Cout padded, C)
            for c in range(0, c4, 4):
                rows[:] = 0
                for o in range(0, c_pad, 4):
                    _fma_4x4(gyf[o], gyf[o + 1], gyf[o + 2], gyf[o + 3], wij[o:o + 4, c:c + 4], r0, r1, r2, r3,
                             span)
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


# ---- the kernels: one item each (an image forward, a chunk of images backward) -------------------------------
def _forward_item(x_p, wb_p, b_p, y_p, idx_p, dims_p, n):
    """Image n: conv2d, or conv2d + relu + max pooling (MODE_RELU_MAXPOOL, MODE_RELU_MAXPOOL22), block of
    four output channels by block."""
    d = carray(dims_p, (D_LEN,))
    c_in, c_out, n_ob, n_k, kh, kw, oh, ow = d[D_C], d[D_COUT], d[D_CPAD] // 4, d[D_K], d[D_KH], d[D_KW], d[D_OH], \
        d[D_OW]
    x = carray(x_p, (d[D_N], c_in, d[D_H], d[D_W]))
    n_taps = _round_up(n_k, 4)
    wb = carray(wb_p, (n_ob, n_taps, 4))
    b = carray(b_p, (n_ob * 4,))
    mode = d[D_MODE]
    out_h, out_w = (oh, ow) if mode == MODE_CONV else (d[D_PH], d[D_PW])
    y = carray(y_p, (d[D_N], c_out, out_h, out_w))
    idx = carray(idx_p, (0, 0, 0, 0) if mode == MODE_CONV else (d[D_N], c_out, out_h, out_w))
    hp, wp = oh + kh - 1, ow + kw - 1
    if mode == MODE_RELU_MAXPOOL22:
        _forward_image_22(x, n, wb, b, y, idx, d[D_PT], d[D_PL], kh, kw, oh, ow)
        return
    span = (oh - 1) * wp + ow
    flat = np.zeros(c_in * hp * wp + span, x.dtype)             # the padded image, then a zero tail
    _pad_image(x, n, flat[:c_in * hp * wp].reshape(c_in, hp * wp), d[D_PT], d[D_PL], wp)
    offs = _tap_offsets(c_in, kh, kw, hp, wp, n_taps)
    acc = np.empty((4, span), x.dtype)
    for ob in range(n_ob):
        for r in range(4):
            acc[r][:] = b[ob * 4 + r]
        _conv_block(flat, offs, wb[ob], acc, span)
        for r in range(min(4, c_out - ob * 4)):
            o = ob * 4 + r
            if mode == MODE_RELU_MAXPOOL:
                _relu_maxpool_plane(acc[r], y[n, o], idx[n, o], wp, d[D_PKH], d[D_PKW], d[D_PSH], d[D_PSW])
            else:
                _copy_rows(acc[r], 0, wp, y[n, o].reshape(oh * ow), 0, ow, oh, ow)


@njit(inline="always")
def _forward_image_22(x, n, wb, b, y, idx, pt, pl, kh, kw, oh, ow):
    """conv2d + relu + 2x2/2 max pooling of image n, with the conv outputs computed by column parity: the
    even columns 2u and the odd columns 2u+1 as two shifted-rows convolutions over the padded image split
    by column parity (``_pad_image_parity``). Each 2x2 window is then four contiguous values, one per
    (row, parity), and pooling runs in contiguous, vectorisable loops (``_relu_maxpool22_row``): for wide
    layers (LeNet's conv1) that is 3x cheaper than pooling the interleaved grid. Same sums, same numbers."""
    c_in, c_out, ph, pw = x.shape[1], y.shape[1], y.shape[2], y.shape[3]
    hp, wp = oh + kh - 1, ow + kw - 1
    wp2 = (wp + 1) // 2
    span_e, span_o = (oh - 1) * wp2 + (ow + 1) // 2, (oh - 1) * wp2 + ow // 2
    size = 2 * c_in * hp * wp2
    flat = np.zeros(size + span_e, x.dtype)                    # the two parity planes, then a zero tail
    _pad_image_parity(x, n, flat[:size].reshape(2 * c_in, hp * wp2), pt, pl, wp2)
    offs_e = _parity_offsets(c_in, kh, kw, hp, wp2, 0, wb.shape[1])
    offs_o = _parity_offsets(c_in, kh, kw, hp, wp2, 1, wb.shape[1])
    acc_e = np.empty((4, span_e), x.dtype)
    acc_o = np.empty((4, span_o), x.dtype)
    for ob in range(wb.shape[0]):
        for r in range(4):
            acc_e[r][:] = b[ob * 4 + r]
            acc_o[r][:] = b[ob * 4 + r]
        _conv_block(flat, offs_e, wb[ob], acc_e, span_e)
        _conv_block(flat, offs_o, wb[ob], acc_o, span_o)
        for r in range(min(4, c_out - ob * 4)):
            e, o = acc_e[r], acc_o[r]
            for a in range(ph):
                t0, t1 = 2 * a * wp2, (2 * a + 1) * wp2
                _relu_maxpool22_row(e[t0:t0 + pw], o[t0:t0 + pw], e[t1:t1 + pw], o[t1:t1 + pw],
                                    y[n, ob * 4 + r, a], idx[n, ob * 4 + r, a], 2 * a * wp, (2 * a + 1) * wp)


def _backward_item(x_p, gy_p, gyp_p, idx_p, wt_p, gw_p, gb_p, gx_p, dims_p, chunk):
    """The images of one chunk: lay each image's conv gradient on the grid (from gy, or from the pooled
    gradient of the fused op), then add its share to gw and gb and compute its gx."""
    d = carray(dims_p, (D_LEN,))
    n_img, c_in, h, wd, c_out, c_pad, n_k = d[D_N], d[D_C], d[D_H], d[D_W], d[D_COUT], d[D_CPAD], d[D_K]
    kh, kw, pt, pl, oh, ow = d[D_KH], d[D_KW], d[D_PT], d[D_PL], d[D_OH], d[D_OW]
    pooled, need_w, need_x, n_chunks = d[D_MODE] != MODE_CONV, d[D_NEED_W] != 0, d[D_NEED_X] != 0, \
        d[D_CHUNKS]
    x = carray(x_p, (n_img, c_in, h, wd) if need_w else (0, 0, 0, 0))
    gy = carray(gy_p, (0, 0, 0, 0) if pooled else (n_img, c_out, oh, ow))
    gyp = carray(gyp_p, (n_img, c_out, d[D_PH], d[D_PW]) if pooled else (0, 0, 0, 0))
    idx = carray(idx_p, (n_img, c_out, d[D_PH], d[D_PW]) if pooled else (0, 0, 0, 0))
    wt = carray(wt_p, (kh, kw, c_pad, c_in) if need_x else (0, 0, 0, 0))
    n_taps = _round_up(n_k, 2)
    gw = carray(gw_p, (n_chunks, c_pad, n_taps) if need_w else (1, 0, 0))[chunk if need_w else 0]
    gb = carray(gb_p, (n_chunks, c_out) if need_w else (1, 0))[chunk if need_w else 0]
    gx = carray(gx_p, (n_img, c_in, h, wd) if need_x else (0, 0, 0, 0))
    hp, wp = oh + kh - 1, ow + kw - 1
    span = (oh - 1) * wp + ow
    flat = np.zeros(c_in * hp * wp + span, gw.dtype)          # the padded image, then a zero tail
    xpad = flat[:c_in * hp * wp].reshape(c_in, hp * wp)
    offs = _tap_offsets(c_in, kh, kw, hp, wp, n_taps)
    gyf = np.zeros((c_pad, span), gw.dtype)            # rows >= Cout stay zero: they pad the last block
    gxpad = np.empty((c_in, hp * wp), gw.dtype)
    rows = np.empty((4, span), gw.dtype)
    for n in range(chunk * n_img // n_chunks, (chunk + 1) * n_img // n_chunks):
        if pooled:
            _grid_grad_pooled(gyp, idx, n, gyf)
        else:
            _grid_grad(gy, n, gyf, wp)
        if need_w:
            _pad_image(x, n, xpad, pt, pl, wp)
            _bias_grad_image(gyf, gb, span)
            _weight_grad_image(flat, offs, gyf, gw, span)
        if need_x:
            gxpad[:] = 0
            _input_grad_image(gyf, wt, gxpad, rows, wp, span)
            for c in range(c_in):                      # crop the padding away
                _copy_rows(gxpad[c], pt * wp + pl, wp, gx[n, c].reshape(h * wd), 0, wd, h, wd)


@njit(inline="always")
def _bias_grad_image(gyf, gb, span):
    """gb[o] += sum_t gyf[o, t] (the gap columns hold zeros)."""
    for o in range(gb.size):
        go = gyf[o]
        s = gyf.dtype.type(0)
        for t in range(span):
            s += go[t]
        gb[o] += s


_FORWARD = ParallelKernel(_forward_item, ("f", "f", "f", "f", "i32", "i64"), _FAST,
                          name="tinycnn.kernels._ndold:_FORWARD")
_BACKWARD = ParallelKernel(_backward_item, ("f", "f", "f", "i32", "f", "f", "f", "f", "i64"), _FAST,
                           name="tinycnn.kernels._ndold:_BACKWARD")


# ---- Python entry points ------------------------------------------------------------------------------------
def direct_conv_applies(x_shape, w_shape, stride, dilation, groups) -> bool:
    """Whether the direct path is used: stride 1, dilation 1, one group, and few channels (K = C*kh*kw <= 400,
    Cout <= 32), where im2col's traffic dominates. Wider layers (ResNet/VGG) keep im2col + one big GEMM."""
    cout, cg, kh, kw = w_shape
    return (tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and cg * kh * kw <= 400 and cout <= 32)


def _padded(c_out: int) -> int:
    """The channel count rounded up to whole blocks of four."""
    return -(-c_out // _BLOCK) * _BLOCK


def _dims(x_shape, w_shape, padding, conv_hw, mode=MODE_CONV, pool=None, need_w=0, need_x=0, chunks=0):
    d = np.zeros(D_LEN, np.int64)
    d[[D_N, D_C, D_H, D_W]] = x_shape
    d[[D_COUT, D_CPAD, D_K, D_KH, D_KW]] = (w_shape[0], _padded(w_shape[0]), w_shape[1] * w_shape[2] * w_shape[3],
                                           w_shape[2], w_shape[3])
    d[[D_PT, D_PL, D_OH, D_OW, D_MODE]] = (padding[0], padding[2], conv_hw[0], conv_hw[1], mode)
    if pool is not None:
        d[[D_PH, D_PW, D_PKH, D_PKW, D_PSH, D_PSW]] = pool
    d[[D_NEED_W, D_NEED_X, D_CHUNKS]] = (need_w, need_x, chunks)
    return d


def _out_hw(x_shape, w_shape, padding):
    pt, pb, pl, pr = padding
    return (conv_out_size(x_shape[2], w_shape[2], 1, pt + pb, 1), conv_out_size(x_shape[3], w_shape[3], 1, pl + pr, 1))


def _pack_weights(w):
    """wb[ob, k, r] = w[ob*4 + r, k] for tap k = (c, i, j); zeros fill the last block and pad the taps to a
    multiple of four."""
    cout = w.shape[0]
    wb = np.zeros((_padded(cout), -(-w[0].size // 4) * 4), dtype=w.dtype)
    wb[:cout, :w[0].size] = w.reshape(cout, -1)
    return np.ascontiguousarray(wb.reshape(-1, _BLOCK, wb.shape[1]).transpose(0, 2, 1))


def _bias(b, w):
    """The bias padded with zeros to whole blocks of channels (zeros when there is none)."""
    bp = np.zeros(_padded(w.shape[0]), dtype=w.dtype)
    if b is not None:
        bp[:w.shape[0]] = b
    return bp


_NO_INDEX = np.empty(0, np.int32)


def conv2d_direct_forward(x, w, b, padding):
    """y (N, Cout, OH, OW) = conv2d(x, w, b) with stride 1; padding (top, bottom, left, right)."""
    conv_hw = _out_hw(x.shape, w.shape, padding)
    y = np.empty((x.shape[0], w.shape[0], *conv_hw), dtype=x.dtype)
    _FORWARD(x.shape[0], np.ascontiguousarray(x), _pack_weights(w), _bias(b, w), y, _NO_INDEX,
             _dims(x.shape, w.shape, padding, conv_hw))
    return y


def conv2d_direct_relu_maxpool(x, w, b, padding, pool_kernel, pool_stride):
    """max_pool2d(relu(conv2d(x, w, b)), pool_kernel, pool_stride) (no pool padding, floor mode) without the
    full-size intermediates. Returns (y, idx, (OH, OW)): idx[n, o, a, c] = the position a*Wp + b (Wp = OW + kw - 1,
    the kernels' grid) of window (a, c)'s argmax in the conv output, or -1 where the maximum is <= 0 (or NaN):
    where ReLU passes no gradient. ``grid_to_plane_index`` turns it into max_pool2d's a*OW + b."""
    conv_hw = _out_hw(x.shape, w.shape, padding)
    (pkh, pkw), (psh, psw) = pool_kernel, pool_stride
    ph, pw = (conv_hw[0] - pkh) // psh + 1, (conv_hw[1] - pkw) // psw + 1
    y = np.empty((x.shape[0], w.shape[0], ph, pw), dtype=x.dtype)
    idx = np.empty(y.shape, dtype=np.int32)
    by_parity = (pkh, pkw, psh, psw) == (2, 2, 2, 2) and conv_hw[1] >= PARITY_MIN_WIDTH
    mode = MODE_RELU_MAXPOOL22 if by_parity else MODE_RELU_MAXPOOL
    _FORWARD(x.shape[0], np.ascontiguousarray(x), _pack_weights(w), _bias(b, w), y, idx,
             _dims(x.shape, w.shape, padding, conv_hw, mode, (ph, pw, pkh, pkw, psh, psw)))
    return y, idx, conv_hw


def grid_to_plane_index(idx, conv_hw, kw):
    """The fused kernel's argmax positions (a*Wp + b) as max_pool2d's indices (a*OW + b); -1 stays -1."""
    ow = conv_hw[1]
    wp = ow + kw - 1
    return np.where(idx >= 0, (idx // wp) * ow + idx % wp, -1)


def conv2d_direct_backward(gy, x, w, x_shape, padding, need_x=True, need_w=True, pooled=None):
    """(gx, gw, gb) of conv2d in one pass over the images (None for what is not needed; x is only read for
    gw and may be None without it).

    gw = sum_n x_n correlated with gy_n, gb = gy summed over n, a, b, gx = the full correlation of gy with
    the rotated kernel (module doc). ``pooled = (gyp, idx, (OH, OW))`` gives gy as the gradient through
    relu + max pooling (the fused op): gy itself is then None and never built."""
    cout, c, kh, kw = w.shape
    dtype = w.dtype
    empty = np.empty(0, dtype)
    if pooled is None:
        gyd, gyp, idx, conv_hw, mode, pool = gy, empty, _NO_INDEX, gy.shape[2:], MODE_CONV, None
    else:
        gyp, idx, conv_hw = pooled
        gyd, mode, pool = empty, MODE_RELU_MAXPOOL, (gyp.shape[2], gyp.shape[3], 0, 0, 0, 0)
    chunks = max(1, min(_WGRAD_CHUNKS, x_shape[0]))
    n_taps = c * kh * kw + (c * kh * kw) % 2                          # even: a zero tap pads an odd count
    gw_parts = np.zeros((chunks, _padded(cout), n_taps), dtype=dtype) if need_w else empty
    gb_parts = np.zeros((chunks, cout), dtype=dtype) if need_w else empty
    wt = empty
    if need_x:
        wt = np.zeros((kh, kw, _padded(cout), c), dtype=dtype)           # wt[i, j, o, c] = w[o, c, i, j]
        wt[:, :, :cout] = w.transpose(2, 3, 0, 1)
    gx = np.empty(x_shape, dtype=dtype) if need_x else empty
    _BACKWARD(chunks, x if need_w else empty, gyd, gyp, idx, wt, gw_parts, gb_parts, gx,
              _dims(x_shape, w.shape, padding, conv_hw, mode, pool, int(need_w), int(need_x), chunks))
    gw = gw_parts.sum(axis=0)[:cout, :c * kh * kw].reshape(w.shape) if need_w else None
    return (gx if need_x else None), gw, (gb_parts.sum(axis=0) if need_w else None)


def conv2d_direct_weight_grad(x, gy, w_shape, padding, pooled=None):
    """(gw, gb) alone (see ``conv2d_direct_backward``)."""
    _, gw, gb = conv2d_direct_backward(gy, x, np.zeros(w_shape, x.dtype), x.shape, padding, need_x=False,
                                       pooled=pooled)
    return gw, gb


def conv2d_direct_input_grad(gy, w, x_shape, padding, pooled=None):
    """gx alone (see ``conv2d_direct_backward``); x itself is not needed, only its shape."""
    gx, _, _ = conv2d_direct_backward(gy, None, w, x_shape, padding, need_w=False, pooled=pooled)
    return gx
