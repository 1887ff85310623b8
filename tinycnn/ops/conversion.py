"""Moving a tensor between devices and dtypes, differentiably."""
from __future__ import annotations

from .. import backend
from ..autograd import Function, Tensor


class To(Function):
    """y = x on another device and/or in another dtype.  gx = gy moved back to x's device and dtype."""

    def forward(self, x, *, device, dtype):
        self.src_device, self.src_dtype = backend.device_of(x), x.dtype
        y = backend.to_device(x, device) if device is not None else x
        return y.astype(dtype) if dtype is not None and y.dtype != dtype else y

    def backward(self, gy):
        g = backend.to_device(gy, self.src_device)
        return g.astype(self.src_dtype, copy=False)


def to(x: Tensor, device=None, dtype=None) -> Tensor:
    device = backend.normalize_device(device) if device is not None else None
    dtype = backend.to_dtype(dtype)
    if (device is None or device == x.device) and (dtype is None or dtype == x.dtype):
        return x
    return To.apply(x, device=device, dtype=dtype)


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


class Clone(Function):
    """y = copy of x.  gx = gy."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


TENSOR_METHODS = {"clone": clone}
