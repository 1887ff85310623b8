"""``Conv2d``: a 2-D convolution layer over ``F.conv2d`` (im2col + GEMM; backward in ``tinycnn/ops/conv.py``)."""
from __future__ import annotations

import numbers

import numpy as np

from ... import backend
from ...ops._sizes import _pair, conv_padding
from ...ops.conv import conv2d
from .. import init
from ..module import Module
from ..parameter import Parameter


class Conv2d(Module):
    """y = conv2d(x, weight, bias): weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,).

    PyTorch's default initialisation: weight ~ kaiming_uniform_(a=sqrt(5)), which is
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels/groups * kh * kw, and bias ~ the same
    uniform. ``padding`` may be an int, a pair, 'valid' or 'same' (stride 1). ``groups == in_channels``
    is a depthwise convolution.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__()
        name = f"Conv2d({in_channels}, {out_channels})"
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{name}: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = _pair(stride, "stride", name)
        self.dilation = _pair(dilation, "dilation", name)
        conv_padding(padding, self.kernel_size, self.stride, self.dilation, name)   # validate now
        self.padding = padding if isinstance(padding, str) else _pair(padding, "padding", name,
                                                                      allow_zero=True)
        self.padding_mode = padding_mode
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        return conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
                      _layer=f"Conv2d({self.in_channels}, {self.out_channels})")

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
