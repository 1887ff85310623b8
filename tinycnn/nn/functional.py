"""PyTorch-named functional forms (``import tinycnn.nn.functional as F``).

The functions live beside their ``Function`` classes in ``tinycnn.ops``; this module only gathers them
under PyTorch's names.
"""
# --- activations/losses/linear (helper) ---
from ..ops.activation import (elu, hardsigmoid, hardswish, hardtanh, leaky_relu, log_softmax,  # noqa: F401
                              relu, relu6, sigmoid, silu, softmax, tanh)
from ..ops.linear import linear  # noqa: F401
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,  # noqa: F401
                        l1_loss, mse_loss, nll_loss)
# --- end activations/losses/linear ---
# --- conv/pool (helper) ---
from ..ops.conv import conv2d, fold, unfold  # noqa: F401
from ..ops.pooling import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d,  # noqa: F401
                           max_pool2d)
# --- end conv/pool ---
# --- normalization/dropout/misc (helper) ---
from ..ops.dropout import dropout, dropout2d  # noqa: F401
from ..ops.misc import channel_shuffle  # noqa: F401
from ..ops.normalization import batch_norm, local_response_norm  # noqa: F401
# --- end normalization/dropout/misc ---
