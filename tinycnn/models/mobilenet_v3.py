"""MobileNet V3 (Howard et al. 2019), identical to torchvision's ``mobilenet_v3_large`` / ``_small``.

What changed from V2 (Howard et al. 2019, Section 5):

* attention: an optional ``SqueezeExcitation`` after the depthwise conv, squeezing to
  ``make_divisible(C_exp / 4)`` channels and scaling with ``hardsigmoid(x) = relu6(x + 3) / 6``;
* activation: ``hardswish(x) = x * relu6(x + 3) / 6`` (a cheap swish) in the deeper half, ReLU early;
* cheaper ends: a 16-channel stem instead of 32, and a last stage of 1x1 conv (6x) -> pool ->
  Linear -> Hardswish -> Dropout -> Linear.

BatchNorm uses ``eps=0.001, momentum=0.01`` as in torchvision. Each row of ``LARGE`` / ``SMALL`` is
(input, kernel, expanded, output, use_se, activation, stride); a block adds its input when stride is 1
and input == output channels. Parameters: large 5,483,032, small 2,542,856.
"""
from __future__ import annotations

from functools import partial

from .. import nn
from .mobilenet_common import Conv2dNormActivation, SqueezeExcitation, init_mobile_weights, make_divisible

LARGE = [
    (16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2), (24, 3, 72, 24, False, "RE", 1),
    (24, 5, 72, 40, True, "RE", 2), (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
    (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
    (80, 3, 184, 80, False, "HS", 1), (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
    (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1), (160, 5, 960, 160, True, "HS", 1),
]
SMALL = [
    (16, 3, 16, 16, True, "RE", 2), (16, 3, 72, 24, False, "RE", 2), (24, 3, 88, 24, False, "RE", 1),
    (24, 5, 96, 40, True, "HS", 2), (40, 5, 240, 40, True, "HS", 1), (40, 5, 240, 40, True, "HS", 1),
    (40, 5, 120, 48, True, "HS", 1), (48, 5, 144, 48, True, "HS", 1), (48, 5, 288, 96, True, "HS", 2),
    (96, 5, 576, 96, True, "HS", 1), (96, 5, 576, 96, True, "HS", 1),
]
LAST_CHANNEL = {"large": 1280, "small": 1024}


class InvertedResidualConfig:
    """One row of the table, with every width scaled by ``width_mult`` and rounded to a multiple of 8."""

    def __init__(self, input_channels, kernel, expanded_channels, out_channels, use_se, activation, stride,
                 dilation: int = 1, width_mult: float = 1.0):
        if activation not in ("RE", "HS"):
            raise ValueError(f"InvertedResidualConfig: activation must be 'RE' or 'HS', got {activation!r}")
        self.input_channels = make_divisible(input_channels * width_mult)
        self.kernel = kernel
        self.expanded_channels = make_divisible(expanded_channels * width_mult)
        self.out_channels = make_divisible(out_channels * width_mult)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation


class InvertedResidual(nn.Module):
    """V3 block: [1x1 expand] -> depthwise KxK -> [SE] -> 1x1 project (linear), all in ``self.block``."""

    def __init__(self, cnf: InvertedResidualConfig, norm_layer, se_layer=None):
        super().__init__()
        if cnf.stride not in (1, 2):
            raise ValueError(f"InvertedResidual: stride must be 1 or 2, got {cnf.stride}")
        se_layer = se_layer or partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        act = nn.Hardswish if cnf.use_hs else nn.ReLU
        layers = []
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, cnf.expanded_channels, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=act))
        stride = 1 if cnf.dilation > 1 else cnf.stride
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.expanded_channels, kernel_size=cnf.kernel,
                                           stride=stride, dilation=cnf.dilation, groups=cnf.expanded_channels,
                                           norm_layer=norm_layer, activation_layer=act))
        if cnf.use_se:
            layers.append(se_layer(cnf.expanded_channels, make_divisible(cnf.expanded_channels // 4)))
        layers.append(Conv2dNormActivation(cnf.expanded_channels, cnf.out_channels, kernel_size=1,
                                           norm_layer=norm_layer, activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels
        self._is_cn = cnf.stride > 1

    def forward(self, x):
        out = self.block(x)
        return out + x if self.use_res_connect else out


class MobileNetV3(nn.Module):
    def __init__(self, inverted_residual_setting, last_channel: int, num_classes: int = 1000, block=None,
                 norm_layer=None, dropout: float = 0.2):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("MobileNetV3: inverted_residual_setting must not be empty")
        block = block or InvertedResidual
        norm_layer = norm_layer or partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        layers = [Conv2dNormActivation(3, inverted_residual_setting[0].input_channels, stride=2,
                                       norm_layer=norm_layer, activation_layer=nn.Hardswish)]
        layers += [block(cnf, norm_layer) for cnf in inverted_residual_setting]
        last_in = inverted_residual_setting[-1].out_channels
        last_out = 6 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Linear(last_out, last_channel), nn.Hardswish(),
                                        nn.Dropout(p=dropout), nn.Linear(last_channel, num_classes))
        init_mobile_weights(self)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def mobilenet_v3_conf(arch: str, width_mult: float = 1.0, reduced_tail: bool = False, dilated: bool = False):
    """(block configs, last_channel) for ``arch`` in {"large", "small"}, as torchvision builds them:
    ``reduced_tail`` halves the last stage's widths, ``dilated`` uses dilation 2 there instead of stride."""
    if arch not in ("large", "small"):
        raise ValueError(f"mobilenet_v3: arch must be 'large' or 'small', got {arch!r}")
    rows = LARGE if arch == "large" else SMALL
    tail_start = len(rows) - 3  # the last three rows form the C4/C5 stage
    div = 2 if reduced_tail else 1
    cnfs = []
    for i, (inp, k, exp, out, se, act, stride) in enumerate(rows):
        if i == tail_start:    # torchvision keeps this row's input and expansion widths
            out //= div
        elif i > tail_start:
            inp, exp, out = inp // div, exp // div, out // div
        dilation = 2 if dilated and i >= tail_start else 1
        cnfs.append(InvertedResidualConfig(inp, k, exp, out, se, act, stride, dilation, width_mult))
    return cnfs, make_divisible(LAST_CHANNEL[arch] // div * width_mult)


def mobilenet_v3_large(num_classes: int = 1000, width_mult: float = 1.0, dropout: float = 0.2,
                       reduced_tail: bool = False, dilated: bool = False, **kwargs) -> MobileNetV3:
    """torchvision's ``mobilenet_v3_large`` (5,483,032 parameters)."""
    cnfs, last = mobilenet_v3_conf("large", width_mult, reduced_tail, dilated)
    return MobileNetV3(cnfs, last, num_classes=num_classes, dropout=dropout, **kwargs)


def mobilenet_v3_small(num_classes: int = 1000, width_mult: float = 1.0, dropout: float = 0.2,
                       reduced_tail: bool = False, dilated: bool = False, **kwargs) -> MobileNetV3:
    """torchvision's ``mobilenet_v3_small`` (2,542,856 parameters)."""
    cnfs, last = mobilenet_v3_conf("small", width_mult, reduced_tail, dilated)
    return MobileNetV3(cnfs, last, num_classes=num_classes, dropout=dropout, **kwargs)
