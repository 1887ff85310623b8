"""``Parameter``: a tensor that a ``Module`` registers as learnable; the uninitialised kinds lazy modules use."""
from __future__ import annotations

import numpy as np

from .. import backend
from ..autograd import Tensor, _as_array


class Parameter(Tensor):
    """A leaf tensor with ``requires_grad=True`` by default; Python data becomes float32."""

    def __init__(self, data=None, requires_grad: bool = True):
        if isinstance(data, Tensor):
            data = data.array
        if data is None:
            data = _as_array([], backend.DEFAULT_DTYPE)
        elif not hasattr(data, "dtype"):
            data = _as_array(data, None)
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


_UNINITIALIZED = ("{what} of a lazy module has no shape yet: run a forward pass (a dry run on an example "
                  "batch) or load a state dict first")


class _Uninitialized:
    """What the uninitialised parameters and buffers of lazy modules share: no data until ``materialize``."""

    __slots__ = ()
    _what = "an uninitialized tensor"
    _becomes: type = Tensor

    @property
    def shape(self):
        raise RuntimeError(_UNINITIALIZED.format(what=self._what))

    def size(self, dim=None):
        raise RuntimeError(_UNINITIALIZED.format(what=self._what))

    def numel(self) -> int:
        raise RuntimeError(_UNINITIALIZED.format(what=self._what))

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give the tensor its shape (uninitialised values; the module's ``reset_parameters`` fills them) and
        make it an ordinary Parameter (or buffer) in place: whoever holds it (an optimizer) keeps it."""
        dtype = backend.to_dtype(dtype) or self.array.dtype
        data = np.empty(tuple(int(s) for s in shape), dtype=dtype)
        if device is not None or backend.device_of(self.array) != "cpu":
            data = backend.to_device(data, device if device is not None else backend.device_of(self.array))
        self.array = data
        self.__class__ = self._becomes

    def __repr__(self):
        return f"<{type(self).__name__}>"


class UninitializedParameter(_Uninitialized, Parameter):
    """A parameter of a lazy module before its shape is known (PyTorch's ``nn.UninitializedParameter``)."""

    __slots__ = ()
    _what = "an uninitialized parameter"
    _becomes = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None):
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        data = np.empty((0,), dtype=dtype)
        super().__init__(data if device is None else backend.to_device(data, device), requires_grad)


class UninitializedBuffer(_Uninitialized, Tensor):
    """A buffer of a lazy module before its shape is known (PyTorch's ``nn.UninitializedBuffer``)."""

    __slots__ = ()
    _what = "an uninitialized buffer"
    _becomes = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None):
        dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
        data = np.empty((0,), dtype=dtype)
        super().__init__(data if device is None else backend.to_device(data, device), requires_grad)


def is_lazy(t) -> bool:
    """True for an uninitialised parameter or buffer of a lazy module."""
    return isinstance(t, _Uninitialized)
