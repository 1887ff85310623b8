"""Layers and models: ``Module``, ``Parameter``, containers, layers, ``functional``, ``init`` and ``utils``."""
from . import functional, init, utils
from .containers import ModuleDict, ModuleList, Sequential
from .layers.activation import (ELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6,
                                Sigmoid, SiLU, Softmax, Tanh)
from .layers.activation import (CELU, GELU, GLU, SELU, LogSigmoid, Mish, PReLU, Softmin, Softplus, Softsign,
                                Tanhshrink)
from .layers.basic import Flatten, Identity, Linear, Unflatten
from .layers.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .layers.distance import CosineSimilarity, PairwiseDistance
from .layers.dropout import Dropout, Dropout2d
from .layers.lazy import (LazyBatchNorm1d, LazyBatchNorm2d, LazyConv1d, LazyConv2d, LazyConvTranspose1d,
                          LazyConvTranspose2d, LazyLinear, LazyModuleMixin)
from .layers.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .layers.loss import (CosineEmbeddingLoss, HuberLoss, KLDivLoss, MarginRankingLoss, SmoothL1Loss,
                          TripletMarginLoss)
from .layers.misc import ChannelShuffle
from .layers.normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from .layers.normalization import GroupNorm, InstanceNorm1d, InstanceNorm2d, LayerNorm
from .layers.padding import (CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d, ReflectionPad1d,
                             ReflectionPad2d, ReplicationPad1d, ReplicationPad2d, ZeroPad1d, ZeroPad2d)
from .layers.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .layers.pooling import MaxUnpool1d, MaxUnpool2d
from .layers.upsample import PixelShuffle, PixelUnshuffle, Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .module import Module
from .parameter import Parameter, UninitializedBuffer, UninitializedParameter


def __getattr__(name):
    # torch.nn.SyncBatchNorm's home in torch is torch.nn; here it lives with the data-parallel layers and is
    # looked up on first use, so that importing tinycnn.nn does not import tinycnn.distributed
    if name == "SyncBatchNorm":
        from .parallel import SyncBatchNorm  # noqa: PLC0415
        return SyncBatchNorm
    raise AttributeError(f"module 'tinycnn.nn' has no attribute {name!r}")
