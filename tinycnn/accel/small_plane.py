r"""Convolutions on planes of at most 2x2 pixels (ResNet-18's third and fourth stages at CIFAR size) as one
dense matrix product over the whole plane.

Why: on a 2x2 input padded by 1, each of a 3x3 kernel's four outputs reads four of its nine taps (the rest
read padding), so im2col multiplies 5/9 of its cols by zeros, and Winograd F(2x2, 3x3) has one tile per
plane: its 16 products per channel pair are exactly the 16 useful multiply-adds, but its three transforms
(input, output, and in the backward three more) cost as much as its GEMMs there. Written as a linear map of
the whole plane, the layer needs no transform, only x's and y's small planes reordered:

    y[n, o, l] = sum_{c, p} Weff[(o, l), (c, p)] x[n, c, p],     Weff[(o, l), (c, p)] = w[o, c, i, j]

for output pixel l = (a, b) and input pixel p = (r, q), where the tap (i, j) is the one that output reads
at that pixel, r = a*sh - pt + i*dh and q = b*sw - pl + j*dw, and Weff is 0 where no tap does. With x as
(N, C*HW) and y as (N, Cout*L) (stored pixel-major, (N, HW*C) and (N, L*Cout), so that each tap's block of
Weff is one contiguous copy of w's tap; these reorderings touch N*C*HW elements, Weff Cout*C*L*HW):

    forward   Y  = X @ Weff^T          (N, C*HW) @ (C*HW, Cout*L)
    input     GX = GY @ Weff           (N, Cout*L) @ (Cout*L, C*HW)
    weight    gw[o, c, i, j] = sum over the (l, p) pairs of tap (i, j) of (GY^T @ X)[(o, l), (c, p)]
    bias      gb[o] = sum_{n, l} GY[n, (o, l)]

the im2col path's sums (``ops/conv.py``) with the zero taps left out; tests check equality in float64.
Weff has Cout*C*L*HW entries, as many as Winograd's transformed kernel on one tile (16 Cout C) at 2x2, and
costs C*HW multiply-adds per output and channel pair where im2col spends kh*kw: hence the rule below.
"""
from __future__ import annotations

import functools

import numpy as np

from .blas import matmul

MAX_PIXELS = 4        # input and output planes of at most this many pixels (2x2)


def _out_size(size, k, stride, pad, dilation):
    return (size + pad - dilation * (k - 1) - 1) // stride + 1


def small_plane_conv_applies(x_shape, w_shape, stride, padding, dilation, groups) -> bool:
    """One group, input and output planes of at most ``MAX_PIXELS`` pixels, and fewer input pixels than
    taps (H*W < kh*kw: fewer multiply-adds than im2col's). Measured on one thread, batch 64, float32, medians
    of alternating runs in one process: 256 -> 256 channels at 2x2 (3x3, padding 1, ResNet-18's third stage
    at CIFAR size), forward 7.9 ms against Winograd's 11.1 and im2col's 13.0, forward and backward 13.2 ms
    against 24.6 and 17.8; its stride-2 layer 256 -> 512 from 2x2 to 1x1, forward 6.1 ms against im2col's
    9.0, forward and backward 11.2 against 11.4. Larger planes: 4x4 has 16 pixels for 9 taps."""
    if groups != 1 or len(x_shape) != 4:
        return False
    h, w = x_shape[2:]
    kh, kw = w_shape[2:]
    oh = _out_size(h, kh, stride[0], padding[0] + padding[1], dilation[0])
    ow = _out_size(w, kw, stride[1], padding[2] + padding[3], dilation[1])
    return 0 < h * w <= MAX_PIXELS and 0 < oh * ow <= MAX_PIXELS and oh > 0 and ow > 0 and h * w < kh * kw


@functools.lru_cache(maxsize=64)
def _taps(h, w, kh, kw, stride, padding, dilation):
    """(output sizes, ((l, p, i, j), ...)): every output pixel l, input pixel p and the tap (i, j) between."""
    oh = _out_size(h, kh, stride[0], padding[0] + padding[1], dilation[0])
    ow = _out_size(w, kw, stride[1], padding[2] + padding[3], dilation[1])
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


def _dense_weight(w, hw, l_out, pairs):
    """Weff with rows (l, o) and columns (p, c), (L*Cout, HW*C): each tap's (Cout, C) block is one
    contiguous copy of w's tap plane (the (o, l) x (c, p) order of the docstring would take strided ones)."""
    cout, c = w.shape[:2]
    taps = np.ascontiguousarray(w.transpose(2, 3, 0, 1))                     # (kh, kw, Cout, C)
    full = len(pairs) == l_out * hw                                          # every block holds a tap
    weff = (np.empty if full else np.zeros)((l_out, cout, hw, c), dtype=w.dtype)
    for px_out, p, i, j in pairs:
        weff[px_out, :, p, :] = taps[i, j]
    return weff.reshape(l_out * cout, hw * c)


def _pixels_major(a):
    """(N, C, H, W) -> (N, H*W*C): pixel-major rows, the order of Weff's columns and rows."""
    n, c = a.shape[:2]
    return np.ascontiguousarray(a.reshape(n, c, -1).transpose(0, 2, 1)).reshape(n, -1)


def small_plane_conv2d_forward(x, w, b, stride, padding, dilation):
    """y (N, Cout, OH, OW) and Weff, which the backward needs (with x)."""
    n, c, h, wd = x.shape
    cout = w.shape[0]
    (oh, ow), pairs = _taps(h, wd, w.shape[2], w.shape[3], tuple(stride), tuple(padding), tuple(dilation))
    weff = _dense_weight(w, h * wd, oh * ow, pairs)
    y = matmul(_pixels_major(x), weff.T).reshape(n, oh * ow, cout).transpose(0, 2, 1)     # (N, Cout, L)
    out = np.empty((n, cout, oh, ow), dtype=x.dtype)
    if b is None:
        out.reshape(n, cout, oh * ow)[...] = y
    else:
        np.add(y, b.reshape(1, cout, 1), out=out.reshape(n, cout, oh * ow))
    return out, weff


def small_plane_conv2d_backward(gy, x, weff, w_shape, stride, padding, dilation,
                                need_x=True, need_w=True, need_b=True):
    """(gx, gw, gb) of ``small_plane_conv2d_forward`` (None for those not needed)."""
    n, c, h, wd = x.shape
    cout, l_out = w_shape[0], gy.shape[2] * gy.shape[3]
    gy2 = _pixels_major(gy)                                                  # (N, L*Cout)
    gx = gw = None
    if need_x:
        gx = np.ascontiguousarray(matmul(gy2, weff).reshape(n, h * wd, c).transpose(0, 2, 1)).reshape(x.shape)
    if need_w:
        _, pairs = _taps(h, wd, w_shape[2], w_shape[3], tuple(stride), tuple(padding), tuple(dilation))
        gweff = matmul(gy2.T, _pixels_major(x)).reshape(l_out, cout, h * wd, c)
        taps = np.zeros((w_shape[2], w_shape[3], cout, c), dtype=gy.dtype)
        for px_out, p, i, j in pairs:
            taps[i, j] += gweff[px_out, :, p, :]
        gw = np.ascontiguousarray(taps.transpose(2, 3, 0, 1))
    gb = gy.sum(axis=(0, 2, 3)) if need_b else None
    return gx, gw, gb
