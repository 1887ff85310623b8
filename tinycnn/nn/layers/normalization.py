"""Normalisation layers (PyTorch semantics): ``BatchNorm1d/2d`` (batch statistics), ``LayerNorm``,
``GroupNorm``, ``InstanceNorm1d/2d`` (each sample's own statistics, ``tinycnn/ops/sample_norm.py``) and
``LocalResponseNorm``."""
from __future__ import annotations

import numbers

import numpy as np

from ... import backend
from ...autograd import Tensor
from ...errors import ShapeError
from ...ops._sizes import shape_str
from ...ops.normalization import batch_norm, local_response_norm
from ...ops.sample_norm import group_norm, instance_norm, layer_norm
from ..module import Module
from ..parameter import Parameter


class _BatchNorm(Module):
    """Shared state and forward of BatchNorm1d/2d.

    Parameters ``weight`` (ones) and ``bias`` (zeros) when ``affine`` (``bias=False``: no shift, as in
    PyTorch's keyword of that name); buffers ``running_mean`` (zeros),
    ``running_var`` (ones) and ``num_batches_tracked`` (int64 scalar) when ``track_running_stats``: the
    same state-dict keys as PyTorch. In training each call normalises with the batch statistics and moves
    the running ones by ``momentum`` (weight of the new value); ``momentum=None`` makes them the cumulative
    average over the batches seen (factor 1/num_batches_tracked). In eval the running statistics are used;
    without running statistics (``track_running_stats=False``) batch statistics are used in both modes.
    """

    _expected_dims: tuple = ()
    _dims_text = ""
    _lazy = False       # lazy subclasses start with num_features = 0

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True):
        super().__init__()
        name = type(self).__name__
        if (not isinstance(num_features, numbers.Integral) or isinstance(num_features, bool)
                or num_features < (0 if self._lazy else 1)):
            raise ValueError(f"{name}: num_features must be a positive int, got {num_features!r}")
        if not isinstance(eps, numbers.Real) or eps < 0:
            raise ValueError(f"{name}: eps must be a non-negative number, got {eps!r}")
        if momentum is not None and (not isinstance(momentum, numbers.Real) or not 0 <= momentum <= 1):
            raise ValueError(f"{name}: momentum must be a number in [0, 1] or None, got {momentum!r}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        if self.affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(self.num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(self.num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        if device is not None:
            self.to(device)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.array[...] = 1
            if self.bias is not None:
                self.bias.array[...] = 0

    def _check_input(self, input) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor, got {type(input).__name__}")
        if input.ndim not in self._expected_dims:
            raise ValueError(f"{self._label()} expects a {self._dims_text} input, got input of shape "
                             f"{shape_str(input.shape)}")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"{self._label()} expects {self.num_features} channels, got input of shape "
                             f"{shape_str(input.shape)}")

    def _label(self) -> str:
        return f"{type(self).__name__}({self.num_features})"

    def forward(self, input):
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            if input.shape[0] * int(np.prod(input.shape[2:])) > 1:   # else batch_norm raises, count nothing
                self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / max(int(self.num_batches_tracked.item()), 1)
        # batch statistics in training, or always when there are no running statistics
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return batch_norm(input, self.running_mean if track else None, self.running_var if track else None,
                          self.weight, self.bias, use_batch_stats, factor, self.eps, _layer=self._label())

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm over features of (N, C) or channels of (N, C, L): statistics over N (and L)."""

    _expected_dims = (2, 3)
    _dims_text = "2-D (N, C) or 3-D (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch norm over the channels of (N, C, H, W): statistics per channel over (N, H, W)."""

    _expected_dims = (4,)
    _dims_text = "4-D (N, C, H, W)"


class LocalResponseNorm(Module):
    """AlexNet's LRN across channels: x_c / (k + alpha/size * sum_{window} x^2)^beta (PyTorch's form)."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
            raise ValueError(f"LocalResponseNorm: size must be a positive int, got {size!r}")
        self.size, self.alpha, self.beta, self.k = int(size), alpha, beta, k

    def forward(self, input):
        return local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class LayerNorm(Module):
    """Normalises over the last ``len(normalized_shape)`` axes of each sample, then y * weight + bias, both of
    ``normalized_shape`` (ones and zeros at the start) when ``elementwise_affine``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        if not shape or not all(isinstance(s, numbers.Integral) and s > 0 for s in shape):
            raise ValueError(f"LayerNorm: normalized_shape must be a positive int or a tuple of them, got "
                             f"{normalized_shape!r}")
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = float(eps), bool(elementwise_affine)
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, input):
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps,
                          _layer=f"LayerNorm({self.normalized_shape})")

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
                f"bias={self.bias is not None}")


class GroupNorm(Module):
    """Splits the channels into ``num_groups`` groups and normalises each group of each sample (Wu & He,
    2018); per-channel ``weight`` (ones) and ``bias`` (zeros) when ``affine``."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, bias: bool = True,
                 device=None, dtype=None):
        super().__init__()
        for arg, value in (("num_groups", num_groups), ("num_channels", num_channels)):
            if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GroupNorm: {arg} must be a positive int, got {value!r}")
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by num_groups "
                             f"({num_groups})")
        self.num_groups, self.num_channels = int(num_groups), int(num_channels)
        self.eps, self.affine = float(eps), bool(affine)
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.num_channels, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1
        if self.bias is not None:
            self.bias.array[...] = 0

    def forward(self, input):
        label = f"GroupNorm({self.num_groups}, {self.num_channels})"
        if isinstance(input, Tensor) and (input.ndim < 2 or input.shape[1] != self.num_channels):
            raise ValueError(f"{label} expects {self.num_channels} channels (N, C, *), got input of shape "
                             f"{shape_str(input.shape)}")
        return group_norm(input, self.num_groups, self.weight, self.bias, self.eps, _layer=label)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class _InstanceNorm(_BatchNorm):
    """Every channel of every sample normalised by its own statistics (Ulyanov et al., 2016). The state is
    batch norm's (``affine``: weight, bias; ``track_running_stats``: running_mean, running_var,
    num_batches_tracked), but off by default; with running statistics, evaluation uses them. An input
    without the batch axis is treated as one sample."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, affine: bool = False,
                 track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        if not isinstance(input, Tensor):
            raise TypeError(f"{self._label()}: expected a Tensor, got {type(input).__name__}")
        if input.ndim not in self._expected_dims:
            raise ValueError(f"{self._label()} expects a {self._dims_text} input, got input of shape "
                             f"{shape_str(input.shape)}")
        unbatched = input.ndim == self._expected_dims[0]
        x = input.unsqueeze(0) if unbatched else input
        if x.shape[1] != self.num_features and (self.affine or self.track_running_stats):
            raise ValueError(f"{self._label()} expects {self.num_features} channels, got input of shape "
                             f"{shape_str(input.shape)}")
        use_input_stats = self.training or not self.track_running_stats
        y = instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias, use_input_stats,
                          self.momentum if self.momentum is not None else 0.0, self.eps, _layer=self._label())
        return y.squeeze(0) if unbatched else y


class InstanceNorm1d(_InstanceNorm):
    _expected_dims = (2, 3)
    _dims_text = "2-D (C, L) or 3-D (N, C, L)"


class InstanceNorm2d(_InstanceNorm):
    _expected_dims = (3, 4)
    _dims_text = "3-D (C, H, W) or 4-D (N, C, H, W)"
