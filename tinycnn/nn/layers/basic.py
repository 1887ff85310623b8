"""Basic layers: ``Linear`` (fully connected), ``Identity``, ``Flatten``, ``Unflatten``."""
from __future__ import annotations

import numpy as np

from ... import backend
from ...errors import DimensionError
from ...ops.linear import linear
from ...ops.shape import flatten
from .. import init
from ..module import Module
from ..parameter import Parameter


class Linear(Module):
    """y = x W^T + b, for x of shape (*, in_features); W (out_features, in_features), b (out_features,).

    PyTorch's default initialisation: W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(in), 1/sqrt(in)),
    and b ~ U(-1/sqrt(in), 1/sqrt(in)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {value!r}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        self.weight = Parameter(np.empty((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()
        if device is not None:
            self.to(device)

    def reset_parameters(self) -> None:
        init.default_layer_init_(self.weight, self.bias)

    def forward(self, input):
        return linear(input, self.weight, self.bias,
                      _layer=f"Linear(in_features={self.in_features}, out_features={self.out_features})")

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input; accepts and ignores any constructor arguments (as PyTorch's)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Flatten(Module):
    """Merges dimensions start_dim..end_dim into one: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, input):
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Splits dimension ``dim`` into ``unflattened_size``: Unflatten(1, (16, 5, 5)) maps (N, 400) to
    (N, 16, 5, 5)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        self.dim, self.unflattened_size = dim, tuple(unflattened_size)

    def forward(self, input):
        shape = tuple(input.shape)
        ndim = len(shape)
        if not -ndim <= self.dim < ndim:
            raise DimensionError(f"Unflatten: dim {self.dim} is out of range for input of shape {shape}")
        d = self.dim % ndim
        sizes = list(self.unflattened_size)
        known = int(np.prod([s for s in sizes if s != -1]))
        if sizes.count(-1) == 1 and known and shape[d] % known == 0:
            sizes[sizes.index(-1)] = shape[d] // known
        if sizes.count(-1) or int(np.prod(sizes)) != shape[d]:
            raise ValueError(f"Unflatten: cannot split dimension {self.dim} of size {shape[d]} into "
                             f"{self.unflattened_size} (input of shape {shape})")
        return input.reshape(shape[:d] + tuple(sizes) + shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
