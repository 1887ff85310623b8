r"""Convolutions on planes of at most 2x2 pixels (ResNet-18's third stage and the stride-2 layer of its fourth
at CIFAR size) as a linear map of the whole plane, computed tap by tap.

Why: on a 2x2 input padded by 1, each of a 3x3 kernel's four outputs reads four of its nine taps (the rest
read padding), so im2col multiplies 5/9 of its cols by zeros, and Winograd F(2x2, 3x3) has one tile per
plane: its 16 products per channel pair are exactly the 16 useful multiply-adds, but its three transforms
(input, output, and in the backward three more) cost as much as its GEMMs there. Written as a linear map of
the whole plane, the layer needs no transform, only x's and y's small planes reordered:

    y[n, o, l] = sum_{c, p} Weff[(o, l), (c, p)] x[n, c, p],     Weff[(o, l), (c, p)] = w[o, c, i, j]

for output pixel l = (a, b) and input pixel p = (r, q), where the tap (i, j) is the one that output reads
at that pixel, r = a*sh - pt + i*dh and q = b*sw - pl + j*dw, and Weff is 0 where no tap does. With x as
(N, C*HW) and y as (N, Cout*L):

    forward   Y  = X @ Weff^T          (N, C*HW) @ (C*HW, Cout*L)
    input     GX = GY @ Weff           (N, Cout*L) @ (Cout*L, C*HW)
    weight    gw[o, c, i, j] = sum over the (l, p) pairs of tap (i, j) of (GY^T @ X)[(o, l), (c, p)]
    bias      gb[o] = sum_{n, l} GY[n, (o, l)]

the im2col path's sums (``ops/conv.py``) with the zero taps left out; tests check equality in float64.
Weff's nonzero blocks are w's taps, so it is never formed (at 2x2 it would be 16 Cout C entries, 4 MB a
layer for ResNet's 256 channels, whose allocation and filling cost as much as the product): the products
run tap by tap, each tap's input pixels (pixel-major, (N*k, C)) times w[:, :, i, j]^T added into the output
pixels it reaches, C*HW multiply-adds per output and channel pair where im2col spends kh*kw: hence the rule
below.
"""
from __future__ import annotations

import functools

import numpy as np

from ..kernels.numpy_kernels import conv_out_size
from .blas import matmul

MAX_PIXELS = 4        # input and output planes of at most this many pixels (2x2)


def small_plane_conv_applies(x_shape, w_shape, stride, padding, dilation, groups) -> bool:
    """One group, input and output planes of at most ``MAX_PIXELS`` pixels, and fewer input pixels than
    taps (H*W < kh*kw: fewer multiply-adds than im2col's). Measured on one thread, batch 64, float32, medians
    of alternating runs in one process: 256 -> 256 channels at 2x2 (3x3, padding 1, ResNet-18's third stage
    at CIFAR size), forward 4.0 ms against Winograd's 10.1 and im2col's 12.6, forward and backward 7.7
    against 21.1 and 16.7; its stride-2 layer 256 -> 512 from 2x2 to 1x1, forward 1.9 ms against im2col's
    5.1, forward and backward 4.3 against 7.2. A 4x4 plane has 16 pixels for 9 taps: Winograd's."""
    if groups != 1 or len(x_shape) != 4:
        return False
    h, w = x_shape[2:]
    kh, kw = w_shape[2:]
    oh = conv_out_size(h, kh, stride[0], padding[0] + padding[1], dilation[0])
    ow = conv_out_size(w, kw, stride[1], padding[2] + padding[3], dilation[1])
    return 0 < h * w <= MAX_PIXELS and 0 < oh * ow <= MAX_PIXELS and oh > 0 and ow > 0 and h * w < kh * kw


@functools.lru_cache(maxsize=64)
def _taps(h, w, kh, kw, stride, padding, dilation):
    """(output sizes, ((l, p, i, j), ...)): every output pixel l, input pixel p and the tap (i, j) between."""
    oh = conv_out_size(h, kh, stride[0], padding[0] + padding[1], dilation[0])
    ow = conv_out_size(w, kw, stride[1], padding[2] + padding[3], dilation[1])
    pairs = []
    for a in range(oh):
        for b in range(ow):
            for i in range(kh):
                r = a * stride[0] - padding[0] + i * dilation[0]
                if not 0 <= r < h:
                    continue
                for j in range(kw):
                    q = b * stride[1] - padding[2] + j * dilation[1]
                    if 0 <= q < w:
                        pairs.append((a * ow + b, r * w + q, i, j))
    return (oh, ow), tuple(pairs)


@functools.lru_cache(maxsize=64)
def _by_tap(pairs):
    """{(i, j): (output pixels, input pixels)}: the (l, p) pairs each tap joins (one p per l and tap)."""
    taps = {}
    for px_out, p, i, j in pairs:
        ls, ps = taps.setdefault((i, j), ([], []))
        ls.append(px_out)
        ps.append(p)
    return [(i, j, _index(ls), _index(ps)) for (i, j), (ls, ps) in taps.items()]


def _index(pixels):
    """A slice where the pixels are consecutive (a view, not a gather), else the list."""
    if pixels == list(range(pixels[0], pixels[0] + len(pixels))):
        return slice(pixels[0], pixels[0] + len(pixels))
    return pixels


def _pixels_major(a):
    """(N, C, H, W) -> (N, H*W, C): the channel vectors of each pixel contiguous, as the products want."""
    n, c = a.shape[:2]
    return np.ascontiguousarray(a.reshape(n, c, -1).transpose(0, 2, 1))


def _gemm(a3, b):
    """(N, k, K) @ (K, M) as one 2-D product (a3 copied contiguous if it is a gather) -> (N, k, M)."""
    n, k, kk = a3.shape
    return matmul(np.ascontiguousarray(a3).reshape(n * k, kk), b).reshape(n, k, -1)


def small_plane_conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, Cout, OH, OW) and the (Cout, C) matrices of the taps used, which the backward needs (with x).

    Weff is never formed: its blocks are w's taps, so per tap (i, j) one product of the input pixels it reads
    with w[:, :, i, j]^T adds into the output pixels it reaches (the same multiply-adds, tap by tap)."""
    n, c, h, wd = x.shape
    cout = w.shape[0]
    (oh, ow), pairs = _taps(h, wd, w.shape[2], w.shape[3], tuple(stride), tuple(padding), tuple(dilation))
    by_tap = _by_tap(pairs)
    taps = [np.ascontiguousarray(w[:, :, i, j]) for i, j, _, _ in by_tap]  # (Cout, C) each, the taps used
    xpm = _pixels_major(x)                                                   # (N, HW, C)
    ypm = np.zeros((n, oh * ow, cout), dtype=x.dtype)
    for (_, _, ls, ps), tap in zip(by_tap, taps):
        ypm[:, ls, :] += _gemm(xpm[:, ps, :], tap.T)
    out = np.empty((n, cout, oh, ow), dtype=x.dtype)
    y = ypm.transpose(0, 2, 1)
    if b is None:
        out.reshape(n, cout, oh * ow)[...] = y
    else:
        np.add(y, b.reshape(1, cout, 1), out=out.reshape(n, cout, oh * ow))
    return out, taps


def small_plane_conv2d_backward(gy, x, taps, w_shape, stride, padding, dilation,
                                need_x=True, need_w=True, need_b=True):
    """(gx, gw, gb) of ``small_plane_conv2d_forward`` (None for those not needed), tap by tap as the forward:
    gx's pixels get gy's pixels @ w[:, :, i, j], and gw[:, :, i, j] = (gy's pixels)^T @ (x's pixels)."""
    n, c, h, wd = x.shape
    cout = w_shape[0]
    _, pairs = _taps(h, wd, w_shape[2], w_shape[3], tuple(stride), tuple(padding), tuple(dilation))
    gypm = _pixels_major(gy)                                                 # (N, L, Cout)
    xpm = _pixels_major(x) if need_w else None
    gxpm = np.zeros((n, h * wd, c), dtype=gy.dtype) if need_x else None
    gw = np.zeros(w_shape, dtype=gy.dtype) if need_w else None
    for (i, j, ls, ps), tap in zip(_by_tap(pairs), taps):
        g = gypm[:, ls, :]
        if need_x:
            gxpm[:, ps, :] += _gemm(g, tap)
        if need_w:
            gw[:, :, i, j] = matmul(np.ascontiguousarray(g).reshape(-1, cout).T,
                                    np.ascontiguousarray(xpm[:, ps, :]).reshape(-1, c))
    gx = np.ascontiguousarray(gxpm.transpose(0, 2, 1)).reshape(x.shape) if need_x else None
    gb = gy.sum(axis=(0, 2, 3)) if need_b else None
    return gx, gw, gb
