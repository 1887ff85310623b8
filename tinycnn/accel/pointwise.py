r"""1x1 convolutions (MobileNet's expand and project layers, ResNet's downsampling shortcuts) as one matrix
product per image, without im2col.

Why: a 1x1 kernel's receptive field is one pixel, so im2col's cols (C, N*L) is x itself with the image and
channel axes swapped: the im2col path copies x into it, copies the (Cout, N*L) product back to (N, Cout, L)
and, backward, copies gy to (Cout, N*L) and col2im's the result back, four passes over memory for nothing.
Per image n, with X[n] = x[n] at the stride's pixels viewed as (C, L), L = OH*OW, and W2 = w as (Cout, C):

    forward   Y[n]  = W2 @ X[n] (+ b)                                  (Cout, C) @ (C, L)    -> (N, Cout, L)
    input     GX[n] = W2^T @ GY[n]                                     (C, Cout) @ (Cout, L) -> (N, C, L)
              (stride s: gx is zero except at the pixels the forward read, gx[:, :, ::s, ::s] = GX)
    weight    gw    = sum_n GY[n] @ X[n]^T                             (Cout, L) @ (L, C), summed over n
    bias      gb    = sum_{n,l} GY[n, :, l]

the im2col path's sums (``ops/conv.py``) with the images taken one at a time; tests check equality in
float64.

The same path serves a k x k kernel (k odd) on a 1x1 input padded by k // 2 on every side (ResNet's last
layers at CIFAR size): its one output reads the pixel through the centre tap only, every other tap reads
padding, so it is the 1x1 convolution by w[:, :, k//2, k//2], and the weight gradient is zero off the
centre (the im2col path multiplies those taps by zeros: the same numbers).

The products over the batch are one batched matmul each (``blas.matmul`` splits the batch over the
cores). The weight gradient's per-image products are summed afterwards when the (N, Cout, C) stack is
smaller than x and gy together; otherwise x and gy are laid out as (C, N*L) and (Cout, N*L) for one GEMM.
"""
from __future__ import annotations

import numpy as np

from .blas import matmul


def pointwise_conv_applies(x_shape, w_shape, padding, groups, dilation=(1, 1)) -> bool:
    """A 1x1 kernel, no padding, one group (any stride; dilation does not matter for a 1x1 kernel); or a
    k x k kernel, k odd, on a 1x1 input padded by k // 2 on every side, dilation 1 (its centre tap only)."""
    if groups != 1:
        return False
    kh, kw = w_shape[2:]
    if (kh, kw) == (1, 1):
        return not any(padding)
    return (kh == kw and kh % 2 == 1 and tuple(x_shape[2:]) == (1, 1) and tuple(dilation) == (1, 1)
            and tuple(padding) == (kh // 2,) * 4)


def _centre(w):
    """The (Cout, C) matrix of the taps that read the input: all of a 1x1 kernel, the centre of a k x k one."""
    return w.reshape(w.shape[0], w.shape[1]) if w.shape[2:] == (1, 1) else w[:, :, w.shape[2] // 2, w.shape[3] // 2]


def _strided(x, stride):
    return x if tuple(stride) == (1, 1) else x[:, :, ::stride[0], ::stride[1]]


def pointwise_conv2d_forward(x, w, b, stride):
    """y (N, Cout, OH, OW) and X (N, C, L), the pixels read, which the weight gradient needs."""
    xs = _strided(x, stride)
    n, c, oh, ow = xs.shape
    if w.shape[2:] != (1, 1):             # the centre-tap case: one output per image, whatever the stride
        xs, oh, ow = xs[:, :, :1, :1], 1, 1
    xs = np.ascontiguousarray(xs).reshape(n, c, oh * ow)
    y = matmul(np.ascontiguousarray(_centre(w)), xs)
    if b is not None:
        y += b.reshape(1, -1, 1)
    return y.reshape(n, w.shape[0], oh, ow), xs


def pointwise_conv2d_backward(gy, xs, w, x_shape, stride, need_x=True, need_w=True, need_b=True):
    """(gx, gw, gb) of ``pointwise_conv2d_forward`` (None for those not needed)."""
    n, cout, oh, ow = gy.shape
    c = w.shape[1]
    g = np.ascontiguousarray(gy).reshape(n, cout, oh * ow)
    w2 = np.ascontiguousarray(_centre(w))
    gx = gw = gb = None
    if need_x:
        gxs = matmul(w2.T, g).reshape(n, c, oh, ow)
        if w.shape[2:] != (1, 1) or tuple(stride) == (1, 1):     # (the centre-tap case: gx is (N, C, 1, 1))
            gx = gxs
        else:
            gx = np.zeros(x_shape, dtype=gy.dtype)
            gx[:, :, ::stride[0], ::stride[1]] = gxs
    if need_w:
        if n * cout * c <= xs.size + g.size:
            gw = matmul(g, xs.transpose(0, 2, 1)).sum(axis=0)
        else:
            gw = matmul(g.transpose(1, 0, 2).reshape(cout, -1), xs.transpose(1, 0, 2).reshape(c, -1).T)
        if w.shape[2:] == (1, 1):
            gw = gw.reshape(w.shape)
        else:
            full = np.zeros(w.shape, dtype=gw.dtype)
            full[:, :, w.shape[2] // 2, w.shape[3] // 2] = gw
            gw = full
    if need_b:
        gb = g.sum(axis=(0, 2))
    return gx, gw, gb
