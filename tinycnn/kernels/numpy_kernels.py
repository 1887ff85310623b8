"""Reference kernels in pure array code (NumPy, and CuPy through ``get_array_module``).

No Python loop runs over pixels: im2col is one strided view copied once, and col2im and pooling loop only
over the ``kh*kw`` kernel offsets, each iteration moving a whole strided slice of every image at once.
The "numpy" kernel set of ``interface.py``: exactly its required functions, no fast path. The Numba set
(``tinycnn/accel/numba_kernels.py``) has the same functions with the same signatures; tests demand the same
numbers from both.

Conventions shared by both modules
----------------------------------
* images are ``(N, C, H, W)``; ``kernel_size``, ``stride``, ``dilation`` are ``(h, w)`` pairs.
* conv ``padding`` is ``(top, bottom, left, right)`` (``padding='same'`` with an even kernel is asymmetric);
  pooling ``padding`` is ``(ph, pw)`` (PyTorch pools pad symmetrically).
* **column layout**: ``cols`` has shape ``(C*kh*kw, N*OH*OW)``; row ``(c*kh + i)*kw + j`` holds input
  pixel ``x[n, c, oh*sh - pt + i*dh, ow*sw - pl + j*dw]`` (zero outside the image) in column
  ``n*OH*OW + oh*OW + ow``. Putting the whole batch in the columns makes the convolution ONE matrix product
  ``W (Cout, C*kh*kw) @ cols`` (per group) instead of N small ones; measured faster on LeNet/VGG shapes
  than PyTorch's per-sample ``(N, C*kh*kw, L)`` layout, which ``F.unfold`` returns by a transpose.
* max pooling returns, with the output, the flat index ``h*W + w`` of each window's maximum inside its
  ``(H, W)`` input plane (PyTorch's ``return_indices`` convention); backward scatters through it.
"""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module

NAME = "numpy"
PROVIDES = frozenset()          # the textbook code: none of the fast paths


def conv_out_size(size: int, k: int, s: int, pad_total: int, d: int) -> int:
    """floor((size + pad_total - d(k-1) - 1) / s) + 1: number of window positions along one axis."""
    return (size + pad_total - d * (k - 1) - 1) // s + 1


def _window_view(xpad, kernel_size, stride, dilation, out_size):
    """Read-only strided view (N, C, kh, kw, OH, OW) of all windows of a padded image (no copy)."""
    xp = get_array_module(xpad)
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = kernel_size, stride, dilation, out_size
    sn, sc, s_h, s_w = xpad.strides
    return xp.lib.stride_tricks.as_strided(
        xpad, shape=(xpad.shape[0], xpad.shape[1], kh, kw, oh, ow),
        strides=(sn, sc, s_h * dh, s_w * dw, s_h * sh, s_w * sw))


def _pad(x, top, bottom, left, right, value=0.0):
    xp = get_array_module(x)
    if top == bottom == left == right == 0:
        return xp.ascontiguousarray(x)
    return xp.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=value)


def im2col(x, kernel_size, stride, padding, dilation):
    """Unfold every receptive field into a column: (N, C, H, W) -> cols (C*kh*kw, N*OH*OW)."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = conv_out_size(h, kh, sh, pt + pb, dh), conv_out_size(w, kw, sw, pl + pr, dw)
    view = _window_view(_pad(x, pt, pb, pl, pr), kernel_size, stride, dilation, (oh, ow))
    # (N, C, kh, kw, OH, OW) -> (C, kh, kw, N, OH, OW): one copy gives the batch-in-columns layout
    return xp.ascontiguousarray(view.transpose(1, 2, 3, 0, 4, 5)).reshape(c * kh * kw, n * oh * ow)


def col2im(cols, x_shape, kernel_size, stride, padding, dilation):
    """Adjoint of im2col: add every column entry back onto the pixel it was read from.

    A pixel that lies in several receptive fields receives the sum of all their entries; padding positions
    are dropped. Loops over the kh*kw kernel offsets, each adding one strided slice for the whole batch.
    """
    xp = get_array_module(cols)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = conv_out_size(h, kh, sh, pt + pb, dh), conv_out_size(w, kw, sw, pl + pr, dw)
    cols6 = cols.reshape(c, kh, kw, n, oh, ow)
    xpad = xp.zeros((n, c, h + pt + pb, w + pl + pr), dtype=cols.dtype)
    for i in range(kh):
        for j in range(kw):
            rows = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
            colz = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
            xpad[:, :, rows, colz] += cols6[:, i, j].transpose(1, 0, 2, 3)
    return xpad[:, :, pt:pt + h, pl:pl + w]


# ---- pooling ------------------------------------------------------------------------------------------------
def _extent(size, k, s, p, d, out):
    """Bottom padding needed so that all `out` windows (ceil_mode may hang past size+p) fit the array."""
    return max(0, (out - 1) * s + d * (k - 1) + 1 - size - p)


def max_pool2d_forward(x, kernel_size, stride, padding, dilation, out_size, index_dtype=np.int64):
    """y[n,c,oh,ow] = max over the window; also the flat index h*W+w of the chosen element.

    Tie rule of PyTorch's CPU kernel: scan the window row-major, replace the running max when
    ``v > max or isnan(v)`` -- the first of equal maxima wins, a NaN wins (the last NaN). Padding is -inf and
    never wins; a window of only -inf points at its first real element, and a window holding no real
    element at all (padding only, possible with dilation) gets -inf and index -1 (PyTorch returns an index
    into a neighbouring row or plane there and sends the gradient to it; we send it nowhere).
    Indices are int64 unless ``index_dtype`` (int32 for planes under 2**31 elements: less memory traffic).
    """
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (oh, ow) = kernel_size, stride, padding, dilation, out_size
    xpad = _pad(x, ph, ph + _extent(h, kh, sh, ph, dh, oh), pw, pw + _extent(w, kw, sw, pw, dw, ow),
                value=-np.inf)
    hs = xp.arange(oh) * sh - ph                     # window starts in input coordinates
    ws = xp.arange(ow) * sw - pw
    # first real row/col of each window: hs rounded up onto the dilation grid past 0
    h0 = hs + dh * ((xp.maximum(-hs, 0) + dh - 1) // dh)
    w0 = ws + dw * ((xp.maximum(-ws, 0) + dw - 1) // dw)
    best = xp.full((n, c, oh, ow), -np.inf, dtype=x.dtype)
    index = h0[:, None] * w + w0[None, :]
    # A window of padding only (possible with dilation) has no first real element: index -1, no gradient.
    empty = ((h0 >= h) | (h0 > hs + (kh - 1) * dh))[:, None] | ((w0 >= w) | (w0 > ws + (kw - 1) * dw))[None, :]
    index = xp.broadcast_to(xp.where(empty, -1, index), (n, c, oh, ow)).astype(xp.int64)
    for i in range(kh):
        for j in range(kw):
            v = xpad[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]
            take = (v > best) | xp.isnan(v)
            best = xp.where(take, v, best)
            flat = (hs[:, None] + i * dh) * w + (ws[None, :] + j * dw)
            index = xp.where(take, flat, index)
    return best, index.astype(index_dtype, copy=False)


def max_pool2d_backward(gy, indices, x_shape, window=None):
    """gx[n,c].flat[indices[n,c,o]] += gy[n,c,o]: each output gradient goes to its window's argmax;
    an element chosen by several (overlapping) windows accumulates all their gradients.

    ``window`` is ``(kernel_size, stride, padding, dilation)`` of the forward that made ``indices``, or None
    where the windows have no such form (adaptive pooling). A kernel set may use it to pick a faster loop
    for a window it knows; the numbers are the same. This one does not need it."""
    xp = get_array_module(gy)
    n, c, h, w = x_shape
    plane = xp.arange(n * c, dtype=xp.int64).reshape(n, c, 1, 1) * (h * w)
    # Index -1 marks a window of padding only (possible with dilation): it feeds no input element.
    valid = indices >= 0
    target = (xp.where(valid, indices, 0) + plane).ravel()
    # bincount sums the weights of equal targets in output order (float64), then we return to gy's dtype
    gx = xp.bincount(target, weights=xp.where(valid, gy, 0).ravel(), minlength=n * c * h * w)
    return gx.astype(gy.dtype, copy=False).reshape(x_shape)


def avg_pool_divisor(x_hw, kernel_size, stride, padding, out_size, count_include_pad, divisor_override,
                     xp=np):
    """(OH, OW) integer array of the number each window's sum is divided by (PyTorch's rule).

    count_include_pad=True: the window clipped to the padded extent [-p, H+p) (a ceil_mode overhang past
    H+p is not counted); False: only the real elements; divisor_override replaces both.
    """
    (h, w), (kh, kw), (sh, sw), (ph, pw), (oh, ow) = x_hw, kernel_size, stride, padding, out_size
    if divisor_override:
        return xp.full((oh, ow), int(divisor_override), dtype=xp.int64)

    def per_axis(size, k, s, p, out):
        start = xp.arange(out, dtype=xp.int64) * s - p
        end = xp.minimum(start + k, size + p)
        if count_include_pad:
            return end - start
        return xp.minimum(end, size) - xp.maximum(start, 0)

    return per_axis(h, kh, sh, ph, oh)[:, None] * per_axis(w, kw, sw, pw, ow)[None, :]


def avg_pool2d_forward(x, kernel_size, stride, padding, out_size, count_include_pad=True,
                       divisor_override=None):
    """y = (sum of the window's real elements) / divisor (padding contributes zeros)."""
    xp = get_array_module(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel_size, stride, padding, out_size
    xpad = _pad(x, ph, ph + _extent(h, kh, sh, ph, 1, oh), pw, pw + _extent(w, kw, sw, pw, 1, ow))
    total = None
    for i in range(kh):
        for j in range(kw):
            v = xpad[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw]
            total = v.copy() if total is None else total + v
    div = avg_pool_divisor((h, w), kernel_size, stride, padding, out_size, count_include_pad,
                           divisor_override, xp)
    return total / div.astype(x.dtype)


def avg_pool2d_backward(gy, x_shape, kernel_size, stride, padding, out_size, count_include_pad=True,
                        divisor_override=None):
    """gx[p] = sum over windows containing p of gy[window] / divisor[window]; padding gets dropped."""
    xp = get_array_module(gy)
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (oh, ow) = kernel_size, stride, padding, out_size
    div = avg_pool_divisor((h, w), kernel_size, stride, padding, out_size, count_include_pad,
                           divisor_override, xp)
    g = gy / div.astype(gy.dtype)
    hp = h + 2 * ph + _extent(h, kh, sh, ph, 1, oh)
    wp = w + 2 * pw + _extent(w, kw, sw, pw, 1, ow)
    gpad = xp.zeros((n, c, hp, wp), dtype=gy.dtype)
    for i in range(kh):
        for j in range(kw):
            gpad[:, :, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += g
    return gpad[:, :, ph:ph + h, pw:pw + w]
