"""Channel shuffle (ShuffleNet): a permutation of the channels, one ``Function``; and ``one_hot``.

It could be written as reshape -> transpose -> reshape on Tensors; one Function makes one copy forward and
one backward instead of three graph nodes. (``nn.ZeroPad2d`` uses ``tinycnn.ops.shape.pad``.)
"""
from __future__ import annotations

import numbers

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._sizes import shape_str


class ChannelShuffleFunction(Function):
    r"""Interleave g groups of channels: (N, C, *) -> (N, g, C/g, *) -> swap axes 1, 2 -> (N, C, *).

    Output channel i*g + j is input channel j*(C/g) + i (group j, index i inside the group): a
    permutation P of the channels, y = P x. Its gradient is the inverse permutation, gx = P^T gy:
    reshape gy as (N, C/g, g, *), swap axes 1 and 2 back, reshape to (N, C, *).
    """

    def forward(self, x, *, groups):
        n, c = x.shape[:2]
        rest = x.shape[2:]
        self.groups = groups
        return x.reshape(n, groups, c // groups, *rest).swapaxes(1, 2).reshape(x.shape)

    def backward(self, gy):
        n, c = gy.shape[:2]
        rest = gy.shape[2:]
        return gy.reshape(n, c // self.groups, self.groups, *rest).swapaxes(1, 2).reshape(gy.shape)


def channel_shuffle(input, groups: int, *, _layer: str | None = None):
    """``F.channel_shuffle``: regroup the C channels of (N, C, *) so each of the ``groups`` groups sends one
    channel into every group of the next grouped convolution."""
    who = _layer or "channel_shuffle"
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected input to be a Tensor, got {type(input).__name__}")
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    if input.ndim < 3:
        raise ValueError(f"{who}: expected an input of at least 3 dimensions (N, C, *), "
                         f"got input of shape {shape_str(input.shape)}")
    c = input.shape[1]
    if c % groups:
        raise ValueError(f"{who}: number of channels must be divisible by groups, got {c} channels and "
                         f"{groups} groups (input of shape {shape_str(input.shape)})")
    return ChannelShuffleFunction.apply(input, groups=int(groups))


def one_hot(tensor, num_classes: int = -1):
    """PyTorch's ``F.one_hot``: integer class indices of any shape -> int64 (*shape, num_classes), with a 1 at
    each index (``num_classes=-1``: the largest index + 1). Not differentiable (the input is an index)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"one_hot: expected a Tensor, got {type(tensor).__name__}")
    idx = tensor.array
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor of class indices, got dtype {idx.dtype}")
    if not isinstance(num_classes, numbers.Integral) or isinstance(num_classes, bool) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or a non-negative int, got {num_classes!r}")
    xp = get_array_module(idx)
    if idx.size and int(idx.min()) < 0:
        raise ValueError(f"one_hot: class values must be non-negative, got {int(idx.min())}")
    if num_classes == -1:
        if idx.size == 0:
            raise ValueError("one_hot: cannot infer the total number of classes from an empty tensor")
        num_classes = int(idx.max()) + 1
    elif idx.size and int(idx.max()) >= num_classes:
        raise ValueError(f"one_hot: class values must be smaller than num_classes ({num_classes}), got "
                         f"{int(idx.max())}")
    return Tensor((idx[..., None] == xp.arange(num_classes)).astype("int64"))
