"""Direct (im2col-free) Numba convolution for stride 1, dilation 1, one group: the small-channel fast path,
and its fusion with a following ReLU and max pooling.

Why: for LeNet-sized layers (K = C*kh*kw <= a few hundred, few output channels) the im2col matrix is large
(conv1 of LeNet at batch 128: 25 x 100,352 floats = 10 MB) while the GEMM on it is skinny, so writing and
re-reading cols costs more than the arithmetic. Here each chunk of images is handled by one thread, entirely
in cache.

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
another order; tests check equality in float64. The input gradient is the "full" correlation of gy with the
kernel rotated by 180 degrees, written as a scatter: each gradient row adds into the kh*kw input rows it came
from, so no multiplications by the zero border of a fully padded gy are spent.

Register blocking. Every inner loop runs over t, contiguous memory that LLVM vectorises. What limits these
loops is memory traffic per multiply-add, so each pass does a 4 x 4 (or 4 x 2) block of work on what it loads:

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

How the kernels are written, and why: each kernel is one function per chunk of images over raw pointers
(C-style ``p[offset + t]`` indexing, all sizes read from an int64 ``dims`` array), compiled once per dtype
as a C callback and run on all cores by a tiny driver (``numba_launch.py``). Raw pointers, flat offsets and
a caller-provided workspace, rather than NumPy views and slices, because Numba turns every view into an
array structure with reference counting and index wrap-around code: the same kernels written with views
were 3x more LLVM IR and took twice as long to compile (a fresh install paid it before its first batch),
for the same machine code in the inner loops. Backward computes the weight and the input gradient in the
same pass over the images, so a layer is two kernels in all.

Determinism: the weight gradient sums per-chunk partials (a fixed number of chunks of the batch, whatever
the thread count) in a fixed order, so results do not depend on how many threads run.
"""
from __future__ import annotations

import numpy as np
from numba import carray, njit

from .numba_launch import ParallelKernel
from ..kernels.numpy_kernels import conv_out_size

# The kernels are compiled with these fast-math flags (Numba applies the caller's flags to inlined helpers).
# Reassociation lets LLVM vectorise the dot products (float32 sums in another order, as any BLAS does) and
# contraction makes FMAs; no 'nnan'/'ninf'/'nsz': NaN, inf and -0.0 behave as in the reference path, and
# ReLU's and max pooling's comparisons keep their exact rules.
_FAST = {"reassoc", "contract"}
_CHUNKS = 16               # items of a kernel call: chunks of the batch (fixed: the weight gradient's sum order)
_BLOCK = 4                 # output channels per block (the register blocking above)

# Layout of the int64 ``dims`` array each kernel reads its sizes from.
(D_N, D_C, D_H, D_W, D_COUT, D_CPAD, D_K, D_KH, D_KW, D_PT, D_PL, D_OH, D_OW,        # the convolution
 D_MODE, D_PH, D_PW, D_PKH, D_PKW, D_PSH, D_PSW,                                      # pooling (fused op)
 D_NEED_W, D_NEED_X, D_CHUNKS, D_WS, D_LEN) = range(25)                               # D_WS: workspace/chunk
MODE_CONV, MODE_RELU_MAXPOOL, MODE_RELU_MAXPOOL22 = 0, 1, 2   # forward: conv2d's output, or relu + max pooling
PARITY_MIN_WIDTH = 16      # conv outputs at least this wide pool 2x2/2 by column parity (_forward_item)


# ---- building blocks over raw pointers (inlined into the kernels by Numba) -------------------------------------
@njit(inline="always")
def _zero_of(p):
    """A zero of the pointer's dtype (keeps float32 sums in float32)."""
    return carray(p, (0,)).dtype.type(0)


@njit(inline="always")
def _fill(p, start, count, value):
    for t in range(count):
        p[start + t] = value


@njit(inline="always")
def _copy_rows(src, src_start, src_stride, dst, dst_start, dst_stride, rows, cols):
    """dst[dst_start + r*dst_stride + q] = src[src_start + r*src_stride + q] for r < rows, q < cols: how a
    plane moves between the image layout and the Wp-wide grid, in either direction."""
    for r in range(rows):
        s, d = src_start + r * src_stride, dst_start + r * dst_stride
        for q in range(cols):
            dst[d + q] = src[s + q]


@njit(inline="always")
def _pad_image(x, n, c_in, h, wd, ws, f0, plane, wp, pt, pl):
    """ws[f0 + c*plane + (r+pt)*wp + q+pl] = x[n, c, r, q]; the border keeps its zeros."""
    for c in range(c_in):
        _copy_rows(x, (n * c_in + c) * h * wd, wd, ws, f0 + c * plane + pt * wp + pl, wp, h, wd)


@njit(inline="always")
def _tap_offsets(offs, k0, n_taps, f0, c_in, kh, kw, plane, wps, phases, phase, n_k):
    """offs[k0 + (c*kh + i)*kw + j] = where tap (c, i, j)'s shifted row starts for the output columns
    phase, phase + phases, ... of an image whose padded columns are split by phase (``phases`` = 1: the plain
    Wp-wide grid; 2: by column parity, see ``_forward_item``): output column u*phases + phase reads padded
    column q = u*phases + phase + j, which is plane c*phases + q % phases at u + q // phases. Taps past C*kh*kw
    (padding the count to whole blocks) point at the zero tail after the image."""
    for k in range(n_taps):
        c, ij = k // (kh * kw), k % (kh * kw)
        q = phase + ij % kw
        offs[k0 + k] = f0 + (c * phases + q % phases) * plane + (ij // kw) * wps + q // phases if k < n_k \
            else f0 + phases * c_in * plane


@njit(inline="always")
def _fma_4x4(xs, x0, x1, x2, x3, w, w0, w_stride, acc, a0, a1, a2, a3, span):
    """acc[a_r + t] += sum_m w[w0 + m*w_stride + r] * xs[x_m + t] for four input rows m and four output rows r
    (t < span): the register block of the forward (m: taps, r: output channels) and of the input gradient
    (m: output channels, r: input channels). Per element: 4 + 4 loads, 4 stores, 16 FMAs."""
    p0, q0, r0, s0 = w[w0], w[w0 + 1], w[w0 + 2], w[w0 + 3]
    w1 = w0 + w_stride
    p1, q1, r1, s1 = w[w1], w[w1 + 1], w[w1 + 2], w[w1 + 3]
    w2 = w1 + w_stride
    p2, q2, r2, s2 = w[w2], w[w2 + 1], w[w2 + 2], w[w2 + 3]
    w3 = w2 + w_stride
    p3, q3, r3, s3 = w[w3], w[w3 + 1], w[w3 + 2], w[w3 + 3]
    for t in range(span):
        v0, v1, v2, v3 = xs[x0 + t], xs[x1 + t], xs[x2 + t], xs[x3 + t]
        acc[a0 + t] += p0 * v0 + p1 * v1 + p2 * v2 + p3 * v3
        acc[a1 + t] += q0 * v0 + q1 * v1 + q2 * v2 + q3 * v3
        acc[a2 + t] += r0 * v0 + r1 * v1 + r2 * v2 + r3 * v3
        acc[a3 + t] += s0 * v0 + s1 * v1 + s2 * v2 + s3 * v3


@njit(fastmath=_FAST, cache=True)
def _conv_block(ws, offs, k0, n_taps, wb, w0, b, o, acc0, span):
    """ws[acc0 + r*span + t] = b[o + r] + sum_k wb[w0 + 4k + r] * ws[offs[k0 + k] + t] for the four channels
    o + r of one block (t < span). The tap count is a multiple of four (padding taps have zero weights and
    read zeros). Compiled on its own and called, not inlined: the forward calls it from three places."""
    for r in range(4):
        _fill(ws, acc0 + r * span, span, b[o + r])
    for k in range(0, n_taps, 4):
        _fma_4x4(ws, offs[k0 + k], offs[k0 + k + 1], offs[k0 + k + 2], offs[k0 + k + 3], wb, w0 + 4 * k, 4,
                 ws, acc0, acc0 + span, acc0 + 2 * span, acc0 + 3 * span, span)


@njit(inline="always")
def _relu_maxpool_plane(src, s0, y, idx, out0, ph, pw, wp, pkh, pkw, psh, psw, zero):
    """y[out0 + a*pw + c] = max over window (a, c) of relu(src[s0 + ...]) on the Wp-wide grid,
    idx[same] = the grid position t = row*Wp + col of that maximum, or -1 when it is <= 0 (ReLU passes no
    gradient there).

    Selects, no branches on the data (the comparisons are unpredictable). relu(v) = 0 if v <= 0 else v is
    exactly np.maximum(v, 0), NaN and -0.0 included; a window's first maximum wins and NaN always wins, as
    in ``MaxPool2dFunction``."""
    for a in range(ph):
        for c in range(pw):
            base = a * psh * wp + c * psw
            best = src[s0 + base]
            best = zero if best <= 0 else best
            best_t = base
            for i in range(pkh):
                for j in range(pkw):
                    t = base + i * wp + j
                    v = src[s0 + t]
                    v = zero if v <= 0 else v
                    take = (v > best) | (v != v)
                    best = v if take else best
                    best_t = t if take else best_t
            y[out0 + a * pw + c] = best
            idx[out0 + a * pw + c] = best_t if best > 0 else -1


@njit(inline="always")
def _pad_image_parity(x, n, c_in, h, wd, ws, f0, plane2, wp2, pt, pl):
    """The padded image split by column parity: ws[f0 + (2c + q % 2)*plane2 + r*wp2 + q // 2] = xpad_c[r, q]."""
    for c in range(c_in):
        for r in range(h):
            src = ((n * c_in + c) * h + r) * wd
            for q in range(wd):
                qq = q + pl
                ws[f0 + (2 * c + (qq & 1)) * plane2 + (r + pt) * wp2 + (qq >> 1)] = x[src + q]


@njit(inline="always")
def _relu_maxpool22_row(ws, e0, o0, e1, o1, y, idx, out0, pw, t0, t1, zero):
    """One row of 2x2/2 windows from the column-parity outputs: window c is ws[e0 + c], ws[o0 + c] (top row,
    even and odd column) and ws[e1 + c], ws[o1 + c] (bottom row), all contiguous, so the selects vectorise.
    Same rules as ``_relu_maxpool_plane``; the argmax is reported on the ordinary grid (t0, t1: the rows'
    starts)."""
    for c in range(pw):
        v00, v01, v10, v11 = ws[e0 + c], ws[o0 + c], ws[e1 + c], ws[o1 + c]
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
        y[out0 + c] = best
        idx[out0 + c] = bt if best > 0 else -1


@njit(inline="always")
def _grid_grad(g, n, c_out, oh, ow, ws, gyf0, span, wp):
    """ws[gyf0 + o*span + a*wp + b] = gy[n, o, a, b]; the gap columns b >= OW (and rows o >= Cout) keep their
    zeros."""
    for o in range(c_out):
        _copy_rows(g, (n * c_out + o) * oh * ow, ow, ws, gyf0 + o * span, wp, oh, ow)


@njit(inline="always")
def _grid_grad_pooled(g, idx, n, c_out, ph, pw, ws, gyf0, span, zero):
    """The gradient of the conv output of image n on the grid, from the gradient g of relu + max pooling
    after it: each pooled gradient goes to its window's argmax (idx: its position on the grid) when that was
    positive (idx >= 0)."""
    for o in range(c_out):
        row = gyf0 + o * span
        _fill(ws, row, span, zero)
        for p in range((n * c_out + o) * ph * pw, (n * c_out + o + 1) * ph * pw):
            t = idx[p]
            if t >= 0:      # overlapping windows (stride < kernel) add up, in window order
                ws[row + t] += g[p]


@njit(inline="always")
def _bias_grad_image(ws, gyf0, span, gb, gb0, c_out, zero):
    """gb[gb0 + o] += sum_t gyf[o, t] (the gap columns hold zeros)."""
    for o in range(c_out):
        s = zero
        for t in range(span):
            s += ws[gyf0 + o * span + t]
        gb[gb0 + o] += s


@njit(inline="always")
def _weight_grad_image(ws, offs, gyf0, span, gw, gw0, c_pad, zero):
    """gw[gw0 + o*n_taps + k] += sum_t gyf[o, t] * ws[offs[k] + t]: four channels x two taps per pass, 8 sums in
    registers. The tap count is even (a padding tap reads zeros)."""
    n_taps = offs.size
    for o in range(0, c_pad, 4):
        g0, g1, g2, g3 = gyf0 + o * span, gyf0 + (o + 1) * span, gyf0 + (o + 2) * span, gyf0 + (o + 3) * span
        for k in range(0, n_taps, 2):
            x0, x1 = offs[k], offs[k + 1]
            s00 = s01 = s10 = s11 = s20 = s21 = s30 = s31 = zero
            for t in range(span):
                u0, u1 = ws[x0 + t], ws[x1 + t]
                e0, e1, e2, e3 = ws[g0 + t], ws[g1 + t], ws[g2 + t], ws[g3 + t]
                s00 += e0 * u0
                s01 += e0 * u1
                s10 += e1 * u0
                s11 += e1 * u1
                s20 += e2 * u0
                s21 += e2 * u1
                s30 += e3 * u0
                s31 += e3 * u1
            row = gw0 + o * n_taps + k
            gw[row] += s00
            gw[row + 1] += s01
            gw[row + n_taps] += s10
            gw[row + n_taps + 1] += s11
            gw[row + 2 * n_taps] += s20
            gw[row + 2 * n_taps + 1] += s21
            gw[row + 3 * n_taps] += s30
            gw[row + 3 * n_taps + 1] += s31


@njit(inline="always")
def _input_grad_image(ws, gyf0, span, wt, kh, kw, c_pad, c_in, gx0, plane, rows0, wp, zero):
    """ws[gx0 + c*plane + i*wp + j + t] += sum_o wt[i, j, o, c] * gyf[o, t]: four input x four output channels
    per pass (wt is (kh, kw, Cout padded, C)); the last 1-3 input channels one by one.

    The sum over o goes into aligned scratch rows first, then one shifted add: adding straight into the
    shifted window (overlapping the last one's by all but one element) stalls on store-to-load forwarding
    and was measured 1.5x slower."""
    for i in range(kh):
        for j in range(kw):
            wij = (i * kw + j) * c_pad * c_in
            for c in range(0, c_in, 4):
                n_c = min(4, c_in - c)
                _fill(ws, rows0, 4 * span, zero)
                for o in range(0, c_pad, 4):
                    g = gyf0 + o * span
                    w0 = wij + o * c_in + c
                    if n_c == 4:
                        _fma_4x4(ws, g, g + span, g + 2 * span, g + 3 * span, wt, w0, c_in,
                                 ws, rows0, rows0 + span, rows0 + 2 * span, rows0 + 3 * span, span)
                    else:
                        for r in range(n_c):
                            p0, p1, p2, p3 = wt[w0 + r], wt[w0 + c_in + r], wt[w0 + 2 * c_in + r], wt[w0 + 3 * c_in + r]
                            row = rows0 + r * span
                            for t in range(span):
                                ws[row + t] += p0 * ws[g + t] + p1 * ws[g + span + t] + p2 * ws[g + 2 * span + t] \
                                    + p3 * ws[g + 3 * span + t]
                for r in range(n_c):
                    dst, src = gx0 + (c + r) * plane + i * wp + j, rows0 + r * span
                    for t in range(span):
                        ws[dst + t] += ws[src + t]


# ---- the kernels: one chunk of images each --------------------------------------------------------------------
# Arguments (the same for every kernel, so one compiled driver serves them all): seven pointers of the data's
# dtype, an int32 pointer, the int64 dims, the chunk number. ``ws`` is the workspace: D_WS floats per chunk.
def _forward_item(x, wb, b, y, ws, _unused1, _unused2, idx, d, chunk):
    """The images of one chunk: conv2d, or conv2d + relu + max pooling (MODE_RELU_MAXPOOL,
    MODE_RELU_MAXPOOL22), block of four output channels by block.

    MODE_RELU_MAXPOOL22 (2x2/2 pooling) computes the conv outputs by column parity: the even columns 2u and
    the odd columns 2u+1 as two shifted-rows convolutions over the padded image split by column parity
    (``_pad_image_parity``; phases = 2). Each 2x2 window is then four contiguous values, one per (row,
    parity), and pooling runs in contiguous, vectorisable loops (``_relu_maxpool22_row``): for wide layers
    (LeNet's conv1) that is 3x cheaper than pooling the interleaved grid. Same sums, same numbers."""
    zero = _zero_of(ws)
    n_img, c_in, h, wd, c_out, c_pad, n_k = d[D_N], d[D_C], d[D_H], d[D_W], d[D_COUT], d[D_CPAD], d[D_K]
    kh, kw, pt, pl, oh, ow, mode = d[D_KH], d[D_KW], d[D_PT], d[D_PL], d[D_OH], d[D_OW], d[D_MODE]
    ph, pw = d[D_PH], d[D_PW]
    phases = 2 if mode == MODE_RELU_MAXPOOL22 else 1
    hp, wp = oh + kh - 1, ow + kw - 1
    wps = (wp + phases - 1) // phases                          # the row length of one phase's plane
    plane = hp * wps
    span0 = (oh - 1) * wps + (ow + phases - 1) // phases       # outputs of phase 0 (all of them when phases = 1)
    span1 = (oh - 1) * wps + ow // phases                      # outputs of phase 1 (odd columns)
    n_taps = (n_k + 3) // 4 * 4
    # workspace: the image's phase planes + a zero tail | 4 accumulator rows per phase
    f0 = chunk * d[D_WS]
    acc0 = f0 + phases * c_in * plane + span0
    _fill(ws, f0, phases * c_in * plane + span0, zero)
    offs = np.empty(phases * n_taps, np.int64)
    for q in range(phases):
        _tap_offsets(offs, q * n_taps, n_taps, f0, c_in, kh, kw, plane, wps, phases, q, n_k)
    for n in range(chunk * n_img // d[D_CHUNKS], (chunk + 1) * n_img // d[D_CHUNKS]):
        if phases == 2:
            _pad_image_parity(x, n, c_in, h, wd, ws, f0, plane, wps, pt, pl)
        else:
            _pad_image(x, n, c_in, h, wd, ws, f0, plane, wp, pt, pl)
        for ob in range(c_pad // 4):
            for q in range(phases):
                _conv_block(ws, offs, q * n_taps, n_taps, wb, ob * n_taps * 4, b, ob * 4, acc0 + 4 * q * span0,
                            span0 if q == 0 else span1)
            for r in range(min(4, c_out - ob * 4)):
                o, e = ob * 4 + r, acc0 + r * span0
                if phases == 2:
                    odd = acc0 + 4 * span0 + r * span1
                    for a in range(ph):
                        t0, t1 = 2 * a * wps, (2 * a + 1) * wps
                        _relu_maxpool22_row(ws, e + t0, odd + t0, e + t1, odd + t1, y, idx,
                                            ((n * c_out + o) * ph + a) * pw, pw, 2 * a * wp, (2 * a + 1) * wp, zero)
                elif mode == MODE_RELU_MAXPOOL:
                    _relu_maxpool_plane(ws, e, y, idx, (n * c_out + o) * ph * pw, ph, pw, wp,
                                        d[D_PKH], d[D_PKW], d[D_PSH], d[D_PSW], zero)
                else:
                    _copy_rows(ws, e, wp, y, (n * c_out + o) * oh * ow, ow, oh, ow)


def _backward_item(x, g, wt, gw, gb, gx, ws, idx, d, chunk):
    """The images of one chunk: lay each image's conv gradient on the grid (from gy, or from the pooled
    gradient of the fused op: g is then that), then add its share to gw and gb and compute its gx."""
    n_img, c_in, h, wd, c_out, c_pad, n_k = d[D_N], d[D_C], d[D_H], d[D_W], d[D_COUT], d[D_CPAD], d[D_K]
    kh, kw, pt, pl, oh, ow = d[D_KH], d[D_KW], d[D_PT], d[D_PL], d[D_OH], d[D_OW]
    pooled, need_w, need_x = d[D_MODE] != MODE_CONV, d[D_NEED_W] != 0, d[D_NEED_X] != 0
    first, last = chunk * n_img // d[D_CHUNKS], (chunk + 1) * n_img // d[D_CHUNKS]
    hp, wp = oh + kh - 1, ow + kw - 1
    plane, span = hp * wp, (oh - 1) * wp + ow
    n_taps = n_k + n_k % 2
    # workspace: padded image + zero tail | gyf (c_pad rows of span) | gxpad (c_in planes) | 4 scratch rows
    f0 = chunk * d[D_WS]
    gyf0 = f0 + c_in * plane + span
    gx0 = gyf0 + c_pad * span
    rows0 = gx0 + c_in * plane
    zero = _zero_of(ws)
    _fill(ws, f0, c_in * plane + span + c_pad * span, zero)      # rows >= Cout stay zero: they pad a block
    offs = np.empty(n_taps, np.int64)
    _tap_offsets(offs, 0, n_taps, f0, c_in, kh, kw, plane, wp, 1, 0, n_k)
    gw0, gb0 = chunk * c_pad * n_taps, chunk * c_out
    for n in range(first, last):
        if pooled:
            _grid_grad_pooled(g, idx, n, c_out, d[D_PH], d[D_PW], ws, gyf0, span, zero)
        else:
            _grid_grad(g, n, c_out, oh, ow, ws, gyf0, span, wp)
        if need_w:
            _pad_image(x, n, c_in, h, wd, ws, f0, plane, wp, pt, pl)
            _bias_grad_image(ws, gyf0, span, gb, gb0, c_out, zero)
            _weight_grad_image(ws, offs, gyf0, span, gw, gw0, c_pad, zero)
        if need_x:
            _fill(ws, gx0, c_in * plane, zero)
            _input_grad_image(ws, gyf0, span, wt, kh, kw, c_pad, c_in, gx0, plane, rows0, wp, zero)
            for c in range(c_in):                      # crop the padding away
                _copy_rows(ws, gx0 + c * plane + pt * wp + pl, wp, gx, (n * c_in + c) * h * wd, wd, h, wd)


_KINDS = ("f", "f", "f", "f", "f", "f", "f", "i32", "i64")
_FORWARD = ParallelKernel(_forward_item, _KINDS, _FAST, name="tinycnn.accel.numba_direct:_FORWARD")
_BACKWARD = ParallelKernel(_backward_item, _KINDS, _FAST, name="tinycnn.accel.numba_direct:_BACKWARD")


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


def _dims(x_shape, w_shape, padding, conv_hw, workspace, mode=MODE_CONV, pool=None, need_w=0, need_x=0):
    d = np.zeros(D_LEN, np.int64)
    d[[D_N, D_C, D_H, D_W]] = x_shape
    d[[D_COUT, D_CPAD, D_K, D_KH, D_KW]] = (w_shape[0], _padded(w_shape[0]), w_shape[1] * w_shape[2] * w_shape[3],
                                           w_shape[2], w_shape[3])
    d[[D_PT, D_PL, D_OH, D_OW, D_MODE]] = (padding[0], padding[2], conv_hw[0], conv_hw[1], mode)
    if pool is not None:
        d[[D_PH, D_PW, D_PKH, D_PKW, D_PSH, D_PSW]] = pool
    d[[D_NEED_W, D_NEED_X, D_CHUNKS, D_WS]] = (need_w, need_x, _chunks(x_shape[0]), workspace)
    return d


def _chunks(n_images: int) -> int:
    return max(1, min(_CHUNKS, n_images))


def _workspace(n_images: int, per_chunk: int, dtype):
    return np.empty(_chunks(n_images) * per_chunk, dtype=dtype)


def _forward_workspace(c_in, w_shape, conv_hw, by_parity) -> int:
    """Floats per chunk that ``_forward_item`` uses (see its layout)."""
    kh, kw = w_shape[2], w_shape[3]
    oh, ow = conv_hw
    hp, wp = oh + kh - 1, ow + kw - 1
    if by_parity:
        wp2 = (wp + 1) // 2
        span_e, span_o = (oh - 1) * wp2 + (ow + 1) // 2, (oh - 1) * wp2 + ow // 2
        return 2 * c_in * hp * wp2 + span_e + 4 * (span_e + span_o)
    span = (oh - 1) * wp + ow
    return c_in * hp * wp + 5 * span


def _backward_workspace(c_in, w_shape, conv_hw) -> int:
    """Floats per chunk that ``_backward_item`` uses (see its layout)."""
    kh, kw = w_shape[2], w_shape[3]
    oh, ow = conv_hw
    hp, wp = oh + kh - 1, ow + kw - 1
    span = (oh - 1) * wp + ow
    return 2 * c_in * hp * wp + span + _padded(w_shape[0]) * span + 4 * span


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


def _run_forward(x, w, b, y, idx, conv_hw, padding, mode, pool, by_parity):
    ws = _workspace(x.shape[0], _forward_workspace(x.shape[1], w.shape, conv_hw, by_parity), x.dtype)
    empty = np.empty(0, x.dtype)
    _FORWARD(_chunks(x.shape[0]), np.ascontiguousarray(x), _pack_weights(w), _bias(b, w), y, ws, empty, empty, idx,
             _dims(x.shape, w.shape, padding, conv_hw, ws.size // _chunks(x.shape[0]), mode, pool))


def conv2d_direct_forward(x, w, b, padding):
    """y (N, Cout, OH, OW) = conv2d(x, w, b) with stride 1; padding (top, bottom, left, right)."""
    conv_hw = _out_hw(x.shape, w.shape, padding)
    y = np.empty((x.shape[0], w.shape[0], *conv_hw), dtype=x.dtype)
    _run_forward(x, w, b, y, _NO_INDEX, conv_hw, padding, MODE_CONV, None, False)
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
    _run_forward(x, w, b, y, idx, conv_hw, padding, mode, (ph, pw, pkh, pkw, psh, psw), by_parity)
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
        g, idx, conv_hw, mode, pool = gy, _NO_INDEX, gy.shape[2:], MODE_CONV, None
    else:
        g, idx, conv_hw = pooled
        mode, pool = MODE_RELU_MAXPOOL, (g.shape[2], g.shape[3], 0, 0, 0, 0)
    chunks = _chunks(x_shape[0])
    n_taps = c * kh * kw + (c * kh * kw) % 2                          # even: a zero tap pads an odd count
    gw_parts = np.zeros((chunks, _padded(cout), n_taps), dtype=dtype) if need_w else empty
    gb_parts = np.zeros((chunks, cout), dtype=dtype) if need_w else empty
    wt = empty
    if need_x:
        wt = np.zeros((kh, kw, _padded(cout), c), dtype=dtype)           # wt[i, j, o, c] = w[o, c, i, j]
        wt[:, :, :cout] = w.transpose(2, 3, 0, 1)
    gx = np.empty(x_shape, dtype=dtype) if need_x else empty
    per_chunk = _backward_workspace(c, w.shape, conv_hw)
    ws = _workspace(x_shape[0], per_chunk, dtype)
    _BACKWARD(chunks, x if need_w else empty, g, wt, gw_parts, gb_parts, gx, ws, idx,
              _dims(x_shape, w.shape, padding, conv_hw, per_chunk, mode, pool, int(need_w), int(need_x)))
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
