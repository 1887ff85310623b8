"""ZFNet (Zeiler & Fergus, 2013, "Visualizing and Understanding Convolutional Networks"), as its Figure 3 draws it.

Visualising AlexNet's first two layers showed dead and aliased filters: the 11x11 stride-4 first layer mixed
very high and very low frequencies and skipped over detail. ZFNet is AlexNet with a 7x7 stride-2 first layer
and a stride-2 second layer, on one GPU (so no two-tower split)::

    input 3x224x224
    conv1 96 x 7x7/2 pad 1     -> 96x110x110  -> ReLU -> maxpool 3/2 -> 96x55x55   -> contrast norm.
    conv2 256 x 5x5/2          -> 256x26x26   -> ReLU -> maxpool 3/2 -> 256x13x13  -> contrast norm.
    conv3 384 x 3x3 pad 1      -> 384x13x13   -> ReLU
    conv4 384 x 3x3 pad 1      -> 384x13x13   -> ReLU
    conv5 256 x 3x3 pad 1      -> 256x13x13   -> ReLU -> maxpool 3/2 -> 256x6x6 = 9216
    fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout -> fc8 num_classes

62,357,608 parameters. Each layer is conv -> ReLU -> pool -> normalisation, the paper's order (AlexNet
normalises before pooling). The pools use ceil_mode, which gives the figure's 55 and 13 (floor mode would
give 54 and 12); the paper gives no constants for its "contrast normalization across feature maps", so it is
AlexNet's response normalisation (``paper_lrn``). Training detail kept as a method: after each update, a conv
filter whose RMS exceeds 0.1 is scaled back to RMS 0.1 (``renormalize_filters_``), which the paper needed to
stop the first layer's filters from dominating. Initialisation: weights N(0, 0.01), biases 0.
"""
from __future__ import annotations

from .. import backend, nn
from .alexnet import check_input_side, paper_lrn


class ZFNet(nn.Module):
    """``features`` (convs) and ``classifier`` (MLP); 224x224 input."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=7, stride=2, padding=1),                 # 0  conv1
            nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, ceil_mode=True), paper_lrn(),
            nn.Conv2d(96, 256, kernel_size=5, stride=2),                          # 4  conv2
            nn.ReLU(inplace=True), nn.MaxPool2d(3, stride=2, ceil_mode=True), paper_lrn(),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),  # 8  conv3
            nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),  # 10 conv4
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),  # 12 conv5
            nn.MaxPool2d(3, stride=2, ceil_mode=True),
        )
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.normal_(m.weight, 0.0, 0.01)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        check_input_side(self, x, 224, 3)
        return self.classifier(self.features(x).flatten(1))

    def renormalize_filters_(self, radius: float = 0.1) -> int:
        """Scale every conv filter (one output channel's weights) whose RMS exceeds ``radius`` back to RMS
        ``radius``; returns how many filters were scaled. Call it after each optimizer step."""
        scaled = 0
        for m in self.features:
            if isinstance(m, nn.Conv2d):
                w = m.weight.array
                xp = backend.get_array_module(w)
                rms = xp.sqrt((w.reshape(w.shape[0], -1) ** 2).mean(axis=1))
                over = rms > radius
                if over.any():
                    factor = xp.where(over, radius / xp.maximum(rms, 1e-30), 1.0).astype(w.dtype)
                    m.weight.array = w * factor.reshape(-1, 1, 1, 1)
                    scaled += int(over.sum())
        return scaled


def zfnet(num_classes: int = 1000, dropout: float = 0.5, init_weights: bool = True) -> ZFNet:
    """ZFNet: AlexNet with a 7x7 stride-2 first layer (62,357,608 parameters for 1000 classes)."""
    return ZFNet(num_classes=num_classes, dropout=dropout, init_weights=init_weights)
