"""Reductions: sum, mean, var/std, max/min (full, per-dim with indices), amax/amin, argmax/argmin.

Shared backward idea: a reduction over the axes ``D`` maps x (shape s) to y (s with the axes of D removed,
or kept as 1 with ``keepdim``). The output gradient is first reshaped to the keepdim shape and then spread
back over D by broadcasting; what each element receives is its partial derivative times that gradient.
"""
from __future__ import annotations

import collections
import numbers

from ..autograd import Function, Tensor
from ..backend import get_array_module
from .arithmetic import as_operand


def normalize_dims(dim, ndim: int, op: str) -> tuple:
    """``dim`` (None, an int or a sequence of ints, negatives allowed) as a sorted tuple of axes.

    None means every axis. A 0-d tensor accepts dim 0 and -1 (as PyTorch does) and reduces nothing.
    """
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    span = ndim if ndim > 0 else 1  # (not max(): this module defines its own max)
    out = []
    for d in dims:
        if not isinstance(d, numbers.Integral) or isinstance(d, bool):
            raise TypeError(f"{op}(): dim must be an int or a tuple of ints, got {dim!r}")
        if not -span <= d < span:
            raise ValueError(f"{op}(): dim {d} is out of range for a tensor with ndim {ndim} "
                             f"(expected a dim in [{-span}, {span - 1}])")
        out.append(int(d) % span)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}(): dim {dim!r} names the same dimension twice")
    return tuple(sorted(out)) if ndim > 0 else ()


def _kept_shape(shape, axes):
    """The output shape with keepdim=True: the reduced axes become 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _spread(g, shape, axes, xp):
    """Broadcast a reduced gradient back over ``axes`` to ``shape`` (a fresh contiguous array)."""
    g = g.reshape(_kept_shape(shape, axes))
    return xp.broadcast_to(g, shape).copy()  # (not ascontiguousarray: it turns 0-d into 1-d)


class Sum(Function):
    """y = sum_{i in D} x_i.  dy/dx_i = 1:  gx = gy broadcast back over D."""

    def forward(self, x, *, axes, keepdim):
        self.shape, self.axes = x.shape, axes
        return x.sum(axis=axes, keepdims=keepdim)

    def backward(self, gy):
        return _spread(gy, self.shape, self.axes, get_array_module(gy))


class Mean(Function):
    """y = (1/N) sum_{i in D} x_i, N = prod of the reduced sizes.  gx = gy / N broadcast back over D."""

    def forward(self, x, *, axes, keepdim):
        self.shape, self.axes = x.shape, axes
        self.n = 1
        for a in axes:
            self.n *= x.shape[a]
        return x.mean(axis=axes, keepdims=keepdim)

    def backward(self, gy):
        return _spread(gy / self.n, self.shape, self.axes, get_array_module(gy))


class Var(Function):
    """y = sum_{i in D} (x_i - m)^2 / (N - c), m = mean over D, c = correction (1 = unbiased).

    dy/dx_j = 2 (x_j - m) / (N - c) - 2/(N (N - c)) sum_i (x_i - m); the second term is 0 because the
    deviations sum to zero, so gx = gy * 2 (x - m) / (N - c) (gy broadcast back over D).
    """

    def forward(self, x, *, axes, keepdim, correction):
        self.shape, self.axes = x.shape, axes
        n = 1
        for a in axes:
            n *= x.shape[a]
        self.dof = n - correction
        self.centered = x - x.mean(axis=axes, keepdims=True)
        xp = get_array_module(x)
        with _quiet(xp):  # N <= correction gives inf/nan, as in PyTorch
            return (self.centered * self.centered).sum(axis=axes, keepdims=keepdim) / self.dof

    def backward(self, gy):
        xp = get_array_module(gy)
        g = gy.reshape(_kept_shape(self.shape, self.axes))
        with _quiet(xp):
            return g * self.centered * (2.0 / self.dof if self.dof != 0 else float("inf"))


def _quiet(xp):
    import numpy as np  # noqa: PLC0415  (errstate is a NumPy context; CuPy does not warn)
    return np.errstate(divide="ignore", invalid="ignore")


class Amax(Function):
    """y = max_{i in D} x_i (or min), ties split evenly as PyTorch's ``x.max()`` / ``amax``.

    With M = {i : x_i = y} (the k tied maxima), y is locally the mean of x over M, so
    dy/dx_i = [i in M] / k:  gx = gy * mask / count, broadcast back over D.
    """

    def forward(self, x, *, axes, keepdim, largest):
        xp = get_array_module(x)
        y = (xp.amax if largest else xp.amin)(x, axis=axes, keepdims=True)
        self.mask = x == y
        self.axes, self.shape = axes, x.shape
        return y if keepdim else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    def backward(self, gy):
        g = gy.reshape(_kept_shape(self.shape, self.axes))
        count = self.mask.sum(axis=self.axes, keepdims=True).astype(gy.dtype)
        return self.mask * (g / count)


class MaxDim(Function):
    """y = x at the index ``idx`` chosen along ``dim`` (the first max/min).

    Only the selected element moves y:  gx_j = gy where j = idx along dim, else 0 (ties: all to idx).
    """

    def forward(self, x, *, dim, indices, keepdim):
        xp = get_array_module(x)
        self.shape, self.dim = x.shape, dim
        self.idx = xp.expand_dims(indices, dim)
        y = xp.take_along_axis(x, self.idx, axis=dim)
        return y if keepdim else xp.squeeze(y, axis=dim)

    def backward(self, gy):
        xp = get_array_module(gy)
        g = xp.expand_dims(gy, self.dim) if gy.ndim < len(self.shape) else gy
        pos = xp.arange(self.shape[self.dim]).reshape([-1] + [1] * (len(self.shape) - self.dim - 1))
        return xp.where(pos == self.idx, g, 0)  # the one-hot of idx along dim, times gy


# ---- functional forms -------------------------------------------------------------------------------------
def _tensor(x, name):
    x = as_operand(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): expected a Tensor, got {type(x).__name__}")
    return x


def sum(input, dim=None, keepdim: bool = False, dtype=None):  # noqa: A001  (PyTorch's name)
    x = _tensor(input, "sum")
    if dtype is not None:
        x = x.to(dtype=dtype)
    return Sum.apply(x, axes=normalize_dims(dim, x.ndim, "sum"), keepdim=keepdim)


def mean(input, dim=None, keepdim: bool = False, dtype=None):
    x = _tensor(input, "mean")
    if dtype is not None:
        x = x.to(dtype=dtype)
    if x.dtype.kind not in "fc":
        raise TypeError(f"mean(): expected a floating-point tensor, got dtype {x.dtype}; "
                        f"pass dtype= or convert with .float()")
    return Mean.apply(x, axes=normalize_dims(dim, x.ndim, "mean"), keepdim=keepdim)


def _correction(op, unbiased, correction):
    if unbiased is not None and correction is not None:
        raise ValueError(f"{op}(): give either unbiased= or correction=, not both")
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance over ``dim``; divides by N - correction (correction 1 = unbiased, the default)."""
    x = _tensor(input, "var")
    if isinstance(dim, bool):  # the old positional form var(x, unbiased)
        dim, unbiased = None, dim
    if x.dtype.kind not in "fc":
        raise TypeError(f"var(): expected a floating-point tensor, got dtype {x.dtype}")
    return Var.apply(x, axes=normalize_dims(dim, x.ndim, "var"), keepdim=keepdim,
                     correction=_correction("var", unbiased, correction))


def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """sqrt(var): composed, so its gradient is var's times 1 / (2 std)."""
    from .elementwise import sqrt  # noqa: PLC0415  (sibling module; avoids an import order dependency)
    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


_max_result = collections.namedtuple("max", ["values", "indices"])
_min_result = collections.namedtuple("min", ["values", "indices"])


def _extreme(op, largest, input, dim, keepdim, other):
    x = _tensor(input, op)
    if isinstance(dim, Tensor) or other is not None:  # torch.max(a, b) is the elementwise maximum
        from . import elementwise  # noqa: PLC0415
        return (elementwise.maximum if largest else elementwise.minimum)(x, other if other is not None else dim)
    if x.numel() == 0:
        raise ValueError(f"{op}(): cannot reduce an empty tensor of shape {tuple(x.shape)}")
    if dim is None:
        return Amax.apply(x, axes=tuple(range(x.ndim)), keepdim=False, largest=largest)
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}(): dim must be an int, got {dim!r} (use amax/amin for several dims)")
    (axis,) = normalize_dims(dim, x.ndim, op) or (None,)
    if axis is None:  # a 0-d tensor: the value itself, index 0
        zero = Tensor(get_array_module(x.array).zeros((), dtype="int64"))
        return (_max_result if largest else _min_result)(x * 1, zero)
    xp = get_array_module(x.array)
    idx = (xp.argmax if largest else xp.argmin)(x.array, axis=axis).astype("int64")
    values = MaxDim.apply(x, dim=axis, indices=idx, keepdim=keepdim)
    indices = Tensor(xp.expand_dims(idx, axis) if keepdim else idx)
    return (_max_result if largest else _min_result)(values, indices)


def max(input, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    """``max(x)``: the largest value (ties share the gradient); ``max(x, dim)``: (values, indices) with
    the gradient going to the first maximum; ``max(x, y)`` with a Tensor y: elementwise maximum."""
    return _extreme("max", True, input, dim, keepdim, other)


def min(input, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    return _extreme("min", False, input, dim, keepdim, other)


def amax(input, dim=(), keepdim: bool = False):
    """Max over ``dim`` (int or tuple; () or None = all), ties split evenly."""
    x = _tensor(input, "amax")
    axes = normalize_dims(None if dim == () else dim, x.ndim, "amax")
    return Amax.apply(x, axes=axes, keepdim=keepdim, largest=True)


def amin(input, dim=(), keepdim: bool = False):
    x = _tensor(input, "amin")
    axes = normalize_dims(None if dim == () else dim, x.ndim, "amin")
    return Amax.apply(x, axes=axes, keepdim=keepdim, largest=False)


def _arg(op, largest, input, dim, keepdim):
    x = _tensor(input, op)
    xp = get_array_module(x.array)
    find = xp.argmax if largest else xp.argmin
    if dim is None:
        idx = find(x.array.reshape(-1))
        shape = (1,) * x.ndim if keepdim else ()
        return Tensor(xp.asarray(idx, dtype="int64").reshape(shape))
    if not isinstance(dim, numbers.Integral):
        raise TypeError(f"{op}(): dim must be an int or None, got {dim!r}")
    axes = normalize_dims(dim, x.ndim, op)
    if not axes:
        return Tensor(xp.zeros((), dtype="int64"))
    idx = find(x.array, axis=axes[0], keepdims=keepdim)
    return Tensor(idx.astype("int64"))


def argmax(input, dim=None, keepdim: bool = False):
    """Index of the (first) largest value; over the flattened tensor when ``dim`` is None. No gradient."""
    return _arg("argmax", True, input, dim, keepdim)


def argmin(input, dim=None, keepdim: bool = False):
    return _arg("argmin", False, input, dim, keepdim)


TENSOR_METHODS = {
    "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax, "amin": amin,
    "argmax": argmax, "argmin": argmin,
}
