"""Indexing: ``x[key]`` and ``x[key] = v`` with PyTorch's rules, index_select/add/copy/fill,
masked_fill/select/scatter, nonzero (gather and scatter along a dim are in ``gather.py``).

Every op here moves elements without arithmetic, so each backward moves the gradient back along the same
map: a *gather* (y_j = x_{m(j)}) has gx = zeros; gx[m(j)] += gy_j, adding where m repeats a position
(``_scatter.scatter_add``); a *scatter* (y = x with positions P overwritten by s) has gx = gy with P zeroed
and gs = gy gathered at P; a scatter that adds (y = x + scatter(s)) has gx = gy and gs = gy gathered at P.
Index tensors carry no gradient.

PyTorch's indexing rule, where it differs from NumPy's: an integer next to a tensor index *selects* (drops
that dim) before the tensor indices apply, so ``x[1, :, 2, idx]`` of a (2, 3, 4, 5) tensor has shape (3, k)
as in PyTorch, not NumPy's (k, 3). The key is applied in two steps, ``x[ints and slices][the rest]``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import IndexOutOfRangeError, ShapeError
from ._args import dim_arg, tensor_arg
from ._scatter import scatter_add
from .arithmetic import unbroadcast


# ---- keys ------------------------------------------------------------------------------------------------
def _key_part(k, xp):
    if isinstance(k, Tensor):
        k = k.array
    if isinstance(k, np.integer):
        return int(k)
    if isinstance(k, (list, np.ndarray)) or hasattr(k, "__cuda_array_interface__"):
        arr = xp.asarray(k)  # index arrays live where the indexed array does (NumPy or CuPy)
        if arr.dtype.kind not in "biu":
            raise IndexError(f"tensor index: arrays used as indices must be integer or bool, got {arr.dtype}")
        if arr.ndim == 0 and arr.dtype.kind in "iu":
            return int(arr)  # a 0-d integer tensor indexes like an int, as in PyTorch
        return arr
    return k


def _is_int(k) -> bool:
    return isinstance(k, numbers.Integral) and not isinstance(k, (bool, np.bool_))


def _is_array(k) -> bool:
    return isinstance(k, np.ndarray) or hasattr(k, "__cuda_array_interface__")


def torch_key(key, ndim: int, xp):
    """``key`` as (first, rest): ``x[key]`` is ``x[first][rest]`` under PyTorch's rule (first None when
    NumPy's rule gives the same result). Tensors and lists become arrays of ``xp``."""
    parts = key if isinstance(key, tuple) else (key,)
    parts = tuple(_key_part(k, xp) for k in parts)
    single = parts[0] if not isinstance(key, tuple) and len(parts) == 1 else parts
    if not (any(_is_int(k) for k in parts) and any(_is_array(k) for k in parts)):
        return None, single
    used = sum(k.ndim if _is_array(k) and k.dtype == bool else 1 for k in parts if k is not None and k is not Ellipsis)
    first, rest = [], []
    for k in parts:
        if k is Ellipsis:
            first += [slice(None)] * (ndim - used)
            rest.append(Ellipsis)
        elif k is None:
            rest.append(None)
        elif _is_int(k):
            first.append(k)
        else:
            first += [slice(None)] * (k.ndim if _is_array(k) and k.dtype == bool else 1)
            rest.append(k)
    return tuple(first), tuple(rest)


def _has_int_array(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return any(_is_array(k) and k.dtype.kind in "iu" for k in parts)


def _region(array, first):
    """``array[first]`` as a view (the ints and slices applied first), or the array itself."""
    return array if first is None else array[first + (Ellipsis,)]


class Index(Function):
    """y = x[key] (ints, slices, None, Ellipsis, integer tensors, bool masks; PyTorch's rule for ints).

    Each y element is one x element, so gx = zeros; gx[key] += gy. With only basic indices and masks no
    element is read twice and plain assignment does it; integer tensors may repeat an index, whose
    gradients must add up.
    """

    def forward(self, x, *, first, rest):
        self.shape, self.first, self.rest = x.shape, first, rest
        y = _region(x, first)[rest]
        if isinstance(y, np.generic):  # NumPy gives a scalar for a full integer key; PyTorch a 0-d view
            y = _region(x, first)[(rest if isinstance(rest, tuple) else (rest,)) + (Ellipsis,)]
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        region = _region(gx, self.first)  # a view into gx
        if _has_int_array(self.rest):
            scatter_add(region, self.rest, gy, xp)
        else:
            region[self.rest] = gy
        return gx


def getitem(input, key):
    """``x[key]``; differentiable; repeated integer indices accumulate their gradients."""
    x = tensor_arg(input, "getitem")
    first, rest = torch_key(key, x.ndim, get_array_module(x.array))
    try:
        return Index.apply(x, first=first, rest=rest)
    except IndexError as exc:  # NumPy's message, in PyTorch's words and class
        raise IndexOutOfRangeError(str(exc).replace(" axis ", " dimension ")) from None


class IndexPut(Function):
    """y = x with x[key] replaced by v (or, with ``accumulate``, v added there; repeats add up).

    Replace:  gx = gy with the key's positions zeroed;  gv = gy[key] (summed over v's broadcast axes).
    Accumulate:  gx = gy;  gv = gy[key] likewise.
    """

    def forward(self, x, v, *, first, rest, accumulate):
        self.first, self.rest, self.accumulate = first, rest, accumulate
        self.v_shape = getattr(v, "shape", ())
        y = x.copy()
        region = _region(y, first)
        v = v.astype(x.dtype, copy=False) if hasattr(v, "astype") else v
        if accumulate:
            xp = get_array_module(y)
            scatter_add(region, rest, xp.broadcast_to(v, region[rest].shape), xp)
        else:
            region[rest] = v
        return y

    def backward(self, gy):
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = gy if self.accumulate else gy.copy()
            if not self.accumulate:
                _region(gx, self.first)[self.rest] = 0
        if self.needs_input_grad[1]:
            gv = unbroadcast(_region(gy, self.first)[self.rest], self.v_shape)
        return gx, gv


def index_put(input, indices, values, accumulate: bool = False):
    """``x`` with ``x[indices] = values`` (or ``+=`` with ``accumulate``), out of place; ``indices`` is a
    tuple of index tensors, one per leading dim."""
    x = tensor_arg(input, "index_put")
    first, rest = torch_key(tuple(indices), x.ndim, get_array_module(x.array))
    return IndexPut.apply(x, _value(values), first=first, rest=rest, accumulate=bool(accumulate))


def _value(v):
    if isinstance(v, Tensor) or isinstance(v, numbers.Number):
        return v
    return Tensor(np.asarray(v))


def _index_array(index, op, xp) -> object:
    arr = index.array if isinstance(index, Tensor) else xp.asarray(index)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}(): index must be an integer tensor (int64), got dtype {arr.dtype}")
    return arr


def _check_range(idx, size, dim, op, negative: bool = False):
    """Indices must lie in [0, size) (PyTorch's gather/scatter/index_*), or [-size, size) for ``take``."""
    if not idx.size:
        return
    low, high = int(idx.min()), int(idx.max())
    if low < (-size if negative else 0) or high >= size:
        bad = high if high >= size else low
        raise IndexOutOfRangeError(f"{op}(): index {bad} is out of bounds for dimension {dim} with size {size}")


# ---- index_* along one dim with a 1-D index -------------------------------------------------------------
def _along_key(x, dim, index, op):
    xp = get_array_module(x.array)
    idx = _index_array(index, op, xp)
    if idx.ndim > 1:
        raise ShapeError(f"{op}(): index must be 0-D or 1-D, got shape {tuple(idx.shape)}")
    d = dim_arg(dim, x.ndim, op)
    size = x.shape[d] if x.ndim else 1
    _check_range(idx, size, d, op)
    return (slice(None),) * d + (idx.reshape(-1),), d


def index_select(input, dim: int, index):
    """The slices of ``input`` along ``dim`` at the 1-D ``index`` (repeats allowed)."""
    x = tensor_arg(input, "index_select")
    (*_, idx), d = _along_key(x, dim, index, "index_select")
    return Index.apply(x, first=None, rest=(slice(None),) * d + (idx,)) if x.ndim else x * 1


def _index_source(x, d, idx, source, op):
    expected = tuple(x.shape[:d]) + (len(idx),) + tuple(x.shape[d + 1:])
    if tuple(source.shape) != expected and not (x.ndim == 0 and source.numel() == 1):
        raise ShapeError(f"{op}(): source must have shape {expected} for index of length {len(idx)} along dim {d} "
                         f"of input of shape {tuple(x.shape)}, got {tuple(source.shape)}")


def index_add(input, dim: int, index, source, *, alpha=1):
    """``input`` with ``alpha * source`` slices added at ``index`` along ``dim`` (repeats add up)."""
    x, source = tensor_arg(input, "index_add"), tensor_arg(source, "index_add")
    key, d = _along_key(x, dim, index, "index_add")
    _index_source(x, d, key[-1], source, "index_add")
    src = source if alpha == 1 else source * alpha
    return IndexPut.apply(x, src, first=None, rest=key, accumulate=True)


def index_copy(input, dim: int, index, source):
    """``input`` with its slices at ``index`` along ``dim`` replaced by ``source``'s."""
    x, source = tensor_arg(input, "index_copy"), tensor_arg(source, "index_copy")
    key, d = _along_key(x, dim, index, "index_copy")
    _index_source(x, d, key[-1], source, "index_copy")
    return IndexPut.apply(x, source, first=None, rest=key, accumulate=False)


def index_fill(input, dim: int, index, value):
    """``input`` with its slices at ``index`` along ``dim`` set to ``value`` (a number or a 0-d tensor)."""
    x = tensor_arg(input, "index_fill")
    key, _ = _along_key(x, dim, index, "index_fill")
    return IndexPut.apply(x, value, first=None, rest=key, accumulate=False)


# ---- masks -----------------------------------------------------------------------------------------------
def _mask_array(mask, op, xp):
    arr = mask.array if isinstance(mask, Tensor) else xp.asarray(mask)
    if arr.dtype != bool:
        raise TypeError(f"{op}(): mask must be a bool tensor, got dtype {arr.dtype}")
    return arr


def masked_fill(input, mask, value):
    """``input`` with ``value`` where ``mask`` (broadcast to input's shape) is True; keeps input's dtype."""
    x = tensor_arg(input, "masked_fill")
    xp = get_array_module(x.array)
    m = _mask_array(mask, "masked_fill", xp)
    try:
        m = xp.broadcast_to(m, x.shape)
    except ValueError:
        raise ShapeError(f"masked_fill(): mask of shape {tuple(m.shape)} does not broadcast to the input's shape "
                         f"{tuple(x.shape)}") from None
    if isinstance(value, Tensor) and value.ndim != 0:
        raise ValueError(f"masked_fill(): value must be a number or a 0-d tensor, got shape {tuple(value.shape)}")
    return IndexPut.apply(x, value, first=None, rest=m, accumulate=False)


class MaskedSelect(Function):
    """y = the elements of x (broadcast with the mask) where the mask is True, as a 1-D tensor.
    gx = zeros; gx[mask] = gy, summed back over x's broadcast axes."""

    def forward(self, x, *, mask):
        xp = get_array_module(x)
        self.shape, self.mask = x.shape, mask
        return xp.broadcast_to(x, mask.shape)[mask]

    def backward(self, gy):
        xp = get_array_module(gy)
        g = xp.zeros(self.mask.shape, dtype=gy.dtype)
        g[self.mask] = gy
        return unbroadcast(g, self.shape)


def masked_select(input, mask):
    x = tensor_arg(input, "masked_select")
    xp = get_array_module(x.array)
    m = _mask_array(mask, "masked_select", xp)
    try:
        shape = np.broadcast_shapes(tuple(x.shape), tuple(m.shape))
    except ValueError:
        raise ShapeError(f"masked_select(): mask of shape {tuple(m.shape)} and input of shape {tuple(x.shape)} "
                         f"cannot be broadcast together") from None
    return MaskedSelect.apply(x, mask=xp.broadcast_to(m, shape))


class MaskedScatter(Function):
    """y = x with the True positions of the mask filled, in row-major order, by the first k elements of
    the source (k = the number of True positions).  gx = gy with those positions zeroed; the source's
    first k elements get gy at those positions, the rest 0."""

    def forward(self, x, src, *, mask):
        self.mask, self.src_shape = mask, src.shape
        self.k = int(mask.sum())
        y = x.copy()
        y[mask] = src.reshape(-1)[:self.k].astype(x.dtype, copy=False)
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = gs = None
        if self.needs_input_grad[0]:
            gx = gy.copy()
            gx[self.mask] = 0
        if self.needs_input_grad[1]:
            gs = xp.zeros(int(np.prod(self.src_shape)), dtype=gy.dtype)
            gs[:self.k] = gy[self.mask]
            gs = gs.reshape(self.src_shape)
        return gx, gs


def masked_scatter(input, mask, source):
    x, source = tensor_arg(input, "masked_scatter"), tensor_arg(source, "masked_scatter")
    xp = get_array_module(x.array)
    m = xp.broadcast_to(_mask_array(mask, "masked_scatter", xp), x.shape)
    if int(m.sum()) > source.numel():
        raise ShapeError(f"masked_scatter(): the mask has {int(m.sum())} True positions but source has only "
                         f"{source.numel()} elements")
    return MaskedScatter.apply(x, source, mask=m)


# ---- positions -------------------------------------------------------------------------------------------
def nonzero(input, *, as_tuple: bool = False):
    """The indices of the nonzero elements: an (n, ndim) int64 tensor, or (``as_tuple``) one 1-D index
    tensor per dim, usable as ``x[nonzero(m, as_tuple=True)]``. No gradient."""
    x = tensor_arg(input, "nonzero")
    xp = get_array_module(x.array)
    if x.ndim == 0 and not as_tuple:
        return Tensor(xp.zeros((int(bool(x.array)), 0), dtype=np.int64))
    idx = xp.nonzero(x.array.reshape(1) if x.ndim == 0 else x.array)
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64)) for i in idx)
    return Tensor(xp.stack(idx, axis=1).astype(np.int64))


def argwhere(input):
    return nonzero(input)


TENSOR_METHODS = {
    "__getitem__": getitem, "index_put": index_put,
    "index_select": index_select, "index_add": index_add, "index_copy": index_copy, "index_fill": index_fill,
    "masked_fill": masked_fill, "masked_select": masked_select, "masked_scatter": masked_scatter,
    "nonzero": nonzero, "argwhere": argwhere,
}
