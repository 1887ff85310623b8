"""Max and average pooling (fixed and adaptive windows) with PyTorch's sizes, tie rule and divisors.

Input x (N, C, H, W), output y (N, C, OH, OW); every (n, c) plane is pooled on its own.
Sizes and the ceil_mode rule: ``tinycnn/ops/_sizes.py``. Loops live in ``tinycnn/kernels``.
"""
from __future__ import annotations

import math

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..kernels import get_kernels
from ._args import array_of
from ._sizes import _pair, pool_output_size, shape_str


class MaxPool2dFunction(Function):
    """y[n,c,a,b] = max_{i,j} xpad[n, c, a*s + i*d, b*s + j*d]   (padding = -inf, never chosen).

    Backward: y depends on the window only through its argmax m(a, b) (the first maximum in row-major
    order, as PyTorch), dy/dx = 1 there and 0 elsewhere, so gx[m(a,b)] += gy[a, b]: each output gradient is
    routed to its argmax, and an element that is the argmax of several overlapping windows (AlexNet's 3/2)
    accumulates all their gradients. The argmax indices are kept from the forward pass.
    """

    def forward(self, x, *, kernel_size, stride, padding, dilation, out_size, keep=None):
        # int32 indices when they stay internal (half the memory traffic); the user gets int64 as in PyTorch
        small = keep is None and x.shape[2] * x.shape[3] < 2 ** 31
        y, self.indices = get_kernels(x).max_pool2d_forward(x, kernel_size, stride, padding, dilation,
                                                            out_size, "int32" if small else "int64")
        self.x_shape, self.window = x.shape, (kernel_size, stride, padding, dilation)
        if keep is not None:          # return_indices: hand the indices to the caller
            keep["indices"] = self.indices
        return y

    def backward(self, gy):
        return get_kernels(gy).max_pool2d_backward(gy, self.indices, self.x_shape, self.window)


class AvgPool2dFunction(Function):
    """y[n,c,a,b] = (1/D[a,b]) * sum of the window's elements (padding contributes 0).

    D[a,b] is the divisor (count_include_pad / ceil_mode / divisor_override rules, see
    ``numpy_kernels.avg_pool_divisor``). Backward: dy[a,b]/dx[p] = 1/D[a,b] for every real element p of
    window (a,b), so gx[p] = sum over the windows containing p of gy[a,b] / D[a,b] -- the gradient spread
    evenly over the counted elements, overlapping windows adding up.
    """

    def forward(self, x, *, kernel_size, stride, padding, out_size, count_include_pad, divisor_override):
        self.x_shape = x.shape
        self.params = (kernel_size, stride, padding, out_size, count_include_pad, divisor_override)
        return get_kernels(x).avg_pool2d_forward(x, *self.params)

    def backward(self, gy):
        return get_kernels(gy).avg_pool2d_backward(gy, self.x_shape, *self.params)


# ---- adaptive pooling ---------------------------------------------------------------------------------------
def adaptive_windows(size: int, out: int):
    """PyTorch's adaptive windows along one axis: output i pools [floor(i*In/Out), ceil((i+1)*In/Out))."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _averaging_matrix(size, out, dtype, xp):
    """A (out, size) with A[i, j] = 1/len(window i) for j in window i: the adaptive mean along one axis."""
    a = xp.zeros((out, size), dtype=dtype)
    for i, (s, e) in enumerate(adaptive_windows(size, out)):   # a loop over output rows, not pixels
        a[i, s:e] = 1.0 / (e - s)
    return a


class AdaptiveAvgPool2dFunction(Function):
    """y = A_h @ x @ A_w^T (per plane): the adaptive average is separable, rows then columns.

    A_h (OH, H) holds 1/len(window) on each output row's window. Backward of a product of linear maps:
    gx = A_h^T @ gy @ A_w -- each input receives, per window containing it, gy/len(window).
    """

    def forward(self, x, *, out_size):
        xp = get_array_module(x)
        self.a_h = _averaging_matrix(x.shape[2], out_size[0], x.dtype, xp)
        self.a_w = _averaging_matrix(x.shape[3], out_size[1], x.dtype, xp)
        return self.a_h @ x @ self.a_w.T

    def backward(self, gy):
        return self.a_h.T @ gy @ self.a_w


class AdaptiveMaxPool2dFunction(Function):
    """y[a, b] = max over the adaptive window (a, b); backward routes gy to the argmax like MaxPool2d.

    Windows have different sizes, so the forward loops over offsets up to the largest window size,
    gathering one element per window each time (offsets past a window's end repeat its last element,
    which never beats the earlier copy under the strict '>' of the first-maximum rule).
    """

    def forward(self, x, *, out_size, keep=None):
        xp = get_array_module(x)
        n, c, h, w = x.shape
        (hs, he), (ws, we) = ([xp.asarray(v, dtype=xp.int64) for v in zip(*adaptive_windows(size, out))]
                              for size, out in ((h, out_size[0]), (w, out_size[1])))
        kh, kw = int((he - hs).max()), int((we - ws).max())
        best = xp.full((n, c, out_size[0], out_size[1]), -math.inf, dtype=x.dtype)
        index = xp.broadcast_to(hs[:, None] * w + ws[None, :], best.shape).astype(xp.int64)
        for i in range(kh):
            rows = xp.minimum(hs + i, he - 1)
            for j in range(kw):
                cols = xp.minimum(ws + j, we - 1)
                v = x[:, :, rows[:, None], cols[None, :]]
                take = (v > best) | xp.isnan(v)
                best = xp.where(take, v, best)
                index = xp.where(take, rows[:, None] * w + cols[None, :], index)
        self.indices, self.x_shape = index, x.shape
        if keep is not None:
            keep["indices"] = index
        return best

    def backward(self, gy):
        return get_kernels(gy).max_pool2d_backward(gy, self.indices, self.x_shape)


# ---- validation and the functional API ----------------------------------------------------------------------
def _check_input(x, layer):
    if x.ndim != 4:
        raise ValueError(f"{layer} expects a 4-D input (N, C, H, W), got input of shape {shape_str(x.shape)}")


def _pool_params(x, kernel_size, stride, padding, dilation, ceil_mode, layer):
    k = _pair(kernel_size, "kernel_size", layer)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0) else \
        _pair(stride, "stride", layer)
    p = _pair(padding, "padding", layer, allow_zero=True)
    d = _pair(dilation, "dilation", layer)
    if 2 * p[0] > k[0] or 2 * p[1] > k[1]:
        raise ValueError(f"{layer}: padding should be at most half of the kernel size, got padding={p} "
                         f"for kernel_size={k}")
    _check_input(x, layer)
    out = tuple(pool_output_size(x.shape[2 + a], k[a], s[a], p[a], d[a], ceil_mode) for a in range(2))
    if min(out) < 1:
        raise ValueError(f"{layer}: kernel {k[0]}x{k[1]} (dilation {d}, padding {p}) does not fit the input: "
                         f"output would be {out[0]}x{out[1]}; got input of shape {shape_str(x.shape)}")
    return k, s, p, d, out


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False, *, _layer="max_pool2d"):
    """PyTorch's ``F.max_pool2d``; with ``return_indices`` also the flat h*W+w index of each maximum."""
    x = array_of(input)
    k, s, p, d, out = _pool_params(x, kernel_size, stride, padding, dilation, ceil_mode, _layer)
    keep = {} if return_indices else None
    y = MaxPool2dFunction.apply(input, kernel_size=k, stride=s, padding=p, dilation=d, out_size=out,
                                keep=keep)
    return (y, Tensor(keep["indices"])) if return_indices else y


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None, *, _layer="avg_pool2d"):
    """PyTorch's ``F.avg_pool2d`` (divisor rules: see ``numpy_kernels.avg_pool_divisor``)."""
    x = array_of(input)
    k, s, p, _, out = _pool_params(x, kernel_size, stride, padding, 1, ceil_mode, _layer)
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override <= 0):
        raise ValueError(f"{_layer}: divisor_override must be a positive int or None, got {divisor_override!r}")
    return AvgPool2dFunction.apply(input, kernel_size=k, stride=s, padding=p, out_size=out,
                                   count_include_pad=bool(count_include_pad),
                                   divisor_override=divisor_override)


def _adaptive_size(x, output_size, layer):
    _check_input(x, layer)
    if isinstance(output_size, int) or output_size is None:
        output_size = (output_size, output_size)
    if not isinstance(output_size, (tuple, list)) or len(output_size) != 2:
        raise ValueError(f"{layer}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(x.shape[2 + a] if v is None else v for a, v in enumerate(output_size))
    if not all(isinstance(v, int) and v > 0 for v in size):
        raise ValueError(f"{layer}: output_size must be positive ints (or None), got {output_size!r}")
    return size


def adaptive_avg_pool2d(input, output_size, *, _layer="adaptive_avg_pool2d"):
    """PyTorch's ``F.adaptive_avg_pool2d``: output_size int, pair, entries None = keep that size."""
    out = _adaptive_size(array_of(input), output_size, _layer)
    return AdaptiveAvgPool2dFunction.apply(input, out_size=out)


def adaptive_max_pool2d(input, output_size, return_indices=False, *, _layer="adaptive_max_pool2d"):
    """PyTorch's ``F.adaptive_max_pool2d``."""
    out = _adaptive_size(array_of(input), output_size, _layer)
    keep = {} if return_indices else None
    y = AdaptiveMaxPool2dFunction.apply(input, out_size=out, keep=keep)
    return (y, Tensor(keep["indices"])) if return_indices else y
