"""EfficientNet B0-B7 (Tan & Le 2019), identical to ``torchvision.models.efficientnet_b0`` ... ``_b7``.

B0 is the base network found by architecture search, a MobileNet V2-like stack of ``MBConv`` blocks::

    x -> [1x1 expand to t*C_in, BN, SiLU]  (left out when t = 1)
      -> KxK depthwise (stride s), BN, SiLU
      -> SqueezeExcitation (squeeze to max(1, C_in / 4), SiLU, Sigmoid)
      -> 1x1 project to C_out, BN          (linear bottleneck)
      -> + x, through stochastic depth, when s = 1 and C_in = C_out

Stages (t, K, s, C_in, C_out, repeats): (1,3,1,32,16,1) (6,3,2,16,24,2) (6,5,2,24,40,2) (6,3,2,40,80,3)
(6,5,1,80,112,3) (6,5,2,112,192,4) (6,3,1,192,320,1), between a 3x3/2 stem (32 ch.) and a 1x1 conv to
1280 channels; head = pool -> Dropout(0.2) -> Linear. 5,288,548 parameters, 385.8M mult-adds at 224.

Compound scaling (Tan & Le 2019, Section 3). Scaling one dimension alone saturates: a deeper net needs
a larger receptive field, i.e. a larger image, and a larger image has more fine detail, i.e. wants wider
layers. So depth d, width w and resolution r grow together, by one exponent phi::

    d = alpha^phi,  w = beta^phi,  r = gamma^phi,   alpha * beta^2 * gamma^2 ~= 2,  alpha, beta, gamma >= 1

A conv layer's FLOPs grow as d * w^2 * r^2 (channels in and out both scale with w, positions with r^2), so
the network costs about 2^phi times B0. A grid search on B0 gave alpha = 1.2, beta = 1.1, gamma = 1.15
(``compound_scaling``). The released B1-B7 use rounded multipliers from the authors' table
(``EFFICIENTNET_SCALES``, the values torchvision builds), and ``scale_b0`` applies them to B0's stages:
every channel count c becomes ``make_divisible(c * w, 8)`` and every repeat count n becomes ``ceil(n * d)``;
kernels, strides and expansion ratios stay. B5-B7 use BatchNorm(eps=1e-3, momentum=0.01), as torchvision.

Stochastic depth (Huang et al. 2016, "row" mode): while training, each sample's residual branch is kept
with probability ``q = 1 - p`` and scaled by ``1 / q`` (so its expectation is unchanged), i.e.
``y = x + branch(x) * b / q`` with ``b ~ Bernoulli(q)`` per sample; in eval mode it is the identity.
Block i of the n blocks uses ``p = 0.2 * i / n`` (16 blocks in B0, 55 in B7).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from .. import backend, nn
from ..autograd import Tensor
from .mobilenet_common import Conv2dNormActivation, SqueezeExcitation, init_mobile_weights, make_divisible

# (expand_ratio, kernel, stride, input_channels, out_channels, num_layers)
B0_SETTINGS = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
               (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1)]


class StochasticDepth(nn.Module):
    """torchvision's ``StochasticDepth(p, mode)``: drop the whole input per sample ("row") or for the
    whole batch ("batch") with probability ``p`` while training, scaling survivors by ``1 / (1 - p)``."""

    def __init__(self, p: float, mode: str = "row"):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"StochasticDepth: drop probability must be in [0, 1], got {p}")
        if mode not in ("row", "batch"):
            raise ValueError(f"StochasticDepth: mode must be 'row' or 'batch', got {mode!r}")
        self.p, self.mode = p, mode

    def forward(self, x):
        if not self.training or self.p == 0.0:
            return x
        survival = 1.0 - self.p
        size = (x.shape[0],) + (1,) * (x.ndim - 1) if self.mode == "row" else (1,) * x.ndim
        keep = backend.get_rng().random(size) < survival
        noise = keep.astype(x.dtype) / np.asarray(survival if survival > 0 else 1.0, dtype=x.dtype)
        return x * Tensor(backend.to_device(noise, x.device))

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class MBConvConfig:
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 width_mult: float = 1.0, depth_mult: float = 1.0):
        self.expand_ratio, self.kernel, self.stride = expand_ratio, kernel, stride
        self.input_channels = make_divisible(input_channels * width_mult)
        self.out_channels = make_divisible(out_channels * width_mult)
        self.num_layers = int(math.ceil(num_layers * depth_mult))


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-and-excitation; layers in ``self.block``."""

    def __init__(self, cnf: MBConvConfig, stochastic_depth_prob: float, norm_layer=None,
                 se_layer=SqueezeExcitation):
        super().__init__()
        if cnf.stride not in (1, 2):
            raise ValueError(f"MBConv: stride must be 1 or 2, got {cnf.stride}")
        norm_layer = norm_layer or nn.BatchNorm2d
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        expanded = make_divisible(cnf.input_channels * cnf.expand_ratio)
        layers = []
        if expanded != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, expanded, kernel_size=1,
                                               norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, expanded, kernel_size=cnf.kernel, stride=cnf.stride,
                                           groups=expanded, norm_layer=norm_layer, activation_layer=nn.SiLU))
        layers.append(se_layer(expanded, max(1, cnf.input_channels // 4), activation=nn.SiLU))
        layers.append(Conv2dNormActivation(expanded, cnf.out_channels, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=None))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, x):
        out = self.block(x)
        if self.use_res_connect:
            out = self.stochastic_depth(out) + x
        return out


class EfficientNet(nn.Module):
    def __init__(self, inverted_residual_setting, dropout: float, stochastic_depth_prob: float = 0.2,
                 num_classes: int = 1000, norm_layer=None, last_channel: int | None = None):
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("EfficientNet: inverted_residual_setting must not be empty")
        norm_layer = norm_layer or nn.BatchNorm2d
        layers = [Conv2dNormActivation(3, inverted_residual_setting[0].input_channels, stride=2,
                                       norm_layer=norm_layer, activation_layer=nn.SiLU)]
        total_blocks = sum(c.num_layers for c in inverted_residual_setting)
        block_id = 0
        for cnf in inverted_residual_setting:
            stage = []
            for i in range(cnf.num_layers):
                block_cnf = MBConvConfig(cnf.expand_ratio, cnf.kernel, cnf.stride if i == 0 else 1,
                                         cnf.input_channels if i == 0 else cnf.out_channels, cnf.out_channels, 1)
                # drop probability grows linearly with depth: early blocks are almost always kept
                stage.append(MBConv(block_cnf, stochastic_depth_prob * block_id / total_blocks, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = inverted_residual_setting[-1].out_channels
        last_out = last_channel if last_channel is not None else 4 * last_in
        layers.append(Conv2dNormActivation(last_in, last_out, kernel_size=1, norm_layer=norm_layer,
                                           activation_layer=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), nn.Linear(last_out, num_classes))
        init_mobile_weights(self, linear_init="uniform")

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


# Tan & Le's grid search on B0 (Sec. 3.3): depth, width and resolution bases with alpha * beta^2 * gamma^2 ~= 2.
ALPHA, BETA, GAMMA = 1.2, 1.1, 1.15


def compound_scaling(phi: float, alpha: float = ALPHA, beta: float = BETA, gamma: float = GAMMA,
                     base_resolution: int = 224) -> tuple[float, float, int]:
    """The compound-scaling rule: ``(depth_mult, width_mult, resolution)`` for exponent ``phi``.

    ``depth = alpha^phi``, ``width = beta^phi``, ``resolution = round(base_resolution * gamma^phi)``; the cost
    grows by ``(alpha * beta^2 * gamma^2)^phi``, about ``2^phi`` for the paper's constants.

    >>> compound_scaling(0)
    (1.0, 1.0, 224)
    >>> d, w, r = compound_scaling(1); round(d, 3), round(w, 3), r
    (1.2, 1.1, 258)
    """
    if phi < 0:
        raise ValueError(f"compound_scaling: phi must be >= 0 (B0 is phi = 0), got {phi}")
    for name, base in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        if base < 1:
            raise ValueError(f"compound_scaling: {name} must be >= 1 (scaling never shrinks B0), got {base}")
    return alpha ** phi, beta ** phi, int(round(base_resolution * gamma ** phi))


@dataclass(frozen=True)
class EfficientNetScale:
    """One released variant: multipliers for B0's widths and depths, its input side and its head dropout."""
    width_mult: float
    depth_mult: float
    resolution: int
    dropout: float


# The authors' released table (efficientnet_builder.py), which torchvision builds (torchvision evaluates its
# B2 weights at 288 rather than 260).
EFFICIENTNET_SCALES = {
    "b0": EfficientNetScale(1.0, 1.0, 224, 0.2), "b1": EfficientNetScale(1.0, 1.1, 240, 0.2),
    "b2": EfficientNetScale(1.1, 1.2, 260, 0.3), "b3": EfficientNetScale(1.2, 1.4, 300, 0.3),
    "b4": EfficientNetScale(1.4, 1.8, 380, 0.4), "b5": EfficientNetScale(1.6, 2.2, 456, 0.4),
    "b6": EfficientNetScale(1.8, 2.6, 528, 0.5), "b7": EfficientNetScale(2.0, 3.1, 600, 0.5),
}


def scale_b0(width_mult: float = 1.0, depth_mult: float = 1.0) -> list[MBConvConfig]:
    """B0's stage table with every channel count ``c -> make_divisible(c * width_mult, 8)`` and every repeat
    count ``n -> ceil(n * depth_mult)`` (the stem follows the first stage's input width, the head conv is
    4x the last stage's output)."""
    if width_mult <= 0 or depth_mult <= 0:
        raise ValueError(f"scale_b0: multipliers must be positive, got width_mult={width_mult}, "
                         f"depth_mult={depth_mult}")
    return [MBConvConfig(*row, width_mult=width_mult, depth_mult=depth_mult) for row in B0_SETTINGS]


def build_efficientnet(variant: str = "b0", num_classes: int = 1000, dropout: float | None = None,
                 stochastic_depth_prob: float = 0.2, **kwargs) -> EfficientNet:
    """EfficientNet-``variant`` (``"b0"`` ... ``"b7"``): B0 scaled by ``EFFICIENTNET_SCALES[variant]``;
    ``dropout`` defaults to the variant's."""
    if variant not in EFFICIENTNET_SCALES:
        raise ValueError(f"efficientnet: variant must be one of {sorted(EFFICIENTNET_SCALES)}, got {variant!r}")
    scale = EFFICIENTNET_SCALES[variant]
    if variant in ("b5", "b6", "b7"):
        kwargs.setdefault("norm_layer", partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))
    return EfficientNet(scale_b0(scale.width_mult, scale.depth_mult),
                        scale.dropout if dropout is None else dropout, stochastic_depth_prob, num_classes, **kwargs)


def efficientnet_b0(num_classes: int = 1000, dropout: float = 0.2, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b0`` (5,288,548 parameters, 224x224)."""
    return build_efficientnet("b0", num_classes, dropout, stochastic_depth_prob, **kwargs)


def efficientnet_b1(num_classes: int = 1000, dropout: float = 0.2, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b1``: depth x1.1 (7,794,184 parameters, 240x240)."""
    return build_efficientnet("b1", num_classes, dropout, stochastic_depth_prob, **kwargs)


def efficientnet_b2(num_classes: int = 1000, dropout: float = 0.3, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b2``: width x1.1, depth x1.2 (9,109,994 parameters, 260x260)."""
    return build_efficientnet("b2", num_classes, dropout, stochastic_depth_prob, **kwargs)


def efficientnet_b3(num_classes: int = 1000, dropout: float = 0.3, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b3``: width x1.2, depth x1.4 (12,233,232 parameters, 300x300)."""
    return build_efficientnet("b3", num_classes, dropout, stochastic_depth_prob, **kwargs)


def efficientnet_b4(num_classes: int = 1000, dropout: float = 0.4, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b4``: width x1.4, depth x1.8 (19,341,616 parameters, 380x380)."""
    return build_efficientnet("b4", num_classes, dropout, stochastic_depth_prob, **kwargs)


def efficientnet_b5(num_classes: int = 1000, dropout: float = 0.4, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b5``: width x1.6, depth x2.2 (30,389,784 parameters, 456x456)."""
    return build_efficientnet("b5", num_classes, dropout, stochastic_depth_prob, **kwargs)


def efficientnet_b6(num_classes: int = 1000, dropout: float = 0.5, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b6``: width x1.8, depth x2.6 (43,040,704 parameters, 528x528)."""
    return build_efficientnet("b6", num_classes, dropout, stochastic_depth_prob, **kwargs)


def efficientnet_b7(num_classes: int = 1000, dropout: float = 0.5, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b7``: width x2.0, depth x3.1 (66,347,960 parameters, 600x600)."""
    return build_efficientnet("b7", num_classes, dropout, stochastic_depth_prob, **kwargs)
