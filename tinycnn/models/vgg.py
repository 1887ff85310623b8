"""VGG (Simonyan & Zisserman, 2014): stacks of 3x3 convolutions, as torchvision builds it, and d2l's small VGG.

A configuration lists the layers of ``features``: an int ``c`` is a 3x3 conv (padding 1, keeps H and W) to ``c``
channels followed by ReLU (with BatchNorm in between for the ``_bn`` variants); ``"M"`` is a 2x2/2 max pool
(halves H and W). Five pools take 224x224 to 7x7; the classifier reads 512 * 7 * 7 = 25,088 features:

    adaptive avgpool (7, 7) -> flatten -> fc 4096 -> ReLU -> dropout -> fc 4096 -> ReLU -> dropout -> fc classes

Why 3x3: two stacked 3x3 convs see a 5x5 window and three see 7x7 (receptive field F(i) = (F(i+1) - 1) * S + K),
with 3 * 9 C^2 = 27 C^2 weights instead of 49 C^2 for one 7x7 conv, and two extra nonlinearities.

Parameter counts (1000 classes): vgg11 132,863,336; vgg13 133,047,848; vgg16 138,357,544; vgg19 143,667,240;
102,764,544 of them in the first Linear (25,088 x 4,096 + 4,096).
"""
from __future__ import annotations

from .. import nn

cfgs = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}

# d2l's VGG-11 as (number of convs, output channels) per block.
VGG11_ARCH = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def make_layers(cfg, batch_norm: bool = False, in_channels: int = 3) -> nn.Sequential:
    """The ``features`` Sequential of a configuration (see the module docstring), indexed as torchvision's."""
    layers = []
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        elif isinstance(v, int) and not isinstance(v, bool) and v > 0:
            layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(v))
            layers.append(nn.ReLU(inplace=True))
            in_channels = v
        else:
            raise ValueError(f"make_layers: a VGG configuration holds positive ints and 'M', got {v!r}")
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """torchvision's VGG: ``features``, ``avgpool`` (adaptive, 7x7), ``classifier``."""

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            _init_vgg(self)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


def _init_vgg(model: nn.Module) -> None:
    """torchvision's VGG init: He normal (fan_out) convs, zero biases; BN 1/0; Linear N(0, 0.01), zero bias."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)


def _vgg(cfg_name: str, batch_norm: bool, num_classes: int, dropout: float, init_weights: bool) -> VGG:
    return VGG(make_layers(cfgs[cfg_name], batch_norm=batch_norm), num_classes=num_classes,
               init_weights=init_weights, dropout=dropout)


def vgg11(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-11 (configuration A): 132,863,336 parameters."""
    return _vgg("vgg11", False, num_classes, dropout, init_weights)


def vgg13(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-13 (configuration B): 133,047,848 parameters."""
    return _vgg("vgg13", False, num_classes, dropout, init_weights)


def vgg16(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-16 (configuration D): 138,357,544 parameters."""
    return _vgg("vgg16", False, num_classes, dropout, init_weights)


def vgg19(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-19 (configuration E): 143,667,240 parameters."""
    return _vgg("vgg19", False, num_classes, dropout, init_weights)


def vgg11_bn(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-11 with BatchNorm after every conv: 132,868,840 parameters."""
    return _vgg("vgg11", True, num_classes, dropout, init_weights)


def vgg13_bn(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-13 with BatchNorm after every conv: 133,053,736 parameters."""
    return _vgg("vgg13", True, num_classes, dropout, init_weights)


def vgg16_bn(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-16 with BatchNorm after every conv: 138,365,992 parameters."""
    return _vgg("vgg16", True, num_classes, dropout, init_weights)


def vgg19_bn(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> VGG:
    """VGG-19 with BatchNorm after every conv: 143,678,248 parameters."""
    return _vgg("vgg19", True, num_classes, dropout, init_weights)


# ---- d2l's VGG --------------------------------------------------------------------------------------------

def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
    """d2l's VGG block: ``num_convs`` x (3x3 conv pad 1 + ReLU), then a 2x2/2 max pool (halves H and W)."""
    if num_convs < 1:
        raise ValueError(f"vgg_block: num_convs must be >= 1, got {num_convs}")
    layers = []
    for _ in range(num_convs):
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg_small(conv_arch=VGG11_ARCH, ratio: int = 4, in_channels: int = 1, num_classes: int = 10,
              input_size: int = 224, dropout: float = 0.5) -> nn.Sequential:
    """d2l's ``vgg(small_conv_arch)``: VGG-11 blocks with channels divided by ``ratio`` (d2l uses 4).

    Each block halves the side, so ``input_size`` (224, as d2l's resized Fashion-MNIST) becomes
    ``input_size // 2**len(conv_arch)`` (7); the classifier is fc 4096 -> ReLU -> dropout -> fc 4096 -> ReLU
    -> dropout -> fc num_classes, as in d2l (keys ``0.0.weight`` ... ``11.bias`` for five blocks).
    ``ratio=1`` gives d2l's full-width VGG-11.
    """
    if ratio < 1:
        raise ValueError(f"vgg_small: ratio must be >= 1, got {ratio}")
    arch = [(n, c // ratio) for n, c in conv_arch]
    side = input_size >> len(arch)
    if side < 1:
        raise ValueError(f"vgg_small: input_size {input_size} is too small for {len(arch)} 2x2 pools "
                         f"(needs >= {2 ** len(arch)})")
    blocks = []
    for num_convs, out_channels in arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *blocks, nn.Flatten(),
        nn.Linear(in_channels * side * side, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
    )
