"""MobileNet V2 (Sandler et al. 2018), identical to ``torchvision.models.mobilenet_v2``.

The inverted residual block turns V1's separable conv inside out: a thin input is *expanded* by a 1x1
conv (factor t, usually 6), filtered by a depthwise 3x3 conv, and *projected* back to a thin output by a
1x1 conv with **no activation** (the "linear bottleneck": ReLU on a low-dimensional tensor destroys
information, Sandler et al. Section 3.2)::

    x (C_in) -> 1x1 conv C_in -> t*C_in, BN, ReLU6       (left out when t = 1)
             -> 3x3 depthwise conv, stride s, BN, ReLU6
             -> 1x1 conv t*C_in -> C_out, BN               (linear)
             (+ x when s = 1 and C_in = C_out: the paper's condition for the shortcut)

Settings (t, c, n, s) = expansion, output channels, repeats, stride of the first repeat:
(1,16,1,1) (6,24,2,2) (6,32,3,2) (6,64,4,2) (6,96,3,1) (6,160,3,2) (6,320,1,1), between a 3x3/2 stem
with 32 channels and a 1x1 conv to 1280 channels; 3,504,872 parameters and 300.8M mult-adds at 224.
"""
from __future__ import annotations

from .. import nn
from ..nn import functional as F
from .mobilenet_common import Conv2dNormActivation, init_mobile_weights, make_divisible

V2_SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]


class InvertedResidual(nn.Module):
    """torchvision's V2 block; the layers are ``self.conv`` (keys ``conv.0``, ``conv.1``, ...)."""

    def __init__(self, inp: int, oup: int, stride: int, expand_ratio: int, norm_layer=None):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        hidden = int(round(inp * expand_ratio))
        self.stride = stride
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden, kernel_size=1, norm_layer=norm_layer,
                                               activation_layer=nn.ReLU6))
        layers += [
            Conv2dNormActivation(hidden, hidden, stride=stride, groups=hidden, norm_layer=norm_layer,
                                 activation_layer=nn.ReLU6),
            nn.Conv2d(hidden, oup, 1, 1, 0, bias=False),
            norm_layer(oup),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup
        self._is_cn = stride > 1

    def forward(self, x):
        out = self.conv(x)
        return x + out if self.use_res_connect else out


class MobileNetV2(nn.Module):
    def __init__(self, num_classes: int = 1000, width_mult: float = 1.0, inverted_residual_setting=None,
                 round_nearest: int = 8, block=None, norm_layer=None, dropout: float = 0.2):
        super().__init__()
        block = block or InvertedResidual
        norm_layer = norm_layer or nn.BatchNorm2d
        settings = V2_SETTINGS if inverted_residual_setting is None else inverted_residual_setting
        if not settings or any(len(s) != 4 for s in settings):
            raise ValueError(f"MobileNetV2: inverted_residual_setting must be a non-empty list of 4-tuples "
                             f"(t, c, n, s), got {settings!r}")
        input_channel = make_divisible(32 * width_mult, round_nearest)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer,
                                         activation_layer=nn.ReLU6)]
        for t, c, n, s in settings:
            output_channel = make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(block(input_channel, output_channel, s if i == 0 else 1, expand_ratio=t,
                                      norm_layer=norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes))
        init_mobile_weights(self)

    def forward(self, x):
        x = self.features(x)
        x = F.adaptive_avg_pool2d(x, (1, 1))  # functional in torchvision too: no module, no state
        return self.classifier(x.flatten(1))


def mobilenet_v2(num_classes: int = 1000, width_mult: float = 1.0, **kwargs) -> MobileNetV2:
    """torchvision's ``mobilenet_v2`` (3,504,872 parameters at width 1.0)."""
    return MobileNetV2(num_classes=num_classes, width_mult=width_mult, **kwargs)

