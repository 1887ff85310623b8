"""Argument normalisation shared by the tensor ops: a tensor argument, the array inside one, one dim, several
dims, a list of sizes, and the NumPy-style keyword aliases PyTorch accepts (``axis=`` for ``dim=``,
``keepdims=`` for ``keepdim=``).

A dim out of range raises ``tinycnn.errors.DimensionError`` (an ``IndexError``, as PyTorch's, and a
``ValueError``) with one message for every op.
"""
from __future__ import annotations

import functools
import numbers

from ..autograd import Tensor
from ..errors import dim_out_of_range
from .arithmetic import as_operand


def tensor_arg(x, name: str) -> Tensor:
    """``x`` as a Tensor (arrays and nested lists are wrapped); a TypeError naming ``name`` otherwise."""
    x = as_operand(x)
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): expected a Tensor, got {type(x).__name__}")
    return x


def array_of(x):
    """The array inside a Tensor, or ``x`` itself when it is an array already (no copy, no graph)."""
    return x.array if isinstance(x, Tensor) else x


def dim_arg(dim, ndim: int, op: str, extra: int = 0) -> int:
    """One dim in [-(ndim + extra), ndim + extra), as a non-negative axis (extra=1 for unsqueeze/stack).

    A 0-d tensor accepts dim 0 and -1, as in PyTorch."""
    span = (ndim if ndim > 0 else 1) if extra == 0 else ndim + extra
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"{op}(): dim must be an int, got {dim!r}")
    if not -span <= dim < span:
        raise dim_out_of_range(op, dim, ndim, span)
    return int(dim) % span


def normalize_dims(dim, ndim: int, op: str) -> tuple:
    """``dim`` (None, an int or a sequence of ints, negatives allowed) as a sorted tuple of axes.

    None means every axis. A 0-d tensor accepts dim 0 and -1 (as PyTorch does) and reduces nothing.
    """
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, numbers.Integral) else tuple(dim)
    span = ndim if ndim > 0 else 1
    out = []
    for d in dims:
        if not isinstance(d, numbers.Integral) or isinstance(d, bool):
            raise TypeError(f"{op}(): dim must be an int or a tuple of ints, got {dim!r}")
        if not -span <= d < span:
            raise dim_out_of_range(op, d, ndim)
        out.append(int(d) % span)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}(): dim {dim!r} names the same dimension twice")
    return tuple(sorted(out)) if ndim > 0 else ()


def sizes_arg(args, op: str) -> tuple:
    """Accept ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])`` (or a Size); return a tuple of ints."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    for s in args:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool):
            raise TypeError(f"{op}(): sizes must be ints, got {args!r}")
    return tuple(int(s) for s in args)


def numpy_aliases(fn):
    """Let ``fn`` take ``axis=`` for ``dim=`` and ``keepdims=`` for ``keepdim=``, as PyTorch's reductions do."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}(): give dim= or axis=, not both")
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            if "keepdim" in kwargs:
                raise TypeError(f"{fn.__name__}(): give keepdim= or keepdims=, not both")
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)
    return wrapper
