"""Network in Network (Lin, Chen & Yan, 2013), as d2l.ai builds it for 1x224x224 Fashion-MNIST.

A NiN block is one ordinary convolution followed by two 1x1 convolutions, each with ReLU. A 1x1 conv is a
fully connected layer applied at every pixel: with the spatial positions as samples and the channels as
features, y[n, o, i, j] = sum_c w[o, c] x[n, c, i, j] + b[o]. So the block is a small MLP sliding over the
image, and the network needs no fully connected head: the last block outputs one channel per class and a
global average pool turns each channel into its class score.

    input 1x224x224
    nin_block(1, 96, 11, 4, 0)    -> 96x54x54   -> maxpool 3/2 -> 96x26x26
    nin_block(96, 256, 5, 1, 2)   -> 256x26x26  -> maxpool 3/2 -> 256x12x12
    nin_block(256, 384, 3, 1, 1)  -> 384x12x12  -> maxpool 3/2 -> 384x5x5 -> dropout 0.5
    nin_block(384, 10, 3, 1, 1)   -> 10x5x5 -> global average pool -> 10x1x1 -> flatten -> 10

1,992,166 parameters (every one in a convolution). The global pool makes any input of at least 67x67 valid.
"""
from __future__ import annotations

from .. import nn


def nin_block(in_channels: int, out_channels: int, kernel_size, stride, padding) -> nn.Sequential:
    """conv(kernel_size, stride, padding) + ReLU + 1x1 conv + ReLU + 1x1 conv + ReLU (keys 0, 2, 4)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
    )


def nin(num_classes: int = 10, in_channels: int = 1, dropout: float = 0.5) -> nn.Sequential:
    """d2l's NiN (state-dict keys ``0.0.weight`` ... ``7.4.bias``, as ``nin_d2l`` in the reference)."""
    return nn.Sequential(
        nin_block(in_channels, 96, kernel_size=11, stride=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, stride=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, stride=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(dropout),
        nin_block(384, num_classes, kernel_size=3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
    )
