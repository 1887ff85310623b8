"""ShuffleNet V1 (Zhang et al. 2017) and V2 (Ma et al. 2018; identical to torchvision's).

Channel shuffle. A grouped 1x1 conv with g groups is g times cheaper than a dense one, but stacking
them would keep each group's channels apart forever. Shuffling interleaves the groups between the
convs, so the next grouped conv sees channels from every group::

    (N, g*n, H, W) -> reshape (N, g, n, H, W) -> swap axes 1, 2 -> (N, n, g, H, W) -> reshape back

V1 unit (paper Fig. 2), bottleneck width ``m = out / 4``::

    1x1 group conv (g) -> BN -> ReLU -> channel shuffle -> 3x3 depthwise conv (stride s) -> BN
    -> 1x1 group conv (g) -> BN -> (+ x | concat 3x3/2 avg-pooled x) -> ReLU

Stride-2 units concatenate, so their branch outputs ``out - in`` channels. Stage 2's first 1x1 conv is
not grouped (its input has only 24 channels). Widths at 1x for g = 1, 2, 3, 4, 8: 144/200/240/272/384
(doubling per stage), repeats 4/8/4; g = 3 has 1,865,728 parameters and 137M mult-adds.

V2 unit (torchvision's ``InvertedResidual``): split the channels in half, leave one half alone and send
the other through 1x1 -> BN -> ReLU -> 3x3 depthwise -> BN -> 1x1 -> BN -> ReLU; concatenate and
shuffle with 2 groups. Stride-2 units feed the whole input to both branches (``branch1`` then has its
own depthwise + 1x1 path) and so double the width.
"""
from __future__ import annotations

import math

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat

V1_WIDTHS = {1: 144, 2: 200, 3: 240, 4: 272, 8: 384}
V1_REPEATS = (4, 8, 4)


def channel_shuffle(x, groups: int):
    """The shuffle above (``F.channel_shuffle``; kept as a name of this module for readers)."""
    return F.channel_shuffle(x, groups)


def _cat(tensors):
    return cat(tensors, 1)


# ---------------------------------------------------------------------------------------------------------
# ShuffleNet V1
# ---------------------------------------------------------------------------------------------------------
class ShuffleV1Block(nn.Module):
    """One ShuffleNet V1 unit; keys ``conv1/bn1`` (1x1 gconv), ``conv2/bn2`` (dw 3x3), ``conv3/bn3``."""

    def __init__(self, in_channels: int, out_channels: int, groups: int, stride: int,
                 group_first_conv: bool = True):
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"ShuffleV1Block: stride must be 1 or 2, got {stride}")
        if stride == 1 and in_channels != out_channels:
            raise ValueError(f"ShuffleV1Block: a stride-1 unit adds its input, so in_channels "
                             f"({in_channels}) must equal out_channels ({out_channels})")
        branch_out = out_channels - in_channels if stride == 2 else out_channels
        mid = out_channels // 4
        self.groups, self.stride = groups, stride
        self.first_groups = groups if group_first_conv else 1
        self.conv1 = nn.Conv2d(in_channels, mid, 1, groups=self.first_groups, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, branch_out, 1, groups=groups, bias=False)
        self.bn3 = nn.BatchNorm2d(branch_out)
        self.shortcut = nn.AvgPool2d(3, 2, 1) if stride == 2 else nn.Identity()

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        if self.first_groups > 1:  # after an ungrouped conv every channel already mixes all groups
            y = channel_shuffle(y, self.first_groups)
        y = self.bn2(self.conv2(y))
        y = self.bn3(self.conv3(y))
        out = _cat([self.shortcut(x), y]) if self.stride == 2 else self.shortcut(x) + y
        return F.relu(out)


class ShuffleNetV1(nn.Module):
    def __init__(self, groups: int = 3, width_scale: float = 1.0, num_classes: int = 1000):
        super().__init__()
        if groups not in V1_WIDTHS:
            raise ValueError(f"shufflenet_v1: groups must be one of {sorted(V1_WIDTHS)} (the paper's "
                             f"Table 1), got {groups}")
        if width_scale <= 0:
            raise ValueError(f"shufflenet_v1: width_scale must be positive, got {width_scale}")
        # Widths stay multiples of 4*g so that out/4 and out-in split evenly into g groups.
        stem = _round(24 * width_scale, 4 * groups // math.gcd(4, groups))
        width = _round(V1_WIDTHS[groups] * width_scale, 4 * groups)
        self.conv1 = nn.Sequential(nn.Conv2d(3, stem, 3, 2, 1, bias=False), nn.BatchNorm2d(stem), nn.ReLU())
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        channels = stem
        for stage, repeats in enumerate(V1_REPEATS):
            out = width * 2 ** stage
            blocks = [ShuffleV1Block(channels, out, groups, 2, group_first_conv=stage > 0)]
            blocks += [ShuffleV1Block(out, out, groups, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{stage + 2}", nn.Sequential(*blocks))
            channels = out
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.stage4(self.stage3(self.stage2(x)))
        return self.fc(self.avgpool(x).flatten(1))


def _round(v: float, divisor: int) -> int:
    return max(divisor, int(round(v / divisor)) * divisor)


def shufflenet_v1(groups: int = 3, width_scale: float = 1.0, num_classes: int = 1000) -> ShuffleNetV1:
    """ShuffleNet V1 with ``groups`` in {1, 2, 3, 4, 8} and width multiplier ``width_scale`` ("s x")."""
    return ShuffleNetV1(groups, width_scale, num_classes)


# ---------------------------------------------------------------------------------------------------------
# ShuffleNet V2 (torchvision)
# ---------------------------------------------------------------------------------------------------------
def _depthwise(channels, stride):
    return nn.Conv2d(channels, channels, 3, stride, 1, groups=channels, bias=False)


class InvertedResidual(nn.Module):
    """torchvision's ShuffleNet V2 unit: ``branch1`` (empty at stride 1) and ``branch2``."""

    def __init__(self, inp: int, oup: int, stride: int):
        super().__init__()
        if stride not in (1, 2, 3):
            raise ValueError(f"InvertedResidual: stride must be 1, 2 or 3, got {stride}")
        self.stride = stride
        branch = oup // 2
        if stride == 1 and inp != 2 * branch:
            raise ValueError(f"InvertedResidual: a stride-1 unit needs inp == 2 * (oup // 2), got inp={inp}, "
                             f"oup={oup}")
        if stride > 1:
            self.branch1 = nn.Sequential(_depthwise(inp, stride), nn.BatchNorm2d(inp),
                                         nn.Conv2d(inp, branch, 1, bias=False), nn.BatchNorm2d(branch),
                                         nn.ReLU())
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(inp if stride > 1 else branch, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU(),
            _depthwise(branch, stride), nn.BatchNorm2d(branch),
            nn.Conv2d(branch, branch, 1, bias=False), nn.BatchNorm2d(branch), nn.ReLU(),
        )

    def forward(self, x):
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = _cat([x1, self.branch2(x2)])
        else:
            out = _cat([self.branch1(x), self.branch2(x)])
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    def __init__(self, stages_repeats, stages_out_channels, num_classes: int = 1000):
        super().__init__()
        if len(stages_repeats) != 3 or len(stages_out_channels) != 5:
            raise ValueError(f"ShuffleNetV2: expected 3 stage repeats and 5 widths, got {stages_repeats} "
                             f"and {stages_out_channels}")
        inp = stages_out_channels[0]
        self.conv1 = nn.Sequential(nn.Conv2d(3, inp, 3, 2, 1, bias=False), nn.BatchNorm2d(inp), nn.ReLU())
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        for i, (repeats, out) in enumerate(zip(stages_repeats, stages_out_channels[1:4])):
            blocks = [InvertedResidual(inp, out, 2)] + [InvertedResidual(out, out, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*blocks))
            inp = out
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(nn.Conv2d(inp, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU())
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x):
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean((2, 3)))  # global average pooling, as torchvision's x.mean([2, 3])


def shufflenet_v2_x0_5(num_classes: int = 1000) -> ShuffleNetV2:
    """torchvision's ``shufflenet_v2_x0_5`` (1,366,792 parameters)."""
    return ShuffleNetV2([4, 8, 4], [24, 48, 96, 192, 1024], num_classes)


def shufflenet_v2_x1_0(num_classes: int = 1000) -> ShuffleNetV2:
    """torchvision's ``shufflenet_v2_x1_0`` (2,278,604 parameters)."""
    return ShuffleNetV2([4, 8, 4], [24, 116, 232, 464, 1024], num_classes)


def shufflenet_v2_x1_5(num_classes: int = 1000) -> ShuffleNetV2:
    """torchvision's ``shufflenet_v2_x1_5`` (3,503,624 parameters)."""
    return ShuffleNetV2([4, 8, 4], [24, 176, 352, 704, 1024], num_classes)


def shufflenet_v2_x2_0(num_classes: int = 1000) -> ShuffleNetV2:
    """torchvision's ``shufflenet_v2_x2_0`` (7,393,996 parameters; the widest, with a 2048-channel conv5)."""
    return ShuffleNetV2([4, 8, 4], [24, 244, 488, 976, 2048], num_classes)
