"""Rearranging elements: roll, flip (fliplr, flipud), rot90, movedim, repeat, tile, repeat_interleave,
meshgrid, unflatten, narrow, select, broadcast_to / broadcast_tensors, the stacks (hstack, vstack,
dstack, column_stack, atleast_nd) and ``Tensor.unfold`` (sliding windows).

No arithmetic: each output element is a copy of one input element, so each backward sends the gradient
back to where the element came from, adding where one element was copied several times (repeat, tile,
overlapping windows, broadcasting). Most are compositions of reshape, permute, expand, indexing and cat,
whose backward comes with them; roll, flip, repeat and unfold are Functions of their own, with the
inverse map written out.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import ShapeError
from ._args import dim_arg, sizes_arg, tensor_arg
from ._scatter import scatter_add
from .indexing import getitem, index_select
from .shape import cat, expand, permute, reshape, transpose


class Roll(Function):
    """y = x shifted cyclically by ``shifts`` along ``axes`` (y[i + s mod n] = x[i]).
    The inverse shift undoes it:  gx = roll(gy, -shifts)."""

    def forward(self, x, *, shifts, axes):
        self.shifts, self.axes = shifts, axes
        return get_array_module(x).roll(x, shifts, axis=axes)

    def backward(self, gy):
        return get_array_module(gy).roll(gy, tuple(-s for s in self.shifts), axis=self.axes)


def roll(input, shifts, dims=None):
    """Shift cyclically along ``dims`` (over the flattened tensor when None)."""
    x = tensor_arg(input, "roll")
    shifts = (shifts,) if isinstance(shifts, numbers.Integral) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise ValueError(f"roll(): without dims, shifts must be one int, got {shifts}")
        return Roll.apply(x.reshape(-1), shifts=shifts, axes=(0,)).reshape(tuple(x.shape))
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    if len(dims) != len(shifts):
        raise ValueError(f"roll(): shifts {shifts} and dims {dims} must have the same length")
    axes = tuple(dim_arg(d, x.ndim, "roll") for d in dims)
    return Roll.apply(x, shifts=tuple(int(s) for s in shifts), axes=axes)


class Flip(Function):
    """y = x reversed along ``axes``.  Reversing again restores the order:  gx = flip(gy)."""

    def forward(self, x, *, axes):
        self.axes = axes
        return get_array_module(x).flip(x, axis=axes).copy()  # PyTorch's flip copies

    def backward(self, gy):
        return get_array_module(gy).flip(gy, axis=self.axes)


def flip(input, dims):
    x = tensor_arg(input, "flip")
    dims = (dims,) if isinstance(dims, numbers.Integral) else tuple(dims)
    axes = tuple(dim_arg(d, x.ndim, "flip") for d in dims)
    return Flip.apply(x, axes=axes) if axes else x * 1


def fliplr(input):
    """Reverse the columns (dim 1) of a tensor with at least 2 dims."""
    x = tensor_arg(input, "fliplr")
    if x.ndim < 2:
        raise ShapeError(f"fliplr(): expected a tensor with at least 2 dims, got shape {tuple(x.shape)}")
    return flip(x, 1)


def flipud(input):
    """Reverse the rows (dim 0) of a tensor with at least 1 dim."""
    x = tensor_arg(input, "flipud")
    if x.ndim < 1:
        raise ShapeError("flipud(): expected a tensor with at least 1 dim, got a 0-d tensor")
    return flip(x, 0)


def rot90(input, k: int = 1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane ``dims``, from the first dim towards the second (as
    PyTorch: k = 1 is flip(dims[1]) then transpose)."""
    x = tensor_arg(input, "rot90")
    if len(dims) != 2:
        raise ValueError(f"rot90(): dims must name two dims, got {dims!r}")
    a, b = dim_arg(dims[0], x.ndim, "rot90"), dim_arg(dims[1], x.ndim, "rot90")
    if a == b:
        raise ValueError(f"rot90(): the two dims must differ, got {dims!r}")
    k = int(k) % 4
    if k == 1:
        return transpose(flip(x, b), a, b)
    if k == 2:
        return flip(x, (a, b))
    if k == 3:
        return flip(transpose(x, a, b), b)
    return x * 1


def movedim(input, source, destination):
    """Move the dims ``source`` to the positions ``destination``, keeping the others in order."""
    x = tensor_arg(input, "movedim")
    src = (source,) if isinstance(source, numbers.Integral) else tuple(source)
    dst = (destination,) if isinstance(destination, numbers.Integral) else tuple(destination)
    if len(src) != len(dst):
        raise ValueError(f"movedim(): source {src} and destination {dst} must have the same length")
    src = [dim_arg(d, x.ndim, "movedim") for d in src]
    dst = [dim_arg(d, x.ndim, "movedim") for d in dst]
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"movedim(): repeated dims in source {src} or destination {dst}")
    rest = iter(d for d in range(x.ndim) if d not in src)
    placed = dict(zip(dst, src))
    return permute(x, tuple(placed[i] if i in placed else next(rest) for i in range(x.ndim)))


moveaxis = movedim


class Repeat(Function):
    """y = x tiled ``reps`` times along each dim (new leading dims first), as PyTorch's ``repeat``.
    Each x element is copied once per tile, so gx = the sum of gy over the tiles: gy reshaped to
    (r_0, n_0, r_1, n_1, ...) and summed over the r axes."""

    def forward(self, x, *, reps):
        xp = get_array_module(x)
        self.in_shape = x.shape
        self.shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
        self.reps = reps
        return xp.tile(x.reshape(self.shape), reps)

    def backward(self, gy):
        split = [s for pair in zip(self.reps, self.shape) for s in pair]
        g = gy.reshape(split).sum(axis=tuple(range(0, 2 * len(self.reps), 2)))
        return g.reshape(self.in_shape)


def repeat(input, *sizes):
    """Tile ``sizes[i]`` times along each dim (at least ``ndim`` sizes; extra ones add leading dims)."""
    x = tensor_arg(input, "repeat")
    reps = sizes_arg(sizes, "repeat")
    if len(reps) < x.ndim:
        raise ValueError(f"repeat(): got {len(reps)} sizes for a tensor with {x.ndim} dims; give at least one "
                         f"per dim")
    if any(r < 0 for r in reps):
        raise ValueError(f"repeat(): sizes must be non-negative, got {reps}")
    return Repeat.apply(x, reps=reps)


def tile(input, dims):
    """NumPy's tile: like ``repeat``, with missing leading sizes taken as 1."""
    x = tensor_arg(input, "tile")
    reps = sizes_arg((dims,), "tile")
    return repeat(x, (1,) * (x.ndim - len(reps)) + reps)


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or each slice along ``dim``) ``repeats`` times in place: [a, b] -> [a, a, b, b].
    ``repeats`` is an int or one count per element; ``repeat_interleave(counts)`` alone gives
    [0 x counts[0], 1 x counts[1], ...]."""
    x = tensor_arg(input, "repeat_interleave")
    if repeats is None:  # torch.repeat_interleave(repeats): the indices, each repeated
        counts = x.numpy()
        return Tensor(np.repeat(np.arange(len(counts)), counts).astype(np.int64))
    if dim is None:
        x, dim = x.reshape(-1), 0
    d = dim_arg(dim, x.ndim, "repeat_interleave")
    counts = repeats.numpy() if isinstance(repeats, Tensor) else np.asarray(repeats)
    n = x.shape[d]
    if counts.ndim not in (0, 1) or (counts.ndim == 1 and len(counts) not in (1, n)) or (counts < 0).any():
        raise ValueError(f"repeat_interleave(): repeats must be a non-negative int or one per element of dim {d} "
                         f"(size {n}), got {counts.tolist()}")
    idx = np.repeat(np.arange(n), counts.reshape(-1) if counts.ndim else int(counts))
    return index_select(x, d, Tensor(idx.astype(np.int64)))


def meshgrid(*tensors, indexing: str = "ij"):
    """Coordinate grids from 1-D tensors: 'ij' (matrix) indexing gives shape (len(t0), len(t1), ...);
    'xy' swaps the first two."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [tensor_arg(t, "meshgrid") for t in tensors]
    for t in ts:
        if t.ndim > 1:
            raise ShapeError(f"meshgrid(): expected 0-D or 1-D tensors, got shape {tuple(t.shape)}")
    ts = [t.reshape(-1) for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    grids = [expand(t.reshape([-1 if i == j else 1 for j in range(len(ts))]), shape) for i, t in enumerate(ts)]
    if indexing == "xy" and len(ts) >= 2:
        grids = [transpose(g, 0, 1) for g in grids]
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def unflatten(input, dim: int, sizes):
    """Split dim ``dim`` into ``sizes`` (one of them may be -1)."""
    x = tensor_arg(input, "unflatten")
    d = dim_arg(dim, x.ndim, "unflatten")
    sizes = sizes_arg((sizes,), "unflatten")
    shape = tuple(x.shape)
    known = int(np.prod([s for s in sizes if s != -1]))
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != shape[d]) or \
            (sizes.count(-1) == 1 and (known == 0 or shape[d] % known)):
        raise ShapeError(f"unflatten(): sizes {sizes} do not multiply to the size {shape[d]} of dim {d} "
                         f"of shape {shape}")
    sizes = tuple(shape[d] // known if s == -1 else s for s in sizes)
    return reshape(x, shape[:d] + sizes + shape[d + 1:])


def narrow(input, dim: int, start: int, length: int):
    """The slice [start, start + length) along ``dim`` (a view; start may be negative)."""
    x = tensor_arg(input, "narrow")
    d = dim_arg(dim, x.ndim, "narrow")
    n = x.shape[d]
    start = int(start.item() if isinstance(start, Tensor) else start)
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow(): start {start} and length {length} are out of range for dim {d} of size {n}")
    return getitem(x, (slice(None),) * d + (slice(start, start + length),))


def select(input, dim: int, index: int):
    """x[..., index, ...] at ``dim`` (that dim removed)."""
    x = tensor_arg(input, "select")
    d = dim_arg(dim, x.ndim, "select")
    n = x.shape[d]
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} is out of range for dim {d} of size {n}")
    return getitem(x, (slice(None),) * d + (int(index),))


def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to."""
    try:
        from ..autograd import Size  # noqa: PLC0415  (the result type only)
        return Size(np.broadcast_shapes(*[tuple(s) if not isinstance(s, int) else (s,) for s in shapes]))
    except ValueError:
        raise ShapeError(f"broadcast_shapes(): shapes {[tuple(s) for s in shapes]} do not broadcast") from None


def broadcast_to(input, size):
    """``input`` expanded to ``size`` (-1 keeps a dim); a view."""
    return expand(tensor_arg(input, "broadcast_to"), tuple(size))


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape."""
    ts = [tensor_arg(t, "broadcast_tensors") for t in tensors]
    shape = broadcast_shapes(*[t.shape for t in ts])
    return tuple(expand(t, shape) for t in ts)


def atleast_1d(*tensors):
    out = [tensor_arg(t, "atleast_1d") for t in tensors]
    out = [t.reshape(1) if t.ndim == 0 else t for t in out]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_2d(*tensors):
    out = [tensor_arg(t, "atleast_2d") for t in tensors]
    out = [t.reshape(1, -1) if t.ndim < 2 else t for t in out]
    return out[0] if len(out) == 1 else tuple(out)


def atleast_3d(*tensors):
    out = [tensor_arg(t, "atleast_3d") for t in tensors]
    out = [t.reshape(1, 1, 1) if t.ndim == 0 else t.reshape(1, -1, 1) if t.ndim == 1 else
           t.unsqueeze(-1) if t.ndim == 2 else t for t in out]
    return out[0] if len(out) == 1 else tuple(out)


def hstack(tensors):
    """cat along dim 1 (dim 0 for 1-D tensors)."""
    ts = [atleast_1d(t) for t in tensors]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """cat along dim 0 of the tensors made at least 2-D."""
    return cat([atleast_2d(t) for t in tensors], 0)


def dstack(tensors):
    """cat along dim 2 of the tensors made at least 3-D."""
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors):
    """The 1-D tensors as columns (and 2-D ones as they are), side by side."""
    return hstack([t.reshape(-1, 1) if t.ndim <= 1 else t for t in (tensor_arg(t, "column_stack") for t in tensors)])


class Unfold(Function):
    """Sliding windows along one dim, as ``Tensor.unfold(dim, size, step)``: window w holds
    x[w*step : w*step + size] along ``dim``, in a new last dim.  Windows overlap when step < size, so an
    element appears in several of them: gx[w*step + j] += gy[..., w, ..., j] for every window w and j."""

    def forward(self, x, *, axis, size, step):
        xp = get_array_module(x)
        count = (x.shape[axis] - size) // step + 1
        self.idx = xp.arange(count)[:, None] * step + xp.arange(size)[None, :]  # (windows, size)
        self.shape, self.axis = x.shape, axis
        windows = xp.take(x, self.idx, axis=axis)  # x.shape[:axis] + (windows, size) + x.shape[axis+1:]
        return xp.moveaxis(windows, axis + 1, -1)

    def backward(self, gy):
        xp = get_array_module(gy)
        g = xp.moveaxis(gy, -1, self.axis + 1)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        scatter_add(gx, (slice(None),) * self.axis + (self.idx,), g, xp)
        return gx


def unfold_windows(input, dimension: int, size: int, step: int):
    """``Tensor.unfold``: all windows of ``size`` along ``dimension``, ``step`` apart, in a new last dim."""
    x = tensor_arg(input, "unfold")
    if x.ndim == 0:
        x = x.reshape(1)
    d = dim_arg(dimension, x.ndim, "unfold")
    if not (isinstance(size, numbers.Integral) and 0 <= size <= x.shape[d]):
        raise ShapeError(f"unfold(): size {size!r} must be in [0, {x.shape[d]}] (dim {d} of shape {tuple(x.shape)})")
    if not (isinstance(step, numbers.Integral) and step > 0):
        raise ValueError(f"unfold(): step must be a positive int, got {step!r}")
    return Unfold.apply(x, axis=d, size=int(size), step=int(step))


TENSOR_METHODS = {
    "roll": roll, "flip": flip, "fliplr": fliplr, "flipud": flipud, "rot90": rot90, "movedim": movedim,
    "moveaxis": movedim, "repeat": repeat, "tile": tile, "repeat_interleave": repeat_interleave,
    "unflatten": unflatten, "narrow": narrow, "select": select, "broadcast_to": broadcast_to,
    "unfold": unfold_windows, "swapdims": transpose, "ravel": lambda self: reshape(self, -1),
}
