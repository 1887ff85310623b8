"""tinycnn: a deep-learning engine for convolutional networks, written from scratch on NumPy.

The package mirrors ``torch``: tensor functions at the top level (``tinycnn.sum``, ``tinycnn.max``... as
``torch.sum``; they shadow the builtins only as attributes of the package, and modules inside tinycnn never
``from tinycnn import *``), layers in ``tinycnn.nn``, optimizers in ``tinycnn.optim``.
"""
__version__ = "0.1.0"

from . import ops as _ops  # installs Tensor's operator methods (tinycnn/ops/__init__.py)
from .autograd import (Function, Size, Tensor, arange, enable_grad, from_numpy, full, is_grad_enabled,
                       no_grad, ones, ones_like, rand, randn, set_grad_enabled, tensor, zeros, zeros_like)
from .backend import (bool_, float16, float32, float64, get_array_module, get_rng_state, int32, int64,
                      manual_seed, set_rng_state, uint8)
from .backend import device
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.arithmetic import add, div, matmul, mul, neg, pow, sub  # noqa: A004
from .ops.conversion import clone
from .ops.elementwise import abs, clamp, clip, exp, log, maximum, minimum, sign, sqrt, where  # noqa: A004
from .ops.reduction import amax, amin, argmax, argmin, max, mean, min, std, sum, var  # noqa: A004
from .ops.shape import (cat, chunk, concat, expand, flatten, pad, permute, reshape, split, squeeze, stack,
                        swapaxes, t, transpose, unbind, unsqueeze)

from . import cuda, nn, optim  # layers and optimizers sit above the tensor functions
from .ops.conv import get_conv_backward, set_conv_backward
from .ops.fused import get_fusion, set_fusion
from .utils.gradcheck import GradcheckError, gradcheck
from .utils.serialization import CheckpointError, load, save
from .utils.torch_loader import load_torch_state_dict
from .utils.data import Generator

# Load the compute backend now, as ``import torch`` does (tinycnn/kernels/__init__.py: load_backend).
from .kernels import load_backend as _load_backend

_load_backend()
