"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012): torchvision's, the paper's own, and d2l's single-channel one.

torchvision's ``alexnet`` is the "one weird trick" single-tower version (64-192-384-256-256 channels rather
than the paper's two-GPU 96-256-384-384-256), without LocalResponseNorm:

    input 3x224x224
    conv 11x11/4 pad 2 -> 64x55x55 -> ReLU -> maxpool 3/2 -> 64x27x27
    conv 5x5 pad 2     -> 192x27x27 -> ReLU -> maxpool 3/2 -> 192x13x13
    conv 3x3 pad 1     -> 384x13x13 -> ReLU
    conv 3x3 pad 1     -> 256x13x13 -> ReLU
    conv 3x3 pad 1     -> 256x13x13 -> ReLU -> maxpool 3/2 -> 256x6x6
    adaptive avgpool (6, 6) -> flatten 9216
    dropout -> fc 4096 -> ReLU -> dropout -> fc 4096 -> ReLU -> fc num_classes

61,100,840 parameters, 58.6M of them in the three fully connected layers. The adaptive pool makes any input
of at least 63x63 valid (a 1x1 feature map is copied to 6x6).

Output size of each conv/pool (per spatial side): out = floor((in + 2 * pad - kernel) / stride) + 1.

d2l's AlexNet (``alexnet_d2l``, alias ``alexnet_small``) keeps the paper's 96-256-384-384-256 widths for a
1x224x224 Fashion-MNIST image (resized from 28x28) and ends in 10 classes: 46,764,746 parameters, built as
one flat ``Sequential`` (state-dict keys ``0.weight`` ... ``20.bias``).

The paper's network (``alexnet_2012``) as its Figure 2 and Section 3 describe it::

    input 3x227x227
    conv1 96 x 11x11/4           -> 96x55x55  -> ReLU -> LRN -> maxpool 3/2 -> 96x27x27
    conv2 256 x 5x5 pad 2, g=2   -> 256x27x27 -> ReLU -> LRN -> maxpool 3/2 -> 256x13x13
    conv3 384 x 3x3 pad 1        -> 384x13x13 -> ReLU          (the one conv that reads both towers)
    conv4 384 x 3x3 pad 1, g=2   -> 384x13x13 -> ReLU
    conv5 256 x 3x3 pad 1, g=2   -> 256x13x13 -> ReLU -> maxpool 3/2 -> 256x6x6 = 9216
    fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout -> fc8 num_classes

The two-GPU split is ``groups=2``: each half of conv2, conv4 and conv5 sees only the 48 (conv2) or 192
(conv4, conv5) channels computed on its own GPU, which halves those layers' weights; conv1 (both halves see
the image) and conv3 and the fully connected layers (which cross between the GPUs) are dense. 60,965,224
parameters. The text says 224x224 input, but (224 - 11) / 4 + 1 is not an integer; 227 gives the 55x55 of
Figure 2 (and is what Caffe's reproduction uses).

Local response normalisation (Section 3.3) divides each activation by its neighbours across channels:
``b_c = a_c / (k + alpha * sum_{|c'-c| <= n/2} a_{c'}^2)^beta`` with k = 2, n = 5, alpha = 1e-4, beta = 0.75.
``nn.LocalResponseNorm`` follows PyTorch, which divides alpha by n, so the paper's alpha is
``alpha=5e-4`` there (``paper_lrn``). Initialisation (Section 5): weights N(0, 0.01); biases 1 in conv2, conv4,
conv5, fc6 and fc7 (to give the ReLUs positive inputs early on), 0 elsewhere.
"""
from __future__ import annotations

from .. import nn


class AlexNet(nn.Module):
    """torchvision's AlexNet: ``features`` (convs), ``avgpool`` (adaptive, 6x6), ``classifier`` (MLP)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )
        # Initialisation: each layer's own default (PyTorch's kaiming_uniform_(a=sqrt(5))), as torchvision.

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


def alexnet(num_classes: int = 1000, dropout: float = 0.5) -> AlexNet:
    """torchvision's AlexNet (61,100,840 parameters for 1000 classes)."""
    return AlexNet(num_classes=num_classes, dropout=dropout)


def alexnet_d2l(in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5) -> nn.Sequential:
    """d2l.ai's AlexNet for 1x224x224 input (Fashion-MNIST resized to 224): 46,764,746 parameters.

    Shapes for a 1x224x224 input: conv 11/4 pad 1 -> 96x54x54 -> pool -> 96x26x26; conv 5 pad 2 -> 256x26x26
    -> pool -> 256x12x12; three 3x3 convs (384, 384, 256) -> pool -> 256x5x5 = 6400 features; then
    4096 -> 4096 -> num_classes with dropout. The first Linear fixes the input size at 224x224.
    """
    return nn.Sequential(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096), nn.ReLU(), nn.Dropout(p=dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=dropout),
        nn.Linear(4096, num_classes),
    )


alexnet_small = alexnet_d2l


def paper_lrn() -> nn.LocalResponseNorm:
    """AlexNet's response normalisation, k = 2, n = 5, alpha = 1e-4, beta = 0.75 in the paper's formula (the
    sum not divided by n), i.e. ``alpha=5e-4`` in PyTorch's convention."""
    return nn.LocalResponseNorm(size=5, alpha=5e-4, beta=0.75, k=2.0)


def check_input_side(model: nn.Module, x, side: int, channels: int) -> None:
    """The fixed-size paper networks end in a Linear sized for one input: name it when the input differs."""
    if x.ndim != 4 or x.shape[1] != channels or x.shape[2] != side or x.shape[3] != side:
        raise ValueError(f"{type(model).__name__} expects input of shape (N, {channels}, {side}, {side}), got "
                         f"{tuple(x.shape)}")


class AlexNet2012(nn.Module):
    """The paper's AlexNet (see the module docstring): ``features`` and ``classifier``; 227x227 input."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4),                   # 0  conv1
            nn.ReLU(inplace=True), paper_lrn(), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2),       # 4  conv2
            nn.ReLU(inplace=True), paper_lrn(), nn.MaxPool2d(3, stride=2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1),                # 8  conv3
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2),      # 10 conv4
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2),      # 12 conv5
            nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),   # 0 fc6
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),          # 3 fc7
            nn.Linear(4096, num_classes),                                                 # 6 fc8
        )
        if init_weights:
            ones = {self.features[4], self.features[10], self.features[12], self.classifier[0], self.classifier[3]}
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.normal_(m.weight, 0.0, 0.01)
                    nn.init.constant_(m.bias, 1.0 if m in ones else 0.0)

    def forward(self, x):
        check_input_side(self, x, 227, 3)
        return self.classifier(self.features(x).flatten(1))


def alexnet_2012(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> AlexNet2012:
    """The paper's AlexNet: 227x227 input, 96 first-layer kernels, LRN, the two-GPU split as groups=2
    (60,965,224 parameters for 1000 classes)."""
    return AlexNet2012(num_classes=num_classes, dropout=dropout, init_weights=init_weights)
