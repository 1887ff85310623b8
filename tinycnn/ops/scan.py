"""Scans along one dim: cumsum, cumprod, cummax, cummin, logcumsumexp.

A scan maps a line x_0 .. x_{n-1} to y_i = x_0 (op) x_1 (op) ... (op) x_i, so x_k reaches every y_i with
i >= k: each backward is a *reverse* cumulative sum of the output gradient weighted by dy_i/dx_k.
Integer and bool inputs to cumsum/cumprod give int64, as in PyTorch.
"""
from __future__ import annotations

import collections

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._args import dim_arg, tensor_arg
from ._scatter import scatter_add
from .arithmetic import _quiet


def _revcumsum(g, axis, xp):
    """r_k = sum_{i >= k} g_i along ``axis``."""
    return xp.flip(xp.cumsum(xp.flip(g, axis=axis), axis=axis), axis=axis)


def _integral_to_int64(x):
    return x.astype(np.int64) if x.dtype.kind in "biu" else x


class Cumsum(Function):
    """y_i = sum_{j <= i} x_j.  dy_i/dx_k = [k <= i]:  gx_k = sum_{i >= k} gy_i (a reverse cumsum)."""

    def forward(self, x, *, axis):
        self.axis = axis
        return get_array_module(x).cumsum(_integral_to_int64(x), axis=axis)

    def backward(self, gy):
        return _revcumsum(gy, self.axis, get_array_module(gy))


class Cumprod(Function):
    """y_i = prod_{j <= i} x_j.  dy_i/dx_k = prod_{j <= i, j != k} x_j for k <= i, so
    gx_k = sum_{i >= k} gy_i prod_{j <= i, j != k} x_j.

    Let z be the first position with x_z = 0 (z = n if none). For k < z the y_i with i >= z are 0 and the
    others have no zero factor, so gx_k = (sum_{k <= i < z} gy_i y_i) / x_k. At k = z the zero factor is
    the one left out: gx_z = y_{z-1} sum_{i >= z} gy_i prod_{z < j <= i} x_j. For k > z the products keep
    x_z = 0: gx_k = 0. (PyTorch's cumprod backward gives the same; dividing by x_k only where it is nonzero
    keeps it exact.)
    """

    def forward(self, x, *, axis):
        xp = get_array_module(x)
        self.x, self.axis = x, axis
        self.y = xp.cumprod(_integral_to_int64(x), axis=axis)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        x, y, axis = self.x, self.y, self.axis
        n = x.shape[axis]
        pos = xp.arange(n).reshape([-1] + [1] * (x.ndim - axis - 1))
        is_zero = x == 0
        z = xp.where(is_zero.any(axis=axis, keepdims=True), xp.argmax(is_zero, axis=axis, keepdims=True), n)
        with _quiet():  # the y_i with i >= z hold the zero factor: they add nothing (not even inf * 0)
            before = _revcumsum(xp.where(pos < z, gy * y, 0), axis, xp) / xp.where(is_zero, 1, x)
        gx = xp.where(pos < z, before, 0)
        if bool(is_zero.any()):
            after = xp.where(pos <= z, 1, x)                       # the factors x_j, z < j <= i
            s = (gy * xp.cumprod(after, axis=axis) * (pos >= z)).sum(axis=axis, keepdims=True)
            prev = xp.take_along_axis(y, xp.maximum(z - 1, 0), axis=axis)
            prev = xp.where(z == 0, 1, prev)                       # y_{-1} = the empty product
            gx = xp.where(pos == z, prev * s, gx)
        return gx.astype(gy.dtype, copy=False)


def _running_extreme(x, axis, largest, xp):
    """(running max or min along ``axis``, the position each came from: the last on ties; a NaN wins and
    every later NaN takes over, as PyTorch's cummax/cummin)."""
    host = x if xp is np else x.get()
    values = (np.maximum if largest else np.minimum).accumulate(host, axis=axis)
    pos = np.arange(x.shape[axis]).reshape([-1] + [1] * (x.ndim - axis - 1))
    hit = (host == values) | (np.isnan(host) if host.dtype.kind == "f" else False)
    idx = np.maximum.accumulate(np.where(hit, pos, -1), axis=axis).astype(np.int64)
    return (values, idx) if xp is np else (xp.asarray(values), xp.asarray(idx))


class CumExtreme(Function):
    """y_i = max_{j <= i} x_j (or min) = x_{idx_i}, idx_i the position it came from.
    gx_k = sum_{i : idx_i = k} gy_i (a scatter-add of gy to the indices)."""

    def forward(self, x, *, values, idx, axis):
        self.shape, self.idx, self.axis = x.shape, idx, axis
        return values

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        key = [xp.arange(n).reshape([-1 if i == j else 1 for j in range(len(self.shape))])
               for i, n in enumerate(self.shape)]
        key[self.axis] = self.idx
        scatter_add(gx, tuple(key), gy, xp)
        return gx


def _logcumsumexp(x, axis, xp):
    if xp is np:
        return np.logaddexp.accumulate(x, axis=axis)
    m = xp.amax(x, axis=axis, keepdims=True)
    m = xp.where(xp.isinf(m), 0, m)
    return xp.log(xp.cumsum(xp.exp(x - m), axis=axis)) + m


class LogCumSumExp(Function):
    """y_i = log sum_{j <= i} e^(x_j).  dy_i/dx_k = e^(x_k - y_i) for k <= i, so
    gx_k = sum_{i >= k} gy_i e^(x_k - y_i) = e^(x_k) * sum_{i >= k} gy_i e^(-y_i).

    That sum is taken in log space (as PyTorch and TensorFlow do), separately for the positive and the
    negative gy_i: gx_k = exp(x_k + revlogcumsumexp(log gy+ - y)_k) - exp(x_k + revlogcumsumexp(log gy- - y)_k),
    which neither overflows nor underflows where the direct formula would."""

    def forward(self, x, *, axis):
        xp = get_array_module(x)
        self.x, self.axis = x, axis
        with _quiet():
            self.y = _logcumsumexp(x, axis, xp)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        x, y, axis = self.x, self.y, self.axis

        def reverse(v):
            return xp.flip(_logcumsumexp(xp.flip(v, axis=axis), axis, xp), axis=axis)
        with _quiet():
            log_abs = xp.log(xp.abs(gy))
            pos = xp.exp(reverse(xp.where(gy > 0, log_abs, -np.inf) - y) + x)
            neg = xp.exp(reverse(xp.where(gy < 0, log_abs, -np.inf) - y) + x)
        return pos - neg


# ---- functional forms -------------------------------------------------------------------------------------
def _scan_args(input, dim, op, dtype=None):
    x = tensor_arg(input, op)
    if dtype is not None:
        x = x.to(dtype=dtype)
    if x.ndim == 0:
        return x.reshape(1), 0, True
    return x, dim_arg(dim, x.ndim, op), False


def _scalar_back(out, was_scalar):
    return out.reshape(()) if was_scalar else out


def cumsum(input, dim: int, *, dtype=None):
    """Running sums along ``dim``."""
    x, axis, scalar = _scan_args(input, dim, "cumsum", dtype)
    return _scalar_back(Cumsum.apply(x, axis=axis), scalar)


def cumprod(input, dim: int, *, dtype=None):
    """Running products along ``dim`` (the gradient is exact where elements are 0)."""
    x, axis, scalar = _scan_args(input, dim, "cumprod", dtype)
    return _scalar_back(Cumprod.apply(x, axis=axis), scalar)


_cummax_result = collections.namedtuple("cummax", ["values", "indices"])
_cummin_result = collections.namedtuple("cummin", ["values", "indices"])


def _cum_extreme(input, dim, largest):
    op = "cummax" if largest else "cummin"
    x, axis, scalar = _scan_args(input, dim, op)
    values, idx = _running_extreme(x.array, axis, largest, get_array_module(x.array))
    out = CumExtreme.apply(x, values=values, idx=idx, axis=axis)
    result = _cummax_result if largest else _cummin_result
    return result(_scalar_back(out, scalar), _scalar_back(Tensor(idx), scalar))


def cummax(input, dim: int):
    """(running maxima, the index each came from) along ``dim``."""
    return _cum_extreme(input, dim, True)


def cummin(input, dim: int):
    """(running minima, the index each came from) along ``dim``."""
    return _cum_extreme(input, dim, False)


def logcumsumexp(input, dim: int):
    """Running log(sum(exp(x))) along ``dim``, without overflow."""
    x, axis, scalar = _scan_args(input, dim, "logcumsumexp")
    if x.dtype.kind != "f":
        raise TypeError(f"logcumsumexp(): expected a floating-point tensor, got dtype {x.dtype}")
    return _scalar_back(LogCumSumExp.apply(x, axis=axis), scalar)


TENSOR_METHODS = {
    "cumsum": cumsum, "cumprod": cumprod, "cummax": cummax, "cummin": cummin, "logcumsumexp": logcumsumexp,
}
