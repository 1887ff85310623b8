"""Resizing: ``F.interpolate`` (nearest, nearest-exact, linear, bilinear, bicubic, area) and pixel shuffle.

Every interpolation mode is separable and linear: along one axis, output i is a weighted sum of a few input
samples ("taps"), y_i = sum_t w_t(i) x_{idx_t(i)}. Written as a matrix A (out, in) with
A[i, j] = sum of the w_t(i) whose idx_t(i) = j, a 2-D resize is y = A_h x A_w^T per (n, c) plane.

Where the taps come from (PyTorch's kernels, aten/src/ATen/native/UpSample.h), with in/out sizes I, O and
``scale_factor`` f: scale = 1/f when f is given (and not recomputed), else I/O; align_corners uses
(I-1)/(O-1) instead (0 when O = 1).
* nearest:        idx = min(floor(i * scale), I - 1)            (computed in float32, as PyTorch does)
* nearest-exact:  idx = min(floor((i + 0.5) * scale), I - 1)
* linear:         src = i * scale (align_corners) or max((i + 0.5) * scale - 0.5, 0); taps floor(src) and
                  the next sample (the same one at the last), weights 1 - l and l, l = src - floor(src)
* cubic:          as linear without the clamp at 0; taps floor(src) - 1 .. floor(src) + 2 (clamped to the
                  signal), Keys' cubic convolution weights with a = -0.75
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._sizes import shape_str
from .pooling import adaptive_avg_pool2d

_CUBIC_A = -0.75
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "bicubic", "area")


def _scale(in_size: int, out_size: int, align_corners: bool, scale_factor):
    if align_corners:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    return 1.0 / scale_factor if scale_factor is not None and scale_factor > 0 else in_size / out_size


def _cubic_weights(t):
    """Keys' cubic convolution (a = -0.75) at distances 1 + t, t, 1 - t, 2 - t from the four taps."""
    a = _CUBIC_A

    def near(x):       # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):        # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def taps(in_size: int, out_size: int, mode: str, align_corners: bool, scale_factor=None):
    """[(idx, weight)] per tap along one axis: idx (out,) int64 and weight (out,) float64 arrays."""
    i = np.arange(out_size)
    if mode in ("nearest", "nearest-exact"):
        if out_size == in_size:
            idx = i
        else:
            s = np.float32(_scale(in_size, out_size, False, scale_factor))
            pos = (i.astype(np.float32) + np.float32(0.5 if mode == "nearest-exact" else 0.0)) * s
            idx = np.minimum(np.floor(pos).astype(np.int64), in_size - 1)
        return [(idx, np.ones(out_size))]
    scale = _scale(in_size, out_size, align_corners, scale_factor)
    if mode == "linear":
        if out_size == in_size:
            return [(i, np.ones(out_size))]
        src = scale * i if align_corners else np.maximum(scale * (i + 0.5) - 0.5, 0.0)
        i0 = src.astype(np.int64)
        i1 = i0 + (i0 < in_size - 1)
        lam = np.clip(src - i0, 0.0, 1.0)
        return [(i0, 1.0 - lam), (i1, lam)]
    src = scale * i if align_corners else scale * (i + 0.5) - 0.5       # cubic: no clamp at 0
    base = np.floor(src).astype(np.int64)
    weights = _cubic_weights(src - base)
    return [(np.clip(base - 1 + k, 0, in_size - 1), weights[k]) for k in range(4)]


def taps_matrix(tap_list, in_size: int, out_size: int):
    """A (out, in) with A[i, j] = sum of the tap weights of output i that read input j."""
    a = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    for idx, w in tap_list:
        np.add.at(a, (rows, idx), w)
    return a


def _apply_taps(x, axis: int, tap_list):
    """sum_t w_t * x[..., idx_t, ...] along ``axis``: PyTorch's arithmetic, exact with inf and NaN."""
    xp = get_array_module(x)
    shape = [1] * x.ndim
    shape[axis] = -1
    out = None
    for idx, w in tap_list:
        picked = xp.take(x, xp.asarray(idx), axis=axis)
        if not (w == 1.0).all():
            picked = picked * xp.asarray(w.reshape(shape), dtype=x.dtype)
        out = picked if out is None else out + picked
    return out


class Interpolate(Function):
    r"""y = resize(x): along each resized axis (the last one or two), y = A x with A (out, in) the tap
    matrix of the module docstring; for an image, y = A_h x A_w^T per (n, c) plane.

    Forward applies the taps themselves (a weighted gather: the same arithmetic as PyTorch's kernels).
    Backward: the map is linear, so its gradient is the transposed map,
        gx = A_h^T gy A_w          (each input pixel collects w_t(i) * gy_i from every output i that read it)
    which spreads each output gradient back over the samples it was interpolated from, with the same weights.
    """

    def forward(self, x, *, axis_taps):
        y = x
        for axis, tap_list, _, _ in axis_taps:
            y = _apply_taps(y, axis, tap_list)
        self.axis_taps = axis_taps           # the matrices are built only if backward runs
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        g = gy
        for axis, tap_list, in_size, out_size in reversed(self.axis_taps):
            a = xp.asarray(taps_matrix(tap_list, in_size, out_size), dtype=gy.dtype)
            g = xp.moveaxis(xp.tensordot(a.T, xp.moveaxis(g, axis, 0), axes=1), 0, axis)   # A^T along axis
        return xp.ascontiguousarray(g)


def _output_size(shape, size, scale_factor, dims, name):
    """(output sizes, scale factors handed to the taps) from PyTorch's size / scale_factor rules."""
    spatial = tuple(shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: either size or scale_factor should be defined (exactly one of them)"
                         if size is None else f"{name}: only one of size or scale_factor should be defined")
    if size is not None:
        sizes = tuple(size) if isinstance(size, (tuple, list)) else (size,) * dims
        if len(sizes) != dims:
            raise ValueError(f"{name}: input and output must have the same number of spatial dimensions, but "
                             f"got input with spatial dimensions of {list(spatial)} and output size of {size}")
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(f"{name}: size must be positive ints, got {size!r}")
        return tuple(int(s) for s in sizes), (None,) * dims
    factors = tuple(scale_factor) if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * dims
    if len(factors) != dims:
        raise ValueError(f"{name}: input and scale_factor must have the same number of spatial dimensions, but "
                         f"got input with spatial dimensions of {list(spatial)} and scale_factor {scale_factor}")
    if not all(isinstance(f, numbers.Real) and not isinstance(f, bool) and f > 0 for f in factors):
        raise ValueError(f"{name}: scale_factor must be positive numbers, got {scale_factor!r}")
    sizes = tuple(int(math.floor(n * float(f))) for n, f in zip(spatial, factors))
    if min(sizes) < 1:
        raise ValueError(f"{name}: scale_factor {scale_factor} gives an empty output for input of shape "
                         f"{shape_str(shape)}")
    return sizes, tuple(float(f) for f in factors)


def interpolate(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                recompute_scale_factor=None, antialias: bool = False):
    """PyTorch's ``F.interpolate`` for (N, C, L) and (N, C, H, W) inputs.

    Modes: "nearest", "nearest-exact", "linear" (3-D), "bilinear" and "bicubic" (4-D), "area" (adaptive
    average pooling). Give ``size`` or ``scale_factor`` (an int/float or one per spatial axis);
    ``align_corners`` only for the interpolating modes (default False); ``recompute_scale_factor=True``
    computes the taps from the output size instead of the given factor.
    """
    name = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor as input, got {type(input).__name__}")
    if mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {_MODES}, got {mode!r}")
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{name}: align_corners option can only be set with the interpolating modes: "
                             f"linear | bilinear | bicubic (got mode={mode!r})")
    else:
        align_corners = bool(align_corners)
    if antialias:
        raise ValueError(f"{name}: antialias=True is not supported")
    if input.ndim not in (3, 4):
        raise ValueError(f"{name}: expected a 3-D (N, C, L) or 4-D (N, C, H, W) input, got input of shape "
                         f"{shape_str(input.shape)}")
    dims = input.ndim - 2
    wanted = {"linear": 3, "bilinear": 4, "bicubic": 4}.get(mode)
    if wanted is not None and input.ndim != wanted:
        raise ValueError(f"{name}: got {input.ndim}D input, but {mode} mode needs {wanted}D input")
    if recompute_scale_factor and size is not None:
        raise ValueError(f"{name}: recompute_scale_factor is not meaningful with an explicit size")
    sizes, factors = _output_size(tuple(input.shape), size, scale_factor, dims, name)
    if recompute_scale_factor or mode == "area":
        factors = (None,) * dims
    if mode == "area":
        if dims == 1:
            return adaptive_avg_pool2d(input.unsqueeze(2), (1, sizes[0])).squeeze(2)
        return adaptive_avg_pool2d(input, sizes)
    tap_mode = {"bilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    axis_taps = []
    for k, (out_size, factor) in enumerate(zip(sizes, factors)):
        axis = 2 + k
        in_size = input.shape[axis]
        if in_size < 1:
            raise ValueError(f"{name}: input of shape {shape_str(input.shape)} has an empty spatial axis")
        axis_taps.append((axis, taps(in_size, out_size, tap_mode, align_corners, factor), in_size, out_size))
    return Interpolate.apply(input, axis_taps=tuple(axis_taps))


def upsample(input, size=None, scale_factor=None, mode: str = "nearest", align_corners=None):
    """The older name of ``interpolate``."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Bilinear with ``align_corners=True`` (what the old ``F.upsample_bilinear`` meant)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---- pixel shuffle ----------------------------------------------------------------------------------------------
def _check_factor(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def pixel_shuffle(input, upscale_factor: int):
    """(*, C r^2, H, W) -> (*, C, H r, W r) (Shi et al., 2016): y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w].

    A reshape to (*, C, r, r, H, W), a permutation to (*, C, H, r, W, r) and a reshape: each output element is
    one input element, so the gradient is the inverse rearrangement (the graph's reshape and permute nodes).
    """
    r = _check_factor(upscale_factor, "pixel_shuffle: upscale_factor")
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ValueError(f"pixel_shuffle expects an input of at least 3 dimensions (*, C, H, W), got "
                         f"{shape_str(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise ValueError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square "
                         f"of upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor: int):
    """(*, C, H r, W r) -> (*, C r^2, H, W): the inverse of ``pixel_shuffle``."""
    r = _check_factor(downscale_factor, "pixel_unshuffle: downscale_factor")
    if not isinstance(input, Tensor) or input.ndim < 3:
        raise ValueError(f"pixel_unshuffle expects an input of at least 3 dimensions (*, C, H, W), got "
                         f"{shape_str(input.shape) if isinstance(input, Tensor) else type(input).__name__}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise ValueError(f"pixel_unshuffle expects height and width to be divisible by downscale_factor, but "
                         f"input.size(-2)={h} and input.size(-1)={w} are not both divisible by {r}")
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
