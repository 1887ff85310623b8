"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d`` (PyTorch's arguments,
state-dict keys, reprs and default initialisation).

The ops: ``F.conv2d`` (im2col + GEMM, ``tinycnn/ops/conv.py``), ``F.conv_transpose2d`` (the convolution's
input gradient, ``tinycnn/ops/conv_transpose.py``) and the 1-D forms as height-1 images
(``tinycnn/ops/conv1d.py``).

``padding_mode`` (convolutions only, as in PyTorch): "zeros" pads inside the op; "reflect", "replicate" and
"circular" pad the input with ``F.pad`` first and convolve without padding, so the gradient of the padded
border flows back to the pixels it copied.
"""
from __future__ import annotations

import numbers

import numpy as np

from ... import backend
from ...ops._sizes import _pair, _single, conv_padding
from ...ops.conv import conv2d
from ...ops.conv1d import conv1d, conv1d_padding, conv_transpose1d
from ...ops.conv_transpose import conv_transpose2d, output_padding_for
from ...ops.shape import pad
from .. import init
from ..module import Module
from ..parameter import Parameter

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution layer shares: argument checks, weight and bias, PyTorch's default init.

    weight: (out_channels, in_channels/groups, *kernel_size) for a convolution, (in_channels,
    out_channels/groups, *kernel_size) for a transposed one. Default initialisation (PyTorch's):
    kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = weight.shape[1] *
    prod(kernel_size), and the bias from the same uniform.
    """

    _dims = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding, dilation, groups,
                 bias: bool, padding_mode: str, device, dtype, output_padding=0):
        super().__init__()
        name = f"{type(self).__name__}({in_channels}, {out_channels})"
        for arg, value in (("in_channels", in_channels), ("out_channels", out_channels), ("groups", groups)):
            lowest = 0 if arg == "in_channels" and self._lazy_in else 1
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < lowest:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels ({in_channels}) must be divisible by groups ({groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels ({out_channels}) must be divisible by groups ({groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {_PADDING_MODES}, got {padding_mode!r}")
        if self.transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str) and padding not in ("same", "valid"):
            raise ValueError(f"{name}: padding must be an int, a tuple, 'valid' or 'same', got {padding!r}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = self._tuple(kernel_size, "kernel_size", name)
        self.stride = self._tuple(stride, "stride", name)
        self.dilation = self._tuple(dilation, "dilation", name)
        self.padding = padding if isinstance(padding, str) else self._tuple(padding, "padding", name, True)
        self.output_padding = self._tuple(output_padding, "output_padding", name, True)
        if isinstance(padding, str) and padding == "same" and any(s != 1 for s in self.stride):
            raise ValueError(f"{name}: padding='same' is not supported for strided convolutions "
                             f"(stride={self.stride})")
        if self.transposed and isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple for {type(self).__name__}, "
                             f"got {padding!r}")
        self.padding_mode = padding_mode
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        self.weight = Parameter(np.empty(self._weight_shape(), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    _lazy_in = False     # lazy subclasses start with in_channels = 0

    def _tuple(self, value, name, layer, allow_zero=False):
        if self._dims == 1:
            return (_single(value, name, layer, allow_zero),)
        return _pair(value, name, layer, allow_zero=allow_zero)

    def _weight_shape(self):
        if self.transposed:
            return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def _label(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels})"

    def _padded(self, input):
        """The input padded by ``padding_mode`` (reflect/replicate/circular); the conv then pads nothing."""
        if self.padding_mode == "zeros":
            return input, self.padding
        if self._dims == 1:
            left, right = conv1d_padding(self.padding, self.kernel_size[0], self.stride[0], self.dilation[0],
                                         self._label())
            widths = (left, right)
        else:
            top, bottom, left, right = conv_padding(self.padding, self.kernel_size, self.stride, self.dilation,
                                                    self._label())
            widths = (left, right, top, bottom)
        if input.ndim != self._dims + 2:     # the conv's own check names the layer and the shape
            return input, self.padding
        return pad(input, widths, mode=self.padding_mode), 0

    def extra_repr(self) -> str:
        zero, one = (0,) * self._dims, (1,) * self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != zero:
            s += f", padding={self.padding}"
        if self.dilation != one:
            s += f", dilation={self.dilation}"
        if self.output_padding != zero:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """y = conv2d(x, weight, bias): weight (out_channels, in_channels/groups, kh, kw), bias (out_channels,).

    ``padding`` may be an int, a pair, 'valid' or 'same' (stride 1); ``groups == in_channels`` is a
    depthwise convolution; ``padding_mode`` "zeros", "reflect", "replicate" or "circular".
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    def forward(self, input):
        x, padding = self._padded(input)
        return conv2d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups,
                      _layer=self._label())


class Conv1d(_ConvNd):
    """y = conv1d(x, weight, bias) on signals (N, C, L): weight (out_channels, in_channels/groups, k)."""

    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype)

    def forward(self, input):
        x, padding = self._padded(input)
        return conv1d(x, self.weight, self.bias, self.stride, padding, self.dilation, self.groups,
                      _layer=self._label())


class _ConvTransposeNd(_ConvNd):
    transposed = True

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        if self._dims == 1:
            size = tuple(output_size)[-1:]
            return output_padding_for((1, input.shape[-1]), (1, *size), (1, *self.kernel_size),
                                      (1, *self.stride), (0, *self.padding), (1, *self.dilation),
                                      self._label())[1:]
        return output_padding_for(tuple(input.shape[-2:]), output_size, self.kernel_size, self.stride,
                                  self.padding, self.dilation, self._label())


class ConvTranspose2d(_ConvTransposeNd):
    """y = conv_transpose2d(x, weight, bias): the adjoint of a Conv2d with the same geometry (upsampling by
    ``stride``). weight (in_channels, out_channels/groups, kh, kw). Output size per axis:
    (H - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1; ``forward(x, output_size)``
    picks the output_padding that gives ``output_size``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, input, output_size=None):
        return conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(input, output_size), self.groups, self.dilation,
                                _layer=self._label())


class ConvTranspose1d(_ConvTransposeNd):
    """The transposed 1-D convolution on (N, C, L); weight (in_channels, out_channels/groups, k)."""

    _dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                         padding_mode, device, dtype, output_padding)

    def forward(self, input, output_size=None):
        return conv_transpose1d(input, self.weight, self.bias, self.stride, self.padding,
                                self._output_padding(input, output_size), self.groups, self.dilation,
                                _layer=self._label())
