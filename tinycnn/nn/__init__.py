"""Layers and models: ``Module``, ``Parameter``, containers, layers, ``functional`` and ``init``."""
from . import functional  # noqa: F401
from .containers import ModuleDict, ModuleList, Sequential
from .module import Module
from .parameter import Parameter

# --- init/linear/activations/losses/basic layers (helper) ---
from . import init  # noqa: F401
from .layers.activation import (ELU, Hardsigmoid, Hardswish, Hardtanh, LeakyReLU, LogSoftmax, ReLU,  # noqa: F401
                                ReLU6, Sigmoid, SiLU, Softmax, Tanh)
from .layers.basic import Flatten, Identity, Linear, Unflatten  # noqa: F401
from .layers.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss,  # noqa: F401
                          NLLLoss)
# --- end init/linear/activations/losses/basic layers ---
# --- conv/pool (helper) ---
from .layers.conv import Conv2d  # noqa: F401,E402
from .layers.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d  # noqa: F401,E402
# --- end conv/pool ---
# --- normalization/dropout/misc (helper) ---
from .layers.dropout import Dropout, Dropout2d  # noqa: F401,E402
from .layers.misc import ChannelShuffle, ZeroPad2d  # noqa: F401,E402
from .layers.normalization import BatchNorm1d, BatchNorm2d, LocalResponseNorm  # noqa: F401,E402
# --- end normalization/dropout/misc ---
