"""Depthwise convolution (groups = C_in, one input channel per kernel) as Numba loops, without im2col.

Why: MobileNet's depthwise layers have one 3x3 kernel per channel, so the im2col path builds a cols matrix
nine times the size of the input and then runs C tiny GEMMs of shape (m, 9) @ (9, N*L), one per group; the
copy, not the arithmetic, is the cost. Here each output plane is summed directly from its input plane,
which stays in cache.

Notation: input x (N, C, H, W), weight w (C*m, 1, kh, kw) with m the channel multiplier (output channel o
reads input channel c = o // m), stride s, dilation d, padding (pt, pb, pl, pr), output y (N, C*m, OH, OW),
xpad the zero-padded input. With c = o // m,

    forward  y[n, o, a, b]    = b[o] + sum_{i,j} w[o, 0, i, j] * xpad[n, c, a*s_h + i*d_h, b*s_w + j*d_w]
    input    gxpad[n, c, R, Q] = sum_{o = cm..cm+m-1} sum_{a,b,i,j : a*s_h + i*d_h = R, b*s_w + j*d_w = Q}
                                    w[o, 0, i, j] * gy[n, o, a, b]         (gx: gxpad without its border)
    weight   gw[o, 0, i, j]    = sum_{n,a,b} gy[n, o, a, b] * xpad[n, c, a*s_h + i*d_h, b*s_w + j*d_w]
    bias     gb[o]             = sum_{n,a,b} gy[n, o, a, b]

the sums of ``ops/conv.py`` with one input channel per group (its cols[(c,i,j), (n,a,b)] is the xpad term).

Index mapping ("stride phases on a flat grid"). Split xpad by the stride into s_h*s_w phase planes of
Hq x Wq = ceil(Hp/s_h) x ceil(Wp/s_w): P[(R % s_h)*s_w + Q % s_w][R // s_h, Q // s_w] = xpad[R, Q]. Row
a*s_h + i*d_h lies in phase row (i*d_h) % s_h at a + (i*d_h) // s_h (columns alike), so on the Wq-wide grid
t = a*Wq + b every tap k = (i, j) reads one phase plane at a fixed shift:

    xpad[a*s_h + i*d_h, b*s_w + j*d_w] = Pflat[offs[k] + t],
    offs[k] = (((i*d_h) % s_h)*s_w + (j*d_w) % s_w)*Hq*Wq + ((i*d_h) // s_h)*Wq + (j*d_w) // s_w

for t < span = (OH-1)*Wq + OW. Each tap is then one unit-stride loop over the whole plane (long enough to
vectorise even for MobileNet's 6x6 planes), with no bounds tests: the padding is stored zeros.

    forward  acc[t] = b[o] + sum_k w[o, k] * Pflat[offs[k] + t]           (three taps a pass), y = acc's OW columns
    weight   gw[o, k] += sum_t gyf[t] * Pflat[offs[k] + t]                 (three dot products a pass)
    input    gPflat[offs[k] + t] += w[o, k] * gyf[t],  gx = gP back from phases, border dropped

with gyf = gy[n, o] on the same grid, zeros in the gap columns b >= OW (they are not outputs: the forward
drops them, and backward the zeros add nothing). For stride 1 the one phase is xpad itself.

Parallelism and determinism: the forward runs one task per (image, output channel) and the input gradient
one per (image, input channel), each writing only its own plane; the weight and bias gradients one task per
output channel, looping over the images inside, so no two threads write one sum and the order of each sum is
fixed whatever the thread count. Tasks are grouped into at most 64 chunks, each with its own workspace row
(phases and grid): the border and gap zeros are written once per chunk, every task only overwrites the
interior. Plain ``@njit(parallel=True, cache=True)`` loops, registered with ``numba_launch.py`` as one family: on a
fresh install the first call of one has the other two compiled in a background worker meanwhile.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from ..kernels.numpy_kernels import conv_out_size
from .numba_launch import NjitKernel

# Reassociation lets LLVM vectorise the weight gradient's dot products; contraction makes FMAs. No flags
# that change NaN/inf handling.
_FAST = {"reassoc", "contract"}


@njit(inline="always")
def _u(i):
    """An index as unsigned (it is never negative here): Numba then emits no wrap-around test for negative
    indices, which kept LLVM from vectorising the inner loops (measured: scalar FMAs only)."""
    return np.uint64(i)


# ---- building blocks (inlined) -------------------------------------------------------------------------------
@njit(inline="always")
def _to_phases(x, x0, h, wd, ph, p0, sh, sw, pt, pl, plane, wq):
    """ph[p0 + ((rr % sh)*sw + qq % sw)*plane + (rr // sh)*wq + qq // sw] = x[x0 + r*wd + q] with rr = r + pt,
    qq = q + pl: the padded image split into its sh*sw stride phases. The border is never written."""
    for r in range(h):
        rr = r + pt
        base = p0 + (rr % sh) * sw * plane + (rr // sh) * wq
        src = x0 + r * wd
        if sw == 2:                 # stride 2 (MobileNet's): along the row, alternating between two phases
            for q in range(wd):
                qq = q + pl
                ph[_u(base + (qq & 1) * plane + (qq >> 1))] = x[_u(src + q)]
            continue
        for pc in range(sw):
            q0 = (pc - pl) % sw                     # the first column of this phase
            dst = base + pc * plane + (q0 + pl) // sw
            for v in range((wd - q0 + sw - 1) // sw):
                ph[_u(dst + v)] = x[_u(src + q0 + v * sw)]


@njit(inline="always")
def _from_phases(ph, p0, gx, x0, h, wd, sh, sw, pt, pl, plane, wq):
    """The inverse of ``_to_phases``: gx[x0 + r*wd + q] = ph[...] (the border, padding, is dropped)."""
    for r in range(h):
        rr = r + pt
        base = p0 + (rr % sh) * sw * plane + (rr // sh) * wq
        dst = x0 + r * wd
        if sw == 2:
            for q in range(wd):
                qq = q + pl
                gx[_u(dst + q)] = ph[_u(base + (qq & 1) * plane + (qq >> 1))]
            continue
        for pc in range(sw):
            q0 = (pc - pl) % sw
            src = base + pc * plane + (q0 + pl) // sw
            for v in range((wd - q0 + sw - 1) // sw):
                gx[_u(dst + q0 + v * sw)] = ph[_u(src + v)]


@njit(inline="always")
def _to_grid(g, g0, oh, ow, ws, w0, wq):
    """ws[w0 + a*wq + b] = g[g0 + a*ow + b]: a plane onto the wq-wide grid (the gap columns are untouched)."""
    for a in range(oh):
        for b in range(ow):
            ws[_u(w0 + a * wq + b)] = g[_u(g0 + a * ow + b)]


@njit(inline="always")
def _from_grid(ws, w0, y, y0, oh, ow, wq):
    for a in range(oh):
        for b in range(ow):
            y[_u(y0 + a * ow + b)] = ws[_u(w0 + a * wq + b)]


# ---- the kernels: prange over chunks of tasks, each chunk with its own workspace row -------------------------
@njit(parallel=True, cache=True, fastmath=_FAST)
def _forward(x, w, b, y, offs, ws, n_img, c_in, h, wd, c_out, oh, ow, sh, sw, pt, pl, hq, wq, n_chunks):
    m, n_taps, plane = c_out // c_in, offs.size, hq * wq
    span = (oh - 1) * wq + ow
    ws_size = sh * sw * plane + span
    n_tasks = n_img * c_out
    for chunk in prange(n_chunks):
        p0 = chunk * ws_size                            # the phases; the accumulator follows them
        a0 = p0 + sh * sw * plane
        last = -1
        for task in range(chunk * n_tasks // n_chunks, (chunk + 1) * n_tasks // n_chunks):
            n, o = task // c_out, task % c_out
            src = n * c_in + o // m
            if src != last:                             # multiplier m > 1: the same input for m outputs
                _to_phases(x, src * h * wd, h, wd, ws, p0, sh, sw, pt, pl, plane, wq)
                last = src
            for t in range(span):
                ws[_u(a0 + t)] = b[o]
            k = 0
            while k + 3 <= n_taps:                      # three taps a pass: 4 loads + 1 store per 3 FMAs
                u0, u1, u2 = p0 + offs[k], p0 + offs[k + 1], p0 + offs[k + 2]
                w_0, w_1, w_2 = w[o * n_taps + k], w[o * n_taps + k + 1], w[o * n_taps + k + 2]
                for t in range(span):
                    ws[_u(a0 + t)] += w_0 * ws[_u(u0 + t)] + w_1 * ws[_u(u1 + t)] + w_2 * ws[_u(u2 + t)]
                k += 3
            while k < n_taps:
                u0, w_0 = p0 + offs[k], w[o * n_taps + k]
                for t in range(span):
                    ws[_u(a0 + t)] += w_0 * ws[_u(u0 + t)]
                k += 1
            _from_grid(ws, a0, y, task * oh * ow, oh, ow, wq)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _input_grad(gy, w, gx, offs, ws, n_img, c_in, h, wd, c_out, oh, ow, sh, sw, pt, pl, hq, wq, n_chunks):
    """ws must arrive zeroed (the grid's gap columns stay zero)."""
    m, n_taps, plane = c_out // c_in, offs.size, hq * wq
    span = (oh - 1) * wq + ow
    ws_size = sh * sw * plane + span
    n_tasks = n_img * c_in
    zero = gy.dtype.type(0)
    for chunk in prange(n_chunks):
        p0 = chunk * ws_size                            # the phases' gradient; the grid of gy follows
        g0 = p0 + sh * sw * plane
        for task in range(chunk * n_tasks // n_chunks, (chunk + 1) * n_tasks // n_chunks):
            n, c = task // c_in, task % c_in
            for t in range(sh * sw * plane):
                ws[_u(p0 + t)] = zero
            for o in range(c * m, (c + 1) * m):
                _to_grid(gy, (n * c_out + o) * oh * ow, oh, ow, ws, g0, wq)
                for k in range(n_taps):                 # each tap scatters the gradient back where it read
                    u0, wk = p0 + offs[k], w[o * n_taps + k]
                    for t in range(span):
                        ws[_u(u0 + t)] += wk * ws[_u(g0 + t)]
            _from_phases(ws, p0, gx, task * h * wd, h, wd, sh, sw, pt, pl, plane, wq)


@njit(parallel=True, cache=True, fastmath=_FAST)
def _weight_grad(x, gy, gw, gb, offs, ws, n_img, c_in, h, wd, c_out, oh, ow, sh, sw, pt, pl, hq, wq, n_chunks,
                 need_w, need_b):
    """ws, gw and gb must arrive zeroed; output channel o's sums gw[o], gb[o] belong to one task."""
    m, n_taps, plane = c_out // c_in, offs.size, hq * wq
    span = (oh - 1) * wq + ow
    ws_size = sh * sw * plane + span
    zero = gy.dtype.type(0)
    for chunk in prange(n_chunks):
        p0 = chunk * ws_size
        g0 = p0 + sh * sw * plane
        for o in range(chunk * c_out // n_chunks, (chunk + 1) * c_out // n_chunks):
            for n in range(n_img):
                gp = (n * c_out + o) * oh * ow
                if need_b:
                    s = zero
                    for t in range(oh * ow):
                        s += gy[_u(gp + t)]
                    gb[o] += s
                if not need_w:
                    continue
                _to_phases(x, (n * c_in + o // m) * h * wd, h, wd, ws, p0, sh, sw, pt, pl, plane, wq)
                _to_grid(gy, gp, oh, ow, ws, g0, wq)
                k = 0
                while k + 3 <= n_taps:                  # three dot products a pass share the gradient's loads
                    u0, u1, u2 = p0 + offs[k], p0 + offs[k + 1], p0 + offs[k + 2]
                    s0 = s1 = s2 = zero
                    for t in range(span):
                        g = ws[_u(g0 + t)]
                        s0 += g * ws[_u(u0 + t)]
                        s1 += g * ws[_u(u1 + t)]
                        s2 += g * ws[_u(u2 + t)]
                    gw[o * n_taps + k] += s0
                    gw[o * n_taps + k + 1] += s1
                    gw[o * n_taps + k + 2] += s2
                    k += 3
                while k < n_taps:
                    u0, s0 = p0 + offs[k], zero
                    for t in range(span):
                        s0 += ws[_u(g0 + t)] * ws[_u(u0 + t)]
                    gw[o * n_taps + k] += s0
                    k += 1


def _a(dtype):
    return np.empty(0, dtype=dtype)


# one family: on a fresh install the first call of one compiles the others in workers (numba_launch.py)
_forward = NjitKernel(_forward, lambda dt: (*[_a(dt)] * 4, _a(np.int64), _a(dt), *(0,) * 14),
                      name=f"{__name__}:_forward")
_input_grad = NjitKernel(_input_grad, lambda dt: (*[_a(dt)] * 3, _a(np.int64), _a(dt), *(0,) * 14),
                         name=f"{__name__}:_input_grad")
_weight_grad = NjitKernel(_weight_grad, lambda dt: (*[_a(dt)] * 4, _a(np.int64), _a(dt), *(0,) * 14, True, True),
                          name=f"{__name__}:_weight_grad")


# ---- the kernel set's functions ------------------------------------------------------------------------------
_MAX_CHUNKS = 64           # tasks are grouped into at most this many chunks, one workspace row each


def depthwise_conv_applies(x_shape, w_shape, groups) -> bool:
    """Whether conv2d with these shapes is depthwise: one input channel per group, groups = C_in > 1 (any
    kernel size, stride, padding, dilation and channel multiplier C_out / C_in)."""
    return groups > 1 and groups == x_shape[1] and w_shape[1] == 1 and w_shape[0] % groups == 0


def _geometry(x_shape, w_shape, stride, padding, dilation):
    """(sizes, offs, ws_size): the kernels' scalar arguments, the taps' offsets into the phases, and the
    workspace per chunk (the phases, then the grid)."""
    n, c, h, wd = x_shape
    c_out, _, kh, kw = w_shape
    (sh, sw), (pt, pb, pl, pr), (dh, dw) = stride, padding, dilation
    oh, ow = conv_out_size(h, kh, sh, pt + pb, dh), conv_out_size(wd, kw, sw, pl + pr, dw)
    hq, wq = -(-(h + pt + pb) // sh), -(-(wd + pl + pr) // sw)     # a phase's rows and columns
    i, j = np.divmod(np.arange(kh * kw), kw)
    offs = (((i * dh) % sh * sw + (j * dw) % sw) * hq * wq + (i * dh) // sh * wq + (j * dw) // sw)
    sizes = (n, c, h, wd, c_out, oh, ow, sh, sw, pt, pl, hq, wq)
    return sizes, offs.astype(np.int64), sh * sw * hq * wq + (oh - 1) * wq + ow


def _flat(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype).reshape(-1)


def depthwise_conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, C*m, OH, OW) of the depthwise convolution (module docstring); ``padding`` is (pt, pb, pl, pr)."""
    sizes, offs, ws_size = _geometry(x.shape, w.shape, stride, padding, dilation)
    n, c_out, oh, ow = sizes[0], sizes[4], sizes[5], sizes[6]
    chunks = min(n * c_out, _MAX_CHUNKS)
    bias = np.zeros(c_out, x.dtype) if b is None else _flat(b, x.dtype)
    y = np.empty((n, c_out, oh, ow), dtype=x.dtype)
    ws = np.zeros(chunks * ws_size, dtype=x.dtype)
    _forward(_flat(x, x.dtype), _flat(w, x.dtype), bias, y.reshape(-1), offs, ws, *sizes, chunks)
    return y


def depthwise_conv2d_backward(gy, x, w, stride, padding, dilation, need_x=True, need_w=True, need_b=True):
    """(gx, gw, gb) of the depthwise convolution (module docstring); each is None when not asked for."""
    sizes, offs, ws_size = _geometry(x.shape, w.shape, stride, padding, dilation)
    n, c_in, c_out = sizes[0], sizes[1], sizes[4]
    dtype = gy.dtype
    g = _flat(gy, dtype)
    gx = gw = gb = None
    if need_x:
        chunks = min(n * c_in, _MAX_CHUNKS)
        gx = np.empty(x.shape, dtype=dtype)
        ws = np.zeros(chunks * ws_size, dtype=dtype)
        _input_grad(g, _flat(w, dtype), gx.reshape(-1), offs, ws, *sizes, chunks)
    if need_w or need_b:
        chunks = min(c_out, _MAX_CHUNKS)
        gw_flat = np.zeros(w.size, dtype=dtype)
        gb = np.zeros(c_out, dtype=dtype)
        ws = np.zeros(chunks * ws_size, dtype=dtype)
        _weight_grad(_flat(x, dtype), g, gw_flat, gb, offs, ws, *sizes, chunks, need_w, need_b)
        gw = gw_flat.reshape(w.shape) if need_w else None
        gb = gb if need_b else None
    return gx, gw, gb
