"""1-D convolution and transposed convolution: the 2-D ops on a height-1 image.

A signal x (N, C, L) is the image x[:, :, None, :] of height 1, and a kernel w (Cout, Cin/groups, k) the
1 x k kernel w[:, :, None, :]; with stride (1, s), padding (0, p) and dilation (1, d) the 2-D op computes

    y[n, o, 0, a] = b[o] + sum_{c,j} w[o, c, 0, j] * xpad[n, c, 0, a*s + j*d]

which is the 1-D formula. The views are reshapes in the graph, so the gradients are the 2-D op's
(``Conv2dFunction``, ``ConvTranspose2dFunction``) read back through the same views.
"""
from __future__ import annotations

import numbers

from ..kernels.numpy_kernels import conv_out_size
from ._args import array_of
from ._sizes import _single, same_padding, shape_str
from .conv import conv2d
from .conv_transpose import conv_transpose2d



def conv1d_padding(padding, k: int, s: int, d: int, layer: str) -> tuple[int, int]:
    """Conv1d ``padding`` (int, 1-tuple, 'valid' or 'same') -> (left, right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0)
        if padding == "same":
            if s != 1:
                raise ValueError(f"{layer}: padding='same' is not supported for strided convolutions "
                                 f"(stride={s})")
            return same_padding(k, d)
        raise ValueError(f"{layer}: padding must be an int, a 1-tuple, 'valid' or 'same', got {padding!r}")
    p = _single(padding, "padding", layer, allow_zero=True)
    return (p, p)


def _check_signal(x_shape, w_shape, cin_expected, layer):
    if len(x_shape) != 3:
        raise ValueError(f"{layer} expects a 3-D input (N, C, L), got input of shape {shape_str(x_shape)}")
    if len(w_shape) != 3:
        raise ValueError(f"{layer}: weight must be 3-D, got {shape_str(w_shape)}")
    if x_shape[1] != cin_expected:
        raise ValueError(f"{layer} expects {cin_expected} input channels, got input of shape "
                         f"{shape_str(x_shape)}")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, _layer="conv1d"):
    """PyTorch's ``F.conv1d``: input (N, Cin, L), weight (Cout, Cin/groups, k), bias (Cout,).

    ``padding``: int, 1-tuple, 'valid' or 'same' (stride 1; the extra pixel of an even extent on the right).
    """
    s = _single(stride, "stride", _layer)
    d = _single(dilation, "dilation", _layer)
    w_shape = tuple(array_of(weight).shape)
    x_shape = tuple(array_of(input).shape)
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{_layer}: groups must be a positive integer, got {groups!r}")
    if len(w_shape) != 3:
        raise ValueError(f"{_layer}: weight must be 3-D (Cout, Cin/groups, k), got {shape_str(w_shape)}")
    _check_signal(x_shape, w_shape, w_shape[1] * groups, _layer)
    left, right = conv1d_padding(padding, w_shape[2], s, d, _layer)
    if conv_out_size(x_shape[2], w_shape[2], s, left + right, d) < 1:
        raise ValueError(f"{_layer}: kernel {w_shape[2]} (dilated extent {d * (w_shape[2] - 1) + 1}) is larger "
                         f"than the padded input {x_shape[2] + left + right}; got input of shape "
                         f"{shape_str(x_shape)}")
    # 'same' passes through: on a 1 x k kernel conv2d's 'same' pads the width only (asymmetric when even)
    pad2 = "same" if padding == "same" else (0, left)
    return conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), pad2, (1, d), groups,
                  _layer=_layer).squeeze(2)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                     *, _layer="conv_transpose1d"):
    """PyTorch's ``F.conv_transpose1d``: input (N, Cin, L), weight (Cin, Cout/groups, k), bias (Cout,)."""
    s = _single(stride, "stride", _layer)
    d = _single(dilation, "dilation", _layer)
    p = _single(padding, "padding", _layer, allow_zero=True)
    q = _single(output_padding, "output_padding", _layer, allow_zero=True)
    w_shape = tuple(array_of(weight).shape)
    if len(w_shape) != 3:
        raise ValueError(f"{_layer}: weight must be 3-D (Cin, Cout/groups, k), got {shape_str(w_shape)}")
    _check_signal(tuple(array_of(input).shape), w_shape, w_shape[0], _layer)
    y2 = conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, s), (0, p), (0, q), groups, (1, d),
                          _layer=_layer)
    return y2.squeeze(2)
