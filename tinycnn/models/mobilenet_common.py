"""Pieces shared by the mobile networks (MobileNet V1-V3, EfficientNet), named as in torchvision.

* ``make_divisible(v, 8)``: width multipliers give channel counts such as 32 * 0.75 = 24 or 16 * 1.1;
  hardware likes multiples of 8, so round to the nearest multiple but never lose more than 10%.
* ``Conv2dNormActivation``: the conv -> BatchNorm -> activation triple, as a ``Sequential`` with keys
  ``0`` (conv, no bias since BN has its own), ``1`` (norm) and ``2`` (activation), "same" padding
  ``(k - 1) // 2 * dilation``.
* ``SqueezeExcitation`` (Hu et al. 2018; channel "attention": average each channel, two small fully
  connected layers, multiply the channels by the resulting weights)::

        s = avgpool(x)                      (N, C, 1, 1)   squeeze: one number per channel
        s = scale_act(fc2(act(fc1(s))))     C -> C_sq -> C, fc1/fc2 are 1x1 convs (= Linear per pixel)
        y = s * x                           (N, C, H, W)   excite: re-weight the channels

  with ``act = ReLU, scale_act = Sigmoid`` (EfficientNet) or ``Hardsigmoid`` (MobileNet V3).
* ``init_mobile_weights``: torchvision's initialisation for these families (Kaiming-normal fan-out convs,
  BN weight 1 / bias 0, Linear N(0, 0.01)).
"""
from __future__ import annotations

from .. import nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Nearest multiple of ``divisor`` to ``v`` (at least ``min_value``), not below 90% of ``v``.

    >>> make_divisible(32 * 0.75), make_divisible(16 * 1.1), make_divisible(1280 * 0.35)
    (24, 16, 448)
    """
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:  # rounding down by more than 10% would hurt accuracy
        new_v += divisor
    return new_v


_DEFAULT = object()  # lets ``None`` mean "no norm / no activation", as in torchvision


class Conv2dNormActivation(nn.Sequential):
    """``Conv2d -> norm_layer -> activation_layer`` (defaults BatchNorm2d and ReLU; ``None`` leaves one out).

    The conv has a bias only when there is no norm layer (BatchNorm's shift would cancel it).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
                 padding: int | None = None, groups: int = 1, norm_layer=_DEFAULT, activation_layer=_DEFAULT,
                 dilation: int = 1, bias: bool | None = None):
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        norm_layer = nn.BatchNorm2d if norm_layer is _DEFAULT else norm_layer
        activation_layer = nn.ReLU if activation_layer is _DEFAULT else activation_layer
        if bias is None:
            bias = norm_layer is None
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation=dilation,
                            groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer())
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """torchvision's ``SqueezeExcitation``: ``avgpool``, ``fc1``/``fc2`` 1x1 convs (with bias),
    ``activation`` and ``scale_activation`` (see the module docstring for the formula)."""

    def __init__(self, input_channels: int, squeeze_channels: int, activation=None, scale_activation=None):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = (activation or nn.ReLU)()
        self.scale_activation = (scale_activation or nn.Sigmoid)()

    def _scale(self, x):
        scale = self.avgpool(x)
        scale = self.activation(self.fc1(scale))
        return self.scale_activation(self.fc2(scale))

    def forward(self, x):
        return self._scale(x) * x


def init_mobile_weights(model: nn.Module, linear_init: str = "normal") -> None:
    """torchvision's init for MobileNet V2/V3 (``linear_init="normal"``: N(0, 0.01)) and EfficientNet
    (``"uniform"``: U(-1/sqrt(out), 1/sqrt(out))); conv biases and Linear biases are zeroed."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_init == "uniform":
                bound = 1.0 / m.out_features ** 0.5
                nn.init.uniform_(m.weight, -bound, bound)
            else:
                nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
