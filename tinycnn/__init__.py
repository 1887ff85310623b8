"""tinycnn: a deep-learning engine for convolutional networks, written from scratch on NumPy."""
__version__ = "0.1.0"

from . import ops as _ops  # noqa: F401  (installs Tensor's operator methods)
from .autograd import (Function, Size, Tensor, arange, enable_grad, from_numpy, full, is_grad_enabled,
                       no_grad, ones, ones_like, rand, randn, set_grad_enabled, tensor, zeros, zeros_like)
from .backend import (bool_, float16, float32, float64, get_array_module, get_rng_state, int32, int64,
                      manual_seed, set_rng_state, uint8)

# --- tensor functions (helper) ---
# --- end tensor functions ---
