"""MobileNet V1 (Howard et al. 2017): a VGG-like stack of depthwise-separable convolutions.

A standard KxK conv from M to N channels on a D_F x D_F map costs ``K*K*M*N*D_F*D_F`` multiply-adds.
The depthwise-separable split does the same job in two steps:

    depthwise (DW)  KxK, groups = M: one kernel per input channel     K*K*M*D_F*D_F
    pointwise (PW)  1x1, M -> N: mixes the channels                   M*N*D_F*D_F

so the cost falls by ``1/N + 1/K^2`` (about 8-9x less for 3x3 kernels). Each step is followed by
BatchNorm and ReLU.

Layout (224x224 input, Table 1 of the paper; 4,231,976 parameters at width 1.0)::

    features.0        conv 3x3/2, 3 -> 32                    112x112
    features.1..13    DepthwiseSeparableConv (dw 3x3/s, pw 1x1) with (out, stride):
                      (64,1) (128,2) (128,1) (256,2) (256,1) (512,2) 5x(512,1) (1024,2) (1024,1)
    avgpool           global average                        1x1x1024
    fc                Linear(1024, num_classes)

``width_mult`` (the paper's alpha) scales every width, rounded to a multiple of 8 (``make_divisible``).
State-dict keys: ``features.<i>.<j>`` with j = 0 dw conv, 1 BN, 3 pw conv, 4 BN; ``fc``.
"""
from __future__ import annotations

from .. import nn
from .mobilenet_common import Conv2dNormActivation, init_mobile_weights, make_divisible

# (output channels, stride) of the 13 depthwise-separable blocks
V1_BLOCKS = [(64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2),
             (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (1024, 2), (1024, 1)]


class DepthwiseSeparableConv(nn.Sequential):
    """``dw KxK conv (groups=C_in) -> BN -> ReLU -> pw 1x1 conv -> BN -> ReLU`` (keys 0..5)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, kernel_size: int = 3):
        super().__init__(
            nn.Conv2d(in_channels, in_channels, kernel_size, stride, (kernel_size - 1) // 2,
                      groups=in_channels, bias=False),
            nn.BatchNorm2d(in_channels),
            nn.ReLU(),
            nn.Conv2d(in_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        )
        self.in_channels, self.out_channels, self.stride = in_channels, out_channels, stride


class MobileNetV1(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, in_channels: int = 3):
        super().__init__()
        if width_mult <= 0:
            raise ValueError(f"mobilenet_v1: width_mult must be positive, got {width_mult}")
        channels = make_divisible(32 * width_mult)
        layers = [Conv2dNormActivation(in_channels, channels, 3, stride=2)]
        for out, stride in V1_BLOCKS:
            out = make_divisible(out * width_mult)
            layers.append(DepthwiseSeparableConv(channels, out, stride))
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)
        init_mobile_weights(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.fc(x.flatten(1))


def mobilenet_v1(num_classes: int = 1000, width_mult: float = 1.0, **kwargs) -> MobileNetV1:
    """MobileNet V1 with width multiplier ``width_mult`` (1.0: 4,231,976 parameters, 569M mult-adds)."""
    return MobileNetV1(num_classes=num_classes, width_mult=width_mult, **kwargs)
