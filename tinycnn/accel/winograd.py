r"""Winograd convolution F(2x2, 3x3): 3x3, stride-1 layers (ResNet's, VGG's) with 2.25x fewer multiply-adds.

Why: an im2col convolution of a 3x3 layer spends 9 multiply-adds per output and input channel pair and
position, in one GEMM, and writes a cols matrix 9x the input's size. Winograd's minimal filtering
algorithm (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015) computes each 2x2 block
of outputs from a 4x4 block of inputs with 16 products instead of 36, so a layer becomes 16 GEMMs with K = C
(4 multiply-adds per output position and channel pair) and the transformed input it stores is 4x the
input's size. Measured in ``benchmarks/conv_bench.py``. Layers with larger output planes run the F(4x4, 3x3)
variant of ``winograd_f4.py`` instead (its ``winograd_forward`` chooses; it uses this module's drivers).

One channel pair, one tile. ``d`` is a 4x4 block of the zero-padded input whose top-left corner is at
(2a, 2b), ``g`` the 3x3 kernel, ``Y`` the 2x2 block of outputs at (2a, 2b). With

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]                        (4, 4)
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]]                           (4, 3)
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]                                                      (2, 4)

the correlation Y[i, j] = sum_{u,v} g[u, v] d[i + u, j + v] is exactly (no approximation: the identity holds
in exact arithmetic)

    Y = A^T [ (G g G^T) * (B^T d B) ] A            (* elementwise over the 16 positions xi = (r, k))

Over the whole layer, with U[xi, o, c] = (G g[o, c] G^T)[xi], V[xi, c, t] = (B^T d[n, c, tile] B)[xi] for
tile t = (n, a, b), the sum over input channels is a matrix product per xi:

    M[xi] = U[xi] @ V[xi]          (Cout, C) @ (C, T) -> (Cout, T),    y[tile] = A^T M[., tile] A

Backward: every step is linear, so the gradient runs each step's adjoint in reverse (gy = dL/dy):

    dM[xi, o, t] = (A gY[n, o, tile] A^T)[xi]       gY the 2x2 block of gy (zeros past the edge)
    dU[xi]       = dM[xi] @ V[xi]^T                 (Cout, T) @ (T, C)            ->  gw[o, c] = G^T dU[o, c] G
    dV[xi]       = U[xi]^T @ dM[xi]                 (C, Cout) @ (Cout, T)         ->  gd = B dV[c, t] B^T
and gx[n, c] is the sum of the 4x4 blocks gd over their (overlapping) tiles, cropped to the unpadded
input; gb = sum gy. These are the same sums as the im2col formulation in ``ops/conv.py`` in another order
(tests check equality with it in float64 and the float32 error against a float64 reference).

Tiles: the output (OH, OW) = (H + pt + pb - 2, W + pl + pr - 2) is covered by TH x TW = ceil(OH/2) x
ceil(OW/2) tiles; a last half tile reads zeros past the padded input and its extra outputs are dropped.
The transforms are Numba loops, one item per (image, channel) (per output channel for the kernel's), run
by ``numba_launch.py``'s parallel driver as the direct convolution's kernels are, so that a fresh install
compiles each in a fraction of a second (about 3 s for all six); the 16 products are NumPy batched matmuls.
Memory: the transformed input V (4x the input) is not kept between forward and backward; the backward
transforms x again (the graph holds x anyway), which costs one input transform, a few per cent of the layer's
time, and spares a 4x-input array per layer for the whole pass. The (16, C, T) arrays come from and go back
to the buffer pool (``cols_pool.py``: a fresh 50 MB array costs more in page faults than the transform that
fills it).
"""
from __future__ import annotations

import numpy as np
from numba import carray, njit

from .blas import matmul
from .cols_pool import release_cols, take
from .numba_launch import ParallelKernel

G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])

MIN_CHANNELS = 16          # below this the 16 GEMMs (K = C) are too thin to beat one im2col GEMM (K = 9C)
MIN_SAVING = 1.5           # im2col's multiply-adds over Winograd's, tiles' waste included (see below)


def winograd_applies(x_shape, w_shape, stride, padding, dilation, groups) -> bool:
    """3x3 kernel, stride 1, dilation 1, one group, at least ``MIN_CHANNELS`` input and output channels, and
    an output large enough for the saving: im2col spends 9 OH OW multiply-adds per channel pair, Winograd
    16 TH TW, so a 1x1 output (one tile for one output: 16 vs 9; measured 2.3x slower than im2col on
    ResNet-18's last layers at CIFAR size) or a 3x3 one (4 tiles: 64 vs 81) is left to im2col. Measured on
    one thread, Winograd won from 16 channels on (64 x 16 x 28 x 28: 32 vs 47 ms; 16 x 16 x 96 x 96: 67 vs
    138 ms)."""
    cout, cg, kh, kw = w_shape
    if not ((kh, kw) == (3, 3) and tuple(stride) == (1, 1) and tuple(dilation) == (1, 1) and groups == 1
            and cg >= MIN_CHANNELS and cout >= MIN_CHANNELS):
        return False
    oh, ow, th, tw = _tiles(x_shape, padding)
    return oh >= 1 and ow >= 1 and 9 * oh * ow >= MIN_SAVING * 16 * th * tw


def _tiles(x_shape, padding):
    n, c, h, w = x_shape
    oh, ow = h + padding[0] + padding[1] - 2, w + padding[2] + padding[3] - 2
    return oh, ow, (oh + 1) // 2, (ow + 1) // 2


def kernel_transform(w):
    """U (16, Cout, C) = G g G^T for every channel pair, in w's dtype."""
    u = np.empty((16, w.shape[0], w.shape[1]), dtype=w.dtype)
    _run(_KERNEL, w.shape[0], w, u, dims=_dims((0, w.shape[1], 0, 0), w.shape), scratch=12 * w.shape[1])
    return u


def kernel_grad(du, w_shape):
    """gw (Cout, C, 3, 3) = G^T dU G, the adjoint of ``kernel_transform``."""
    gw = np.empty(w_shape, dtype=du.dtype)
    _run(_KERNEL_GRAD, w_shape[0], du, gw, dims=_dims((0, w_shape[1], 0, 0), w_shape), scratch=12 * w_shape[1])
    return gw


def winograd_forward(x, w, b, padding):
    """y (N, Cout, OH, OW) and U, the transformed kernel, which the backward needs (with x)."""
    n, c, h, wd = x.shape
    oh, ow, th, tw = _tiles(x.shape, padding)
    u = kernel_transform(w)
    dims = _dims(x.shape, w.shape, padding)
    v = _input_transform(x, dims)
    m = matmul(u, v, out=_buffer((16, w.shape[0], v.shape[2]), x.dtype))     # (16, Cout, T)
    release_cols(v)
    y = np.empty((n, w.shape[0], oh, ow), dtype=x.dtype)
    bias = np.zeros(w.shape[0], x.dtype) if b is None else b
    _run_planes(_OUTPUT, w.shape[0], m, bias, y, dims=dims, scratch=8 * tw)
    release_cols(m)
    return y, u


def winograd_backward(gy, u, x, w_shape, padding, need_x=True, need_w=True):
    """(gx, gw) of ``winograd_forward`` (None for the one not needed); gb is gy's sum, left to the caller."""
    n, cout, oh, ow = gy.shape
    _, _, th, tw = _tiles(x.shape, padding)
    dm = _buffer((16, cout, n * th * tw), gy.dtype)
    dims = _dims(x.shape, w_shape, padding)
    _run_planes(_GRAD_OUTPUT, cout, gy, dm, dims=dims, scratch=8 * tw)
    gw = gx = None
    if need_w:
        v = _input_transform(x, dims)                                  # again: see the module docstring
        gw = kernel_grad(matmul(dm, v.transpose(0, 2, 1)), w_shape)
        release_cols(v)
    if need_x:
        dv = matmul(u.transpose(0, 2, 1), dm, out=_buffer((16, x.shape[1], dm.shape[2]), gy.dtype))   # (16, C, T)
        gx = np.empty(x.shape, dtype=gy.dtype)
        _run_planes(_INPUT_GRAD, x.shape[1], dv, gx, dims=dims, scratch=4 * (2 * tw + 2))
        release_cols(dv)
    release_cols(dm)
    return gx, gw


def _input_transform(x, dims):
    """V (16, C, T) of x, in a pooled buffer (hand it back with ``release_cols``)."""
    n, c = x.shape[0], x.shape[1]
    v = _buffer((16, c, n * int(dims[D_TH]) * int(dims[D_TW])), x.dtype)
    _run_planes(_INPUT, c, x, v, dims=dims, scratch=4 * (2 * int(dims[D_TW]) + 2))
    return v


def _dims(x_shape=(0, 0, 0, 0), w_shape=(0, 0, 3, 3), padding=(0, 0, 0, 0)):
    """The sizes every item function reads (indices D_*; D_PER is set per call by ``_run_planes``)."""
    oh, ow, th, tw = _tiles(x_shape, padding)
    return np.array([*x_shape, w_shape[0], th, tw, padding[0], padding[2], oh, ow, 1], dtype=np.int64)


ITEM_TILES = 256       # tiles an item works on at least: ResNet's 2x2 planes are one tile each, and one item
                       # per plane spent more in per-item overhead than in the transform


def _run_planes(kernel, n_ch, *arrays, dims, scratch):
    """``kernel`` over (image, block of channels) items, blocks of enough channels for ``ITEM_TILES``."""
    per = max(1, min(n_ch, -(-ITEM_TILES // int(dims[D_TH] * dims[D_TW]))))
    dims = dims.copy()
    dims[D_PER] = per
    _run(kernel, int(dims[D_N]) * -(-n_ch // per), *arrays, dims=dims, scratch=scratch)


def _run(kernel, n_items, *arrays, dims, scratch):
    """kernel(n_items, ...) with ``scratch`` floats of workspace per item in the last float slot and the
    unused ones empty (one driver signature for every kernel)."""
    empty = np.empty(0, arrays[0].dtype)
    ws = np.empty(n_items * scratch, arrays[0].dtype)
    floats = [np.ascontiguousarray(a) for a in arrays] + [empty] * (6 - len(arrays)) + [ws]
    kernel(n_items, *floats, _NO_INT32, dims)


_NO_INT32 = np.empty(0, np.int32)


def _buffer(shape, dtype):
    """A pooled array of this shape (old contents: every element is written before it is read), or a new one."""
    buf = take(shape, np.dtype(dtype))
    return buf if buf is not None else np.empty(shape, dtype=dtype)


# ---- the transforms, one item each ---------------------------------------------------------------------------
# Every item function takes seven pointers of the data's dtype (unused ones empty), an int32 pointer (unused),
# the int64 sizes ``d`` and the item number: the direct convolution's signature, so one compiled parallel
# driver serves all of them. Arrays are flat and C-contiguous: x[n, c, r, q] is x[((n*C + c)*H + r)*W + q],
# v[xi, c, t] is v[(xi*C + c)*T + t], with T = N*TH*TW and t = (n*TH + a)*TW + b.
D_N, D_C, D_H, D_W, D_COUT, D_TH, D_TW, D_PT, D_PL, D_OH, D_OW, D_PER = range(12)


@njit(inline="always")
def _zero_of(p):
    return carray(p, (0,)).dtype.type(0)


@njit(inline="always")
def _channels(item, n_ch, per):
    """(image, first channel, end channel) of a plane item: image n's channels in blocks of ``per``."""
    blocks = (n_ch + per - 1) // per
    n, first = item // blocks, (item % blocks) * per
    return n, first, min(n_ch, first + per)


@njit(inline="always")
def _scratch(ws, item, rows, cols):
    """The item's own (rows, cols) block of the workspace (items run in parallel: no two share one)."""
    size = rows * cols
    return carray(ws, ((item + 1) * size,))[item * size:].reshape((rows, cols))


def _input_item(x, v, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """v[xi, c, t] = (B^T d B)[xi], d the 4x4 block of image n at padded (2a, 2b), for image n and a block
    of channels c (``_channels``).

    B^T acts on the block's columns, and neighbouring tiles share two columns: per tile row, every column q
    of the four input rows is transformed once, into s[r, q] (r = row of B^T d), then the tiles' rows of
    (B^T d) B are s[r, 2b] - s[r, 2b+2], s[r, 2b+1] + s[r, 2b+2], s[r, 2b+2] - s[r, 2b+1],
    s[r, 2b+1] - s[r, 2b+3]: loops over b with unit-stride stores, which LLVM vectorises."""
    zero = _zero_of(x)
    n_ch, h, w, th, tw, pt, pl = d[D_C], d[D_H], d[D_W], d[D_TH], d[D_TW], d[D_PT], d[D_PL]
    n, c0, c1 = _channels(item, n_ch, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_ch * n_t
    span = 2 * tw + 2
    s = _scratch(ws, item, 4, span)
    for c in range(c0, c1):
        plane = (n * n_ch + c) * h * w
        for a in range(th):
            r0 = 2 * a - pt
            for q in range(span):
                col = q - pl
                inside = 0 <= col < w
                d0 = x[plane + r0 * w + col] if inside and 0 <= r0 < h else zero
                d1 = x[plane + (r0 + 1) * w + col] if inside and 0 <= r0 + 1 < h else zero
                d2 = x[plane + (r0 + 2) * w + col] if inside and 0 <= r0 + 2 < h else zero
                d3 = x[plane + (r0 + 3) * w + col] if inside and 0 <= r0 + 3 < h else zero
                s[0, q], s[1, q], s[2, q], s[3, q] = d0 - d2, d1 + d2, d2 - d1, d1 - d3
            o = c * n_t + (n * th + a) * tw                   # v[0, c, t] of the row's first tile
            for r in range(4):
                p0 = o + 4 * r * step
                p1, p2, p3 = p0 + step, p0 + 2 * step, p0 + 3 * step
                for b in range(tw):
                    v[p0 + b] = s[r, 2 * b] - s[r, 2 * b + 2]
                for b in range(tw):
                    v[p1 + b] = s[r, 2 * b + 1] + s[r, 2 * b + 2]
                for b in range(tw):
                    v[p2 + b] = s[r, 2 * b + 2] - s[r, 2 * b + 1]
                for b in range(tw):
                    v[p3 + b] = s[r, 2 * b + 1] - s[r, 2 * b + 3]


def _output_item(m, bias, y, _f4, _f5, _f6, ws, _i32, d, item):
    """y[n, o, 2a + i, 2b + j] = bias[o] + (A^T M[., o, t] A)[i, j] inside the output, for
    image n and a block of output channels o (``_channels``).
    Per tile row, s[i, k, b] = (A^T M)[i, k] of tile b in loops over b (unit stride), then the two output
    rows from them."""
    n_out, th, tw, oh, ow = d[D_COUT], d[D_TH], d[D_TW], d[D_OH], d[D_OW]
    n, c0, c1 = _channels(item, n_out, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_out * n_t
    s = _scratch(ws, item, 8, tw)                      # s[4i + k, b] = (A^T M)[i, k] of tile b
    for o in range(c0, c1):
        plane = (n * n_out + o) * oh * ow
        bo = bias[o]
        for a in range(th):
            p = o * n_t + (n * th + a) * tw                   # m[0, o, t] of the row's first tile
            for k in range(4):                                # A^T M: rows m0 + m1 + m2 and m1 - m2 - m3
                p0, p1, p2, p3 = p + k * step, p + (4 + k) * step, p + (8 + k) * step, p + (12 + k) * step
                for b in range(tw):
                    s[k, b] = m[p0 + b] + m[p1 + b] + m[p2 + b]
                for b in range(tw):
                    s[4 + k, b] = m[p1 + b] - m[p2 + b] - m[p3 + b]
            for i in range(2):                                # (A^T M) A: columns s0 + s1 + s2 and s1 - s2 - s3
                r = 2 * a + i
                if r >= oh:
                    break
                row = plane + r * ow
                k0 = 4 * i
                for b in range(ow // 2):
                    y[row + 2 * b] = bo + s[k0, b] + s[k0 + 1, b] + s[k0 + 2, b]
                    y[row + 2 * b + 1] = bo + s[k0 + 1, b] - s[k0 + 2, b] - s[k0 + 3, b]
                if ow % 2:                                    # the last half tile's left column
                    b = tw - 1
                    y[row + 2 * b] = bo + s[k0, b] + s[k0 + 1, b] + s[k0 + 2, b]


def _grad_output_item(gy, dm, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """dm[xi, o, t] = (A gY A^T)[xi], gY the 2x2 block of gy at (2a, 2b), zeros past the output, for
    image n and a block of output channels o. Per tile row, u[r, q] = (A gY)[r] over the columns q (rows
    g0, g0 + g1, g0 - g1, -g1 of the two gy rows), then u A^T per tile (columns u[2b], u[2b] + u[2b+1],
    u[2b] - u[2b+1], -u[2b+1])."""
    zero = _zero_of(gy)
    n_out, th, tw, oh, ow = d[D_COUT], d[D_TH], d[D_TW], d[D_OH], d[D_OW]
    n, c0, c1 = _channels(item, n_out, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_out * n_t
    u = _scratch(ws, item, 4, 2 * tw)
    for o in range(c0, c1):
        plane = (n * n_out + o) * oh * ow
        for a in range(th):
            r = 2 * a
            second = r + 1 < oh
            for q in range(2 * tw):
                g0 = gy[plane + r * ow + q] if q < ow else zero
                g1 = gy[plane + (r + 1) * ow + q] if second and q < ow else zero
                u[0, q], u[1, q], u[2, q], u[3, q] = g0, g0 + g1, g0 - g1, -g1
            p = o * n_t + (n * th + a) * tw
            for k in range(4):
                p0 = p + 4 * k * step
                p1, p2, p3 = p0 + step, p0 + 2 * step, p0 + 3 * step
                for b in range(tw):
                    dm[p0 + b] = u[k, 2 * b]
                for b in range(tw):
                    dm[p1 + b] = u[k, 2 * b] + u[k, 2 * b + 1]
                for b in range(tw):
                    dm[p2 + b] = u[k, 2 * b] - u[k, 2 * b + 1]
                for b in range(tw):
                    dm[p3 + b] = -u[k, 2 * b + 1]


def _input_grad_item(dv, gx, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """gx[n, c] = the sum over tiles of B dV[., c, t] B^T at the tile's block, cropped to the input (the
    padding's share is dropped), for image n and a block of channels c: the item alone writes those planes.
    The adjoint of
    ``_input_item``, step by step: per tile row, sbar[r, q] collects the columns' gradients from the tiles
    (one loop over b per term: no two iterations touch one element), then B's columns spread them over the
    four input rows."""
    zero = _zero_of(gx)
    n_ch, h, w, th, tw, pt, pl = d[D_C], d[D_H], d[D_W], d[D_TH], d[D_TW], d[D_PT], d[D_PL]
    n, c0, c1 = _channels(item, n_ch, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_ch * n_t
    span = 2 * tw + 2
    sbar = _scratch(ws, item, 4, span)
    for c in range(c0, c1):
        plane = (n * n_ch + c) * h * w
        for i in range(h * w):
            gx[plane + i] = zero
        for a in range(th):
            r0 = 2 * a - pt
            for r in range(4):
                for q in range(span):
                    sbar[r, q] = zero
            o = c * n_t + (n * th + a) * tw
            for r in range(4):       # adjoint of v0 = s[2b] - s[2b+2], v1 = s[2b+1] + s[2b+2], v2 = s[2b+2] - s[2b+1],
                p0 = o + 4 * r * step
                p1, p2, p3 = p0 + step, p0 + 2 * step, p0 + 3 * step
                for b in range(tw):  # v3 = s[2b+1] - s[2b+3]
                    sbar[r, 2 * b] += dv[p0 + b]
                for b in range(tw):
                    sbar[r, 2 * b + 1] += dv[p1 + b] - dv[p2 + b] + dv[p3 + b]
                for b in range(tw):
                    sbar[r, 2 * b + 2] += dv[p1 + b] + dv[p2 + b] - dv[p0 + b]
                for b in range(tw):
                    sbar[r, 2 * b + 3] -= dv[p3 + b]
            # adjoint of s = (d0 - d2, d1 + d2, d2 - d1, d1 - d3): row i of the block gets
            # s0, s1 - s2 + s3, s1 + s2 - s0, -s3
            lo, hi = max(0, pl), min(span, w + pl)                # the grid columns inside the input
            base = plane + r0 * w - pl
            if 0 <= r0 < h:
                for q in range(lo, hi):
                    gx[base + q] += sbar[0, q]
            if 0 <= r0 + 1 < h:
                for q in range(lo, hi):
                    gx[base + w + q] += sbar[1, q] - sbar[2, q] + sbar[3, q]
            if 0 <= r0 + 2 < h:
                for q in range(lo, hi):
                    gx[base + 2 * w + q] += sbar[1, q] + sbar[2, q] - sbar[0, q]
            if 0 <= r0 + 3 < h:
                for q in range(lo, hi):
                    gx[base + 3 * w + q] -= sbar[3, q]


def _kernel_item(w, u, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """u[4r + k, o, c] = (G w[o, c] G^T)[r, k] for output channel o = item, every c in one loop per entry
    (unit-stride stores). G's rows: g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2 (applied to the kernel's
    rows, giving gw[r, j], then to the columns of G w)."""
    zero = _zero_of(w)
    half = zero + 0.5
    n_out, n_in = d[D_COUT], d[D_C]
    o = item
    step = n_out * n_in
    gw = _scratch(ws, item, 12, n_in)                     # gw[3r + j, c] = (G w)[r, j]
    for j in range(3):
        for c in range(n_in):
            p = (o * n_in + c) * 9 + j
            w0, w1, w2 = w[p], w[p + 3], w[p + 6]
            gw[j, c] = w0
            gw[3 + j, c] = (w0 + w1 + w2) * half
            gw[6 + j, c] = (w0 - w1 + w2) * half
            gw[9 + j, c] = w2
    for r in range(4):                                    # (G w) G^T, row r
        q = o * n_in + 4 * r * step
        g0, g1, g2 = 3 * r, 3 * r + 1, 3 * r + 2
        for c in range(n_in):
            u[q + c] = gw[g0, c]
        for c in range(n_in):
            u[q + step + c] = (gw[g0, c] + gw[g1, c] + gw[g2, c]) * half
        for c in range(n_in):
            u[q + 2 * step + c] = (gw[g0, c] - gw[g1, c] + gw[g2, c]) * half
        for c in range(n_in):
            u[q + 3 * step + c] = gw[g2, c]


def _kernel_grad_item(du, gw, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """gw[o, c] = G^T dU[., o, c] G for output channel o = item, every c in one loop per entry. G^T's rows:
    (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1)."""
    zero = _zero_of(du)
    half = zero + 0.5
    n_out, n_in = d[D_COUT], d[D_C]
    o = item
    step = n_out * n_in
    p = _scratch(ws, item, 12, n_in)                      # p[4i + k, c] = (G^T dU)[i, k]
    for k in range(4):
        q0, q1, q2, q3 = o * n_in + k * step, o * n_in + (4 + k) * step, o * n_in + (8 + k) * step, \
            o * n_in + (12 + k) * step
        for c in range(n_in):
            e0, e1, e2, e3 = du[q0 + c], du[q1 + c], du[q2 + c], du[q3 + c]
            p[k, c] = e0 + (e1 + e2) * half
            p[4 + k, c] = (e1 - e2) * half
            p[8 + k, c] = (e1 + e2) * half + e3
    for i in range(3):                                    # (G^T dU) G, row i
        for c in range(n_in):
            base = (o * n_in + c) * 9 + 3 * i
            e0, e1, e2, e3 = p[4 * i, c], p[4 * i + 1, c], p[4 * i + 2, c], p[4 * i + 3, c]
            gw[base] = e0 + (e1 + e2) * half
            gw[base + 1] = (e1 - e2) * half
            gw[base + 2] = (e1 + e2) * half + e3


_KINDS = ("f", "f", "f", "f", "f", "f", "f", "i32", "i64")


def _kernel(item, attr):
    # 0.2-2 s each to compile: on a cold start they are shared with compile workers (numba_launch.py)
    return ParallelKernel(item, _KINDS, name=f"tinycnn.accel.winograd:{attr}")


_INPUT = _kernel(_input_item, "_INPUT")
_OUTPUT = _kernel(_output_item, "_OUTPUT")
_GRAD_OUTPUT = _kernel(_grad_output_item, "_GRAD_OUTPUT")
_INPUT_GRAD = _kernel(_input_grad_item, "_INPUT_GRAD")
_KERNEL = _kernel(_kernel_item, "_KERNEL")
_KERNEL_GRAD = _kernel(_kernel_grad_item, "_KERNEL_GRAD")
