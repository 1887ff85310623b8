"""Optimizers and learning-rate schedulers over ``Parameter``s, with PyTorch's update rules and state dicts.

Layering: optim imports only the autograd core and the backend (never ``nn``); any leaf ``Tensor`` can be
optimized.
"""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adam_variants import Adamax, NAdam, RAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam", "RAdam",
           "lr_scheduler"]
