"""ResNet (He et al., 2015) and ResNeXt (Xie et al., 2016), as torchvision builds them, plus d2l's small ResNet-18.

A residual block learns F(x) and outputs relu(F(x) + shortcut(x)): if the identity is already optimal the block
only has to push F towards 0, and the gradient reaches earlier layers through the "+ x" path unchanged
(d(out)/dx = dF/dx + I). The shortcut is the identity, or 1x1 conv (stride s) + BN when the block changes the
channel count or the resolution ("option B").

    BasicBlock (ResNet-18/34), expansion 1:   3x3 conv(s) - BN - ReLU - 3x3 conv - BN  (+ shortcut) - ReLU
    Bottleneck (ResNet-50+), expansion 4:     1x1 conv - BN - ReLU - 3x3 conv(s, groups) - BN - ReLU
                                              - 1x1 conv (x4 channels) - BN  (+ shortcut) - ReLU

The stride sits on the 3x3 conv of the bottleneck (torchvision's "ResNet v1.5"). ResNeXt is the same bottleneck
with a grouped 3x3 conv ("cardinality" groups): width = int(planes * width_per_group / 64) * groups, e.g.
resnext50_32x4d has 32 groups of 4 channels at planes = 64, i.e. 128 channels in its first stage. Wide ResNet
(Zagoruyko & Komodakis, 2016) is the same bottleneck with width_per_group = 128: twice the channels inside each
block (the 1x1 reduce, the 3x3), the same block outputs (planes * 4), so the same shortcut shapes.

    stem: 7x7/2 conv 64 (no bias) - BN - ReLU - 3x3/2 max pool pad 1      224 -> 112 -> 56
    layer1..4: [n1, n2, n3, n4] blocks at 64, 128, 256, 512 planes; layers 2-4 start with stride 2  -> 7
    adaptive avgpool 1x1 - flatten - fc num_classes

Parameters (1000 classes): resnet18 11,689,512; resnet34 21,797,672; resnet50 25,557,032; resnet101
44,549,160; resnet152 60,192,808; resnext50_32x4d 25,028,904; resnext101_32x8d 88,791,336; resnext101_64x4d
83,455,272; wide_resnet50_2 68,883,240; wide_resnet101_2 126,886,696.
"""
from __future__ import annotations

from .. import nn


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding = dilation (keeps H and W at stride 1), no bias (BN follows)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution, no bias."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN; one ReLU module used twice (as torchvision, so the module counts match)."""

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError(f"BasicBlock only supports groups=1 and base_width=64, got groups={groups}, "
                             f"base_width={base_width}")
        if dilation > 1:
            raise NotImplementedError("BasicBlock: dilation > 1 is not supported (as in torchvision)")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce - 3x3 (stride, groups) - 1x1 expand (x4), each with BN; ReLU after the first two and the sum."""

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample: nn.Module | None = None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """torchvision's ResNet (attribute names = state-dict keys), with an extra ``in_channels`` for grey input."""

    def __init__(self, block, layers, num_classes: int = 1000, zero_init_residual: bool = False,
                 groups: int = 1, width_per_group: int = 64, replace_stride_with_dilation=None,
                 norm_layer=None, in_channels: int = 3):
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"ResNet: layers must list 4 stage depths, got {layers!r}")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self._norm_layer = norm_layer
        self.inplanes = 64
        self.dilation = 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(f"replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups = groups
        self.base_width = width_per_group
        self.conv1 = nn.Conv2d(in_channels, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2, dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2, dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2, dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        # He normal with fan_out for convs (keeps the backward signal variance, Var(w) = 2 / (C_out k^2));
        # BN gamma 1, beta 0; the fc keeps its default init.
        group_norm = getattr(nn, "GroupNorm", ())
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, group_norm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            # Each block's last BN starts at gamma = 0, so every residual block starts as the identity.
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1, dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                                dilation=self.dilation, norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.avgpool(x).flatten(1)
        return self.fc(x)


def resnet18(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-18: BasicBlock x [2, 2, 2, 2], 11,689,512 parameters."""
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs)


def resnet34(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-34: BasicBlock x [3, 4, 6, 3], 21,797,672 parameters."""
    return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def resnet50(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-50: Bottleneck x [3, 4, 6, 3], 25,557,032 parameters."""
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def resnet101(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-101: Bottleneck x [3, 4, 23, 3], 44,549,160 parameters."""
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


def resnet152(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNet-152: Bottleneck x [3, 8, 36, 3], 60,192,808 parameters."""
    return ResNet(Bottleneck, [3, 8, 36, 3], num_classes=num_classes, **kwargs)


def resnext50_32x4d(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNeXt-50 32x4d: grouped Bottleneck x [3, 4, 6, 3], 32 groups of width 4; 25,028,904 parameters."""
    kwargs.setdefault("groups", 32)
    kwargs.setdefault("width_per_group", 4)
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def resnext101_32x8d(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNeXt-101 32x8d: grouped Bottleneck x [3, 4, 23, 3], 32 groups of width 8; 88,791,336 parameters."""
    kwargs.setdefault("groups", 32)
    kwargs.setdefault("width_per_group", 8)
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


def resnext101_64x4d(num_classes: int = 1000, **kwargs) -> ResNet:
    """ResNeXt-101 64x4d: grouped Bottleneck x [3, 4, 23, 3], 64 groups of width 4; 83,455,272 parameters."""
    kwargs.setdefault("groups", 64)
    kwargs.setdefault("width_per_group", 4)
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


def wide_resnet50_2(num_classes: int = 1000, **kwargs) -> ResNet:
    """Wide ResNet-50-2: Bottleneck x [3, 4, 6, 3] with twice the inner width (128 per group); 68,883,240
    parameters."""
    kwargs.setdefault("width_per_group", 64 * 2)
    return ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs)


def wide_resnet101_2(num_classes: int = 1000, **kwargs) -> ResNet:
    """Wide ResNet-101-2: Bottleneck x [3, 4, 23, 3] with twice the inner width; 126,886,696 parameters."""
    kwargs.setdefault("width_per_group", 64 * 2)
    return ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs)


def resnet18_small(in_channels: int = 1, num_classes: int = 10, **kwargs) -> ResNet:
    """ResNet-18 for small grey images (d2l trains it on Fashion-MNIST at 96x96; 28x28 works too).

    The layout is d2l's: 7x7/2 conv 64 + BN + ReLU + 3x3/2 max pool, four stages of two residual blocks
    (64, 128, 256, 512 channels), global average pool, linear. A 96x96 input gives 3x3 maps before the pool,
    a 28x28 one 1x1. Built from ``ResNet`` so the keys are torchvision's: unlike d2l's ``Residual``, the convs
    have no bias and the 1x1 shortcut conv is followed by BatchNorm (11,175,370 parameters for 10 classes
    from 1 channel).
    """
    return ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, in_channels=in_channels, **kwargs)
