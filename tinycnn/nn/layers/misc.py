"""Small data-movement layers: ``ChannelShuffle`` (ShuffleNet). The padding layers live in ``padding.py``."""
from __future__ import annotations

import numbers

from ...ops.misc import channel_shuffle
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
