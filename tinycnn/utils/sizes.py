"""Hand formulas for convolution layers: output size and parameter count.

Output size (CS231n's ``N = (W - F + 2P) / S + 1``, with dilation and PyTorch's rounding)::

    F_eff = D * (F - 1) + 1                      # a dilated kernel spans D*(F-1)+1 pixels
    N     = floor((W + 2P - F_eff) / S) + 1      # ceil instead of floor when ceil_mode=True

With ``ceil_mode`` (pooling) PyTorch also drops a last window that would start entirely inside the right
padding: if ``(N - 1) * S >= W + P`` then ``N -= 1``.

Parameter count of a convolution with ``C_in`` inputs, ``C_out`` outputs, a ``K_h x K_w`` kernel and
``G`` groups (each output channel sees only ``C_in / G`` input channels)::

    params = C_out * (C_in / G) * K_h * K_w  (+ C_out biases)

GoogLeNet's inception (4b) shows why a 1x1 "bottleneck" conv pays: reducing 512 channels to 64 with a
5x5 kernel costs 5*5*512*64 = 819,200 weights, while first squeezing to 24 channels with a 1x1 conv and
then applying the 5x5 conv costs 1*1*512*24 + 5*5*24*64 = 12,288 + 38,400 = 50,688 weights:

>>> conv_params(512, 64, 5, bias=False)
819200
>>> conv_params(512, 24, 1, bias=False) + conv_params(24, 64, 5, bias=False)
50688
>>> conv_output_size(32, 5)                      # LeNet's first conv: 32x32 -> 28x28
28
>>> conv_output_size(227, 11, stride=4)          # AlexNet's first conv: 227 -> 55
55
>>> conv_output_size((224, 224), 3, stride=2, padding=1)
(112, 112)
"""
from __future__ import annotations

from ..ops._sizes import pool_output_size


def _int_or_pair(value, name: str):
    """(the (h, w) pair, whether ``value`` was a single int): the result stays an int when every argument is."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value), True
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(isinstance(v, int) for v in value):
        return tuple(value), False
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


def _output_1d(size, kernel, stride, padding, dilation, ceil_mode):
    if kernel < 1 or stride < 1 or dilation < 1 or padding < 0:
        raise ValueError(f"conv_output_size: kernel_size, stride and dilation must be >= 1 and padding >= 0, "
                         f"got kernel_size={kernel}, stride={stride}, padding={padding}, dilation={dilation}")
    span = dilation * (kernel - 1) + 1
    if size + 2 * padding < span:
        raise ValueError(f"conv_output_size: input size {size} with padding {padding} is smaller than the "
                         f"(dilated) kernel extent {span}")
    return pool_output_size(size, kernel, stride, padding, dilation, ceil_mode)


def conv_output_size(input_size, kernel_size, stride=1, padding=0, dilation=1, ceil_mode: bool = False):
    """Spatial output size of a convolution or pooling layer (ints, or pairs for (H, W)).

    ``N = floor((W + 2P - D*(F-1) - 1) / S) + 1``; any argument may be an int or an (h, w) pair, and the
    result is a pair as soon as one of them is.
    """
    args = [_int_or_pair(v, n) for v, n in ((input_size, "input_size"), (kernel_size, "kernel_size"),
                                             (stride, "stride"), (padding, "padding"), (dilation, "dilation"))]
    out = tuple(_output_1d(*(a[0][i] for a in args), ceil_mode) for i in range(2))
    return out[0] if all(scalar for _, scalar in args) else out


def conv_params(in_channels: int, out_channels: int, kernel_size, groups: int = 1, bias: bool = True) -> int:
    """Learnable parameters of ``Conv2d(in_channels, out_channels, kernel_size, groups=groups, bias=bias)``.

    ``C_out * (C_in / G) * K_h * K_w + (C_out if bias)``; a depthwise conv is ``groups = C_in``.

    >>> conv_params(3, 6, 5) == 6 * 3 * 5 * 5 + 6   # LeNet's first conv on an RGB input: 450 + 6
    True
    >>> conv_params(32, 32, 3, groups=32, bias=False)   # depthwise 3x3 on 32 channels
    288
    """
    (kh, kw), _ = _int_or_pair(kernel_size, "kernel_size")
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(f"conv_params: in_channels ({in_channels}) and out_channels ({out_channels}) must both "
                         f"be divisible by groups ({groups})")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)
