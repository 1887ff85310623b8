"""Dropout layers: ``Dropout`` (elements) and ``Dropout2d`` (whole channels); identity in eval mode."""
from __future__ import annotations

import numbers

from ...ops.dropout import dropout, dropout2d
from ..module import Module


class _DropoutNd(Module):
    def __init__(self, p: float = 0.5, inplace: bool = False):
        super().__init__()
        if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: dropout probability p has to be between 0 and 1, "
                             f"but got p={p!r}")
        self.p = p
        self.inplace = inplace   # accepted for PyTorch compatibility; the result is always a new tensor

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zeroes each element with probability p in training and scales the rest by 1/(1-p)."""

    def forward(self, input):
        return dropout(input, self.p, self.training)


class Dropout2d(_DropoutNd):
    """Zeroes whole channels of (N, C, H, W) with probability p in training, scaling the rest by 1/(1-p)."""

    def forward(self, input):
        return dropout2d(input, self.p, self.training)
