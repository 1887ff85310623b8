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
The transforms are Numba loops, one item per (image, channel) (per output channel for the kernel's), run
by ``numba_launch.py``'s parallel driver as the direct convolution's kernels are, so that a fresh install
compiles each in a fraction of a second (about 3 s for all six); the 16 products are NumPy batched matmuls.
The (16, C, T) arrays come from and go back to the buffer pool (``cols_pool.py``: a fresh 50 MB array costs
more in page faults than the transform that fills it); ``release`` hands back U and V once the backward ran.
"""
from __future__ import annotations

import numpy as np
from numba import carray, njit

from .blas import matmul
from .cols_pool import release_cols, take
from .numba_launch import ParallelKernel

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
    _run(_KERNEL, w.shape[0], w, u, dims=_dims((0, w.shape[1], 0, 0), w.shape))
    return u


def kernel_grad(du, w_shape):
    """gw (Cout, C, 3, 3) = G^T dU G, the adjoint of ``kernel_transform``."""
    gw = np.empty(w_shape, dtype=du.dtype)
    _run(_KERNEL_GRAD, w_shape[0], du, gw, dims=_dims((0, w_shape[1], 0, 0), w_shape))
    return gw


def winograd_forward(x, w, b, padding):
    """y (N, Cout, OH, OW) and what the backward needs (U, V)."""
    n, c, h, wd = x.shape
    oh, ow, th, tw = _tiles(x.shape, padding)
    u = kernel_transform(w)
    v = _buffer((16, c, n * th * tw), x.dtype)
    dims = _dims(x.shape, w.shape, padding)
    _run(_INPUT, n * c, x, v, dims=dims)
    m = matmul(u, v, out=_buffer((16, w.shape[0], v.shape[2]), x.dtype))     # (16, Cout, T)
    y = np.empty((n, w.shape[0], oh, ow), dtype=x.dtype)
    bias = np.zeros(w.shape[0], x.dtype) if b is None else b
    _run(_OUTPUT, n * w.shape[0], m, bias, y, dims=dims)
    release_cols(m)
    return y, u, v


def winograd_backward(gy, u, v, x_shape, w_shape, padding, need_x=True, need_w=True):
    """(gx, gw) of ``winograd_forward`` (None for the one not needed); gb is gy's sum, left to the caller."""
    n, cout, oh, ow = gy.shape
    _, _, th, tw = _tiles(x_shape, padding)
    dm = _buffer((16, cout, n * th * tw), gy.dtype)
    dims = _dims(x_shape, w_shape, padding)
    _run(_GRAD_OUTPUT, n * cout, gy, dm, dims=dims)
    gw = kernel_grad(matmul(dm, v.transpose(0, 2, 1)), w_shape) if need_w else None
    gx = None
    if need_x:
        dv = matmul(u.transpose(0, 2, 1), dm, out=_buffer(v.shape, gy.dtype))      # (16, C, T)
        gx = np.empty(x_shape, dtype=gy.dtype)
        _run(_INPUT_GRAD, n * x_shape[1], dv, gx, dims=dims)
        release_cols(dv)
    release_cols(dm)
    return gx, gw


def release(v) -> None:
    """Hand the forward's transformed input V back to the pool (call once nothing refers to it)."""
    release_cols(v)


def _dims(x_shape=(0, 0, 0, 0), w_shape=(0, 0, 3, 3), padding=(0, 0, 0, 0)):
    """The sizes every item function reads (indices D_*)."""
    oh, ow, th, tw = _tiles(x_shape, padding)
    return np.array([*x_shape, w_shape[0], th, tw, padding[0], padding[2], oh, ow], dtype=np.int64)


def _run(kernel, n_items, *arrays, dims):
    """kernel(n_items, ...) with the unused float slots filled (one driver signature for every kernel)."""
    empty = np.empty(0, arrays[0].dtype)
    floats = [np.ascontiguousarray(a) for a in arrays] + [empty] * (7 - len(arrays))
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
D_N, D_C, D_H, D_W, D_COUT, D_TH, D_TW, D_PT, D_PL, D_OH, D_OW = range(11)


@njit(inline="always")
def _zero_of(p):
    return carray(p, (0,)).dtype.type(0)


@njit(inline="always")
def _load(p, row, q, w, valid, zero):
    """p[row + q] when the row is valid and 0 <= q < w, else 0 (the zero padding)."""
    return p[row + q] if valid and 0 <= q < w else zero


def _input_item(x, v, _f3, _f4, _f5, _f6, _f7, _i32, d, item):
    """v[xi, c, t] = (B^T d B)[xi], d the 4x4 block of image n at padded (2a, 2b); item = n*C + c."""
    zero = _zero_of(x)
    n_ch, h, w, th, tw, pt, pl = d[D_C], d[D_H], d[D_W], d[D_TH], d[D_TW], d[D_PT], d[D_PL]
    n, c = item // n_ch, item % n_ch
    n_t = d[D_N] * th * tw
    plane = item * h * w
    for a in range(th):
        r0 = 2 * a - pt
        rows = (plane + r0 * w, plane + (r0 + 1) * w, plane + (r0 + 2) * w, plane + (r0 + 3) * w)
        ok0, ok1, ok2, ok3 = 0 <= r0 < h, 0 <= r0 + 1 < h, 0 <= r0 + 2 < h, 0 <= r0 + 3 < h
        for b in range(tw):
            q0 = 2 * b - pl
            t = (n * th + a) * tw + b
            o = c * n_t + t                       # v[0, c, t]; v[xi, c, t] is o + xi * C * T
            step = n_ch * n_t
            for k in range(4):                    # column k of B^T d: t0..t3 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                q = q0 + k
                d0 = _load(x, rows[0], q, w, ok0, zero)
                d1 = _load(x, rows[1], q, w, ok1, zero)
                d2 = _load(x, rows[2], q, w, ok2, zero)
                d3 = _load(x, rows[3], q, w, ok3, zero)
                if k == 0:
                    a0, a1, a2, a3 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                elif k == 1:
                    b0, b1, b2, b3 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                elif k == 2:
                    c0, c1, c2, c3 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
                else:
                    e0, e1, e2, e3 = d0 - d2, d1 + d2, d2 - d1, d1 - d3
            # row r of (B^T d) B from the columns (a, b, c, e): a - c, b + c, c - b, b - e
            v[o], v[o + step], v[o + 2 * step], v[o + 3 * step] = a0 - c0, b0 + c0, c0 - b0, b0 - e0
            o += 4 * step
            v[o], v[o + step], v[o + 2 * step], v[o + 3 * step] = a1 - c1, b1 + c1, c1 - b1, b1 - e1
            o += 4 * step
            v[o], v[o + step], v[o + 2 * step], v[o + 3 * step] = a2 - c2, b2 + c2, c2 - b2, b2 - e2
            o += 4 * step
            v[o], v[o + step], v[o + 2 * step], v[o + 3 * step] = a3 - c3, b3 + c3, c3 - b3, b3 - e3


def _output_item(m, bias, y, _f4, _f5, _f6, _f7, _i32, d, item):
    """y[n, o, 2a + i, 2b + j] = bias[o] + (A^T M[., o, t] A)[i, j] inside the output; item = n*Cout + o."""
    n_out, th, tw, oh, ow = d[D_COUT], d[D_TH], d[D_TW], d[D_OH], d[D_OW]
    n, o = item // n_out, item % n_out
    n_t = d[D_N] * th * tw
    step = n_out * n_t
    bo = bias[o]
    plane = item * oh * ow
    for a in range(th):
        for b in range(tw):
            p = o * n_t + (n * th + a) * tw + b   # m[0, o, t]
            m00, m01, m02, m03 = m[p], m[p + step], m[p + 2 * step], m[p + 3 * step]
            p += 4 * step
            m10, m11, m12, m13 = m[p], m[p + step], m[p + 2 * step], m[p + 3 * step]
            p += 4 * step
            m20, m21, m22, m23 = m[p], m[p + step], m[p + 2 * step], m[p + 3 * step]
            p += 4 * step
            m30, m31, m32, m33 = m[p], m[p + step], m[p + 2 * step], m[p + 3 * step]
            s00, s01, s02, s03 = m00 + m10 + m20, m01 + m11 + m21, m02 + m12 + m22, m03 + m13 + m23   # A^T M
            s10, s11, s12, s13 = m10 - m20 - m30, m11 - m21 - m31, m12 - m22 - m32, m13 - m23 - m33
            r, q = 2 * a, 2 * b
            top = plane + r * ow + q
            y[top] = bo + s00 + s01 + s02                                                         # (A^T M) A
            if q + 1 < ow:
                y[top + 1] = bo + s01 - s02 - s03
            if r + 1 < oh:
                y[top + ow] = bo + s10 + s11 + s12
                if q + 1 < ow:
                    y[top + ow + 1] = bo + s11 - s12 - s13


def _grad_output_item(gy, dm, _f3, _f4, _f5, _f6, _f7, _i32, d, item):
    """dm[xi, o, t] = (A gY A^T)[xi], gY the 2x2 block of gy at (2a, 2b), zeros past the output; item = n*Cout + o."""
    zero = _zero_of(gy)
    n_out, th, tw, oh, ow = d[D_COUT], d[D_TH], d[D_TW], d[D_OH], d[D_OW]
    n, o = item // n_out, item % n_out
    n_t = d[D_N] * th * tw
    step = n_out * n_t
    plane = item * oh * ow
    for a in range(th):
        r = 2 * a
        ok1 = r + 1 < oh
        for b in range(tw):
            q = 2 * b
            g00 = gy[plane + r * ow + q]
            g01 = _load(gy, plane + r * ow, q + 1, ow, True, zero)
            g10 = _load(gy, plane + (r + 1) * ow, q, ow, ok1, zero)
            g11 = _load(gy, plane + (r + 1) * ow, q + 1, ow, ok1, zero)
            p = o * n_t + (n * th + a) * tw + b
            # u = A gY, rows: g0, g0 + g1, g0 - g1, -g1; then u A^T, columns: u0, u0 + u1, u0 - u1, -u1
            u0, u1 = g00, g01
            dm[p], dm[p + step], dm[p + 2 * step], dm[p + 3 * step] = u0, u0 + u1, u0 - u1, -u1
            p += 4 * step
            u0, u1 = g00 + g10, g01 + g11
            dm[p], dm[p + step], dm[p + 2 * step], dm[p + 3 * step] = u0, u0 + u1, u0 - u1, -u1
            p += 4 * step
            u0, u1 = g00 - g10, g01 - g11
            dm[p], dm[p + step], dm[p + 2 * step], dm[p + 3 * step] = u0, u0 + u1, u0 - u1, -u1
            p += 4 * step
            u0, u1 = -g10, -g11
            dm[p], dm[p + step], dm[p + 2 * step], dm[p + 3 * step] = u0, u0 + u1, u0 - u1, -u1


def _input_grad_item(dv, gx, _f3, _f4, _f5, _f6, _f7, _i32, d, item):
    """gx[n, c] = the sum over tiles of B dV[., c, t] B^T at the tile's block, cropped to the input (the
    padding's share is dropped); item = n*C + c, which alone writes plane (n, c)."""
    zero = _zero_of(gx)
    n_ch, h, w, th, tw, pt, pl = d[D_C], d[D_H], d[D_W], d[D_TH], d[D_TW], d[D_PT], d[D_PL]
    n, c = item // n_ch, item % n_ch
    n_t = d[D_N] * th * tw
    step = n_ch * n_t
    plane = item * h * w
    for i in range(h * w):
        gx[plane + i] = zero
    for a in range(th):
        r0 = 2 * a - pt
        for b in range(tw):
            q0 = 2 * b - pl
            p = c * n_t + (n * th + a) * tw + b
            for k in range(4):                    # column k of B dV: rows of B (p0 = e0, p1 = e1 - e2 + e3, ...)
                e0, e1, e2, e3 = dv[p + k * step], dv[p + (4 + k) * step], dv[p + (8 + k) * step], \
                    dv[p + (12 + k) * step]
                if k == 0:
                    a0, a1, a2, a3 = e0, e1 - e2 + e3, e1 + e2 - e0, -e3
                elif k == 1:
                    b0, b1, b2, b3 = e0, e1 - e2 + e3, e1 + e2 - e0, -e3
                elif k == 2:
                    c0, c1, c2, c3 = e0, e1 - e2 + e3, e1 + e2 - e0, -e3
                else:
                    f0, f1, f2, f3 = e0, e1 - e2 + e3, e1 + e2 - e0, -e3
            for i in range(4):                    # row i of (B dV) B^T: a, b - c + f, b + c - a, -f
                r = r0 + i
                if r < 0 or r >= h:
                    continue
                if i == 0:
                    s0, s1, s2, s3 = a0, b0 - c0 + f0, b0 + c0 - a0, -f0
                elif i == 1:
                    s0, s1, s2, s3 = a1, b1 - c1 + f1, b1 + c1 - a1, -f1
                elif i == 2:
                    s0, s1, s2, s3 = a2, b2 - c2 + f2, b2 + c2 - a2, -f2
                else:
                    s0, s1, s2, s3 = a3, b3 - c3 + f3, b3 + c3 - a3, -f3
                row = plane + r * w
                if 0 <= q0 < w:
                    gx[row + q0] += s0
                if 0 <= q0 + 1 < w:
                    gx[row + q0 + 1] += s1
                if 0 <= q0 + 2 < w:
                    gx[row + q0 + 2] += s2
                if 0 <= q0 + 3 < w:
                    gx[row + q0 + 3] += s3


def _kernel_item(w, u, _f3, _f4, _f5, _f6, _f7, _i32, d, item):
    """u[4r + k, o, c] = (G w[o, c] G^T)[r, k] for output channel o = item. G's rows: g0, (g0 + g1 + g2)/2,
    (g0 - g1 + g2)/2, g2 (applied to the kernel's rows, then to the columns of G w)."""
    half = _zero_of(w) + 0.5
    n_out, n_in = d[D_COUT], d[D_C]
    o = item
    step = n_out * n_in
    for c in range(n_in):
        p = (o * n_in + c) * 9
        for j in range(3):                        # G w, column j
            w0, w1, w2 = w[p + j], w[p + 3 + j], w[p + 6 + j]
            if j == 0:
                x0, x1, x2, x3 = w0, (w0 + w1 + w2) * half, (w0 - w1 + w2) * half, w2
            elif j == 1:
                y0, y1, y2, y3 = w0, (w0 + w1 + w2) * half, (w0 - w1 + w2) * half, w2
            else:
                z0, z1, z2, z3 = w0, (w0 + w1 + w2) * half, (w0 - w1 + w2) * half, w2
        q = o * n_in + c                          # u[0, o, c]
        for r in range(4):                        # (G w) G^T, row r from the columns (x, y, z)
            if r == 0:
                e0, e1, e2 = x0, y0, z0
            elif r == 1:
                e0, e1, e2 = x1, y1, z1
            elif r == 2:
                e0, e1, e2 = x2, y2, z2
            else:
                e0, e1, e2 = x3, y3, z3
            base = q + 4 * r * step
            u[base] = e0
            u[base + step] = (e0 + e1 + e2) * half
            u[base + 2 * step] = (e0 - e1 + e2) * half
            u[base + 3 * step] = e2


def _kernel_grad_item(du, gw, _f3, _f4, _f5, _f6, _f7, _i32, d, item):
    """gw[o, c] = G^T dU[., o, c] G for output channel o = item. G^T's rows: (1, 1/2, 1/2, 0),
    (0, 1/2, -1/2, 0), (0, 1/2, 1/2, 1)."""
    half = _zero_of(du) + 0.5
    n_out, n_in = d[D_COUT], d[D_C]
    o = item
    step = n_out * n_in
    for c in range(n_in):
        q = o * n_in + c
        for k in range(4):                        # G^T dU, column k
            e0, e1, e2, e3 = du[q + k * step], du[q + (4 + k) * step], du[q + (8 + k) * step], \
                du[q + (12 + k) * step]
            p0, p1, p2 = e0 + (e1 + e2) * half, (e1 - e2) * half, (e1 + e2) * half + e3
            if k == 0:
                x0, x1, x2 = p0, p1, p2
            elif k == 1:
                y0, y1, y2 = p0, p1, p2
            elif k == 2:
                z0, z1, z2 = p0, p1, p2
            else:
                t0, t1, t2 = p0, p1, p2
        p = q * 9
        for i in range(3):                        # (G^T dU) G, row i from the columns (x, y, z, t)
            if i == 0:
                e0, e1, e2, e3 = x0, y0, z0, t0
            elif i == 1:
                e0, e1, e2, e3 = x1, y1, z1, t1
            else:
                e0, e1, e2, e3 = x2, y2, z2, t2
            gw[p + 3 * i] = e0 + (e1 + e2) * half
            gw[p + 3 * i + 1] = (e1 - e2) * half
            gw[p + 3 * i + 2] = (e1 + e2) * half + e3


_KINDS = ("f", "f", "f", "f", "f", "f", "f", "i32", "i64")


def _kernel(item, attr):
    # compiled here even on a cold start: each takes a fraction of a second (numba_launch.py)
    return ParallelKernel(item, _KINDS, name=f"tinycnn.accel.winograd:{attr}", background=False)


_INPUT = _kernel(_input_item, "_INPUT")
_OUTPUT = _kernel(_output_item, "_OUTPUT")
_GRAD_OUTPUT = _kernel(_grad_output_item, "_GRAD_OUTPUT")
_INPUT_GRAD = _kernel(_input_grad_item, "_INPUT_GRAD")
_KERNEL = _kernel(_kernel_item, "_KERNEL")
_KERNEL_GRAD = _kernel(_kernel_grad_item, "_KERNEL_GRAD")
