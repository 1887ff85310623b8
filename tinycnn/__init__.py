"""tinycnn: a deep-learning engine for convolutional networks, written from scratch on NumPy."""
__version__ = "0.1.0"

from . import ops as _ops  # noqa: F401  (installs Tensor's operator methods)
from .autograd import (Function, Size, Tensor, arange, enable_grad, from_numpy, full, is_grad_enabled,
                       no_grad, ones, ones_like, rand, randn, set_grad_enabled, tensor, zeros, zeros_like)
from .backend import (bool_, float16, float32, float64, get_array_module, get_rng_state, int32, int64,
                      manual_seed, set_rng_state, uint8)

# --- tensor functions (helper) ---
# torch-style package functions (tinycnn.sum, tinycnn.max, tinycnn.abs... as torch.sum): they shadow the
# builtins only as attributes of the package; modules inside tinycnn never `from tinycnn import *`.
from .ops.arithmetic import add, div, matmul, mul, neg, pow, sub  # noqa: E402,F401,A004
from .ops.conversion import clone  # noqa: E402,F401
from .ops.elementwise import (abs, clamp, clip, exp, log, maximum, minimum, sign, sqrt,  # noqa: E402,F401,A004
                              where)
from .ops.reduction import (amax, amin, argmax, argmin, max, mean, min, std, sum,  # noqa: E402,F401,A004
                            var)
from .ops.shape import (cat, chunk, concat, expand, flatten, pad, permute, reshape, split,  # noqa: E402,F401
                        squeeze, stack, swapaxes, t, transpose, unbind, unsqueeze)
# --- end tensor functions ---

# --- lead: layers, tools ---
from . import cuda, nn  # noqa: E402
from .utils.gradcheck import GradcheckError, gradcheck  # noqa: E402
from .utils.serialization import CheckpointError, load, save  # noqa: E402
# --- end lead ---

# --- part B: torch checkpoint import (helper) ---
from .utils.torch_loader import load_torch_state_dict  # noqa: E402,F401
# --- end part B ---

# --- optim (helper) ---
from . import optim  # noqa: E402,F401
# --- end optim ---

# --- conv/pool (helper) ---
from .ops.conv import get_conv_backward, set_conv_backward  # noqa: E402,F401
from .ops.fused import get_fusion, set_fusion  # noqa: E402,F401
# --- end conv/pool ---

# Load the compute backend now, as ``import torch`` does (tinycnn/kernels/__init__.py: load_backend).
from .kernels import load_backend as _load_backend  # noqa: E402

_load_backend()
