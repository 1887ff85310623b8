"""GoogLeNet / Inception v1 (Szegedy et al., 2014), as torchvision builds it (with BatchNorm).

An Inception block runs four branches side by side on the same input and concatenates them on channels:

    branch1: 1x1 conv                                  -> ch1x1
    branch2: 1x1 conv (reduce) -> 3x3 conv             -> ch3x3
    branch3: 1x1 conv (reduce) -> 3x3 conv             -> ch5x5   (torchvision keeps a 3x3 here, its
                                                                   known deviation from the paper's 5x5)
    branch4: 3x3/1 max pool pad 1 -> 1x1 conv (proj)   -> pool_proj
    output channels = ch1x1 + ch3x3 + ch5x5 + pool_proj, same H x W

The 1x1 "reduce" convs are what make it cheap: a 5x5 conv 512 -> 64 costs 5*5*512*64 = 819,200 weights, while
1x1 512 -> 24 then 5x5 24 -> 64 costs 12,288 + 38,400 = 50,688. Every conv is ``BasicConv2d``: conv without
bias -> BatchNorm(eps=0.001) -> ReLU.

Two auxiliary classifiers (after inception4a and 4d) feed extra gradient to the middle of the net during
training: in training mode with ``aux_logits=True`` the forward returns
``GoogLeNetOutputs(logits, aux_logits2, aux_logits1)``; in eval mode only the logits. The training loss is
``loss(logits) + 0.3 * loss(aux1) + 0.3 * loss(aux2)`` (``googlenet_loss``).

13,004,888 parameters with the aux heads, 6,624,904 without (torchvision's documented count). All max pools
use ceil_mode=True: out = ceil((in + 2 * pad - kernel) / stride) + 1 (a last window that starts inside the
input but runs past it is kept).
"""
from __future__ import annotations

from collections import namedtuple

from .. import backend, nn
from ..nn import functional as F
from ..ops.shape import cat

GoogLeNetOutputs = namedtuple("GoogLeNetOutputs", ["logits", "aux_logits2", "aux_logits1"])


def _cat(tensors):
    return cat(tensors, 1)


def renormalize_imagenet_input(x):
    """``transform_input=True`` of torchvision's GoogLeNet and Inception v3, whose weights were trained on
    pixels scaled to [-1, 1]: an input normalised with the ImageNet mean/std is re-normalised to (p - 0.5) / 0.5,
    per channel ``x'_c = x_c * (std_c / 0.5) + (mean_c - 0.5) / 0.5`` (one broadcast multiply-add)."""
    xp = backend.get_array_module(x.array)
    dtype = x.array.dtype
    scale = xp.asarray([0.229 / 0.5, 0.224 / 0.5, 0.225 / 0.5], dtype=dtype).reshape(1, 3, 1, 1)
    shift = xp.asarray([(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5],
                       dtype=dtype).reshape(1, 3, 1, 1)
    return x * scale + shift


class BasicConv2d(nn.Module):
    """conv (no bias) -> BatchNorm2d(eps=0.001) -> ReLU; keyword arguments go to the conv."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class Inception(nn.Module):
    """Four parallel branches concatenated on channels (see the module docstring)."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(BasicConv2d(in_channels, ch3x3red, kernel_size=1),
                                     BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1))
        self.branch3 = nn.Sequential(BasicConv2d(in_channels, ch5x5red, kernel_size=1),
                                     BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1))
        self.branch4 = nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
                                     BasicConv2d(in_channels, pool_proj, kernel_size=1))

    def forward(self, x):
        return _cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)])


class InceptionAux(nn.Module):
    """Auxiliary head: adaptive avgpool 4x4 -> 1x1 conv 128 -> flatten 2048 -> fc 1024 -> ReLU -> dropout -> fc."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(p=dropout)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(x, (4, 4))  # N x 512|528 x 14 x 14 -> N x C x 4 x 4 (224x224 input)
        x = self.conv(x).flatten(1)           # N x 2048
        x = self.dropout(F.relu(self.fc1(x)))
        return self.fc2(x)


class GoogLeNet(nn.Module):
    """torchvision's GoogLeNet; attribute names (state-dict keys) as torchvision's."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
                 init_weights: bool | None = None, dropout: float = 0.2, dropout_aux: float = 0.7):
        super().__init__()
        if init_weights is None:  # torchvision warns that this default may change, and then initialises
            init_weights = True
        self.aux_logits = aux_logits
        self.transform_input = transform_input

        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)

        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)

        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)

        if aux_logits:
            self.aux1 = InceptionAux(512, num_classes, dropout=dropout_aux)
            self.aux2 = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None

        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(1024, num_classes)

        if init_weights:
            # torchvision: truncated normal N(0, 0.01) cut at +-2 (absolute, i.e. 200 std: a plain normal in
            # practice) for every conv and linear weight; BatchNorm gamma 1, beta 0; biases keep their default.
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        if self.transform_input:
            x = renormalize_imagenet_input(x)
        x = self.maxpool1(self.conv1(x))        # N x 64 x 56 x 56   (224x224 input)
        x = self.conv3(self.conv2(x))           # N x 192 x 56 x 56
        x = self.maxpool2(x)                    # N x 192 x 28 x 28
        x = self.inception3b(self.inception3a(x))
        x = self.maxpool3(x)                    # N x 480 x 14 x 14
        x = self.inception4a(x)                 # N x 512 x 14 x 14
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # N x 528 x 14 x 14
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))  # N x 832 x 7 x 7
        x = self.inception5b(self.inception5a(x))  # N x 1024 x 7 x 7
        x = self.avgpool(x).flatten(1)          # N x 1024
        x = self.fc(self.dropout(x))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet(num_classes: int = 1000, aux_logits: bool = True, transform_input: bool = False,
              init_weights: bool | None = None, dropout: float = 0.2, dropout_aux: float = 0.7) -> GoogLeNet:
    """torchvision's GoogLeNet: 13,004,888 parameters with aux classifiers, 6,624,904 without."""
    return GoogLeNet(num_classes=num_classes, aux_logits=aux_logits, transform_input=transform_input,
                     init_weights=init_weights, dropout=dropout, dropout_aux=dropout_aux)


def googlenet_loss(outputs, target, aux_weight: float = 0.3):
    """Cross-entropy of the main logits plus ``aux_weight`` times that of each auxiliary head.

    ``outputs`` is what ``GoogLeNet`` returns: a ``GoogLeNetOutputs`` in training mode (loss =
    CE(logits) + w * CE(aux1) + w * CE(aux2), w = 0.3 as in the paper) or plain logits (loss = CE(logits)).
    """
    if hasattr(outputs, "aux_logits1"):       # a GoogLeNetOutputs, or a tuple of the same fields
        loss = F.cross_entropy(outputs.logits, target)
        for aux in (outputs.aux_logits1, outputs.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * F.cross_entropy(aux, target)
        return loss
    return F.cross_entropy(outputs, target)
