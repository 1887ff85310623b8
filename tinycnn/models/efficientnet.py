"""EfficientNet-B0 (Tan & Le 2019), identical to ``torchvision.models.efficientnet_b0``.

The notes' EfficientNet point: depth, width and input resolution are scaled *together* (compound scaling,
``depth = alpha^phi, width = beta^phi, resolution = gamma^phi``); B0 is the base network found by search
and B1-B7 scale it. B0 is a MobileNet V2-like stack of ``MBConv`` blocks::

    x -> [1x1 expand to t*C_in, BN, SiLU]  (left out when t = 1)
      -> KxK depthwise (stride s), BN, SiLU
      -> SqueezeExcitation (squeeze to max(1, C_in / 4), SiLU, Sigmoid)
      -> 1x1 project to C_out, BN          (linear bottleneck)
      -> + x, through stochastic depth, when s = 1 and C_in = C_out

Stages (t, K, s, C_in, C_out, repeats): (1,3,1,32,16,1) (6,3,2,16,24,2) (6,5,2,24,40,2) (6,3,2,40,80,3)
(6,5,1,80,112,3) (6,5,2,112,192,4) (6,3,1,192,320,1), between a 3x3/2 stem (32 ch.) and a 1x1 conv to
1280 channels; head = pool -> Dropout(0.2) -> Linear. 5,288,548 parameters, 385.8M mult-adds at 224.

Stochastic depth (Huang et al. 2016, "row" mode): while training, each sample's residual branch is kept
with probability ``q = 1 - p`` and scaled by ``1 / q`` (so its expectation is unchanged), i.e.
``y = x + branch(x) * b / q`` with ``b ~ Bernoulli(q)`` per sample; in eval mode it is the identity.
Block i of the 16 uses ``p = 0.2 * i / 16``.
"""
from __future__ import annotations

import math

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


def efficientnet_b0(num_classes: int = 1000, dropout: float = 0.2, stochastic_depth_prob: float = 0.2,
                    **kwargs) -> EfficientNet:
    """torchvision's ``efficientnet_b0`` (5,288,548 parameters)."""
    settings = [MBConvConfig(*row, width_mult=1.0, depth_mult=1.0) for row in B0_SETTINGS]
    return EfficientNet(settings, dropout, stochastic_depth_prob, num_classes, **kwargs)

