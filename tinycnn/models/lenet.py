"""LeNet-5 (LeCun et al., 1998), as d2l.ai builds it.

Input 1x28x28 (MNIST), padded by 2 so the first conv sees the paper's 32x32:

    conv 5x5 (1->6, pad 2)  -> 6x28x28   -> activation -> pool 2x2/2 -> 6x14x14
    conv 5x5 (6->16)        -> 16x10x10  -> activation -> pool 2x2/2 -> 16x5x5
    flatten 400 -> fc 120 -> activation -> fc 84 -> activation -> fc num_classes

``classic`` uses sigmoid and average pooling (the 1998 layout); ``modern`` uses ReLU and max pooling,
which trains faster and further. Both are an ``nn.Sequential`` so that the state-dict keys ("0.weight",
"3.weight", "7.weight"...) equal those of the same Sequential in PyTorch.
"""
from __future__ import annotations

from .. import nn

VARIANTS = ("classic", "modern")


def lenet5(variant: str = "modern", num_classes: int = 10, in_channels: int = 1) -> nn.Sequential:
    """LeNet-5 as d2l.ai builds it, ``"modern"`` (ReLU, max pooling; the default) or ``"classic"``
    (sigmoid, average pooling); 61,706 parameters. ``lenet5_1998`` is the paper's own."""
    if variant not in VARIANTS:
        raise ValueError(f"lenet5: variant must be one of {VARIANTS}, got {variant!r}")
    if variant == "classic":
        act, pool = nn.Sigmoid, nn.AvgPool2d
    else:
        act, pool = nn.ReLU, nn.MaxPool2d
    return nn.Sequential(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), act(), pool(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), act(), pool(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), act(),
        nn.Linear(120, 84), act(),
        nn.Linear(84, num_classes),
    )
