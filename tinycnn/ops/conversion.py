"""Moving a tensor between devices and dtypes, differentiably, and PyTorch's conversion methods.

``t.to(...)`` takes PyTorch's forms: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``
(other's device and dtype), with ``copy=True`` for a copy even when nothing changes. ``.float()``,
``.long()``, ``.int()``, ``.bool()``, ``.half()``... are ``to(dtype)``; ``.type()`` answers with PyTorch's
legacy type name (``'tinycnn.FloatTensor'``) and ``.type(dtype)`` converts. A conversion to a floating dtype
passes the gradient back (cast to the source dtype); one to an integer or bool dtype cuts the graph, as in
PyTorch (the result cannot require grad).
"""
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


def to(x: Tensor, device=None, dtype=None, copy: bool = False) -> Tensor:
    device = backend.normalize_device(device) if device is not None else None
    dtype = backend.to_dtype(dtype)
    if (device is None or device == x.device) and (dtype is None or dtype == x.dtype):
        return clone(x) if copy else x
    if dtype is not None and dtype.kind not in "fc":
        # integer/bool results cannot carry a gradient: convert outside the graph
        y = backend.to_device(x.array, device) if device is not None else x.array
        return Tensor(y.astype(dtype))
    return To.apply(x, device=device, dtype=dtype)


def _is_dtype(arg) -> bool:
    """A dtype (or a dtype's name) rather than a device: ``to("float64")`` vs ``to("cuda")``."""
    if isinstance(arg, backend.Device) or arg is None:
        return False
    try:
        backend.to_dtype(arg)
        return True
    except TypeError:
        return False


def to_method(self: Tensor, *args, device=None, dtype=None, non_blocking: bool = False, copy: bool = False,
              memory_format=None) -> Tensor:
    """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(tensor)``; keywords as PyTorch's
    (``non_blocking`` and ``memory_format`` are accepted and change nothing here)."""
    if len(args) > 2:
        raise TypeError(f"to(): expected at most 2 positional arguments, got {len(args)}")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif _is_dtype(arg):
            dtype = arg
        else:
            device = arg
    return to(self, device=device, dtype=dtype, copy=copy)


def clone(x: Tensor, *, memory_format=None) -> Tensor:
    return Clone.apply(x)


class Clone(Function):
    """y = copy of x.  gx = gy."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy


def contiguous(x: Tensor, memory_format=None) -> Tensor:
    """``x`` itself when its storage is laid out row-major without gaps, else a row-major copy
    (differentiable), as PyTorch's ``contiguous``."""
    if x.array.flags.c_contiguous:
        return x
    return Clone.apply(x)


def _new(fill):
    """``x.new_zeros(size)`` and friends: a new tensor with x's dtype and device unless given."""
    from .. import creation  # noqa: PLC0415  (creation sits beside autograd; ops import it lazily)

    def new(self: Tensor, *size, dtype=None, device=None, requires_grad=False, **kw):
        dtype = dtype or self.dtype
        device = device or self.device
        make = getattr(creation, fill)
        if fill == "full":
            return make(size[0], size[1], dtype=dtype, device=device, requires_grad=requires_grad)
        return make(*size, dtype=dtype, device=device, requires_grad=requires_grad)
    return new


def new_tensor(self: Tensor, data, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor holding a copy of ``data``, with self's dtype and device unless given."""
    from ..autograd import tensor  # noqa: PLC0415  (a sibling name kept out of this module's namespace)
    return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)


def _converter(dtype):
    def convert(self: Tensor, memory_format=None) -> Tensor:
        return to(self, dtype=dtype)
    convert.__doc__ = f"``self.to({dtype})``."
    return convert


def type_(self: Tensor, dtype=None, non_blocking: bool = False):
    """With no argument, PyTorch's legacy type name (``'tinycnn.FloatTensor'``, ``'tinycnn.cuda.LongTensor'``);
    with a dtype (or such a name), the tensor converted to it."""
    if dtype is None:
        name = backend.TYPE_NAMES.get(self.dtype, str(self.dtype))
        return f"tinycnn.{'cuda.' if self.is_cuda else ''}{name}"
    if isinstance(dtype, str) and dtype.endswith("Tensor"):
        wanted = dtype.split(".")[-1]
        matches = [d for d, n in backend.TYPE_NAMES.items() if n == wanted]
        if not matches:
            raise TypeError(f"type(): unknown tensor type {dtype!r}")
        return to(self, device="cuda" if ".cuda." in dtype else None, dtype=matches[0])
    return to(self, dtype=dtype)


def is_floating_point(input: Tensor) -> bool:
    return input.dtype.kind == "f"


def is_complex(input: Tensor) -> bool:
    return input.dtype.kind == "c"


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


TENSOR_METHODS = {
    "clone": clone, "to": to_method, "type": type_,
    "cpu": lambda self, memory_format=None: to(self, device="cpu"),
    "cuda": lambda self, device=None, non_blocking=False, memory_format=None: to(self, device=device or "cuda"),
    "float": _converter(backend.float32), "double": _converter(backend.float64),
    "half": _converter(backend.float16), "long": _converter(backend.int64), "int": _converter(backend.int32),
    "short": _converter(backend.int16), "char": _converter(backend.int8), "byte": _converter(backend.uint8),
    "bool": _converter(backend.bool_),
    "type_as": lambda self, other: to(self, dtype=other.dtype),
    "is_floating_point": is_floating_point, "is_complex": is_complex,
    "element_size": lambda self: int(self.dtype.itemsize),
    "itemsize": property(lambda self: int(self.dtype.itemsize)),
    "nbytes": property(lambda self: int(self.array.nbytes)),
    "get_device": lambda self: 0 if self.is_cuda else -1,
    "contiguous": contiguous, "is_contiguous": lambda self, memory_format=None: bool(self.array.flags.c_contiguous),
    "nelement": lambda self: self.numel(),
    "new_zeros": _new("zeros"), "new_ones": _new("ones"), "new_empty": _new("empty"), "new_full": _new("full"),
    "new_tensor": new_tensor,
}
