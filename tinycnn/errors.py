"""The exception classes of tinycnn's tensor errors, compatible with PyTorch's ``except`` clauses.

PyTorch raises ``IndexError`` for a dim out of range (``x.sum(5)``) and ``RuntimeError`` for shapes that do
not fit together (broadcasting, matmul, reshape, cat, a layer fed the wrong number of channels). Ported code
catches those, so ours must be catchable the same way. Each class also derives from ``ValueError``, what
tinycnn raised for these before, so ``except ValueError`` keeps working too.

This module sits at the bottom of the layers (it imports nothing of tinycnn), so every layer can raise them.
"""
from __future__ import annotations


class DimensionError(IndexError, ValueError):
    """A dim argument outside ``[-ndim, ndim)`` (PyTorch: ``IndexError: Dimension out of range``)."""


class ShapeError(RuntimeError, ValueError):
    """Shapes that do not fit together: broadcasting, matmul, reshape, cat/stack, expand, gather, a layer's
    input (PyTorch raises ``RuntimeError`` for these)."""


def dim_out_of_range(op: str, dim, ndim: int, span: int | None = None) -> DimensionError:
    """The one message for a dim outside the range of a tensor with ``ndim`` dims (``span`` = the number
    of valid positions when it differs from ndim, e.g. ndim + 1 for unsqueeze)."""
    span = (ndim if ndim > 0 else 1) if span is None else span
    return DimensionError(f"{op}(): dim {dim} is out of range for a tensor with ndim {ndim} "
                          f"(expected a dim in [{-span}, {span - 1}])")


class IndexOutOfRangeError(IndexError, RuntimeError, ValueError):
    """An index outside its dim's size in gather/scatter/index_select/take, or a class index outside the
    classes of a loss (PyTorch raises IndexError for some of these and RuntimeError for others; this class
    is both, and a ValueError as tinycnn's class-index error was)."""
