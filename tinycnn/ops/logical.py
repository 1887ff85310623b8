"""Logical and bitwise ops, predicates and the logical reductions: none of them has a gradient.

- logical_and/or/xor/not: on any dtype, nonzero = True; the result is bool.
- bitwise_and/or/xor/not and the shifts, and the operators ``& | ^ ~ << >>``: on integer and bool tensors
  only (a float operand is a TypeError, as PyTorch's "not implemented for 'Float'"); bool & bool is bool.
- isnan, isinf, isposinf, isneginf, isfinite, isreal, signbit; isclose, allclose, equal.
- any, all, count_nonzero over dims.
"""
from __future__ import annotations

from ..autograd import Tensor
from ..backend import get_array_module, result_type
from ._args import normalize_dims, numpy_aliases, tensor_arg
from .arithmetic import as_operand, check_broadcast


def _arrays(a, b, op):
    a, b = as_operand(a), as_operand(b)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}(): expected at least one Tensor")
    xp = get_array_module(a, b)
    a = a.array if isinstance(a, Tensor) else a
    b = b.array if isinstance(b, Tensor) else b
    check_broadcast(a, b, op)
    return xp, a, b


def _logical(ufunc):
    def op(input, other):
        xp, a, b = _arrays(input, other, ufunc)
        return Tensor(getattr(xp, ufunc)(a, b))
    op.__name__ = op.__qualname__ = ufunc
    op.__doc__ = f"Elementwise {ufunc.replace('_', ' ')} of the truth values (nonzero = True); a bool tensor."
    return op


logical_and, logical_or, logical_xor = _logical("logical_and"), _logical("logical_or"), _logical("logical_xor")


def logical_not(input):
    x = tensor_arg(input, "logical_not")
    return Tensor(get_array_module(x.array).logical_not(x.array))


def _check_integral(op, *values):
    for v in values:
        kind = v.dtype.kind if hasattr(v, "dtype") else ("b" if isinstance(v, bool) else
                                                          "i" if isinstance(v, int) else "f")
        if kind not in "biu":
            raise TypeError(f"{op}(): expected integer or bool tensors, got a {getattr(v, 'dtype', type(v).__name__)}"
                            f" operand (bitwise ops are not defined for floating point)")


def _bitwise(ufunc, name):
    def op(input, other):
        xp, a, b = _arrays(input, other, name)
        _check_integral(name, a, b)
        dtype = result_type(a, b)
        return Tensor(getattr(xp, ufunc)(a, b).astype(dtype, copy=False))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name.replace('_', ' ')} of integer or bool tensors."
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")
bitwise_left_shift = _bitwise("left_shift", "bitwise_left_shift")
bitwise_right_shift = _bitwise("right_shift", "bitwise_right_shift")


def bitwise_not(input):
    """~x: bit inversion of an integer tensor, logical not of a bool tensor."""
    x = tensor_arg(input, "bitwise_not")
    _check_integral("bitwise_not", x.array)
    return Tensor(get_array_module(x.array).invert(x.array))


def _predicate(ufunc, doc):
    def op(input):
        x = tensor_arg(input, ufunc)
        xp = get_array_module(x.array)
        if x.dtype.kind not in "fc" and ufunc != "signbit":
            return Tensor(xp.full(x.shape, ufunc == "isfinite", dtype=bool))  # integers are finite numbers
        return Tensor(getattr(xp, ufunc)(x.array))
    op.__name__ = op.__qualname__ = ufunc
    op.__doc__ = doc
    return op


isnan = _predicate("isnan", "True where the value is NaN.")
isinf = _predicate("isinf", "True where the value is +inf or -inf.")
isposinf = _predicate("isposinf", "True where the value is +inf.")
isneginf = _predicate("isneginf", "True where the value is -inf.")
isfinite = _predicate("isfinite", "True where the value is neither infinite nor NaN.")
signbit = _predicate("signbit", "True where the sign bit is set (negative numbers and -0.0).")


def isreal(input):
    x = tensor_arg(input, "isreal")
    xp = get_array_module(x.array)
    return Tensor(xp.isreal(x.array) if x.dtype.kind == "c" else xp.ones(x.shape, dtype=bool))


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False):
    """|input - other| <= atol + rtol |other| elementwise (infinities equal only to themselves)."""
    xp, a, b = _arrays(input, other, "isclose")
    return Tensor(xp.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> bool:
    """Whether ``isclose`` holds everywhere (a Python bool)."""
    return bool(isclose(input, other, rtol, atol, equal_nan).array.all())


def equal(input, other) -> bool:
    """Whether both tensors have the same shape and the same elements (a Python bool)."""
    a, b = tensor_arg(input, "equal"), tensor_arg(other, "equal")
    return a.shape == b.shape and bool((a.array == b.array).all())


# ---- logical reductions --------------------------------------------------------------------------------------
def _reduce(name, input, dim, keepdim):
    x = tensor_arg(input, name)
    xp = get_array_module(x.array)
    axes = normalize_dims(dim, x.ndim, name)
    truth = x.array != 0
    fn = {"any": xp.any, "all": xp.all}[name]
    return Tensor(fn(truth, axis=axes, keepdims=keepdim))


@numpy_aliases
def any(input, dim=None, keepdim: bool = False):  # noqa: A001  (PyTorch's name)
    """Whether some element (over ``dim``, an int or a tuple) is nonzero; a bool tensor."""
    return _reduce("any", input, dim, keepdim)


@numpy_aliases
def all(input, dim=None, keepdim: bool = False):  # noqa: A001  (PyTorch's name)
    """Whether every element (over ``dim``) is nonzero; a bool tensor."""
    return _reduce("all", input, dim, keepdim)


@numpy_aliases
def count_nonzero(input, dim=None):
    """The number of nonzero elements over ``dim`` (int64)."""
    x = tensor_arg(input, "count_nonzero")
    axes = normalize_dims(dim, x.ndim, "count_nonzero")
    return Tensor(get_array_module(x.array).count_nonzero(x.array, axis=axes).astype("int64"))


def _reflected(op):
    return lambda self, other: op(other, self)


TENSOR_METHODS = {
    "logical_and": logical_and, "logical_or": logical_or, "logical_xor": logical_xor, "logical_not": logical_not,
    "bitwise_and": bitwise_and, "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "bitwise_left_shift": bitwise_left_shift, "bitwise_right_shift": bitwise_right_shift,
    "__and__": bitwise_and, "__or__": bitwise_or, "__xor__": bitwise_xor, "__invert__": bitwise_not,
    "__lshift__": bitwise_left_shift, "__rshift__": bitwise_right_shift,
    "__rand__": _reflected(bitwise_and), "__ror__": _reflected(bitwise_or), "__rxor__": _reflected(bitwise_xor),
    "__rlshift__": _reflected(bitwise_left_shift), "__rrshift__": _reflected(bitwise_right_shift),
    "isnan": isnan, "isinf": isinf, "isposinf": isposinf, "isneginf": isneginf, "isfinite": isfinite,
    "isreal": isreal, "signbit": signbit, "isclose": isclose, "allclose": allclose, "equal": equal,
    "any": any, "all": all, "count_nonzero": count_nonzero,
}
