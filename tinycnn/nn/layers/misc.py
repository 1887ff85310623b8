"""Small data-movement layers: ``ChannelShuffle`` (ShuffleNet) and ``ZeroPad2d``."""
from __future__ import annotations

import numbers

from ...ops._sizes import shape_str
from ...ops.misc import channel_shuffle
from ...ops.shape import pad
from ..module import Module


class ChannelShuffle(Module):
    """Interleaves ``groups`` channel groups: (N, g*k, *) viewed as (N, g, k, *) -> (N, k, g, *)."""

    def __init__(self, groups: int):
        super().__init__()
        if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
            raise ValueError(f"ChannelShuffle: groups must be a positive int, got {groups!r}")
        self.groups = int(groups)

    def forward(self, input):
        return channel_shuffle(input, self.groups, _layer=f"ChannelShuffle(groups={self.groups})")

    def extra_repr(self) -> str:
        return f"groups={self.groups}"


class ZeroPad2d(Module):
    """Pads the last two axes with zeros. ``padding``: an int (all four sides) or (left, right, top, bottom);
    negative values crop, as in PyTorch."""

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
            padding = (int(padding),) * 4
        elif not (isinstance(padding, (tuple, list)) and len(padding) == 4 and all(
                isinstance(p, numbers.Integral) and not isinstance(p, bool) for p in padding)):
            raise ValueError(f"ZeroPad2d: padding must be an int or a 4-tuple of ints (left, right, top, "
                             f"bottom), got {padding!r}")
        self.padding = tuple(int(p) for p in padding)

    def forward(self, input):
        left, right, top, bottom = self.padding
        if input.ndim not in (3, 4) or input.shape[-2] + top + bottom < 0 or input.shape[-1] + left + right < 0:
            raise ValueError(f"ZeroPad2d({self.padding}) expects a 3-D (C, H, W) or 4-D (N, C, H, W) input "
                             f"at least as large as the cropping, got input of shape {shape_str(input.shape)}")
        return pad(input, self.padding, mode="constant", value=0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"
