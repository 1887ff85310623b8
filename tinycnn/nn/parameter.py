"""``Parameter``: a tensor that a ``Module`` registers as learnable."""
from __future__ import annotations

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
