r"""Winograd convolution F(2x2, 3x3): 3x3, stride-1 layers (ResNet's, VGG's) with 2.25x fewer multiply-adds.

Why: an im2col convolution of a 3x3 layer spends 9 multiply-adds per output and input channel pair and
position, in one GEMM, and writes a cols matrix 9x the input's size. Winograd's minimal filtering
algorithm (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015) computes each 2x2 block
of outputs from a 4x4 block of inputs with 16 products instead of 36, so a layer becomes 16 GEMMs with K = C
(4 multiply-adds per output position and channel pair) and the transformed input it stores is 4x the
input's size. Measured in ``benchmarks/conv_bench.py``.

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
The transforms are Numba loops, one task per (image, channel); the 16 products are NumPy batched matmuls.
The (16, C, T) arrays come from and go back to the buffer pool (``cols_pool.py``: a fresh 50 MB array costs
more in page faults than the transform that fills it); ``release`` hands back U and V once the backward ran.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from .blas import matmul
from .cols_pool import release_cols, take

G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])

MIN_CHANNELS = 64          # below this the 16 GEMMs (K = C) are too thin to beat one im2col GEMM (K = 9C)
MIN_SAVING = 1.5           # im2col's multiply-adds over Winograd's, tiles' waste included (see below)


def winograd_applies(x_shape, w_shape, stride, padding, dilation, groups) -> bool:
    """3x3 kernel, stride 1, dilation 1, one group, at least ``MIN_CHANNELS`` input and output channels, and
    an output large enough for the saving: im2col spends 9 OH OW multiply-adds per channel pair, Winograd
    16 TH TW, so a 1x1 output (one tile for one output: 16 vs 9) or a 3x3 one (4 tiles: 64 vs 81) is left to
    im2col; ``MIN_SAVING`` is where the measured time crossed over."""
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
    _kernel_transform(np.ascontiguousarray(w), u)
    return u


def kernel_grad(du, w_shape):
    """gw (Cout, C, 3, 3) = G^T dU G, the adjoint of ``kernel_transform``."""
    gw = np.empty(w_shape, dtype=du.dtype)
    _kernel_grad(np.ascontiguousarray(du), gw)
    return gw


def winograd_forward(x, w, b, padding):
    """y (N, Cout, OH, OW) and what the backward needs (U, V)."""
    n, c, h, wd = x.shape
    oh, ow, th, tw = _tiles(x.shape, padding)
    u = kernel_transform(w)
    v = _buffer((16, c, n * th * tw), x.dtype)
    _input_transform(np.ascontiguousarray(x), v, padding[0], padding[2], th, tw)
    m = matmul(u, v, out=_buffer((16, w.shape[0], v.shape[2]), x.dtype))     # (16, Cout, T)
    y = np.empty((n, w.shape[0], oh, ow), dtype=x.dtype)
    bias = np.zeros(w.shape[0], x.dtype) if b is None else b
    _output_transform(m, bias, y, th, tw)
    release_cols(m)
    return y, u, v


def winograd_backward(gy, u, v, x_shape, w_shape, padding, need_x=True, need_w=True):
    """(gx, gw) of ``winograd_forward`` (None for the one not needed); gb is gy's sum, left to the caller."""
    n, cout, oh, ow = gy.shape
    _, _, th, tw = _tiles(x_shape, padding)
    dm = _buffer((16, cout, n * th * tw), gy.dtype)
    _grad_output_transform(np.ascontiguousarray(gy), dm, th, tw)
    gw = kernel_grad(matmul(dm, v.transpose(0, 2, 1)), w_shape) if need_w else None
    gx = None
    if need_x:
        dv = matmul(u.transpose(0, 2, 1), dm, out=_buffer(v.shape, gy.dtype))      # (16, C, T)
        gx = np.empty(x_shape, dtype=gy.dtype)
        _input_grad_transform(dv, gx, padding[0], padding[2], th, tw)
        release_cols(dv)
    release_cols(dm)
    return gx, gw


def release(v) -> None:
    """Hand the forward's transformed input V back to the pool (call once nothing refers to it)."""
    release_cols(v)


def _buffer(shape, dtype):
    """A pooled array of this shape (old contents: every element is written before it is read), or a new one."""
    buf = take(shape, np.dtype(dtype))
    return buf if buf is not None else np.empty(shape, dtype=dtype)


# ---- the transforms: one task per (image, channel), tiles in row order ---------------------------------------
# Each task copies the rows a tile row reads into a zero-bordered buffer (``_padded_rows``), so the tile loops
# index without bounds tests; the input gradient is summed into a zero-bordered plane, then cropped.
@njit(cache=True)
def _padded_rows(plane, r0, q0, buf):
    """buf[i, j] = plane[r0 + i, q0 + j], 0 outside the plane (buf: (rows, cols) of the padded grid)."""
    h, w = plane.shape
    rows, cols = buf.shape
    for i in range(rows):
        r = r0 + i
        if r < 0 or r >= h:
            for j in range(cols):
                buf[i, j] = 0
            continue
        for j in range(cols):
            q = q0 + j
            buf[i, j] = plane[r, q] if 0 <= q < w else 0


@njit(parallel=True, cache=True)
def _input_transform(x, v, pt, pl, th, tw):
    """v[xi, c, t] = (B^T d B)[xi] for the 4x4 block d at padded (2a, 2b) of image n, t = (n*TH + a)*TW + b."""
    n_img, n_ch = x.shape[0], x.shape[1]
    for task in prange(n_img * n_ch):
        n, c = task // n_ch, task % n_ch
        d = np.empty((4, 2 * tw + 2), dtype=x.dtype)
        for a in range(th):
            _padded_rows(x[n, c], 2 * a - pt, -pl, d)
            base = (n * th + a) * tw
            for b in range(tw):
                q = 2 * b
                for k in range(4):                                   # column k of B^T d
                    t0 = d[0, q + k] - d[2, q + k]
                    t1 = d[1, q + k] + d[2, q + k]
                    t2 = d[2, q + k] - d[1, q + k]
                    t3 = d[1, q + k] - d[3, q + k]
                    if k == 0:
                        a0, a1, a2, a3 = t0, t1, t2, t3
                    elif k == 1:
                        b0, b1, b2, b3 = t0, t1, t2, t3
                    elif k == 2:
                        c0, c1, c2, c3 = t0, t1, t2, t3
                    else:
                        e0, e1, e2, e3 = t0, t1, t2, t3
                t = base + b                                         # rows r of (B^T d) B
                v[0, c, t], v[1, c, t], v[2, c, t], v[3, c, t] = a0 - c0, b0 + c0, c0 - b0, b0 - e0
                v[4, c, t], v[5, c, t], v[6, c, t], v[7, c, t] = a1 - c1, b1 + c1, c1 - b1, b1 - e1
                v[8, c, t], v[9, c, t], v[10, c, t], v[11, c, t] = a2 - c2, b2 + c2, c2 - b2, b2 - e2
                v[12, c, t], v[13, c, t], v[14, c, t], v[15, c, t] = a3 - c3, b3 + c3, c3 - b3, b3 - e3


@njit(parallel=True, cache=True)
def _output_transform(m, bias, y, th, tw):
    """y[n, o, 2a + i, 2b + j] = bias[o] + (A^T M[., o, t] A)[i, j] (i, j < 2, inside the output)."""
    n_img, n_out, oh, ow = y.shape
    for task in prange(n_img * n_out):
        n, o = task // n_out, task % n_out
        bo = bias[o]
        for a in range(th):
            base = (n * th + a) * tw
            for b in range(tw):
                t = base + b
                s00 = m[0, o, t] + m[4, o, t] + m[8, o, t]          # A^T M, rows 0 and 1
                s01 = m[1, o, t] + m[5, o, t] + m[9, o, t]
                s02 = m[2, o, t] + m[6, o, t] + m[10, o, t]
                s03 = m[3, o, t] + m[7, o, t] + m[11, o, t]
                s10 = m[4, o, t] - m[8, o, t] - m[12, o, t]
                s11 = m[5, o, t] - m[9, o, t] - m[13, o, t]
                s12 = m[6, o, t] - m[10, o, t] - m[14, o, t]
                s13 = m[7, o, t] - m[11, o, t] - m[15, o, t]
                r, q = 2 * a, 2 * b
                y[n, o, r, q] = bo + s00 + s01 + s02
                if q + 1 < ow:
                    y[n, o, r, q + 1] = bo + s01 - s02 - s03
                if r + 1 < oh:
                    y[n, o, r + 1, q] = bo + s10 + s11 + s12
                    if q + 1 < ow:
                        y[n, o, r + 1, q + 1] = bo + s11 - s12 - s13


@njit(parallel=True, cache=True)
def _grad_output_transform(gy, dm, th, tw):
    """dm[xi, o, t] = (A gY A^T)[xi], gY the 2x2 block of gy at (2a, 2b) with zeros past the output."""
    n_img, n_out = gy.shape[0], gy.shape[1]
    for task in prange(n_img * n_out):
        n, o = task // n_out, task % n_out
        g = np.empty((2, 2 * tw), dtype=gy.dtype)
        for a in range(th):
            _padded_rows(gy[n, o], 2 * a, 0, g)
            base = (n * th + a) * tw
            for b in range(tw):
                t = base + b
                g00, g01, g10, g11 = g[0, 2 * b], g[0, 2 * b + 1], g[1, 2 * b], g[1, 2 * b + 1]
                # u = A gY (4 x 2), rows: g0, g0 + g1, g0 - g1, -g1 (g0, g1 the rows of gY);
                # then u A^T, columns: u0, u0 + u1, u0 - u1, -u1
                u0, u1 = g00, g01
                dm[0, o, t], dm[1, o, t], dm[2, o, t], dm[3, o, t] = u0, u0 + u1, u0 - u1, -u1
                u0, u1 = g00 + g10, g01 + g11
                dm[4, o, t], dm[5, o, t], dm[6, o, t], dm[7, o, t] = u0, u0 + u1, u0 - u1, -u1
                u0, u1 = g00 - g10, g01 - g11
                dm[8, o, t], dm[9, o, t], dm[10, o, t], dm[11, o, t] = u0, u0 + u1, u0 - u1, -u1
                u0, u1 = -g10, -g11
                dm[12, o, t], dm[13, o, t], dm[14, o, t], dm[15, o, t] = u0, u0 + u1, u0 - u1, -u1


@njit(parallel=True, cache=True)
def _input_grad_transform(dv, gx, pt, pl, th, tw):
    """gx[n, c] = sum over tiles of B dV[., c, t] B^T at the tile's block (overlaps summed, padding cropped)."""
    n_img, n_ch, h, w = gx.shape
    for task in prange(n_img * n_ch):
        n, c = task // n_ch, task % n_ch
        acc = np.zeros((2 * th + 2, 2 * tw + 2), dtype=gx.dtype)     # the padded grid of this plane
        for a in range(th):
            base = (n * th + a) * tw
            for b in range(tw):
                t = base + b
                for k in range(4):                                   # column k of B dV (rows of B)
                    e0, e1, e2, e3 = dv[k, c, t], dv[4 + k, c, t], dv[8 + k, c, t], dv[12 + k, c, t]
                    p0, p1, p2, p3 = e0, e1 - e2 + e3, e1 + e2 - e0, -e3
                    if k == 0:
                        a0, a1, a2, a3 = p0, p1, p2, p3
                    elif k == 1:
                        b0, b1, b2, b3 = p0, p1, p2, p3
                    elif k == 2:
                        c0, c1, c2, c3 = p0, p1, p2, p3
                    else:
                        f0, f1, f2, f3 = p0, p1, p2, p3
                r, q = 2 * a, 2 * b                                   # rows i of (B dV) B^T
                acc[r, q] += a0
                acc[r, q + 1] += b0 - c0 + f0
                acc[r, q + 2] += b0 + c0 - a0
                acc[r, q + 3] -= f0
                acc[r + 1, q] += a1
                acc[r + 1, q + 1] += b1 - c1 + f1
                acc[r + 1, q + 2] += b1 + c1 - a1
                acc[r + 1, q + 3] -= f1
                acc[r + 2, q] += a2
                acc[r + 2, q + 1] += b2 - c2 + f2
                acc[r + 2, q + 2] += b2 + c2 - a2
                acc[r + 2, q + 3] -= f2
                acc[r + 3, q] += a3
                acc[r + 3, q + 1] += b3 - c3 + f3
                acc[r + 3, q + 2] += b3 + c3 - a3
                acc[r + 3, q + 3] -= f3
        for i in range(h):              # crop: input pixel (i, j) is grid point (i + pt, j + pl), always inside
            for j in range(w):
                gx[n, c, i, j] = acc[i + pt, j + pl]


@njit(parallel=True, cache=True)
def _kernel_transform(w, u):
    """u[4r + k, o, c] = (G w[o, c] G^T)[r, k]: G's rows are g0, (g0 + g1 + g2)/2, (g0 - g1 + g2)/2, g2."""
    n_out, n_in = w.shape[0], w.shape[1]
    half = w.dtype.type(0.5)
    for o in prange(n_out):
        gw = np.empty((4, 3), dtype=w.dtype)
        for c in range(n_in):
            for j in range(3):                                       # G w: rows of the 4 x 3 product
                w0, w1, w2 = w[o, c, 0, j], w[o, c, 1, j], w[o, c, 2, j]
                gw[0, j], gw[1, j], gw[2, j], gw[3, j] = w0, (w0 + w1 + w2) * half, (w0 - w1 + w2) * half, w2
            for r in range(4):                                       # (G w) G^T
                e0, e1, e2 = gw[r, 0], gw[r, 1], gw[r, 2]
                u[4 * r, o, c] = e0
                u[4 * r + 1, o, c] = (e0 + e1 + e2) * half
                u[4 * r + 2, o, c] = (e0 - e1 + e2) * half
                u[4 * r + 3, o, c] = e2


@njit(parallel=True, cache=True)
def _kernel_grad(du, gw):
    """gw[o, c] = G^T dU[., o, c] G (4 x 4 -> 3 x 3).
    G^T's rows: (1, 1/2, 1/2, 0), (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1)."""
    n_out, n_in = gw.shape[0], gw.shape[1]
    half = du.dtype.type(0.5)
    for o in prange(n_out):
        p = np.empty((3, 4), dtype=du.dtype)
        for c in range(n_in):
            for k in range(4):                                       # G^T dU, column k
                e0, e1, e2, e3 = du[k, o, c], du[4 + k, o, c], du[8 + k, o, c], du[12 + k, o, c]
                p[0, k] = e0 + (e1 + e2) * half
                p[1, k] = (e1 - e2) * half
                p[2, k] = (e1 + e2) * half + e3
            for i in range(3):                                       # (G^T dU) G
                e0, e1, e2, e3 = p[i, 0], p[i, 1], p[i, 2], p[i, 3]
                gw[o, c, i, 0] = e0 + (e1 + e2) * half
                gw[o, c, i, 1] = (e1 - e2) * half
                gw[o, c, i, 2] = (e1 + e2) * half + e3
