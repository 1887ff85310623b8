"""Padding layers over ``F.pad`` (``tinycnn/ops/shape.py``): reflection, replication, circular, constant, zero.

``padding`` is an int (every side) or a tuple in ``F.pad``'s order: (left, right) for the 1-D layers,
(left, right, top, bottom) for the 2-D ones. Reflection, replication and circular padding copy border
pixels, so the gradient of every copy is added back onto the pixel it came from; constant padding adds
values that carry no gradient (negative widths crop, as in PyTorch).
"""
from __future__ import annotations

import numbers

from ...ops._sizes import shape_str
from ...ops.shape import pad
from ..module import Module


class _PadNd(Module):
    _dims = 2
    _mode = "constant"

    def __init__(self, padding, value: float = 0.0):
        super().__init__()
        n = 2 * self._dims
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (int(padding),) * n
        elif not (isinstance(padding, (tuple, list)) and len(padding) == n and all(
                isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding)):
            sides = "(left, right)" if self._dims == 1 else "(left, right, top, bottom)"
            raise ValueError(f"{type(self).__name__}: padding must be an int or a {n}-tuple of ints {sides}, "
                             f"got {padding!r}")
        self.padding = tuple(int(p) for p in padding)
        self.value = value

    def forward(self, input):
        d = self._dims
        cropped = [input.shape[-1 - a] + self.padding[2 * a] + self.padding[2 * a + 1] for a in range(d)] \
            if input.ndim >= d else []
        if input.ndim not in (d + 1, d + 2) or min(cropped, default=0) < 0:
            layout = "(C, W) or (N, C, W)" if d == 1 else "(C, H, W) or (N, C, H, W)"
            raise ValueError(f"{type(self).__name__}({self.padding}) expects a {d + 1}-D {layout} or {d + 2}-D "
                             f"input at least as large as the cropping, got input of shape "
                             f"{shape_str(input.shape)}")
        if self._mode in ("reflect", "circular"):
            for a in range(d):
                size, widths = input.shape[-1 - a], self.padding[2 * a:2 * a + 2]
                limit = size - 1 if self._mode == "reflect" else size
                if max(widths) > limit or min(widths) < 0:
                    raise ValueError(f"{type(self).__name__}({self.padding}): {self._mode} padding {widths} must be "
                                     f"non-negative and at most {limit} for an axis of size {size} (the input's "
                                     f"axis {input.ndim - 1 - a}), got input of shape {shape_str(input.shape)}")
        return pad(input, self.padding, mode=self._mode, value=self.value)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ConstantPad2d(_ConstantPadNd):
    """Pads the last two axes with ``value``."""

    def __init__(self, padding, value: float):
        super().__init__(padding, value)


class ConstantPad1d(_ConstantPadNd):
    """Pads the last axis with ``value``."""

    _dims = 1

    def __init__(self, padding, value: float):
        super().__init__(padding, value)


class ZeroPad1d(_PadNd):
    """Pads the last axis with zeros."""

    _dims = 1

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ZeroPad2d(_PadNd):
    """Pads the last two axes with zeros; negative values crop."""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_PadNd):
    """Mirrors the signal at its ends without repeating the edge sample: [a b c] -> [c b | a b c | b a]."""

    _dims, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """Mirrors the image at its borders without repeating the edge pixels (each width < the axis size)."""

    _mode = "reflect"


class ReplicationPad1d(_PadNd):
    """Repeats the end samples: [a b c] -> [a a | a b c | c c]."""

    _dims, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """Repeats the border pixels outwards."""

    _mode = "replicate"


class CircularPad1d(_PadNd):
    """Wraps around: [a b c] -> [b c | a b c | a b]."""

    _dims, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """Wraps around in both directions (a torus)."""

    _mode = "circular"
