"""Sorting and selection: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, unique,
searchsorted, bucketize.

The differentiable ones select elements: y = x at the positions ``idx`` chosen along a dim, so the
gradient goes back to exactly those positions (``gather``'s backward: gx = zeros; gx[idx] += gy). The
positions themselves carry no gradient. ``median()`` over all elements shares the gradient evenly among
the elements equal to the median, as PyTorch does.

Order rules, as PyTorch: NaN sorts as the largest value (last ascending, first descending); sorts are
stable, so equal values keep their order (``topk`` may order equal values differently from PyTorch's, whose
order among ties is unspecified); ``median`` is the lower of the two middle values and is NaN when the line
holds a NaN; ``mode`` is the smallest of the most frequent values, with the index of its last occurrence.
"""
from __future__ import annotations

import collections
import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._args import dim_arg, tensor_arg
from .gather import Gather, _dim_key


def _descending_key(a, xp):
    """A key whose ascending order is ``a``'s descending order (without overflow for integers)."""
    if a.dtype.kind == "f":
        return -a
    if a.dtype == bool:
        return ~a
    return xp.invert(a)  # ~x = -x - 1: order-reversing and exact at the dtype's minimum


def _argsort(a, axis, descending, xp):
    """Stable argsort along ``axis`` with NaN as the largest value."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    key = _descending_key(a, xp)
    if a.dtype.kind == "f":
        # NaN first: sort by "is a number" first, then by -a (lexsort's last key is the primary one)
        moved = xp.moveaxis(key, axis, -1)
        flat = moved.reshape(-1, moved.shape[-1]) if moved.ndim else moved.reshape(1, 1)
        host = flat if xp is np else flat.get()
        order = np.stack([np.lexsort((row, ~np.isnan(row))) for row in host]) if host.size else \
            np.zeros(host.shape, dtype=np.int64)
        order = order.reshape(moved.shape)
        return xp.moveaxis(xp.asarray(order), -1, axis)
    return xp.argsort(key, axis=axis, kind="stable")


def _select(x: Tensor, idx, axis):
    """The elements of x at ``idx`` along ``axis``, differentiably (gather's backward)."""
    return Gather.apply(x, key=_dim_key(idx, axis, get_array_module(x.array)))


def _line_args(input, dim, op):
    x = tensor_arg(input, op)
    if x.ndim == 0:
        return x.reshape(1), 0, True
    return x, dim_arg(dim, x.ndim, op), False


def _squeeze(t: Tensor, axis, scalar, keepdim=True):
    if scalar:
        return t.reshape(())
    return t if keepdim else t.squeeze(axis)


_sort_result = collections.namedtuple("sort", ["values", "indices"])
_topk_result = collections.namedtuple("topk", ["values", "indices"])
_kth_result = collections.namedtuple("kthvalue", ["values", "indices"])
_median_result = collections.namedtuple("median", ["values", "indices"])
_mode_result = collections.namedtuple("mode", ["values", "indices"])


def sort(input, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """(sorted values, their original indices) along ``dim``; always stable here."""
    x, axis, scalar = _line_args(input, dim, "sort")
    xp = get_array_module(x.array)
    idx = _argsort(x.array, axis, descending, xp).astype(np.int64)
    return _sort_result(_squeeze(_select(x, idx, axis), axis, scalar), _squeeze(Tensor(idx), axis, scalar))


def argsort(input, dim: int = -1, descending: bool = False, *, stable: bool = False):
    """The indices that sort ``input`` along ``dim`` (no gradient)."""
    return sort(input, dim, descending).indices


def msort(input):
    """``sort(input, dim=0).values``."""
    return sort(input, 0).values


def topk(input, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, largest first."""
    x, axis, scalar = _line_args(input, dim, "topk")
    n = x.shape[axis]
    if not isinstance(k, numbers.Integral) or not 0 <= k <= n:
        raise ValueError(f"topk(): k ({k!r}) must be in [0, {n}], the size of dim {axis} of shape {tuple(x.shape)}")
    xp = get_array_module(x.array)
    idx = xp.take(_argsort(x.array, axis, largest, xp), range(int(k)), axis=axis).astype(np.int64)
    return _topk_result(_squeeze(_select(x, idx, axis), axis, scalar), _squeeze(Tensor(idx), axis, scalar))


def kthvalue(input, k: int, dim: int = -1, keepdim: bool = False):
    """The k-th smallest value (k from 1) along ``dim`` and its index."""
    x, axis, scalar = _line_args(input, dim, "kthvalue")
    n = x.shape[axis]
    if not isinstance(k, numbers.Integral) or not 1 <= k <= n:
        raise ValueError(f"kthvalue(): k ({k!r}) must be in [1, {n}], the size of dim {axis} of shape "
                         f"{tuple(x.shape)}")
    xp = get_array_module(x.array)
    idx = xp.take(_argsort(x.array, axis, False, xp), [int(k) - 1], axis=axis).astype(np.int64)
    return _kth_result(_squeeze(_select(x, idx, axis), axis, scalar, keepdim),
                       _squeeze(Tensor(idx), axis, scalar, keepdim))


def _median_index(a, axis, xp, skip_nan):
    """The index of the lower median along ``axis`` (the first NaN where the line has one, unless
    ``skip_nan``), with ``axis`` kept as size 1."""
    order = _argsort(a, axis, False, xp)
    n = a.shape[axis]
    if a.dtype.kind == "f":
        nans = xp.isnan(a)
        count = n - nans.sum(axis=axis, keepdims=True)
    else:
        nans, count = None, xp.full([1 if i == axis else s for i, s in enumerate(a.shape)], n)
    k = xp.maximum((count - 1) // 2, 0)
    idx = xp.take_along_axis(order, k, axis=axis)
    if nans is not None and not skip_nan:
        first_nan = xp.take_along_axis(order, xp.minimum(count, n - 1), axis=axis)
        idx = xp.where(count < n, first_nan, idx)
    return idx.astype(np.int64)


class MedianAll(Function):
    """y = the median m of all elements.  Locally y is the mean of the k elements equal to m (NaN: the
    NaN elements), so dy/dx_i = [x_i = m] / k (PyTorch's even split)."""

    def forward(self, x, *, value):
        xp = get_array_module(x)
        nan = x.dtype.kind == "f" and bool(xp.isnan(value))
        self.mask = xp.isnan(x) if nan else (x == value)
        return xp.asarray(value)

    def backward(self, gy):
        return self.mask * (gy / self.mask.sum().astype(gy.dtype))


def _median(op, input, dim, keepdim, skip_nan):
    x = tensor_arg(input, op)
    xp = get_array_module(x.array)
    if dim is None:
        if x.numel() == 0:
            raise ValueError(f"{op}(): cannot take the median of an empty tensor")
        flat = x.array.reshape(-1)
        return MedianAll.apply(x, value=flat[int(_median_index(flat, 0, xp, skip_nan)[0])])
    x, axis, scalar = _line_args(x, dim, op)
    idx = _median_index(x.array, axis, xp, skip_nan)
    return _median_result(_squeeze(_select(x, idx, axis), axis, scalar, keepdim),
                          _squeeze(Tensor(idx), axis, scalar, keepdim))


def median(input, dim=None, keepdim: bool = False):
    """The lower median: of all elements (a 0-d tensor) or along ``dim`` as (values, indices); NaN when
    the line holds a NaN."""
    return _median("median", input, dim, keepdim, skip_nan=False)


def nanmedian(input, dim=None, keepdim: bool = False):
    """``median`` over the non-NaN elements (NaN only where a line is all NaN)."""
    return _median("nanmedian", input, dim, keepdim, skip_nan=True)


def _mode_index(line):
    """Index of the last occurrence of the smallest most frequent value of a 1-D host array."""
    values, counts = np.unique(line, return_counts=True)
    best = values[np.argmax(counts)]  # np.unique sorts, and argmax takes the first (smallest) of the ties
    hits = np.flatnonzero(line == best) if not np.isnan(best) else np.flatnonzero(np.isnan(line))
    return hits[-1] if hits.size else 0


def mode(input, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest one on ties) and the index of its last
    occurrence."""
    x, axis, scalar = _line_args(input, dim, "mode")
    xp = get_array_module(x.array)
    host = x.array if xp is np else x.array.get()
    lines = np.moveaxis(host, axis, -1)
    flat = lines.reshape(-1, lines.shape[-1])
    idx = np.array([_mode_index(row) for row in flat], dtype=np.int64).reshape(lines.shape[:-1] + (1,))
    idx = xp.asarray(np.moveaxis(idx, -1, axis))
    return _mode_result(_squeeze(_select(x, idx, axis), axis, scalar, keepdim),
                        _squeeze(Tensor(idx), axis, scalar, keepdim))


def unique(input, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,
           dim=None):
    """The distinct values (sorted), and optionally the inverse indices (input = unique[inverse]) and the
    counts; with ``dim``, the distinct slices along it. No gradient."""
    x = tensor_arg(input, "unique")
    xp = get_array_module(x.array)
    axis = None if dim is None else dim_arg(dim, x.ndim, "unique")
    values, inverse, counts = xp.unique(x.array, return_inverse=True, return_counts=True, axis=axis)
    out = [Tensor(values)]
    if return_inverse:
        shape = x.shape if axis is None else (x.shape[axis],)
        out.append(Tensor(inverse.reshape(shape).astype(np.int64)))
    if return_counts:
        out.append(Tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(sorted_sequence, input, *, out_int32: bool = False, right: bool = False, side=None):
    """For each value, the index where it would be inserted into ``sorted_sequence`` (along its last dim,
    whose leading dims, if any, match ``input``'s) to keep it sorted; ``right`` / ``side='right'`` puts it
    after equal values."""
    seq = tensor_arg(sorted_sequence, "searchsorted")
    values = input if isinstance(input, Tensor) else Tensor(np.asarray(input))
    xp = get_array_module(seq.array)
    side = side or ("right" if right else "left")
    if seq.ndim <= 1:
        idx = xp.searchsorted(seq.array, values.array, side=side)
    else:
        if tuple(seq.shape[:-1]) != tuple(values.shape[:-1]):
            raise ValueError(f"searchsorted(): the leading dims of sorted_sequence {tuple(seq.shape)} and input "
                             f"{tuple(values.shape)} must match")
        s = seq.array.reshape(-1, seq.shape[-1])
        v = values.array.reshape(-1, values.shape[-1])
        idx = xp.stack([xp.searchsorted(a, b, side=side) for a, b in zip(s, v)]).reshape(values.shape)
    return Tensor(idx.astype(np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32: bool = False, right: bool = False):
    """The bucket of each value: i with boundaries[i-1] < x <= boundaries[i] (``right``: <= x <)."""
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


TENSOR_METHODS = {
    "sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "kthvalue": kthvalue, "median": median,
    "nanmedian": nanmedian, "mode": mode, "unique": unique,
}
