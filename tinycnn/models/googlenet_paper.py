"""GoogLeNet as Szegedy et al. (2014, "Going deeper with convolutions") define it, d2l's GoogLeNet, and the
naive Inception block.

torchvision's ``googlenet`` (``googlenet.py``) is a later re-implementation: BatchNorm after every conv, a
3x3 conv where the paper's 5x5 branch is, a 2x2 last max pool and no LRN. ``googlenet_2014`` is the paper's:

* every conv has a bias and a ReLU, no BatchNorm (it predates it);
* ``InceptionBlock``: 1x1 | 1x1 reduce -> 3x3 | 1x1 reduce -> **5x5** | 3x3/1 max pool -> 1x1 projection;
* stem: conv 7x7/2 (64) -> max pool 3x3/2 -> LRN -> conv 1x1 (64) -> conv 3x3 (192) -> LRN -> max pool 3x3/2
  (Figure 3); every max pool between stages is 3x3/2 (ceil mode, as the Caffe reference, which gives
  Table 1's 56, 28, 14, 7);
* head: 7x7/1 average pool -> dropout 40% -> linear (Table 1);
* two auxiliary classifiers on 4a and 4d (Section 5): 5x5/3 average pool (-> 4x4) -> 1x1 conv 128 + ReLU ->
  fc 1024 + ReLU -> dropout 70% -> linear; their losses are added with weight 0.3 while training and the
  heads are dropped at inference (``googlenet_loss`` applies).

``GOOGLENET_TABLE1`` holds Table 1 as printed (channels and the paper's params and ops columns); the network
is built from its channel columns, and ``notebooks/12_googlenet_table1`` recomputes the other two columns.

d2l's GoogLeNet (``googlenet_d2l``, Dive into Deep Learning Section 8.4) uses the same blocks on 1x96x96
Fashion-MNIST images: no LRN, no auxiliary heads, no dropout, 3x3/2 pad-1 max pools, a global average pool
and Linear(1024, 10), as one ``Sequential(b1, ..., b5, Linear)``; its blocks keep d2l's attribute names
(``p1_1`` ... ``p4_2``) so state dicts port from d2l's code unchanged.

The naive block (``NaiveInception``, the paper's Figure 2a) runs 1x1, 3x3 and 5x5 convs and a 3x3 max pool
on the input itself. Its output carries the pooled input's channels along (``ch1x1 + ch3x3 + ch5x5 +
in_channels``), so widths only grow from block to block, and its 5x5 conv reads all input channels: on
3a's 192-channel input it needs 5*5*192*32 = 153,600 weights for the 5x5 branch alone where the reduced block
needs 192*16 + 5*5*16*32 = 15,872.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import nn
from ..nn import functional as F
from ..ops.shape import cat
from .alexnet import check_input_side, paper_lrn
from .googlenet import GoogLeNetOutputs


def _cat(tensors):
    return cat(tensors, 1)


@dataclass(frozen=True)
class Table1Row:
    """One row of the paper's Table 1; ``params`` and ``ops`` as printed (thousands, millions)."""
    name: str
    kind: str                    # convolution | max pool | inception | avg pool | dropout | linear | softmax
    patch: str                   # "7x7/2" or ""
    output: tuple                # (H, W, C) as printed
    depth: int
    ch1x1: int | None = None
    ch3x3red: int | None = None
    ch3x3: int | None = None
    ch5x5red: int | None = None
    ch5x5: int | None = None
    pool_proj: int | None = None
    params: str | None = None    # e.g. "159K"
    ops: str | None = None       # e.g. "128M"


GOOGLENET_TABLE1 = (
    Table1Row("conv1", "convolution", "7x7/2", (112, 112, 64), 1, params="2.7K", ops="34M"),
    Table1Row("maxpool1", "max pool", "3x3/2", (56, 56, 64), 0),
    Table1Row("conv2", "convolution", "3x3/1", (56, 56, 192), 2, ch3x3red=64, ch3x3=192, params="112K", ops="360M"),
    Table1Row("maxpool2", "max pool", "3x3/2", (28, 28, 192), 0),
    Table1Row("inception3a", "inception", "", (28, 28, 256), 2, 64, 96, 128, 16, 32, 32, "159K", "128M"),
    Table1Row("inception3b", "inception", "", (28, 28, 480), 2, 128, 128, 192, 32, 96, 64, "380K", "304M"),
    Table1Row("maxpool3", "max pool", "3x3/2", (14, 14, 480), 0),
    Table1Row("inception4a", "inception", "", (14, 14, 512), 2, 192, 96, 208, 16, 48, 64, "364K", "73M"),
    Table1Row("inception4b", "inception", "", (14, 14, 512), 2, 160, 112, 224, 24, 64, 64, "437K", "88M"),
    Table1Row("inception4c", "inception", "", (14, 14, 512), 2, 128, 128, 256, 24, 64, 64, "463K", "100M"),
    Table1Row("inception4d", "inception", "", (14, 14, 528), 2, 112, 144, 288, 32, 64, 64, "580K", "119M"),
    Table1Row("inception4e", "inception", "", (14, 14, 832), 2, 256, 160, 320, 32, 128, 128, "840K", "170M"),
    Table1Row("maxpool4", "max pool", "3x3/2", (7, 7, 832), 0),
    Table1Row("inception5a", "inception", "", (7, 7, 832), 2, 256, 160, 320, 32, 128, 128, "1072K", "54M"),
    Table1Row("inception5b", "inception", "", (7, 7, 1024), 2, 384, 192, 384, 48, 128, 128, "1388K", "71M"),
    Table1Row("avgpool", "avg pool", "7x7/1", (1, 1, 1024), 0),
    Table1Row("dropout", "dropout (40%)", "", (1, 1, 1024), 0),
    Table1Row("fc", "linear", "", (1, 1, 1000), 1, params="1000K", ops="1M"),
    Table1Row("softmax", "softmax", "", (1, 1, 1000), 0),
)


def _table_row(name: str) -> Table1Row:
    return next(row for row in GOOGLENET_TABLE1 if row.name == name)


class InceptionBlock(nn.Module):
    """The paper's Inception block with dimension reductions (Figure 2b), d2l's attribute names::

        p1_1: 1x1 conv                       -> ch1x1
        p2_1: 1x1 conv -> p2_2: 3x3 conv     -> ch3x3     (p2_1 reduces to ch3x3red)
        p3_1: 1x1 conv -> p3_2: 5x5 conv     -> ch5x5     (p3_1 reduces to ch5x5red)
        p4_1: 3x3/1 max pool -> p4_2: 1x1    -> pool_proj
        concatenated on channels; every conv has a bias and a ReLU; H and W are kept.
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int,
                 pool_proj: int):
        super().__init__()
        self.p1_1 = nn.Conv2d(in_channels, ch1x1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, ch3x3red, kernel_size=1)
        self.p2_2 = nn.Conv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, ch5x5red, kernel_size=1)
        self.p3_2 = nn.Conv2d(ch5x5red, ch5x5, kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, pool_proj, kernel_size=1)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return _cat([p1, p2, p3, p4])


class NaiveInception(nn.Module):
    """The naive Inception block (Figure 2a): 1x1, 3x3 and 5x5 convs (each + ReLU) and a 3x3/1 max pool side by
    side on the input, concatenated; ``out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels``."""

    def __init__(self, in_channels: int, ch1x1: int, ch3x3: int, ch5x5: int):
        super().__init__()
        self.p1 = nn.Conv2d(in_channels, ch1x1, kernel_size=1)
        self.p2 = nn.Conv2d(in_channels, ch3x3, kernel_size=3, padding=1)
        self.p3 = nn.Conv2d(in_channels, ch5x5, kernel_size=5, padding=2)
        self.p4 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + in_channels

    def forward(self, x):
        return _cat([F.relu(self.p1(x)), F.relu(self.p2(x)), F.relu(self.p3(x)), self.p4(x)])


class ConvReLU(nn.Module):
    """conv (with bias) -> ReLU; keyword arguments go to the conv (torchvision's ``BasicConv2d`` without BN)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, **kwargs)

    def forward(self, x):
        return F.relu(self.conv(x))


class InceptionAux2014(nn.Module):
    """Auxiliary classifier (Section 5): 5x5/3 avg pool -> 1x1 conv 128 + ReLU -> fc 1024 + ReLU -> dropout 70%
    -> linear. On a 14x14 map the pool gives 4x4, so fc1 reads 128 * 4 * 4 = 2048 features."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7):
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=5, stride=3)
        self.conv = ConvReLU(in_channels, 128, kernel_size=1)
        self.fc1 = nn.Linear(128 * 4 * 4, 1024)
        self.dropout = nn.Dropout(p=dropout)
        self.fc2 = nn.Linear(1024, num_classes)

    def forward(self, x):
        x = self.conv(self.pool(x)).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


class GoogLeNet2014(nn.Module):
    """The paper's GoogLeNet (see the module docstring); 224x224 input, attribute names follow Table 1."""

    def __init__(self, num_classes: int = 1000, aux_logits: bool = True, dropout: float = 0.4,
                 dropout_aux: float = 0.7, init_weights: bool = True):
        super().__init__()
        self.aux_logits = aux_logits
        self.conv1 = ConvReLU(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.lrn1 = paper_lrn()
        conv2 = _table_row("conv2")
        self.conv2_reduce = ConvReLU(64, conv2.ch3x3red, kernel_size=1)
        self.conv2 = ConvReLU(conv2.ch3x3red, conv2.ch3x3, kernel_size=3, padding=1)
        self.lrn2 = paper_lrn()
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        channels = conv2.ch3x3
        for row in GOOGLENET_TABLE1:
            if row.kind == "inception":
                block = InceptionBlock(channels, row.ch1x1, row.ch3x3red, row.ch3x3, row.ch5x5red, row.ch5x5,
                                       row.pool_proj)
                setattr(self, row.name, block)
                channels = block.out_channels
            elif row.kind == "max pool" and row.name in ("maxpool3", "maxpool4"):
                setattr(self, row.name, nn.MaxPool2d(3, stride=2, ceil_mode=True))
        if aux_logits:
            self.aux1 = InceptionAux2014(self.inception4a.out_channels, num_classes, dropout_aux)
            self.aux2 = InceptionAux2014(self.inception4d.out_channels, num_classes, dropout_aux)
        else:
            self.aux1 = self.aux2 = None
        self.avgpool = nn.AvgPool2d(kernel_size=7, stride=1)
        self.dropout = nn.Dropout(p=dropout)
        self.fc = nn.Linear(channels, num_classes)
        if init_weights:  # the paper does not give one; Xavier (Glorot) uniform, zero biases
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

    def forward(self, x):
        check_input_side(self, x, 224, 3)
        x = self.lrn1(self.maxpool1(self.conv1(x)))                  # N x 64 x 56 x 56
        x = self.maxpool2(self.lrn2(self.conv2(self.conv2_reduce(x))))  # N x 192 x 28 x 28
        x = self.maxpool3(self.inception3b(self.inception3a(x)))     # N x 480 x 14 x 14
        x = self.inception4a(x)                                      # N x 512 x 14 x 14
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))  # N x 528 x 14 x 14
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))                       # N x 832 x 7 x 7
        x = self.inception5b(self.inception5a(x))                    # N x 1024 x 7 x 7
        x = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


def googlenet_2014(num_classes: int = 1000, aux_logits: bool = True, dropout: float = 0.4,
                   dropout_aux: float = 0.7, init_weights: bool = True) -> GoogLeNet2014:
    """The paper's GoogLeNet: 5x5 branches, biases and ReLUs without BatchNorm, LRN in the stem, 7x7 average
    pool, dropout 40%; 13,378,280 parameters with the auxiliary heads, 6,998,552 without."""
    return GoogLeNet2014(num_classes=num_classes, aux_logits=aux_logits, dropout=dropout, dropout_aux=dropout_aux,
                         init_weights=init_weights)


def googlenet_d2l(in_channels: int = 1, num_classes: int = 10) -> nn.Sequential:
    """d2l's GoogLeNet for 1x96x96 Fashion-MNIST: the paper's blocks, no LRN, no auxiliary heads (5,977,530
    parameters for 10 classes).

    ``Sequential(b1, ..., b5, Linear(1024, num_classes))``, keys ``0.0.weight`` ... ``5.bias``. Shapes at 96:
    64x24x24 after b1, 192x12x12 after b2, 480x6x6 after b3, 832x3x3 after b4, 1024 after b5."""
    def block(name):
        row = _table_row(name)
        return row.ch1x1, row.ch3x3red, row.ch3x3, row.ch5x5red, row.ch5x5, row.pool_proj

    b1 = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(), nn.Conv2d(64, 192, kernel_size=3, padding=1),
                       nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(InceptionBlock(192, *block("inception3a")), InceptionBlock(256, *block("inception3b")),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(InceptionBlock(480, *block("inception4a")), InceptionBlock(512, *block("inception4b")),
                       InceptionBlock(512, *block("inception4c")), InceptionBlock(512, *block("inception4d")),
                       InceptionBlock(528, *block("inception4e")), nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(InceptionBlock(832, *block("inception5a")), InceptionBlock(832, *block("inception5b")),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, num_classes))
