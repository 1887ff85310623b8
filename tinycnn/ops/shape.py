"""Shape ops: reshape/view, transpose/permute/T, flatten, squeeze/unsqueeze, expand, pad, cat, stack,
split/chunk/unbind, iteration (indexing is in ``indexing.py``, the other rearrangements in ``layout.py``).

None of these does arithmetic: each output element is a copy of one input element (or a constant), so the
backward sends every output gradient back to the element it came from. Pure rearrangements (reshape,
permute) invert the rearrangement; ops that read an element several times (expand, repeated indices,
reflect/replicate/circular padding) *add* the gradients of all its copies.

Forward results of reshape/transpose/basic slicing are views of the input's array, as in PyTorch.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import ShapeError
from ._args import dim_arg as _dim
from ._args import normalize_dims
from ._args import sizes_arg as _sizes
from ._args import tensor_arg as _tensor
from ._scatter import scatter_add
from .arithmetic import unbroadcast
from .indexing import getitem


# ---- rearrangements ---------------------------------------------------------------------------------------
class Reshape(Function):
    """y = x with a new shape (same elements, row-major order).  gx = gy reshaped to x's shape."""

    def forward(self, x, *, shape):
        self.in_shape = x.shape
        return x.reshape(shape)

    def backward(self, gy):
        return gy.reshape(self.in_shape)


class Permute(Function):
    """y = x with its axes permuted: y[i_p0, ..., i_pk] = x[i_0, ..., i_k].  gx = gy permuted by the
    inverse permutation (argsort of perm)."""

    def forward(self, x, *, perm):
        self.inverse = tuple(int(i) for i in np.argsort(perm))
        return x.transpose(perm)

    def backward(self, gy):
        return gy.transpose(self.inverse)


class Expand(Function):
    """y = x broadcast to ``shape`` (a read-only view).  Each x element is copied to every position along
    the broadcast axes, so gx = gy summed over those axes (unbroadcast)."""

    def forward(self, x, *, shape):
        self.in_shape = x.shape
        return get_array_module(x).broadcast_to(x, shape)

    def backward(self, gy):
        return unbroadcast(gy, self.in_shape)


def reshape(input, *shape):
    """New shape with the same number of elements; one size may be -1 (inferred)."""
    x = _tensor(input, "reshape")
    shape = _sizes(shape, "reshape")
    n = x.numel()
    if shape.count(-1) > 1 or any(s < -1 for s in shape):
        raise ShapeError(f"reshape(): invalid shape {shape} (sizes must be >= 0, at most one -1)")
    known = 1
    for s in shape:
        known *= s if s != -1 else 1
    if -1 in shape:
        if known == 0 or n % known:
            raise ShapeError(f"reshape(): shape {shape} is invalid for input of shape {tuple(x.shape)} "
                             f"({n} elements)")
        shape = tuple(n // known if s == -1 else s for s in shape)
    elif known != n:
        raise ShapeError(f"reshape(): shape {shape} is invalid for input of shape {tuple(x.shape)} "
                         f"({n} elements)")
    return Reshape.apply(x, shape=shape)


view = reshape


def view_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    """Merge dims start_dim..end_dim (inclusive) into one; a 0-d tensor becomes shape (1,)."""
    x = _tensor(input, "flatten")
    if x.ndim == 0:
        _dim(start_dim, 0, "flatten")
        _dim(end_dim, 0, "flatten")
        return reshape(x, 1)
    s, e = _dim(start_dim, x.ndim, "flatten"), _dim(end_dim, x.ndim, "flatten")
    if s > e:
        raise ShapeError(f"flatten(): start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for a tensor of shape {tuple(x.shape)}")
    shape = tuple(x.shape)
    return reshape(x, shape[:s] + (_prod(shape[s:e + 1]),) + shape[e + 1:])


def _prod(sizes):
    p = 1
    for s in sizes:
        p *= s
    return p


def squeeze(input, dim=None):
    """Drop dims of size 1: all of them, or those in ``dim`` (int or tuple) that have size 1."""
    x = _tensor(input, "squeeze")
    axes = normalize_dims(dim, x.ndim, "squeeze")
    shape = tuple(n for i, n in enumerate(x.shape) if not (i in axes and n == 1))
    return reshape(x, shape)


def unsqueeze(input, dim: int):
    """Insert a dim of size 1 at ``dim`` (in [-ndim-1, ndim])."""
    x = _tensor(input, "unsqueeze")
    d = _dim(dim, x.ndim, "unsqueeze", extra=1)
    shape = tuple(x.shape)
    return reshape(x, shape[:d] + (1,) + shape[d:])


def permute(input, *dims):
    x = _tensor(input, "permute")
    dims = _sizes(dims, "permute")
    if len(dims) != x.ndim:
        raise ShapeError(f"permute(): dims {dims} must name each of the {x.ndim} dims of a tensor of shape "
                         f"{tuple(x.shape)} once")
    perm = tuple(_dim(d, x.ndim, "permute") for d in dims) if x.ndim else ()
    if sorted(perm) != list(range(x.ndim)):
        raise ShapeError(f"permute(): dims {dims} is not a permutation of the {x.ndim} dims")
    return Permute.apply(x, perm=perm)


def transpose(input, dim0: int, dim1: int):
    """Swap two dims."""
    x = _tensor(input, "transpose")
    a, b = _dim(dim0, x.ndim, "transpose"), _dim(dim1, x.ndim, "transpose")
    if x.ndim == 0:
        return Permute.apply(x, perm=())
    perm = list(range(x.ndim))
    perm[a], perm[b] = perm[b], perm[a]
    return Permute.apply(x, perm=tuple(perm))


swapaxes = transpose


def t(input):
    """Transpose of a tensor with at most 2 dims."""
    x = _tensor(input, "t")
    if x.ndim > 2:
        raise ShapeError(f"t(): expects a tensor with <= 2 dims, got shape {tuple(x.shape)}")
    return transpose(x, 0, 1) if x.ndim == 2 else Permute.apply(x, perm=tuple(range(x.ndim)))


def _T(self):
    """All dims reversed (PyTorch's ``x.T``)."""
    return Permute.apply(self, perm=tuple(range(self.ndim - 1, -1, -1)))


def _mT(self):
    """The last two dims swapped (PyTorch's ``x.mT``, a batch of transposed matrices)."""
    if self.ndim < 2:
        raise ShapeError(f"mT: expected a tensor with at least 2 dims, got shape {tuple(self.shape)}")
    return transpose(self, -2, -1)


def expand(input, *sizes):
    """Broadcast to ``sizes`` without copying; -1 keeps a dim; new dims may be added in front."""
    x = _tensor(input, "expand")
    sizes = _sizes(sizes, "expand")
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ShapeError(f"expand(): the number of sizes ({len(sizes)}) must be at least the number of dims "
                         f"of the tensor of shape {tuple(x.shape)}")
    shape = []
    for i, s in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else None
        if s == -1 and old is not None:
            s = old
        if s < 0 or (old is not None and old != 1 and s != old):
            raise ShapeError(f"expand(): cannot expand shape {tuple(x.shape)} to {sizes} "
                             f"(size {sizes[i]} at dim {i})")
        shape.append(s)
    return Expand.apply(x, shape=tuple(shape))


def expand_as(input, other):
    return expand(input, other.shape)


# ---- iteration and splitting ---------------------------------------------------------------------------
def _iter(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    return (getitem(self, i) for i in range(self.shape[0]))


def _along(axis, sl):
    return (slice(None),) * axis + (sl,)


def split(input, split_size_or_sections, dim: int = 0):
    """Pieces along ``dim``: of size ``split_size`` (the last may be smaller), or of the listed sizes."""
    x = _tensor(input, "split")
    d = _dim(dim, x.ndim, "split")
    n = x.shape[d]
    if isinstance(split_size_or_sections, numbers.Integral):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split(): split_size must be positive, got {size}")
        sizes = [min(size, n - i) for i in range(0, n, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split(): sections {sizes} must be non-negative and sum to the size {n} of dim {d} "
                             f"of a tensor of shape {tuple(x.shape)}")
    pieces, start = [], 0
    for s in sizes:
        pieces.append(getitem(x, _along(d, slice(start, start + s))))
        start += s
    return tuple(pieces)


def chunk(input, chunks: int, dim: int = 0):
    """At most ``chunks`` pieces of size ceil(n / chunks) along ``dim`` (PyTorch's rule)."""
    x = _tensor(input, "chunk")
    if not isinstance(chunks, numbers.Integral) or chunks <= 0:
        raise ValueError(f"chunk(): chunks must be a positive int, got {chunks!r}")
    n = x.shape[_dim(dim, x.ndim, "chunk")]
    return split(x, max(-(-n // chunks), 1), dim)


def unbind(input, dim: int = 0):
    """The slices along ``dim``, each without that dim."""
    x = _tensor(input, "unbind")
    d = _dim(dim, x.ndim, "unbind")
    return tuple(getitem(x, _along(d, i)) for i in range(x.shape[d]))


# ---- padding ------------------------------------------------------------------------------------------------
class ConstantPad(Function):
    """y = x surrounded by ``value`` (negative widths crop).  Each kept x element lands at one y position:
    gx = gy cut at the same place (cropped elements get 0)."""

    def forward(self, x, *, widths, value):
        xp = get_array_module(x)
        self.shape = x.shape
        self.src, self.dst = [], []   # the x region and the y region that holds it, per dim
        out_shape = []
        for n, (lo, hi) in zip(x.shape, widths):
            m = n + lo + hi
            if m < 0:
                raise ShapeError(f"pad(): widths {(lo, hi)} leave a negative size for a dim of size {n}")
            out_shape.append(m)
            a, b = max(-lo, 0), n - max(-hi, 0)
            start = max(lo, 0)
            self.src.append(slice(a, max(b, a)))
            self.dst.append(slice(start, start + max(b - a, 0)))
        self.src, self.dst = tuple(self.src), tuple(self.dst)
        y = xp.full(out_shape, value, dtype=x.dtype)
        y[self.dst] = x[self.src]
        return y

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        gx[self.src] = gy[self.dst]
        return gx


class GatherPad(Function):
    """Reflect/replicate/circular padding as a gather: along each padded axis, y = take(x, idx) where
    idx maps each output position to the input position it copies.  Backward scatters with add,
    because border elements are copied several times: gx[idx[j]] += gy[j] along that axis."""

    def forward(self, x, *, maps):
        xp = get_array_module(x)
        self.maps = [(axis, xp.asarray(idx), n) for axis, idx, n in maps]
        for axis, idx, _ in self.maps:
            x = xp.take(x, idx, axis=axis)
        return x

    def backward(self, gy):
        xp = get_array_module(gy)
        for axis, idx, n in reversed(self.maps):
            shape = list(gy.shape)
            shape[axis] = n
            g = xp.zeros(shape, dtype=gy.dtype)
            scatter_add(g, _along(axis, idx), gy, xp)
            gy = g
        return gy


_NP_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input, pad, mode: str = "constant", value=0.0):
    """Pad with PyTorch's convention: ``pad = (left, right)`` for the last dim, then ``(top, bottom)`` for
    the one before, and so on.  Modes: constant (negative widths crop), reflect, replicate, circular."""
    x = _tensor(input, "pad")
    widths_in = tuple(pad)
    if len(widths_in) % 2 or any(not isinstance(p, numbers.Integral) for p in widths_in):
        raise ValueError(f"pad(): pad must be an even-length sequence of ints, got {widths_in!r}")
    k = len(widths_in) // 2
    if k > x.ndim:
        raise ShapeError(f"pad(): pad {widths_in} covers {k} dims but the input of shape {tuple(x.shape)} "
                         f"has only {x.ndim}")
    widths = [(0, 0)] * (x.ndim - k) + [(int(widths_in[2 * i]), int(widths_in[2 * i + 1]))
                                        for i in reversed(range(k))]
    if mode == "constant":
        return ConstantPad.apply(x, widths=widths, value=value)
    if mode not in _NP_MODES:
        raise ValueError(f"pad(): mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    maps = []
    for axis, (n, (lo, hi)) in enumerate(zip(x.shape, widths)):
        if lo == 0 and hi == 0:
            continue
        limit = n - 1 if mode == "reflect" else n if mode == "circular" else None
        if lo < 0 or hi < 0 or (limit is not None and (lo > limit or hi > limit)) or n == 0:
            raise ShapeError(f"pad(): {mode} padding {(lo, hi)} is invalid for dim {axis} of size {n} of input "
                             f"shape {tuple(x.shape)} (widths must be >= 0"
                             + (f" and <= {limit})" if limit is not None else ")"))
        idx = np.pad(np.arange(n), (lo, hi), mode=_NP_MODES[mode])
        maps.append((axis, idx, n))
    return GatherPad.apply(x, maps=maps)


# ---- joining ----------------------------------------------------------------------------------------------
class Cat(Function):
    """y = the inputs laid end to end along ``dim``.  gx_k = the slice of gy that x_k occupies."""

    def forward(self, *arrays, dim):
        self.dim = dim
        self.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1].tolist()
        return get_array_module(*arrays).concatenate(arrays, axis=dim)

    def backward(self, gy):
        pieces = get_array_module(gy).split(gy, self.bounds, axis=self.dim)
        return tuple(p if need else None for p, need in zip(pieces, self.needs_input_grad))


class Stack(Function):
    """y[..., k, ...] = x_k along a new axis ``dim``.  gx_k = gy[..., k, ...]."""

    def forward(self, *arrays, dim):
        self.dim = dim
        return get_array_module(*arrays).stack(arrays, axis=dim)

    def backward(self, gy):
        return tuple(gy[_along(self.dim, k)] if need else None for k, need in enumerate(self.needs_input_grad))


def _tensor_list(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): expected a list or tuple of Tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ShapeError(f"{op}(): expected a non-empty list of Tensors")
    return [_tensor(t, op) for t in tensors]


def cat(tensors, dim: int = 0):
    """Concatenate along an existing dim; shapes must match except along ``dim``."""
    ts = _tensor_list(tensors, "cat")
    first = ts[0]
    if first.ndim == 0:
        raise ShapeError("cat(): zero-dimensional tensors cannot be concatenated")
    d = _dim(dim, first.ndim, "cat")
    for i, t in enumerate(ts[1:], 1):
        same = t.ndim == first.ndim and all(a == b for j, (a, b) in enumerate(zip(t.shape, first.shape)) if j != d)
        if not same:
            raise ShapeError(f"cat(): sizes of tensors must match except in dim {d}; tensor 0 has shape "
                             f"{tuple(first.shape)}, tensor {i} has shape {tuple(t.shape)}")
    return Cat.apply(*ts, dim=d)


concat = concatenate = cat


def stack(tensors, dim: int = 0):
    """Join equal-shaped tensors along a new dim."""
    ts = _tensor_list(tensors, "stack")
    for i, t in enumerate(ts[1:], 1):
        if t.shape != ts[0].shape:
            raise ShapeError(f"stack(): expects each tensor to be equal size, but got {tuple(ts[0].shape)} "
                             f"at entry 0 and {tuple(t.shape)} at entry {i}")
    return Stack.apply(*ts, dim=_dim(dim, ts[0].ndim, "stack", extra=1))


TENSOR_METHODS = {
    "reshape": reshape, "view": view, "view_as": view_as, "reshape_as": view_as, "flatten": flatten,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "permute": permute, "transpose": transpose,
    "swapaxes": swapaxes, "t": t, "T": property(_T), "mT": property(_mT), "expand": expand, "expand_as": expand_as,
    "__iter__": _iter, "split": split, "chunk": chunk, "unbind": unbind,
}
