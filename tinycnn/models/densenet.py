"""DenseNet-BC (Huang et al., 2016), as torchvision builds it (same attribute names, so the same state-dict keys).

Inside a dense block every layer sees the concatenation of the block input and all earlier layers' outputs,
and adds ``growth_rate`` (k) new channels: layer i of a block with c0 input channels reads c0 + i * k channels,

    x_i = H_i([x_0, x_1, ..., x_{i-1}]),   H = BN - ReLU - 1x1 conv (bn_size * k) - BN - ReLU - 3x3 conv (k)

(pre-activation order; the 1x1 "bottleneck" caps the 3x3 conv's input at bn_size * k = 128 channels). The block
outputs c0 + L * k channels. Between blocks a transition halves channels and resolution:
BN - ReLU - 1x1 conv (c -> c // 2) - 2x2/2 average pool. Feature reuse keeps the layers thin, hence few
parameters: densenet121 7,978,856; densenet169 14,149,480.

    features: conv0 7x7/2 (64, no bias) - norm0 - relu0 - pool0 3x3/2 pad 1 - denseblock1 - transition1
              - ... - denseblock4 - norm5
    then ReLU - global average pool - flatten - classifier (Linear)
"""
from __future__ import annotations

from collections import OrderedDict

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat


def _cat(tensors):
    return cat(tensors, 1)


class DenseLayer(nn.Module):
    """BN - ReLU - 1x1 conv (bn_size * growth_rate) - BN - ReLU - 3x3 conv (growth_rate), optional dropout.

    ``forward`` takes one tensor or the list of all earlier feature maps of the block (concatenated first).
    """

    def __init__(self, num_input_features: int, growth_rate: int, bn_size: int, drop_rate: float,
                 memory_efficient: bool = False):
        super().__init__()
        self.norm1 = nn.BatchNorm2d(num_input_features)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(num_input_features, bn_size * growth_rate, kernel_size=1, stride=1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, kernel_size=3, stride=1, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        # Accepted for torchvision's signature; tinycnn has no gradient checkpointing, so it changes nothing.
        self.memory_efficient = memory_efficient

    def forward(self, input):
        prev_features = list(input) if isinstance(input, (list, tuple)) else [input]
        x = _cat(prev_features) if len(prev_features) > 1 else prev_features[0]
        bottleneck = self.conv1(self.relu1(self.norm1(x)))
        new_features = self.conv2(self.relu2(self.norm2(bottleneck)))
        if self.drop_rate > 0:
            new_features = F.dropout(new_features, p=self.drop_rate, training=self.training)
        return new_features


class DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers named ``denselayer1``...; outputs the concatenation of input and all layers."""

    def __init__(self, num_layers: int, num_input_features: int, bn_size: int, growth_rate: int,
                 drop_rate: float, memory_efficient: bool = False):
        super().__init__()
        for i in range(num_layers):
            layer = DenseLayer(num_input_features + i * growth_rate, growth_rate=growth_rate, bn_size=bn_size,
                               drop_rate=drop_rate, memory_efficient=memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, init_features):
        features = [init_features]
        for layer in self.values():
            features.append(layer(features))
        return _cat(features)


class Transition(nn.Sequential):
    """BN - ReLU - 1x1 conv (num_input_features -> num_output_features) - 2x2/2 average pool."""

    def __init__(self, num_input_features: int, num_output_features: int):
        super().__init__()
        self.norm = nn.BatchNorm2d(num_input_features)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(num_input_features, num_output_features, kernel_size=1, stride=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)


# torchvision's (private) names, for readers comparing the two.
_DenseLayer, _DenseBlock, _Transition = DenseLayer, DenseBlock, Transition


class DenseNet(nn.Module):
    """torchvision's DenseNet-BC: ``features`` (a Sequential) and ``classifier`` (a Linear)."""

    def __init__(self, growth_rate: int = 32, block_config=(6, 12, 24, 16), num_init_features: int = 64,
                 bn_size: int = 4, drop_rate: float = 0, num_classes: int = 1000, memory_efficient: bool = False,
                 in_channels: int = 3):
        super().__init__()
        self.features = nn.Sequential(OrderedDict([
            ("conv0", nn.Conv2d(in_channels, num_init_features, kernel_size=7, stride=2, padding=3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
        ]))
        num_features = num_init_features
        for i, num_layers in enumerate(block_config):
            block = DenseBlock(num_layers=num_layers, num_input_features=num_features, bn_size=bn_size,
                               growth_rate=growth_rate, drop_rate=drop_rate, memory_efficient=memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            num_features += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", Transition(num_features, num_features // 2))
                num_features //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(num_features))
        self.classifier = nn.Linear(num_features, num_classes)

        # torchvision: He normal (fan_in) convs; BN gamma 1, beta 0; Linear bias 0 (weight keeps its default).
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)

    def forward(self, x):
        out = F.relu(self.features(x))
        out = F.adaptive_avg_pool2d(out, (1, 1)).flatten(1)
        return self.classifier(out)


def _densenet(growth_rate, block_config, num_init_features, num_classes, **kwargs) -> DenseNet:
    return DenseNet(growth_rate, block_config, num_init_features, num_classes=num_classes, **kwargs)


def densenet121(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-121 (k = 32, blocks 6-12-24-16): 7,978,856 parameters."""
    return _densenet(32, (6, 12, 24, 16), 64, num_classes, **kwargs)


def densenet161(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-161 (k = 48, blocks 6-12-36-24, 96 initial features): 28,681,000 parameters."""
    return _densenet(48, (6, 12, 36, 24), 96, num_classes, **kwargs)


def densenet169(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-169 (k = 32, blocks 6-12-32-32): 14,149,480 parameters."""
    return _densenet(32, (6, 12, 32, 32), 64, num_classes, **kwargs)


def densenet201(num_classes: int = 1000, **kwargs) -> DenseNet:
    """DenseNet-201 (k = 32, blocks 6-12-48-32): 20,013,928 parameters."""
    return _densenet(32, (6, 12, 48, 32), 64, num_classes, **kwargs)
