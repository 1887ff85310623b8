"""PyTorch-named functional forms (``import tinycnn.nn.functional as F``).

The functions live beside their ``Function`` classes in ``tinycnn.ops``; this module only gathers them
under PyTorch's names.
"""
# --- activations, losses, linear ---
from ..ops.activation import (elu, hardsigmoid, hardswish, hardtanh, leaky_relu, log_softmax,
                              relu, relu6, sigmoid, silu, softmax, tanh)
from ..ops.linear import linear
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                        l1_loss, mse_loss, nll_loss)
# --- convolution and pooling ---
from ..ops.conv import conv2d, fold, unfold
from ..ops.pooling import (adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d,
                           max_pool2d)
# --- normalisation, dropout, channel shuffle ---
from ..ops.dropout import dropout, dropout2d
from ..ops.misc import channel_shuffle
from ..ops.normalization import batch_norm, local_response_norm
# --- the rest of the convolution family, resizing, padding ---
from ..ops.conv1d import conv1d, conv_transpose1d
from ..ops.conv_transpose import conv_transpose2d
from ..ops.shape import pad
from ..ops.unpool import max_unpool1d, max_unpool2d
from ..ops.upsample import (interpolate, pixel_shuffle, pixel_unshuffle, upsample, upsample_bilinear,
                            upsample_nearest)
# --- normalisation with per-sample statistics, more activations ---
from ..ops.activation import softmin
from ..ops.gated_activation import glu, prelu
from ..ops.sample_norm import group_norm, instance_norm, layer_norm
from ..ops.smooth_activation import (celu, gelu, logsigmoid, mish, selu, softplus, softsign,
                                     tanhshrink)
# --- losses, distances, one_hot ---
from ..ops.distance import (cosine_embedding_loss, cosine_similarity, margin_ranking_loss,
                            normalize, pairwise_distance, triplet_margin_loss)
from ..ops.misc import one_hot
from ..ops.pointwise_loss import huber_loss, kl_div, smooth_l1_loss
