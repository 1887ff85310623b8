"""Inception v3 (Szegedy et al., 2015, "Rethinking the Inception Architecture"), as torchvision builds it.

Where GoogLeNet's Inception block has 1x1, 3x3 and 5x5 branches, v3 factorises the large kernels:

* a 5x5 conv becomes two 3x3 convs (same 5x5 receptive field, 2 * 9 = 18 instead of 25 weights per
  channel pair): the ``branch3x3dbl`` of ``InceptionA``;
* an n x n conv becomes a 1 x n conv then an n x 1 conv (2n instead of n^2): the 1x7 / 7x1 pairs of
  ``InceptionC`` (17x17 grid) and the 1x3 / 3x1 pairs of ``InceptionE`` (8x8 grid), where E runs the two
  halves side by side and concatenates them (wider rather than deeper, for the coarsest grid);
* the grid shrinks without a representational bottleneck: ``InceptionB`` (35 -> 17) and ``InceptionD``
  (17 -> 8) concatenate stride-2 conv branches with a stride-2 max pool of the input, rather than pooling
  first and convolving after.

Layout for a 3x299x299 input (every conv is ``BasicConv2d``: conv without bias, BatchNorm(eps=0.001), ReLU)::

    Conv2d_1a_3x3 (3x3/2, 32) -> 149   Conv2d_2a_3x3 (3x3, 32) -> 147   Conv2d_2b_3x3 (3x3 pad 1, 64)
    maxpool1 3x3/2 -> 73   Conv2d_3b_1x1 (80)   Conv2d_4a_3x3 (3x3, 192) -> 71   maxpool2 3x3/2 -> 35
    Mixed_5b/5c/5d  InceptionA   35x35: 256, 288, 288 channels
    Mixed_6a        InceptionB   -> 17x17x768
    Mixed_6b..6e    InceptionC   17x17x768 (7x7 factorised, 128/160/160/192 inner channels)
    AuxLogits       InceptionAux on Mixed_6e (training only)
    Mixed_7a        InceptionD   -> 8x8x1280
    Mixed_7b/7c     InceptionE   8x8x2048
    adaptive avgpool 1x1 -> dropout 0.5 -> flatten -> fc 2048 -> num_classes

27,161,264 parameters (with the auxiliary head; 23,834,568 without). The smallest input is 75x75; the
auxiliary head needs the 17x17 grid of a 299x299 input (its 5x5 conv sees a 5x5 map after a 5/3 pool).

In training mode with ``aux_logits=True`` the forward returns ``InceptionOutputs(logits, aux_logits)``; the
usual loss is ``CE(logits) + 0.4 * CE(aux_logits)`` (torchvision's reference recipe). ``transform_input``
re-normalises ImageNet-normalised input to the [-1, 1] pixels the original weights were trained on.
Initialisation: truncated normal (cut at +-2 absolute) with std 0.1 for every conv and linear except the aux
head's fc (0.001); BatchNorm gamma 1, beta 0. (torchvision also marks the aux head's 5x5 conv block with 0.01,
but reads the mark from the Conv2d inside the block, so that conv gets 0.1 like the others; so does this one.)
"""
from __future__ import annotations

from collections import namedtuple

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat
from .googlenet import BasicConv2d, renormalize_imagenet_input

InceptionOutputs = namedtuple("InceptionOutputs", ["logits", "aux_logits"])


def _cat(tensors):
    return cat(tensors, 1)


class InceptionA(nn.Module):
    """35x35 block: 1x1 (64) | 1x1 (48) -> 5x5 (64) | 1x1 (64) -> 3x3 (96) -> 3x3 (96) | avgpool -> 1x1."""

    def __init__(self, in_channels: int, pool_features: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return _cat([self.branch1x1(x), b5, b3, pool])


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: 3x3/2 (384) | 1x1 (64) -> 3x3 (96) -> 3x3/2 (96) | 3x3/2 max pool."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3(x)
        b3dbl = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return _cat([b3, b3dbl, F.max_pool2d(x, kernel_size=3, stride=2)])


class InceptionC(nn.Module):
    """17x17 block with 7x7 convs factorised into 1x7 and 7x1 (``channels_7x7`` inside each branch)."""

    def __init__(self, in_channels: int, channels_7x7: int):
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7dbl = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7dbl = conv(b7dbl)
        pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return _cat([self.branch1x1(x), b7, b7dbl, pool])


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: 1x1 -> 3x3/2 (320) | 1x1 -> 1x7 -> 7x1 -> 3x3/2 (192) | 3x3/2 max pool."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return _cat([b3, b7, F.max_pool2d(x, kernel_size=3, stride=2)])


class InceptionE(nn.Module):
    """8x8 block: 1x1 (320) | 1x1 (384) -> [1x3, 3x1] | 1x1 (448) -> 3x3 (384) -> [1x3, 3x1] | avgpool -> 1x1;
    the bracketed pairs run side by side and are concatenated (2048 channels in all)."""

    def __init__(self, in_channels: int):
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = _cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)])
        b3dbl = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3dbl = _cat([self.branch3x3dbl_3a(b3dbl), self.branch3x3dbl_3b(b3dbl)])
        pool = self.branch_pool(F.avg_pool2d(x, kernel_size=3, stride=1, padding=1))
        return _cat([self.branch1x1(x), b3, b3dbl, pool])


class InceptionAux(nn.Module):
    """Auxiliary head on the 17x17x768 grid: 5x5/3 avg pool -> 1x1 conv 128 -> 5x5 conv 768 -> global
    avg pool -> fc."""

    def __init__(self, in_channels: int, num_classes: int):
        super().__init__()
        self.conv0 = BasicConv2d(in_channels, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001   # read by the initialisation (torchvision's convention)

    def forward(self, x):
        x = F.avg_pool2d(x, kernel_size=5, stride=3)   # N x 768 x 17 x 17 -> N x 768 x 5 x 5
        x = self.conv1(self.conv0(x))                  # -> N x 768 x 1 x 1
        x = F.adaptive_avg_pool2d(x, (1, 1)).flatten(1)
        return self.fc(x)


class Inception3(nn.Module):
    """torchvision's ``Inception3``; attribute names (state-dict keys) as torchvision's."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool | None = None, dropout: float = 0.5):
        super().__init__()
        if init_weights is None:  # torchvision warns that this default may change, and then initialises
            init_weights = True
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(kernel_size=3, stride=2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(2048, num_classes)
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=float(getattr(m, "stddev", 0.1)), a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        if self.transform_input:
            x = renormalize_imagenet_input(x)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))   # N x 64 x 147 x 147 (299 input)
        x = self.maxpool1(x)                                                # N x 64 x 73 x 73
        x = self.maxpool2(self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x)))       # N x 192 x 35 x 35
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))                  # N x 288 x 35 x 35
        x = self.Mixed_6a(x)                                                # N x 768 x 17 x 17
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))                  # N x 2048 x 8 x 8
        x = self.dropout(self.avgpool(x)).flatten(1)
        x = self.fc(x)
        if self.training and self.aux_logits:
            return InceptionOutputs(x, aux)
        return x


def inception_v3(num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool | None = None, dropout: float = 0.5) -> Inception3:
    """torchvision's ``inception_v3``: 27,161,264 parameters with the auxiliary head; 299x299 input."""
    return Inception3(num_classes=num_classes, aux_logits=aux_logits, transform_input=transform_input,
                      init_weights=init_weights, dropout=dropout)


def inception_v3_loss(outputs, target, aux_weight: float = 0.4):
    """``CE(logits) + aux_weight * CE(aux_logits)`` for an ``InceptionOutputs``; plain CE for logits."""
    if hasattr(outputs, "aux_logits"):        # an InceptionOutputs, or a tuple of the same fields
        loss = F.cross_entropy(outputs.logits, target)
        if outputs.aux_logits is not None:
            loss = loss + aux_weight * F.cross_entropy(outputs.aux_logits, target)
        return loss
    return F.cross_entropy(outputs, target)
