r"""Winograd convolution F(4x4, 3x3): the larger-tile variant of ``winograd.py``'s F(2x2, 3x3), for layers
whose output planes are large enough to fill 4x4 tiles.

Why: each 4x4 block of outputs comes from a 6x6 block of inputs with 36 products instead of 144 (im2col) or
64 (four F(2x2) tiles), so the layer's GEMMs spend 36/16 = 2.25 multiply-adds per output and channel pair
instead of 4, and the transformed input V is 36/16 = 2.25x the input's size instead of 4x: less to write,
read and multiply. The price: wider transforms (more additions per value, constants 2, 4, 5, 8) and a
larger float32 rounding error (below).

Derivation (Lavin & Gray 2015, via the Toom-Cook / Chinese-remainder construction). The 1-D F(m, r) with
m = 4 outputs and r = 3 taps, y[i] = sum_u g[u] d[i + u], is the middle of the linear convolution of two
polynomials, computed by evaluating both at m + r - 1 = 6 points, multiplying pointwise and interpolating;
the points here are 0, 1, -1, 2, -2 and infinity (the leading coefficient). For the correlation the roles
transpose: the kernel is evaluated (G), the data is "interpolated-transposed" (B^T) and the products are
"evaluated-transposed" (A^T), giving y = A^T [(G g) * (B^T d)]. With the points p = (0, 1, -1, 2, -2):

    A^T[i, k] = p_k^i for the five finite points, and column 5 = (0, 0, 0, 1) (infinity picks the top power):
    A^T = [[1, 1,  1, 1,  1, 0],
           [0, 1, -1, 2, -2, 0],
           [0, 1,  1, 4,  4, 0],
           [0, 1, -1, 8, -8, 1]]                                                              (4, 6)

    G[k] = (g0 + g1 p_k + g2 p_k^2) / N_k, with N_k = prod_{j != k} (p_k - p_j) = 4, -6, -6, 24, 24 the
    Lagrange denominators, and the row for infinity is g2:
    G = [[ 1/4,     0,    0],
         [-1/6,  -1/6, -1/6],
         [-1/6,   1/6, -1/6],
         [1/24,  1/12,  1/6],
         [1/24, -1/12,  1/6],
         [   0,     0,    1]]                                                                 (6, 3)

    With M(x) = x (x^2 - 1)(x^2 - 4) = x^5 - 5 x^3 + 4 x, the product of (x - p_j) over the finite points,
    B^T's row k holds the coefficients (ascending powers) of M(x) / (x - p_k), and the last row, infinity's,
    those of M(x) itself:
    B^T = [[4,  0, -5,  0, 1, 0],
           [0, -4, -4,  1, 1, 0],
           [0,  4, -4, -1, 1, 0],
           [0, -2, -1,  2, 1, 0],
           [0,  2, -1, -2, 1, 0],
           [0,  4,  0, -5, 0, 1]]                                                             (6, 6)

(tests check A^T [(G g) * (B^T d)] against the direct correlation for random g, d, to rounding). Nesting the
1-D algorithm along rows and columns gives the 2-D one, Y = A^T [(G g G^T) * (B^T d B)] A for the 6x6 block
d at (4a, 4b) and the 4x4 outputs Y at (4a, 4b). Over the layer, with 36 positions xi = (r, k):

    M[xi] = U[xi] @ V[xi]     (Cout, C) @ (C, T),    U = G g G^T,  V = B^T d B,   y[tile] = A^T M[., tile] A

Backward: every step is linear, so the gradient runs the adjoints (transposes) in reverse, exactly as in
``winograd.py``: dM = A gY A^T (gY the 4x4 block of gy, zeros past the edge), dU = dM V^T,
gw = G^T dU G, dV = U^T dM, gd = B dV B^T summed over the overlapping 6x6 blocks and cropped to the input.

Numerics. The data transform multiplies by up to 5 and the output one by up to 8, and G's fractions
(1/6, 1/12, 1/24) are inexact in binary, so a float32 F(4x4) result carries a larger rounding error than
F(2x2)'s or im2col's. Measured on 64-channel 14x14 and 32x32 layers with unit-variance data, relative to the
result's largest magnitude: F(4x4) 3e-6 to 7e-6 for the output and both gradients, F(2x2) and im2col 2e-7
to 8e-7; the tests bound F(4x4)'s by 3e-5 against im2col and a float64 reference. float64 matches im2col to
1e-12 relative.

Which layers. F(4x4) pays when its tiles are filled: its transforms read and write 6x6 blocks per 4x4
outputs, with more arithmetic per value than F(2x2)'s, and the GEMM saving shrinks where the plane is not a
multiple of 4 (a 14x14 plane: 0.73x F(2x2)'s multiply-adds, not 0.56x). ``f4_applies`` gives the rule and
its measured basis: among VGG-CIFAR's and ResNet-18's planes F(4x4) takes 56, 32, 28, 16 and 8, F(2x2)
keeps 14, 7 and smaller. Whole training steps (``benchmarks/workloads.py --mode train``, one thread, two
runs, against F(2x2) alone): vgg_cifar 0.97-0.98x the time (its convolutions 0.84x, ``--profile``) and
0.80x the step memory; resnet18_224 0.6-0.94x the time (noisy) and 0.94x the memory. The environment
variable ``TINYCNN_WINOGRAD_F4=0`` (read at import) turns F(4x4) off, for A/B measurements of whole models.

Layout and workspace are ``winograd.py``'s: V (36, C, T), M (36, Cout, T), U (36, Cout, C), T = N TH TW with
TH x TW = ceil(OH/4) x ceil(OW/4) tiles; the same pooled buffers, item drivers and item signature.
"""
from __future__ import annotations

import os

import numpy as np
from numba import njit

from . import winograd as f2
from .blas import matmul
from .cols_pool import release_cols
from .numba_launch import ParallelKernel
from .winograd import (D_C, D_COUT, D_H, D_N, D_OH, D_OW, D_PER, D_PL, D_PT, D_TH, D_TW, D_W, _buffer, _channels,
                       _run, _run_planes, _scratch, _zero_of)

BT = np.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
               [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=float)
G = np.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
              [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]])
AT = np.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]], dtype=float)

MIN_F4_OUTPUT = 8        # output rows and columns at least: below, too few tiles per plane
MAX_MULTIPLIES = 0.6     # F(4x4)'s GEMM multiply-adds over F(2x2)'s, edge tiles included, at most
MIN_F4_CHANNELS = 64
ENABLED = os.environ.get("TINYCNN_WINOGRAD_F4", "1") != "0"


def f4_applies(x_shape, padding) -> bool:
    """For a layer ``winograd.winograd_applies`` takes: whether F(4x4) runs it rather than F(2x2). Its GEMMs
    spend 36 TH TW multiply-adds per channel pair against F(2x2)'s 16 TH' TW' (TH' x TW' the 2x2 tiles):
    0.5625 where 4 divides the output's sides, 0.73 on a 14x14 plane, whose 4x4 tiles waste 2 of 16 rows
    and columns. Measured on one thread (``benchmarks/winograd_bench.py``, four runs, forward + backward,
    F(4x4) over F(2x2)): 0.78-0.82x on 64 x 32x32, 0.86-0.95x on 128 x 16x16, 0.81-0.93x on 256 x 8x8 (batch
    64), 0.77-0.89x on 64 x 56x56 (one outlier run), 0.81-0.87x on 128 x 28x28 (batch 16); 1.06-1.18x on
    256 x 14x14 and 0.93-1.10x on 512 x 7x7. With fewer input channels the GEMMs are small beside the
    transforms, which cost more per value in F(4x4): PyTorch's MNIST example net (32 -> 64 channels, 24x24
    outputs, batch 64) took 1.05-1.17x as long a training step with F(4x4) (two threads, alternating steps
    of one process, three runs). Hence: F(4x4) where the ratio is at most ``MAX_MULTIPLIES``, the plane at
    least ``MIN_F4_OUTPUT`` on each side and the input has at least ``MIN_F4_CHANNELS`` channels."""
    oh, ow, th, tw = f2._tiles(x_shape, padding)
    if not ENABLED or min(oh, ow) < MIN_F4_OUTPUT or x_shape[1] < MIN_F4_CHANNELS:
        return False
    return 36 * ((oh + 3) // 4) * ((ow + 3) // 4) <= MAX_MULTIPLIES * 16 * th * tw


def winograd_forward(x, w, b, padding):
    """y and U as ``winograd.winograd_forward``, by F(4x4) where ``f4_applies`` says so, else by F(2x2)."""
    if not f4_applies(x.shape, padding):
        return f2.winograd_forward(x, w, b, padding)
    n = x.shape[0]
    dims = _dims(x.shape, w.shape, padding)
    u = kernel_transform(w)
    v = _input_transform(x, dims)
    m = matmul(u, v, out=_buffer((36, w.shape[0], v.shape[2]), x.dtype))     # (36, Cout, T)
    release_cols(v)
    y = np.empty((n, w.shape[0], int(dims[D_OH]), int(dims[D_OW])), dtype=x.dtype)
    bias = np.zeros(w.shape[0], x.dtype) if b is None else b
    _run_planes(_OUTPUT, w.shape[0], m, bias, y, dims=dims, scratch=24 * int(dims[D_TW]))
    release_cols(m)
    return y, u


def winograd_backward(gy, u, x, w_shape, padding, need_x=True, need_w=True):
    """(gx, gw) of ``winograd_forward``: U's 36 or 16 positions tell which variant made it."""
    if u.shape[0] != 36:
        return f2.winograd_backward(gy, u, x, w_shape, padding, need_x, need_w)
    n, cout = gy.shape[:2]
    dims = _dims(x.shape, w_shape, padding)
    tw = int(dims[D_TW])
    dm = _buffer((36, cout, n * int(dims[D_TH]) * tw), gy.dtype)
    _run_planes(_GRAD_OUTPUT, cout, gy, dm, dims=dims, scratch=6 * 4 * tw)
    gw = gx = None
    if need_w:
        v = _input_transform(x, dims)                           # again, as winograd.py's backward does
        gw = kernel_grad(matmul(dm, v.transpose(0, 2, 1)), w_shape)
        release_cols(v)
    if need_x:
        dv = matmul(u.transpose(0, 2, 1), dm, out=_buffer((36, x.shape[1], dm.shape[2]), gy.dtype))
        gx = np.empty(x.shape, dtype=gy.dtype)
        _run_planes(_INPUT_GRAD, x.shape[1], dv, gx, dims=dims, scratch=6 * (4 * tw + 2))
        release_cols(dv)
    release_cols(dm)
    return gx, gw


def kernel_transform(w):
    """U (36, Cout, C) = G g G^T for every channel pair, in w's dtype."""
    u = np.empty((36, w.shape[0], w.shape[1]), dtype=w.dtype)
    _run(_KERNEL, w.shape[0], w, u, dims=_dims((0, w.shape[1], 0, 0), w.shape), scratch=18 * w.shape[1])
    return u


def kernel_grad(du, w_shape):
    """gw (Cout, C, 3, 3) = G^T dU G, the adjoint of ``kernel_transform``."""
    gw = np.empty(w_shape, dtype=du.dtype)
    _run(_KERNEL_GRAD, w_shape[0], du, gw, dims=_dims((0, w_shape[1], 0, 0), w_shape), scratch=18 * w_shape[1])
    return gw


def _dims(x_shape=(0, 0, 0, 0), w_shape=(0, 0, 3, 3), padding=(0, 0, 0, 0)):
    """``winograd._dims`` with the tile counts of 4x4 output tiles."""
    dims = f2._dims(x_shape, w_shape, padding)
    dims[D_TH], dims[D_TW] = (dims[D_OH] + 3) // 4, (dims[D_OW] + 3) // 4
    return dims


def _input_transform(x, dims):
    """V (36, C, T) of x, in a pooled buffer (hand it back with ``release_cols``)."""
    n, c = x.shape[0], x.shape[1]
    v = _buffer((36, c, n * int(dims[D_TH]) * int(dims[D_TW])), x.dtype)
    _run_planes(_INPUT, c, x, v, dims=dims, scratch=6 * (4 * int(dims[D_TW]) + 2))
    return v


# ---- the 1-D transforms: one home for each matrix's coefficients ----------------------------------------------
# Integer factors are sums (x + x for 2x: exact, and it keeps float32 data in float32, where Numba would
# promote ``2 * x`` to float64); G's fractions come in the data's dtype from the caller (``_fractions``).
@njit(inline="always")
def _x2(x):
    return x + x


@njit(inline="always")
def _x4(x):
    return _x2(_x2(x))


@njit(inline="always")
def _bt(d0, d1, d2, d3, d4, d5):
    """B^T d."""
    return (_x4(d0 - d2) - d2 + d4, d3 + d4 - _x4(d1 + d2), _x4(d1 - d2) + d4 - d3,
            _x2(d3 - d1) + d4 - d2, _x2(d1 - d3) + d4 - d2, _x4(d1 - d3) - d3 + d5)


@njit(inline="always")
def _b(v0, v1, v2, v3, v4, v5):
    """B v, the adjoint of ``_bt``."""
    return (_x4(v0), _x4(v2 - v1 + v5) + _x2(v4 - v3), -_x4(v0 + v1 + v2) - v0 - v3 - v4,
            v1 - v2 + _x2(v3 - v4) - _x4(v5) - v5, v0 + v1 + v2 + v3 + v4, v5)


@njit(inline="always")
def _at(m0, m1, m2, m3, m4, m5):
    """A^T m."""
    p, q, r, s = m1 + m2, m1 - m2, m3 + m4, m3 - m4
    return m0 + p + r, q + _x2(s), p + _x4(r), q + _x4(_x2(s)) + m5


@njit(inline="always")
def _a(g0, g1, g2, g3):
    """A g, the adjoint of ``_at``."""
    e, o = g0 + g2, g1 + g3
    e4, o2 = g0 + _x4(g2), _x2(g1 + _x4(g3))
    return g0, e + o, e - o, e4 + o2, e4 - o2, g3


@njit(inline="always")
def _fractions(zero):
    """1/4, 1/6, 1/12, 1/24 in zero's dtype."""
    return zero + 0.25, zero + 1 / 6, zero + 1 / 12, zero + 1 / 24


@njit(inline="always")
def _g(w0, w1, w2, f):
    """G w, f = ``_fractions``."""
    s, t = (w0 + w2) * f[1], w1 * f[1]
    e = w0 * f[3] + w2 * f[1]
    h = w1 * f[2]
    return w0 * f[0], -(s + t), t - s, e + h, e - h, w2


@njit(inline="always")
def _gt(e0, e1, e2, e3, e4, e5, f):
    """G^T e, the adjoint of ``_g``."""
    p, q = e1 + e2, e3 + e4
    return e0 * f[0] - p * f[1] + q * f[3], (e2 - e1) * f[1] + (e3 - e4) * f[2], (q - p) * f[1] + e5


# ---- the transforms, one item each (winograd.py's signature and flat layouts) -------------------------------
def _input_item(x, v, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """v[6r + k, c, t] = (B^T d B)[r, k], d the 6x6 block of image n at padded (4a, 4b), for image n and a
    block of channels. Per tile row, s[r, q] = (B^T d)[r] of every column q of the six input rows (neighbouring
    tiles share two columns), then B per tile from s[r, 4b .. 4b + 5]."""
    zero = _zero_of(x)
    n_ch, h, w, th, tw, pt, pl = d[D_C], d[D_H], d[D_W], d[D_TH], d[D_TW], d[D_PT], d[D_PL]
    n, c0, c1 = _channels(item, n_ch, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_ch * n_t
    span = 4 * tw + 2
    s = _scratch(ws, item, 6, span)
    for c in range(c0, c1):
        plane = (n * n_ch + c) * h * w
        for a in range(th):
            r0 = 4 * a - pt
            for q in range(span):
                col = q - pl
                inside = 0 <= col < w
                d0 = x[plane + r0 * w + col] if inside and 0 <= r0 < h else zero
                d1 = x[plane + (r0 + 1) * w + col] if inside and 0 <= r0 + 1 < h else zero
                d2 = x[plane + (r0 + 2) * w + col] if inside and 0 <= r0 + 2 < h else zero
                d3 = x[plane + (r0 + 3) * w + col] if inside and 0 <= r0 + 3 < h else zero
                d4 = x[plane + (r0 + 4) * w + col] if inside and 0 <= r0 + 4 < h else zero
                d5 = x[plane + (r0 + 5) * w + col] if inside and 0 <= r0 + 5 < h else zero
                s[0, q], s[1, q], s[2, q], s[3, q], s[4, q], s[5, q] = _bt(d0, d1, d2, d3, d4, d5)
            o = c * n_t + (n * th + a) * tw                   # v[0, c, t] of the row's first tile
            for r in range(6):         # one loop per entry: one store stream each, which LLVM vectorises
                p0 = o + 6 * r * step
                e = s[r]
                for b in range(tw):
                    v[p0 + b] = _bt(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3], e[4 * b + 4], e[4 * b + 5])[0]
                for b in range(tw):
                    v[p0 + step + b] = _bt(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3], e[4 * b + 4],
                                           e[4 * b + 5])[1]
                for b in range(tw):
                    v[p0 + 2 * step + b] = _bt(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3], e[4 * b + 4],
                                               e[4 * b + 5])[2]
                for b in range(tw):
                    v[p0 + 3 * step + b] = _bt(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3], e[4 * b + 4],
                                               e[4 * b + 5])[3]
                for b in range(tw):
                    v[p0 + 4 * step + b] = _bt(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3], e[4 * b + 4],
                                               e[4 * b + 5])[4]
                for b in range(tw):
                    v[p0 + 5 * step + b] = _bt(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3], e[4 * b + 4],
                                               e[4 * b + 5])[5]


def _output_item(m, bias, y, _f4, _f5, _f6, ws, _i32, d, item):
    """y[n, o, 4a + i, 4b + j] = bias[o] + (A^T M[., o, t] A)[i, j] inside the output, for image n and a
    block of output channels. Per tile row, s[6i + k, b] = (A^T M)[i, k] of tile b, then the four output rows."""
    n_out, th, tw, oh, ow = d[D_COUT], d[D_TH], d[D_TW], d[D_OH], d[D_OW]
    n, c0, c1 = _channels(item, n_out, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_out * n_t
    s = _scratch(ws, item, 24, tw)
    for o in range(c0, c1):
        plane = (n * n_out + o) * oh * ow
        bo = bias[o]
        for a in range(th):
            p = o * n_t + (n * th + a) * tw                   # m[0, o, t] of the row's first tile
            for k in range(6):         # one loop per entry (one store stream each)
                q0 = p + k * step
                q1, q2, q3, q4, q5 = q0 + 6 * step, q0 + 12 * step, q0 + 18 * step, q0 + 24 * step, q0 + 30 * step
                for b in range(tw):
                    s[k, b] = _at(m[q0 + b], m[q1 + b], m[q2 + b], m[q3 + b], m[q4 + b], m[q5 + b])[0]
                for b in range(tw):
                    s[6 + k, b] = _at(m[q0 + b], m[q1 + b], m[q2 + b], m[q3 + b], m[q4 + b], m[q5 + b])[1]
                for b in range(tw):
                    s[12 + k, b] = _at(m[q0 + b], m[q1 + b], m[q2 + b], m[q3 + b], m[q4 + b], m[q5 + b])[2]
                for b in range(tw):
                    s[18 + k, b] = _at(m[q0 + b], m[q1 + b], m[q2 + b], m[q3 + b], m[q4 + b], m[q5 + b])[3]
            for i in range(4):
                r = 4 * a + i
                if r >= oh:
                    break
                row = plane + r * ow
                k0 = 6 * i
                e0, e1, e2, e3, e4, e5 = s[k0], s[k0 + 1], s[k0 + 2], s[k0 + 3], s[k0 + 4], s[k0 + 5]
                whole = ow // 4
                for b in range(whole):     # one loop per column of the whole tiles
                    y[row + 4 * b] = bo + _at(e0[b], e1[b], e2[b], e3[b], e4[b], e5[b])[0]
                for b in range(whole):
                    y[row + 4 * b + 1] = bo + _at(e0[b], e1[b], e2[b], e3[b], e4[b], e5[b])[1]
                for b in range(whole):
                    y[row + 4 * b + 2] = bo + _at(e0[b], e1[b], e2[b], e3[b], e4[b], e5[b])[2]
                for b in range(whole):
                    y[row + 4 * b + 3] = bo + _at(e0[b], e1[b], e2[b], e3[b], e4[b], e5[b])[3]
                if whole < tw:             # the last, partial tile's first ow % 4 columns
                    last = _at(e0[whole], e1[whole], e2[whole], e3[whole], e4[whole], e5[whole])
                    for j in range(ow - 4 * whole):
                        y[row + 4 * whole + j] = bo + last[j]


def _grad_output_item(gy, dm, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """dm[6r + k, o, t] = (A gY A^T)[r, k], gY the 4x4 block of gy at (4a, 4b), zeros past the output, for
    image n and a block of output channels. Per tile row, u[r, q] = (A gY)[r] of every column q, then A^T
    per tile from u[r, 4b .. 4b + 3]."""
    zero = _zero_of(gy)
    n_out, th, tw, oh, ow = d[D_COUT], d[D_TH], d[D_TW], d[D_OH], d[D_OW]
    n, c0, c1 = _channels(item, n_out, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_out * n_t
    u = _scratch(ws, item, 6, 4 * tw)
    for o in range(c0, c1):
        plane = (n * n_out + o) * oh * ow
        for a in range(th):
            r = 4 * a
            for q in range(4 * tw):
                inside = q < ow
                g0 = gy[plane + r * ow + q] if inside else zero
                g1 = gy[plane + (r + 1) * ow + q] if inside and r + 1 < oh else zero
                g2 = gy[plane + (r + 2) * ow + q] if inside and r + 2 < oh else zero
                g3 = gy[plane + (r + 3) * ow + q] if inside and r + 3 < oh else zero
                u[0, q], u[1, q], u[2, q], u[3, q], u[4, q], u[5, q] = _a(g0, g1, g2, g3)
            p = o * n_t + (n * th + a) * tw
            for k in range(6):         # one loop per entry (one store stream each)
                p0 = p + 6 * k * step
                e = u[k]
                for b in range(tw):
                    dm[p0 + b] = _a(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3])[0]
                for b in range(tw):
                    dm[p0 + step + b] = _a(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3])[1]
                for b in range(tw):
                    dm[p0 + 2 * step + b] = _a(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3])[2]
                for b in range(tw):
                    dm[p0 + 3 * step + b] = _a(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3])[3]
                for b in range(tw):
                    dm[p0 + 4 * step + b] = _a(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3])[4]
                for b in range(tw):
                    dm[p0 + 5 * step + b] = _a(e[4 * b], e[4 * b + 1], e[4 * b + 2], e[4 * b + 3])[5]


def _input_grad_item(dv, gx, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """gx[n, c] = the sum over tiles of B dV[., c, t] B^T at the tile's 6x6 block, cropped to the input, for
    image n and a block of channels (the item alone writes those planes): ``_input_item``'s adjoint. Per tile
    row, sbar[r, q] collects B's columns of every tile (tiles overlap by two columns), then B spreads each
    column over the six input rows."""
    zero = _zero_of(gx)
    n_ch, h, w, th, tw, pt, pl = d[D_C], d[D_H], d[D_W], d[D_TH], d[D_TW], d[D_PT], d[D_PL]
    n, c0, c1 = _channels(item, n_ch, d[D_PER])
    n_t = d[D_N] * th * tw
    step = n_ch * n_t
    span = 4 * tw + 2
    sbar = _scratch(ws, item, 6, span)
    lo, hi = max(0, pl), min(span, w + pl)                    # the grid columns inside the input
    for c in range(c0, c1):
        plane = (n * n_ch + c) * h * w
        for i in range(h * w):
            gx[plane + i] = zero
        for a in range(th):
            r0 = 4 * a - pt
            o = c * n_t + (n * th + a) * tw
            for r in range(6):         # entries 0-3 of the tiles are disjoint columns, set; 4-5 overlap, add
                p0 = o + 6 * r * step
                p1, p2, p3, p4, p5 = p0 + step, p0 + 2 * step, p0 + 3 * step, p0 + 4 * step, p0 + 5 * step
                e = sbar[r]
                e[4 * tw] = e[4 * tw + 1] = zero
                for b in range(tw):
                    e[4 * b] = _b(dv[p0 + b], dv[p1 + b], dv[p2 + b], dv[p3 + b], dv[p4 + b], dv[p5 + b])[0]
                for b in range(tw):
                    e[4 * b + 1] = _b(dv[p0 + b], dv[p1 + b], dv[p2 + b], dv[p3 + b], dv[p4 + b], dv[p5 + b])[1]
                for b in range(tw):
                    e[4 * b + 2] = _b(dv[p0 + b], dv[p1 + b], dv[p2 + b], dv[p3 + b], dv[p4 + b], dv[p5 + b])[2]
                for b in range(tw):
                    e[4 * b + 3] = _b(dv[p0 + b], dv[p1 + b], dv[p2 + b], dv[p3 + b], dv[p4 + b], dv[p5 + b])[3]
                for b in range(tw):
                    e[4 * b + 4] += _b(dv[p0 + b], dv[p1 + b], dv[p2 + b], dv[p3 + b], dv[p4 + b], dv[p5 + b])[4]
                for b in range(tw):
                    e[4 * b + 5] += _b(dv[p0 + b], dv[p1 + b], dv[p2 + b], dv[p3 + b], dv[p4 + b], dv[p5 + b])[5]
            base = plane + r0 * w - pl
            s0, s1, s2, s3, s4, s5 = sbar[0], sbar[1], sbar[2], sbar[3], sbar[4], sbar[5]
            if 0 <= r0 < h:            # B spreads each column over the six input rows: one row per loop
                for q in range(lo, hi):
                    gx[base + q] += _b(s0[q], s1[q], s2[q], s3[q], s4[q], s5[q])[0]
            if 0 <= r0 + 1 < h:
                for q in range(lo, hi):
                    gx[base + w + q] += _b(s0[q], s1[q], s2[q], s3[q], s4[q], s5[q])[1]
            if 0 <= r0 + 2 < h:
                for q in range(lo, hi):
                    gx[base + 2 * w + q] += _b(s0[q], s1[q], s2[q], s3[q], s4[q], s5[q])[2]
            if 0 <= r0 + 3 < h:
                for q in range(lo, hi):
                    gx[base + 3 * w + q] += _b(s0[q], s1[q], s2[q], s3[q], s4[q], s5[q])[3]
            if 0 <= r0 + 4 < h:
                for q in range(lo, hi):
                    gx[base + 4 * w + q] += _b(s0[q], s1[q], s2[q], s3[q], s4[q], s5[q])[4]
            if 0 <= r0 + 5 < h:
                for q in range(lo, hi):
                    gx[base + 5 * w + q] += _b(s0[q], s1[q], s2[q], s3[q], s4[q], s5[q])[5]


def _kernel_item(w, u, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """u[6r + k, o, c] = (G w[o, c] G^T)[r, k] for output channel o = item, every c: G on the kernel's
    columns into gw[6j + r, c] = (G w)[r, j], then on the rows of G w."""
    zero = _zero_of(w)
    f = _fractions(zero)
    n_out, n_in = d[D_COUT], d[D_C]
    o = item
    step = n_out * n_in
    gw = _scratch(ws, item, 18, n_in)
    for j in range(3):
        for c in range(n_in):
            p = (o * n_in + c) * 9 + j
            gw[6 * j, c], gw[6 * j + 1, c], gw[6 * j + 2, c], gw[6 * j + 3, c], gw[6 * j + 4, c], \
                gw[6 * j + 5, c] = _g(w[p], w[p + 3], w[p + 6], f)
    for r in range(6):
        q = o * n_in + 6 * r * step
        for c in range(n_in):
            e0, e1, e2, e3, e4, e5 = _g(gw[r, c], gw[6 + r, c], gw[12 + r, c], f)
            u[q + c] = e0
            u[q + step + c] = e1
            u[q + 2 * step + c] = e2
            u[q + 3 * step + c] = e3
            u[q + 4 * step + c] = e4
            u[q + 5 * step + c] = e5


def _kernel_grad_item(du, gw, _f3, _f4, _f5, _f6, ws, _i32, d, item):
    """gw[o, c] = G^T dU[., o, c] G for output channel o = item, every c: G^T on dU's columns into
    p[6i + k, c] = (G^T dU)[i, k], then on the rows."""
    zero = _zero_of(du)
    f = _fractions(zero)
    n_out, n_in = d[D_COUT], d[D_C]
    o = item
    step = n_out * n_in
    p = _scratch(ws, item, 18, n_in)
    for k in range(6):
        q = o * n_in + k * step
        for c in range(n_in):
            p[k, c], p[6 + k, c], p[12 + k, c] = _gt(du[q + c], du[q + 6 * step + c], du[q + 12 * step + c],
                                                     du[q + 18 * step + c], du[q + 24 * step + c],
                                                     du[q + 30 * step + c], f)
    for i in range(3):
        for c in range(n_in):
            base = (o * n_in + c) * 9 + 3 * i
            gw[base], gw[base + 1], gw[base + 2] = _gt(p[6 * i, c], p[6 * i + 1, c], p[6 * i + 2, c],
                                                       p[6 * i + 3, c], p[6 * i + 4, c], p[6 * i + 5, c], f)


_KINDS = ("f", "f", "f", "f", "f", "f", "f", "i32", "i64")


def _kernel(item, attr):
    # as winograd.py's: on a cold start they are shared with compile workers (numba_launch.py)
    return ParallelKernel(item, _KINDS, name=f"tinycnn.accel.winograd_f4:{attr}")


_INPUT = _kernel(_input_item, "_INPUT")
_OUTPUT = _kernel(_output_item, "_OUTPUT")
_GRAD_OUTPUT = _kernel(_grad_output_item, "_GRAD_OUTPUT")
_INPUT_GRAD = _kernel(_input_grad_item, "_INPUT_GRAD")
_KERNEL = _kernel(_kernel_item, "_KERNEL")
_KERNEL_GRAD = _kernel(_kernel_grad_item, "_KERNEL_GRAD")
