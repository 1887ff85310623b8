"""AlexNet (Krizhevsky, Sutskever & Hinton, 2012), as torchvision builds it, and d2l's single-channel variant.

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
