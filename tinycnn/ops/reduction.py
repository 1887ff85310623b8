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
from . import elementwise
from ._args import normalize_dims, numpy_aliases
from ._args import tensor_arg as _tensor
from .arithmetic import _quiet


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
        with _quiet():  # N <= correction gives inf/nan, as in PyTorch
            return (self.centered * self.centered).sum(axis=axes, keepdims=keepdim) / self.dof

    def backward(self, gy):
        g = gy.reshape(_kept_shape(self.shape, self.axes))
        with _quiet():
            return g * self.centered * (2.0 / self.dof if self.dof != 0 else float("inf"))


class Amax(Function):
    """y = max_{i in D} x_i (or min), ties split evenly as PyTorch's ``x.max()`` / ``amax``.

    With M = {i : x_i = y} (the k tied maxima), y is locally the mean of x over M, so
    dy/dx_i = [i in M] / k:  gx = gy * mask / count, broadcast back over D.

    NaN, as PyTorch: a NaN wins (y = NaN). ``x.max()`` over everything then sends the gradient to the NaN
    elements (M = the NaNs); ``amax`` keeps M = {x_i = y}, which is empty, and gives NaN gradients (0/0).
    """

    def forward(self, x, *, axes, keepdim, largest, nan_wins=False):
        xp = get_array_module(x)
        y = (xp.amax if largest else xp.amin)(x, axis=axes, keepdims=True)
        self.mask = x == y
        if nan_wins and x.dtype.kind == "f":
            self.mask = xp.where(xp.isnan(y), xp.isnan(x), self.mask)
        self.axes, self.shape = axes, x.shape
        return y if keepdim else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    def backward(self, gy):
        g = gy.reshape(_kept_shape(self.shape, self.axes))
        count = self.mask.sum(axis=self.axes, keepdims=True).astype(gy.dtype)
        with _quiet():
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
@numpy_aliases
def sum(input, dim=None, keepdim: bool = False, dtype=None):  # noqa: A001  (PyTorch's name)
    x = _tensor(input, "sum")
    if dtype is not None:
        x = x.to(dtype=dtype)
    return Sum.apply(x, axes=normalize_dims(dim, x.ndim, "sum"), keepdim=keepdim)


@numpy_aliases
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


@numpy_aliases
def var(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """Variance over ``dim``; divides by N - correction (correction 1 = unbiased, the default)."""
    x = _tensor(input, "var")
    if isinstance(dim, bool):  # the old positional form var(x, unbiased)
        dim, unbiased = None, dim
    if x.dtype.kind not in "fc":
        raise TypeError(f"var(): expected a floating-point tensor, got dtype {x.dtype}")
    return Var.apply(x, axes=normalize_dims(dim, x.ndim, "var"), keepdim=keepdim,
                     correction=_correction("var", unbiased, correction))


@numpy_aliases
def std(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """sqrt(var): composed, so its gradient is var's times 1 / (2 std)."""
    return elementwise.sqrt(var(input, dim, unbiased, keepdim, correction=correction))


_max_result = collections.namedtuple("max", ["values", "indices"])
_min_result = collections.namedtuple("min", ["values", "indices"])


def _extreme(op, largest, input, dim, keepdim, other):
    x = _tensor(input, op)
    if isinstance(dim, Tensor) or other is not None:  # torch.max(a, b) is the elementwise maximum
        return (elementwise.maximum if largest else elementwise.minimum)(x, other if other is not None else dim)
    if x.numel() == 0:
        raise ValueError(f"{op}(): cannot reduce an empty tensor of shape {tuple(x.shape)}")
    if dim is None:
        return Amax.apply(x, axes=tuple(range(x.ndim)), keepdim=False, largest=largest, nan_wins=True)
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


@numpy_aliases
def max(input, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001  (PyTorch's name)
    """``max(x)``: the largest value (ties share the gradient); ``max(x, dim)``: (values, indices) with
    the gradient going to the first maximum; ``max(x, y)`` with a Tensor y: elementwise maximum."""
    return _extreme("max", True, input, dim, keepdim, other)


@numpy_aliases
def min(input, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001  (PyTorch's name)
    return _extreme("min", False, input, dim, keepdim, other)


@numpy_aliases
def amax(input, dim=(), keepdim: bool = False):
    """Max over ``dim`` (int or tuple; () or None = all), ties split evenly."""
    x = _tensor(input, "amax")
    axes = normalize_dims(None if dim == () else dim, x.ndim, "amax")
    return Amax.apply(x, axes=axes, keepdim=keepdim, largest=True)


@numpy_aliases
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


@numpy_aliases
def argmax(input, dim=None, keepdim: bool = False):
    """Index of the (first) largest value; over the flattened tensor when ``dim`` is None. No gradient."""
    return _arg("argmax", True, input, dim, keepdim)


@numpy_aliases
def argmin(input, dim=None, keepdim: bool = False):
    return _arg("argmin", False, input, dim, keepdim)


class Prod(Function):
    """y = prod_i x_i along one axis (or over all elements).

    dy/dx_i = prod_{j != i} x_j = L_i R_i, with L_i = x_0 ... x_{i-1} and R_i = x_{i+1} ... x_{n-1} (the
    exclusive cumulative products from each side). Computed this way, not as y / x_i, it is exact where
    x_i = 0: with one zero only that element gets a nonzero gradient, with two or more all get 0 (PyTorch).
    """

    def forward(self, x, *, axis, keepdim):
        xp = get_array_module(x)
        if x.dtype.kind in "biu":
            x = x.astype("int64")
        self.x, self.axis = (x.reshape(-1), 0) if axis is None else (x, axis)
        self.shape = x.shape
        y = xp.prod(self.x, axis=self.axis, keepdims=True)
        if axis is None:
            return y.reshape((1,) * x.ndim if keepdim else ())
        return y if keepdim else xp.squeeze(y, axis=axis)

    def backward(self, gy):
        xp = get_array_module(gy)
        x, axis = self.x, self.axis
        left = _exclusive_cumprod(x, axis, xp)
        right = xp.flip(_exclusive_cumprod(xp.flip(x, axis=axis), axis, xp), axis=axis)
        g = gy.reshape([1 if i == axis else n for i, n in enumerate(x.shape)])
        return (g * left * right).reshape(self.shape)


def _exclusive_cumprod(x, axis, xp):
    """c_i = x_0 ... x_{i-1} along ``axis`` (c_0 = 1), without dividing."""
    c = xp.roll(xp.cumprod(x, axis=axis), 1, axis=axis)
    c[(slice(None),) * axis + (0,)] = 1
    return c


@numpy_aliases
def prod(input, dim=None, keepdim: bool = False, *, dtype=None):
    """Product over one dim (or all elements); integers and bools give int64."""
    x = _tensor(input, "prod")
    if dtype is not None:
        x = x.to(dtype=dtype)
    if dim is not None and not isinstance(dim, numbers.Integral):
        raise TypeError(f"prod(): dim must be an int or None, got {dim!r}")
    axes = normalize_dims(dim, x.ndim, "prod") if dim is not None else None
    if axes == ():  # a 0-d tensor along its dim 0: itself
        return x * 1
    if x.numel() == 0:  # the empty product is 1 (no gradient to send)
        xp = get_array_module(x.array)
        arr = x.array if x.dtype.kind == "f" else x.array.astype("int64")
        return Tensor(xp.prod(arr, axis=None if axes is None else axes[0], keepdims=keepdim))
    return Prod.apply(x, axis=None if axes is None else axes[0], keepdim=keepdim)


class LogSumExp(Function):
    """y = log sum_{i in D} exp(x_i), computed as m + log sum exp(x_i - m) with m = max over D (m = 0 where
    the max is infinite, as PyTorch).  dy/dx_i = exp(x_i - y), the softmax over D:  gx = gy * exp(x - y)."""

    def forward(self, x, *, axes, keepdim):
        xp = get_array_module(x)
        x = x if x.dtype.kind in "fc" else x.astype("float32")
        m = xp.amax(x, axis=axes, keepdims=True) if x.size else xp.zeros([1] * x.ndim, x.dtype)
        m = xp.where(xp.isinf(m), 0, m)
        with _quiet():
            y = xp.log(xp.exp(x - m).sum(axis=axes, keepdims=True)) + m
        self.x, self.y, self.axes = x, y, axes
        return y if keepdim else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    def backward(self, gy):
        xp = get_array_module(gy)
        g = gy.reshape(_kept_shape(self.x.shape, self.axes))
        with _quiet():
            return g * xp.exp(self.x - self.y)


@numpy_aliases
def logsumexp(input, dim, keepdim: bool = False):
    """log(sum(exp(x))) over ``dim`` without overflow."""
    x = _tensor(input, "logsumexp")
    return LogSumExp.apply(x, axes=normalize_dims(dim, x.ndim, "logsumexp"), keepdim=keepdim)


@numpy_aliases
def var_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(var, mean) over ``dim``, as ``torch.var_mean``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim) if dim is not None else mean(input, keepdim=keepdim))


@numpy_aliases
def std_mean(input, dim=None, unbiased=None, keepdim: bool = False, *, correction=None):
    """(std, mean) over ``dim``, as ``torch.std_mean``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim) if dim is not None else mean(input, keepdim=keepdim))


_aminmax_result = collections.namedtuple("aminmax", ["min", "max"])


def aminmax(input, *, dim=None, keepdim: bool = False):
    """(amin, amax) over ``dim`` (or everything), as a named pair ``(min, max)``."""
    axes = () if dim is None else dim
    return _aminmax_result(amin(input, axes, keepdim), amax(input, axes, keepdim))


def _not_nan(x):
    mask = get_array_module(x.array).isnan(x.array)
    return elementwise.where(mask, 0.0, x), ~mask


@numpy_aliases
def nansum(input, dim=None, keepdim: bool = False, *, dtype=None):
    """sum with NaNs counted as 0 (their gradient is 0)."""
    x = _tensor(input, "nansum")
    if x.dtype.kind != "f":
        return sum(x, dim, keepdim, dtype=dtype)
    return sum(_not_nan(x)[0], dim, keepdim, dtype=dtype)


@numpy_aliases
def nanmean(input, dim=None, keepdim: bool = False, *, dtype=None):
    """mean over the non-NaN elements."""
    x = _tensor(input, "nanmean")
    if dtype is not None:
        x = x.to(dtype=dtype)
    filled, kept = _not_nan(x)
    count = kept.sum(axis=normalize_dims(dim, x.ndim, "nanmean"), keepdims=keepdim)
    return sum(filled, dim, keepdim) / Tensor(count.astype(x.dtype))


class Norm(Function):
    """y = (sum_{i in D} |x_i|^p)^(1/p) for 0 < p < inf.

    dy/dx_i = sign(x_i) |x_i|^(p-1) / y^(p-1)  (p = 2: x_i / y). Where y = 0 every x_i = 0 and PyTorch
    returns 0; so does this (for p < 1 the formula would give inf there too)."""

    def forward(self, x, *, p, axes, keepdim):
        xp = get_array_module(x)
        self.x, self.p, self.axes = x, p, axes
        self.y = (xp.abs(x) ** p).sum(axis=axes, keepdims=True) ** (1.0 / p)
        return self.y if keepdim else self.y.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(self, gy):
        xp = get_array_module(gy)
        g = gy.reshape(_kept_shape(self.x.shape, self.axes))
        x, y, p = self.x, self.y, self.p
        with _quiet():
            d = xp.sign(x) * xp.abs(x) ** (p - 1) / y ** (p - 1)
        return xp.where(y == 0, 0, g * d)


@numpy_aliases
def norm(input, p="fro", dim=None, keepdim: bool = False, dtype=None):
    """The vector p-norm over ``dim`` (or all elements): p = 'fro' or 2 (Euclidean), 1, any p > 0,
    ``inf`` (largest |x|), ``-inf`` (smallest), 0 (number of nonzeros, no gradient)."""
    x = _tensor(input, "norm")
    if dtype is not None:
        x = x.to(dtype=dtype)
    if x.dtype.kind != "f":
        raise TypeError(f"norm(): expected a floating-point tensor, got dtype {x.dtype}")
    p = 2.0 if p in ("fro", None) else p
    if isinstance(p, str) or not isinstance(p, numbers.Number):
        raise ValueError(f"norm(): p must be a number, 'fro', inf or -inf, got {p!r}")
    axes = normalize_dims(dim, x.ndim, "norm")
    if p == float("inf"):
        return amax(elementwise.abs(x), axes, keepdim)
    if p == float("-inf"):
        return amin(elementwise.abs(x), axes, keepdim)
    if p == 0:
        return Tensor((x.array != 0).sum(axis=axes, keepdims=keepdim).astype(x.dtype))
    if p < 0:
        raise ValueError(f"norm(): p must be positive (or 0, inf, -inf), got {p!r}")
    return Norm.apply(x, p=float(p), axes=axes, keepdim=keepdim)


TENSOR_METHODS = {
    "sum": sum, "mean": mean, "var": var, "std": std, "max": max, "min": min, "amax": amax, "amin": amin,
    "argmax": argmax, "argmin": argmin, "prod": prod, "logsumexp": logsumexp, "aminmax": aminmax,
    "nansum": nansum, "nanmean": nanmean, "norm": norm,
}
