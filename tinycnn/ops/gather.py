"""Gather and scatter along a dim: gather, scatter, scatter_add, scatter_reduce, take, take_along_dim.

Index tensors have the input's number of dims; position p of the index names the element at p with its
``dim`` coordinate replaced by index[p] (``key(p)``). Backward, as for every gather/scatter pair:

    gather   y[p] = x[key(p)]                   gx = zeros; gx[key(p)] += gy[p]   (repeats add up)
    scatter  y = x; y[key(p)] = src[p]          gx = gy with key's positions zeroed; gsrc[p] = gy[key(p)]
    add      y = x; y[key(p)] += src[p]         gx = gy;                             gsrc[p] = gy[key(p)]

Indices must lie in [0, size) (negative ones are an error, as in PyTorch), except for ``take``, which
accepts [-numel, numel) as PyTorch's does.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import ShapeError
from ._args import dim_arg, tensor_arg
from ._scatter import scatter_add as _scatter_add_at
from ._scatter import ufunc_at
from .indexing import _check_range, _index_array, getitem


def _dim_key(index, dim, xp):
    """The advanced-index tuple that sends position p of ``index`` to (p_0, .., index[p], .., p_n)."""
    key = []
    for i, n in enumerate(index.shape):
        shape = [1] * index.ndim
        shape[i] = n
        key.append(xp.arange(n).reshape(shape))
    key[dim] = index
    return tuple(key)


def _gather_args(x, dim, index, op, src=None):
    xp = get_array_module(x.array)
    idx = _index_array(index, op, xp)
    d = dim_arg(dim, x.ndim, op)
    if idx.ndim != x.ndim and not (x.ndim == 0 and idx.ndim <= 1):
        raise ShapeError(f"{op}(): index must have as many dims as the input ({x.ndim}), got index of shape "
                         f"{tuple(idx.shape)} for input of shape {tuple(x.shape)}")
    for i, n in enumerate(idx.shape):
        if i != d and n > x.shape[i]:
            raise ShapeError(f"{op}(): index of shape {tuple(idx.shape)} is larger than the input of shape "
                             f"{tuple(x.shape)} at dim {i}")
        if src is not None and n > src.shape[i]:
            raise ShapeError(f"{op}(): index of shape {tuple(idx.shape)} is larger than src of shape "
                             f"{tuple(src.shape)} at dim {i}")
    if x.ndim:
        _check_range(idx, x.shape[d], d, op)
    return _dim_key(idx, d, xp) if x.ndim else (), d


def _src_part(src, index_shape):
    return src[tuple(slice(0, n) for n in index_shape)]


class Gather(Function):
    """y[p] = x[p with its ``dim`` coordinate replaced by index[p]] (y has index's shape).

    gx = zeros; gx[key(p)] += gy[p] (repeated indices add up)."""

    def forward(self, x, *, key):
        self.shape, self.key = x.shape, key
        return x[key] if key else x.copy()

    def backward(self, gy):
        xp = get_array_module(gy)
        if not self.key:
            return gy
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        _scatter_add_at(gx, self.key, gy, xp)
        return gx


class Scatter(Function):
    """y = x with y[key(p)] = src[p] for every position p of index (``mode='add'``: y[key(p)] += src[p]).

    Replace: gx = gy with the scattered positions zeroed, gsrc[p] = gy[key(p)] (0 outside index's shape).
    Add: gx = gy, gsrc the same gather."""

    def forward(self, x, src, *, key, index_shape, mode):
        self.key, self.mode, self.index_shape = key, mode, index_shape
        self.src_shape = getattr(src, "shape", None)
        y = x.copy()
        values = _src_part(src, index_shape) if self.src_shape is not None else src
        if hasattr(values, "astype"):
            values = values.astype(x.dtype, copy=False)
        if mode == "add":
            _scatter_add_at(y, key, values)
        else:
            y[key] = values
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = gsrc = None
        if self.needs_input_grad[0]:
            gx = gy if self.mode == "add" else gy.copy()
            if self.mode != "add":
                gx[self.key] = 0
        if self.src_shape is not None and self.needs_input_grad[1]:
            gsrc = xp.zeros(self.src_shape, dtype=gy.dtype)
            gsrc[tuple(slice(0, n) for n in self.index_shape)] = gy[self.key]
        return gx, gsrc


def gather(input, dim: int, index, *, sparse_grad: bool = False):
    """Values of ``input`` along ``dim`` at ``index`` (same number of dims; output of index's shape)."""
    x = tensor_arg(input, "gather")
    key, _ = _gather_args(x, dim, index, "gather")
    return Gather.apply(x, key=key)


def scatter(input, dim: int, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` (a tensor, or ``value``, a number) written at ``index`` along ``dim``; out of
    place. ``reduce='add'`` / ``'multiply'`` combine instead of overwriting (see scatter_reduce)."""
    x = tensor_arg(input, "scatter")
    if src is None and value is None:
        raise TypeError("scatter(): give src (a tensor) or value (a number)")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src  # scatter(dim, index, 2.0): PyTorch's value overload
    if reduce is not None:
        names = {"add": "sum", "multiply": "prod"}
        if reduce not in names:
            raise ValueError(f"scatter(): reduce must be 'add' or 'multiply', got {reduce!r}")
        if src is None:
            src = Tensor(get_array_module(x.array).full(tuple(getattr(index, "shape", ())), value, dtype=x.dtype))
        return scatter_reduce(x, dim, index, src, names[reduce])
    key, _ = _gather_args(x, dim, index, "scatter", src)
    index_shape = tuple(index.shape)
    return Scatter.apply(x, src if src is not None else value, key=key, index_shape=index_shape, mode="set")


def scatter_add(input, dim: int, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""
    x = tensor_arg(input, "scatter_add")
    src = tensor_arg(src, "scatter_add")
    key, _ = _gather_args(x, dim, index, "scatter_add", src)
    return Scatter.apply(x, src, key=key, index_shape=tuple(index.shape), mode="add")


_REDUCE = {"sum": "add", "prod": "multiply", "mean": "add", "amax": "maximum", "amin": "minimum"}


def _identity(reduce, dtype):
    if reduce in ("sum", "mean"):
        return 0
    if reduce == "prod":
        return 1
    big = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    return -big if reduce == "amax" else big


class ScatterReduce(Function):
    """y[q] = reduce of {x[q] (if include_self)} and every src[p] with key(p) = q; untouched q keep x[q].

    Each position q is reduced over its members M(q). Gradient of a member e in M(q), times gy[q]:
      sum: 1;  mean: 1 / |M(q)|;  prod: the product of the other members (computed without dividing
      by e, so zeros are exact: with one zero in M(q) only that member gets the product of the rest);
      amax/amin: 1/k for each of the k members equal to y[q] (ties share, as PyTorch; like PyTorch, k
      counts x[q] when it equals y[q] even with include_self=False).
    Then gx[q] = that for the x member (0 when x is not a member), gsrc[p] = that for member src[p].
    """

    def forward(self, x, src, *, key, index_shape, reduce, include_self):
        xp = get_array_module(x, src)
        s = _src_part(src, index_shape).astype(x.dtype, copy=False)
        touched = xp.zeros(x.shape, dtype=bool)
        touched[key] = True
        y = x.copy()
        if not include_self:
            y[touched] = _identity(reduce, x.dtype)
        ufunc_at(y, key, s, _REDUCE[reduce], xp)
        count = None
        if reduce == "mean":
            count = xp.zeros(x.shape, dtype=x.dtype) + (1 if include_self else 0)
            _scatter_add_at(count, key, xp.ones_like(s), xp)
            count = xp.where(count == 0, 1, count)
            y = y // count if x.dtype.kind in "iu" else y / count
        self.x, self.s, self.y, self.count, self.touched = x, s, y, count, touched
        self.key, self.index_shape, self.reduce, self.include_self = key, index_shape, reduce, include_self
        self.src_shape = src.shape
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        x, s, key, reduce = self.x, self.s, self.key, self.reduce
        in_self = self.include_self | ~self.touched          # x[q] is a member of M(q)
        if reduce == "sum":
            gx_scale, gs_scale = xp.ones_like(gy), xp.ones_like(gy)[key]
        elif reduce == "mean":
            gx_scale, gs_scale = 1.0 / self.count, (1.0 / self.count)[key]
        elif reduce == "prod":
            # per position: how many members are 0, and the product of the nonzero ones
            zeros = xp.where(in_self & (x == 0), 1, 0).astype(gy.dtype)
            _scatter_add_at(zeros, key, (s == 0).astype(gy.dtype), xp)
            nonzero_prod = xp.where(in_self & (x != 0), x, 1).astype(gy.dtype)
            ufunc_at(nonzero_prod, key, xp.where(s == 0, 1, s).astype(gy.dtype), "multiply", xp)

            def others(e, z, p):  # product of the other members of e's position
                return xp.where(e == 0, xp.where(z == 1, p, 0), xp.where(z == 0, p / xp.where(e == 0, 1, e), 0))
            gx_scale = others(x, zeros, nonzero_prod)
            gs_scale = others(s, zeros[key], nonzero_prod[key])
        else:  # amax / amin: the members equal to the result share the gradient (x counts as a member
            # here even when excluded, as in PyTorch's backward; its own share is then dropped below)
            ties = (x == self.y).astype(gy.dtype)
            _scatter_add_at(ties, key, (s == self.y[key]).astype(gy.dtype), xp)
            gx_scale = (x == self.y) / xp.where(ties == 0, 1, ties)
            gs_scale = (s == self.y[key]) / xp.where(ties == 0, 1, ties)[key]
        gx = gsrc = None
        if self.needs_input_grad[0]:
            gx = xp.where(in_self, gy * gx_scale, 0)
        if self.needs_input_grad[1]:
            gsrc = xp.zeros(self.src_shape, dtype=gy.dtype)
            gsrc[tuple(slice(0, n) for n in self.index_shape)] = gy[key] * gs_scale
        return gx, gsrc


def scatter_reduce(input, dim: int, index, src, reduce: str, *, include_self: bool = True):
    """Reduce ``src`` into ``input`` at ``index`` along ``dim`` with 'sum', 'prod', 'mean', 'amax' or
    'amin' (with or without ``input``'s own values)."""
    x = tensor_arg(input, "scatter_reduce")
    src = tensor_arg(src, "scatter_reduce")
    if reduce not in _REDUCE:
        raise ValueError(f"scatter_reduce(): reduce must be one of {sorted(_REDUCE)}, got {reduce!r}")
    key, _ = _gather_args(x, dim, index, "scatter_reduce", src)
    return ScatterReduce.apply(x, src, key=key, index_shape=tuple(index.shape), reduce=reduce,
                               include_self=bool(include_self))


def take(input, index):
    """``input`` read as 1-D at ``index``; the result has index's shape."""
    x = tensor_arg(input, "take")
    xp = get_array_module(x.array)
    idx = _index_array(index, "take", xp)
    _check_range(idx, x.numel(), 0, "take", negative=True)
    return getitem(x.reshape(-1), Tensor(idx.reshape(-1) % max(x.numel(), 1))).reshape(tuple(idx.shape))


def take_along_dim(input, indices, dim=None):
    """Values at ``indices`` along ``dim`` (input and indices broadcast except along dim); with ``dim``
    None, over the flattened input."""
    x = tensor_arg(input, "take_along_dim")
    idx = indices if isinstance(indices, Tensor) else Tensor(np.asarray(indices))
    if dim is None:
        return take(x, idx.reshape(-1))
    d = dim_arg(dim, x.ndim, "take_along_dim")
    shape_x, shape_i = list(x.shape), list(idx.shape)
    if len(shape_x) != len(shape_i):
        raise ShapeError(f"take_along_dim(): input and indices must have the same number of dims, got "
                         f"{tuple(x.shape)} and {tuple(idx.shape)}")
    try:
        common = list(np.broadcast_shapes(tuple(shape_x[:d] + [1] + shape_x[d + 1:]),
                                          tuple(shape_i[:d] + [1] + shape_i[d + 1:])))
    except ValueError:
        raise ShapeError(f"take_along_dim(): input {tuple(x.shape)} and indices {tuple(idx.shape)} do not "
                         f"broadcast outside dim {d}") from None
    xb = x.expand(*(common[:d] + [shape_x[d]] + common[d + 1:]))
    ib = Tensor(get_array_module(idx.array).broadcast_to(idx.array, common[:d] + [shape_i[d]] + common[d + 1:]))
    return gather(xb, d, ib)


TENSOR_METHODS = {
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add, "scatter_reduce": scatter_reduce,
    "take": take, "take_along_dim": take_along_dim,
}
