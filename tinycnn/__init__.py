"""tinycnn: a deep-learning engine for convolutional networks, written from scratch on NumPy.

The package mirrors ``torch``: tensor functions at the top level (``tinycnn.sum``, ``tinycnn.max``... as
``torch.sum``; they shadow the builtins only as attributes of the package, and modules inside tinycnn never
``from tinycnn import *``), layers in ``tinycnn.nn``, optimizers in ``tinycnn.optim``.
"""
__version__ = "0.1.0"

from . import ops as _ops  # installs Tensor's operator methods (tinycnn/ops/__init__.py)
from .autograd import (Function, Size, Tensor, enable_grad, from_numpy, is_grad_enabled, no_grad,
                       set_grad_enabled, tensor)
from .backend import (Device, bool_, float16, float32, float64, get_array_module, get_rng_state, int8, int16, int32,
                      int64, manual_seed, promote_types, result_type, set_rng_state, uint8)
from .backend import DTYPE_ALIASES as _ALIASES
from .creation import (arange, as_tensor, bernoulli, empty, empty_like, eye, full, full_like, linspace, logspace,
                       multinomial, normal, ones, ones_like, rand, rand_like, randint, randint_like, randn, randn_like,
                       randperm, tril_indices, triu_indices, zeros, zeros_like)
from .errors import DimensionError, IndexOutOfRangeError, ShapeError
from .ops.activation import log_softmax, relu, sigmoid, softmax, tanh
from .ops.arithmetic import (add, div, divide, eq, floor_divide, ge, greater, greater_equal, gt, le, less,
                             less_equal, lt, matmul, mul, multiply, ne, neg, not_equal, pow, rsub,  # noqa: A004
                             sub, subtract, true_divide)
from .ops.conversion import clone, is_complex, is_floating_point, is_tensor
from .ops.diagonal import diag, diag_embed, diagflat, diagonal, trace, tril, triu
from .ops.einsum import einsum
from .ops.elementwise import (abs, clamp, clamp_max, clamp_min, clip, exp, log, maximum, minimum, sign,  # noqa: A004
                              sqrt, where)
from .ops.gather import gather, scatter, scatter_add, scatter_reduce, take, take_along_dim
from .ops.indexing import (argwhere, index_add, index_copy, index_fill, index_put, index_select, masked_fill,
                           masked_scatter, masked_select, nonzero)
from .ops.layout import (atleast_1d, atleast_2d, atleast_3d, broadcast_shapes, broadcast_tensors, broadcast_to,
                         column_stack, dstack, fliplr, flipud, flip, hstack, meshgrid, moveaxis, movedim, narrow,
                         repeat_interleave, roll, rot90, select, tile, unflatten, vstack)
from .ops.logical import (all, allclose, any, bitwise_and, bitwise_left_shift, bitwise_not, bitwise_or,  # noqa: A004
                          bitwise_right_shift, bitwise_xor, count_nonzero, equal, isclose, isfinite, isinf, isnan,
                          isneginf, isposinf, isreal, logical_and, logical_not, logical_or, logical_xor, signbit)
from .ops.math import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctanh, asin, asinh, atan, atanh,
                       cos, cosh, deg2rad, digamma, erf, erfc, erfinv, exp2, expm1, lgamma, log1p, log2, log10,
                       rad2deg, reciprocal, rsqrt, sin, sinh, square, tan)
from .ops.pointwise import (addcdiv, addcmul, arctan2, atan2, ceil, copysign, fix, float_power, floor, fmod, frac,
                            hypot, lerp, logaddexp, logaddexp2, nan_to_num, remainder, round, trunc)  # noqa: A004
from .ops.reduction import (amax, amin, aminmax, argmax, argmin, logsumexp, max, mean, min, nanmean,  # noqa: A004
                            nansum, norm, prod, std, std_mean, sum, var, var_mean)  # noqa: A004
from .ops.scan import cummax, cummin, cumprod, cumsum, logcumsumexp
from .ops.shape import (cat, chunk, concat, concatenate, expand, flatten, pad, permute, reshape, split, squeeze,
                        stack, swapaxes, t, transpose, unbind, unsqueeze)
from .ops.sorting import (argsort, bucketize, kthvalue, median, mode, msort, nanmedian, searchsorted, sort, topk,
                          unique)

from . import cuda, nn, optim  # layers and optimizers sit above the tensor functions
from . import accel  # the speed layer: fuse(model), the fast kernels
from .config import Settings, config, get_config
from .utils.gradcheck import GradcheckError, gradcheck
from .utils.serialization import CheckpointError, load, save
from .utils.torch_loader import load_torch_state_dict
from .utils.data import Generator
from .kernels import load_backend as _load_backend

# PyTorch's dtype aliases (tinycnn.float is float32, tinycnn.long int64, tinycnn.bool bool...) and the
# device constructor; as attributes of the package they shadow the builtins only there.
float, double, half, long, int, short, bool = (_ALIASES[n] for n in  # noqa: A001
                                               ("float", "double", "half", "long", "int", "short", "bool"))
device = Device  # tinycnn.device('cuda', 0), as torch.device
swapdims = transpose

# Load the compute backend now, as ``import torch`` does (tinycnn/kernels/__init__.py: load_backend).
_load_backend()
