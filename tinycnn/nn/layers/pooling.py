"""Pooling layers over the functional pooling ops (``tinycnn/ops/pooling.py``), PyTorch's signatures; max
unpooling (``tinycnn/ops/unpool.py``)."""
from __future__ import annotations

from ...ops._sizes import _pair, _single
from ...ops.pooling import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d
from ...ops.unpool import max_unpool1d, max_unpool2d
from ..module import Module


class MaxPool2d(Module):
    """Max over kernel_size windows (stride defaults to kernel_size); padding is -inf, at most kernel/2."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, (kernel_size if stride is None else stride), padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode
        _validate(self, "MaxPool2d")

    def forward(self, input):
        return max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                          self.return_indices, _layer=f"MaxPool2d({self.extra_repr()})")

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(Module):
    """Mean over kernel_size windows; divisor rules: count_include_pad, ceil_mode, divisor_override."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, (kernel_size if stride is None else stride), padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override
        self.dilation = 1
        _validate(self, "AvgPool2d")

    def forward(self, input):
        return avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                          self.count_include_pad, self.divisor_override,
                          _layer=f"AvgPool2d({self.extra_repr()})")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _validate(layer, name):
    """Check the constructor arguments at once, so a bad layer fails where it is built."""
    k = _pair(layer.kernel_size, "kernel_size", name)
    _pair(layer.stride, "stride", name)
    _pair(layer.dilation, "dilation", name)
    p = _pair(layer.padding, "padding", name, allow_zero=True)
    if 2 * p[0] > k[0] or 2 * p[1] > k[1]:
        raise ValueError(f"{name}: padding should be at most half of the kernel size, got padding="
                         f"{layer.padding} for kernel_size={layer.kernel_size}")


class AdaptiveAvgPool2d(Module):
    """Average over PyTorch's adaptive windows [floor(i*In/Out), ceil((i+1)*In/Out)) to a fixed output size."""

    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return adaptive_avg_pool2d(input, self.output_size,
                                   _layer=f"AdaptiveAvgPool2d(output_size={self.output_size})")

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Max over PyTorch's adaptive windows to a fixed output size."""

    def __init__(self, output_size, return_indices=False):
        super().__init__()
        self.output_size, self.return_indices = output_size, return_indices

    def forward(self, input):
        return adaptive_max_pool2d(input, self.output_size, self.return_indices,
                                   _layer=f"AdaptiveMaxPool2d(output_size={self.output_size})")

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxUnpool2d(Module):
    """The partial inverse of ``MaxPool2d``: each maximum goes back to the position its index names, the rest
    is 0. ``forward(input, indices, output_size=None)``; give ``output_size`` when the pooled input's size is
    not (H - 1) * stride + kernel - 2 * padding (odd sizes, ceil mode)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size, "kernel_size", "MaxUnpool2d")
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", "MaxUnpool2d")
        self.padding = _pair(padding, "padding", "MaxUnpool2d", allow_zero=True)

    def forward(self, input, indices, output_size=None):
        return max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding, output_size,
                            _layer=f"MaxUnpool2d({self.extra_repr()})")

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(Module):
    """``MaxUnpool2d`` for signals (N, C, L) and the indices of ``F.max_pool1d``."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = (_single(kernel_size, "kernel_size", "MaxUnpool1d"),)
        self.stride = self.kernel_size if stride is None else (_single(stride, "stride", "MaxUnpool1d"),)
        self.padding = (_single(padding, "padding", "MaxUnpool1d", allow_zero=True),)

    def forward(self, input, indices, output_size=None):
        return max_unpool1d(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
