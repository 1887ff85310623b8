"""Lazy modules (``LazyLinear``, ``LazyConv1d/2d``, ``LazyConvTranspose1d/2d``, ``LazyBatchNorm1d/2d``): the
input size is inferred on the first forward pass, as in PyTorch and the d2l book.

Until then the parameters (and BatchNorm's running statistics) are ``UninitializedParameter`` /
``UninitializedBuffer`` objects without a shape. The first call runs a forward pre-hook that reads the input
size (``in_features = x.shape[-1]``, ``in_channels = x.shape[1]``, ``num_features = x.shape[1]``), gives every
parameter its shape *in place* (an optimizer built before the dry run keeps working), initialises it as the
ordinary layer does, removes the hook and turns the module into that ordinary layer (``cls_to_become``):
after one dry run ``type(m) is nn.Linear``, and ``summary``, ``state_dict`` and ``.to()`` see a plain model.

Loading a state dict into a module that has not run yet gives the parameters the loaded shapes and values
(``Module.load_state_dict``); the first forward then only fills in the sizes and checks the input against
them.
"""
from __future__ import annotations

import numpy as np

from ...autograd import Tensor, no_grad
from ..parameter import UninitializedBuffer, UninitializedParameter, is_lazy
from .conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from .basic import Linear
from .normalization import BatchNorm1d, BatchNorm2d


class LazyModuleMixin:
    """The first forward infers the shapes (``initialize_parameters``), then the module becomes
    ``cls_to_become``."""

    cls_to_become: type | None = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._initialize_hook = self.register_forward_pre_hook(LazyModuleMixin._infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        return any(is_lazy(t) for t in (*self._parameters.values(), *self._buffers.values()))

    def initialize_parameters(self, *args, **kwargs) -> None:  # pragma: no cover - every subclass has one
        raise NotImplementedError(f"initialize_parameters is not implemented for {type(self).__name__}")

    @staticmethod
    def _infer_parameters(module, args, kwargs):
        with no_grad():
            module.initialize_parameters(*args, **kwargs)
        if module.has_uninitialized_params():
            raise RuntimeError(f"module {type(module).__name__} has not been fully initialized")
        # by id, from this module's own dicts (the handle of a deep copy still names the original's)
        hook_id = module._initialize_hook.id
        for hooks in (module._forward_pre_hooks, module._forward_pre_hooks_with_kwargs):
            hooks.pop(hook_id, None)
        del module._initialize_hook
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become

    def _lazy_input(self, args, dims: int, layer: str) -> Tensor:
        if not args or not isinstance(args[0], Tensor):
            raise TypeError(f"{layer}: expected a Tensor as the first argument of the first forward pass")
        x = args[0]
        if dims and x.ndim not in (dims + 1, dims + 2):
            raise ValueError(f"{layer}: expected a {dims + 1}-D (unbatched) or {dims + 2}-D (batched) input "
                             f"to infer the number of channels, got input of shape {tuple(x.shape)}")
        return x


class LazyLinear(LazyModuleMixin, Linear):
    """``Linear`` whose ``in_features`` is the size of the last axis of the first input."""

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__(0, 0, False, device=device, dtype=dtype)
        dtype = self.weight.dtype
        self.out_features = int(out_features)
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        x = self._lazy_input((input,), 0, "LazyLinear")
        if self.has_uninitialized_params():
            self.in_features = int(x.shape[-1])
            self.weight.materialize((self.out_features, self.in_features))
            if self.bias is not None:
                self.bias.materialize((self.out_features,))
            self.reset_parameters()
        else:                                      # shapes came from a loaded state dict
            self.in_features = int(self.weight.shape[1])


class _LazyConvMixin(LazyModuleMixin):
    _lazy_in = True

    def _lazy_init(self, bias: bool, device, dtype):
        dtype = self.weight.dtype
        self.weight = UninitializedParameter(device=device, dtype=dtype)
        if bias:
            self.bias = UninitializedParameter(device=device, dtype=dtype)

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.in_channels != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        x = self._lazy_input((input,), self._dims, type(self).__name__)
        channels = int(x.shape[1] if x.ndim == self._dims + 2 else x.shape[0])
        if self.has_uninitialized_params():
            if channels % self.groups:
                raise ValueError(f"{type(self).__name__}: in_channels ({channels}, from the input of shape "
                                 f"{tuple(x.shape)}) must be divisible by groups ({self.groups})")
            self.in_channels = channels
            self.weight.materialize(self._weight_shape())
            if self.bias is not None:
                self.bias.materialize((self.out_channels,))
            self.reset_parameters()
        else:                                      # shapes came from a loaded state dict
            w = self.weight.shape
            self.in_channels = int(w[0] if self.transposed else w[1] * self.groups)


class LazyConv1d(_LazyConvMixin, Conv1d):
    cls_to_become = Conv1d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, dilation, groups, False, padding_mode,
                         device=device, dtype=dtype)
        self._lazy_init(bias, device, dtype)


class LazyConv2d(_LazyConvMixin, Conv2d):
    """``Conv2d`` whose ``in_channels`` is ``x.shape[1]`` of the first input."""

    cls_to_become = Conv2d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, dilation=1, groups: int = 1,
                 bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, dilation, groups, False, padding_mode,
                         device=device, dtype=dtype)
        self._lazy_init(bias, device, dtype)


class LazyConvTranspose1d(_LazyConvMixin, ConvTranspose1d):
    cls_to_become = ConvTranspose1d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, output_padding, groups, False, dilation,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_init(bias, device, dtype)


class LazyConvTranspose2d(_LazyConvMixin, ConvTranspose2d):
    cls_to_become = ConvTranspose2d

    def __init__(self, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0, groups: int = 1,
                 bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__(0, out_channels, kernel_size, stride, padding, output_padding, groups, False, dilation,
                         padding_mode, device=device, dtype=dtype)
        self._lazy_init(bias, device, dtype)


class _LazyNormMixin(LazyModuleMixin):
    _lazy = True

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True):
        super().__init__(0, eps, momentum, False, False, device=device, dtype=dtype, bias=False)
        dtype = self.running_mean.dtype if self.running_mean is not None else None
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        if self.affine:
            self.weight = UninitializedParameter(device=device, dtype=dtype)
            if bias:
                self.bias = UninitializedParameter(device=device, dtype=dtype)
        if self.track_running_stats:
            self.running_mean = UninitializedBuffer(device=device, dtype=dtype)
            self.running_var = UninitializedBuffer(device=device, dtype=dtype)
            self.num_batches_tracked = Tensor(np.array(0, dtype=np.int64))
            if device is not None:
                self.num_batches_tracked.array = self.num_batches_tracked.to(device).array

    def reset_parameters(self) -> None:
        if not self.has_uninitialized_params() and self.num_features != 0:
            super().reset_parameters()

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        x = self._lazy_input((input,), 0, type(self).__name__)
        if x.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected an input of at least 2 dimensions (N, C, *) to "
                             f"infer num_features, got input of shape {tuple(x.shape)}")
        if self.has_uninitialized_params():
            self.num_features = int(x.shape[1])
            for t in (self.weight, self.bias, self.running_mean, self.running_var):
                if t is not None:
                    t.materialize((self.num_features,))
            self.reset_parameters()
        else:
            known = self.weight if self.weight is not None else self.running_mean
            self.num_features = int(known.shape[0]) if known is not None else int(x.shape[1])


class LazyBatchNorm1d(_LazyNormMixin, BatchNorm1d):
    cls_to_become = BatchNorm1d


class LazyBatchNorm2d(_LazyNormMixin, BatchNorm2d):
    """``BatchNorm2d`` whose ``num_features`` is ``x.shape[1]`` of the first input."""

    cls_to_become = BatchNorm2d
