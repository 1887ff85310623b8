"""Layers and models: ``Module``, ``Parameter``, containers, layers, ``functional`` and ``init``."""
from . import functional, init
from .containers import ModuleDict, ModuleList, Sequential
from .layers.activation import (ELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSoftmax, ReLU, ReLU6,
                                Sigmoid, SiLU, Softmax, Tanh)
from .layers.basic import Flatten, Identity, Linear, Unflatten
from .layers.conv import Conv2d
from .layers.dropout import Dropout, Dropout2d
from .layers.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss
from .layers.misc import ChannelShuffle, ZeroPad2d
from .layers.normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm
from .layers.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .module import Module
from .parameter import Parameter
