"""Arithmetic with NumPy broadcasting: + - * / ** neg @, and the comparisons (which carry no gradient).

Broadcasting rule for every backward here: if an input of shape ``s`` was broadcast to the output shape,
its gradient is the output gradient summed over the broadcast axes (``unbroadcast``), because each input
element was used once per position it was copied to.

Result dtypes follow PyTorch's type promotion (``promote``, from ``backend.result_type``): an int tensor
times 2.5 is float32 and int / int is float32, where NumPy would give float64.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import ShapeError


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: over leading axes that broadcasting added and over axes of size 1."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape)


def _shape(x):
    return x.shape if hasattr(x, "shape") else ()


def as_operand(other):
    """Python numbers stay Python scalars (so float32 stays float32); NumPy scalars become Python scalars."""
    if isinstance(other, Tensor):
        return other
    if isinstance(other, numbers.Number) or isinstance(other, np.generic):
        return other.item() if isinstance(other, np.generic) else other
    if hasattr(other, "shape") and hasattr(other, "dtype"):
        return Tensor(other)
    if isinstance(other, (list, tuple)):
        return Tensor(other)
    raise TypeError(f"unsupported operand type for a tensor op: {type(other).__name__}")


def check_broadcast(a, b, op: str):
    sa, sb = _shape(a), _shape(b)
    if sa == sb:
        return
    for x, y in zip(reversed(sa), reversed(sb)):
        if x != y and x != 1 and y != 1:
            raise ShapeError(f"{op}: shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast together "
                             f"(dimension {x} vs {y})")


_KIND_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}
_SCALAR_CATEGORY = {bool: 0, int: 1, float: 2}


def promote(*operands):
    """The operands with every array cast to PyTorch's result dtype of the op (Python numbers stay numbers:
    NumPy then keeps the array's dtype, as PyTorch does)."""
    dtype, top = None, -1
    for x in operands:  # the common case first: one dtype, and numbers of no higher category
        if hasattr(x, "dtype"):
            if dtype is None:
                dtype = x.dtype
            elif x.dtype != dtype:
                break
        else:
            top = max(top, _SCALAR_CATEGORY.get(type(x), 9))
    else:
        if dtype is not None and top <= _KIND_CATEGORY[dtype.kind]:
            return operands
    dtype = backend.result_type(*operands)
    return tuple(x.astype(dtype) if hasattr(x, "dtype") and x.dtype != dtype else x for x in operands)


def to_floating(*operands):
    """``promote``, then integer/bool arrays become the default float dtype (true division, sqrt...)."""
    operands = promote(*operands)
    dtype = backend.result_type(*operands)
    if dtype.kind in "fc":
        return operands
    return tuple(x.astype(backend.DEFAULT_DTYPE) if hasattr(x, "dtype") else float(x) for x in operands)


class Add(Function):
    """y = a + b.  dy/da = 1, dy/db = 1:  ga = unbroadcast(gy), gb = unbroadcast(gy)."""

    def forward(self, a, b):
        check_broadcast(a, b, "add")
        a, b = promote(a, b)
        self.shapes = _shape(a), _shape(b)
        return a + b

    def backward(self, gy):
        sa, sb = self.shapes
        ga = unbroadcast(gy, sa) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy, sb) if self.needs_input_grad[1] else None
        return ga, gb


class Sub(Function):
    """y = a - b.  ga = unbroadcast(gy), gb = -unbroadcast(gy)."""

    def forward(self, a, b):
        check_broadcast(a, b, "sub")
        a, b = promote(a, b)
        self.shapes = _shape(a), _shape(b)
        return a - b

    def backward(self, gy):
        sa, sb = self.shapes
        ga = unbroadcast(gy, sa) if self.needs_input_grad[0] else None
        gb = -unbroadcast(gy, sb) if self.needs_input_grad[1] else None
        return ga, gb


def _needs(fn, count=2):
    """``fn.needs_input_grad``, or all False when the graph is not recorded."""
    return fn.needs_input_grad or (False,) * count


class Mul(Function):
    """y = a * b.  dy/da = b, dy/db = a:  ga = unbroadcast(gy * b), gb = unbroadcast(gy * a).

    Each input is kept only if the *other* one's gradient needs it (as PyTorch saves them), so changing an
    input in place afterwards is an error only when its value is really needed."""

    def forward(self, a, b):
        check_broadcast(a, b, "mul")
        a, b = promote(a, b)
        need_a, need_b = _needs(self)
        self.shapes = _shape(a), _shape(b)
        self.a = a if need_b else None
        self.b = b if need_a else None
        return a * b

    def backward(self, gy):
        sa, sb = self.shapes
        ga = unbroadcast(gy * self.b, sa) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * self.a, sb) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b.  dy/da = 1/b, dy/db = -a/b^2:  ga = gy / b, gb = -gy * a / b^2 (each unbroadcast).
    a is kept only for gb."""

    def forward(self, a, b):
        check_broadcast(a, b, "div")
        a, b = to_floating(a, b)
        self.shapes = _shape(a), _shape(b)
        self.a = a if _needs(self)[1] else None
        self.b = b
        return a / b

    def backward(self, gy):
        a, b = self.a, self.b
        sa, sb = self.shapes
        ga = unbroadcast(gy / b, sa) if self.needs_input_grad[0] else None
        gb = unbroadcast(-gy * a / (b * b), sb) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = -x.  gx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a ** b.  dy/da = b a^(b-1);  dy/db = a^b ln a.

    Edge values, as PyTorch: dy/da = 0 wherever b = 0 (a^0 = 1 is constant in a, even at a = 0 where
    b a^(b-1) would be 0 * inf); dy/db = 0 where a = 0 and b >= 0 (0^b is 0 or 1 there); a negative base
    gives dy/db = a^b ln a = NaN (ln of a negative number), and 0^b for b < 0 gives dy/da = -inf / inf.
    """

    def forward(self, a, b):
        check_broadcast(a, b, "pow")
        a, b = promote(a, b)
        self.a, self.b = a, b
        with _quiet():
            self.y = _power(get_array_module(a, b), a, b)
        return self.y

    def backward(self, gy):
        a, b = self.a, self.b
        xp = get_array_module(a, b, gy)
        ga = gb = None
        with _quiet():
            if self.needs_input_grad[0]:
                ga = unbroadcast(xp.where(b == 0, 0, gy * (b * _power(xp, a, b - 1))), _shape(a))
            if self.needs_input_grad[1]:
                log_a = xp.log(a) if hasattr(a, "dtype") else xp.log(xp.asarray(a, dtype=gy.dtype))
                gb = unbroadcast(xp.where((a == 0) & (b >= 0), 0, gy * (self.y * log_a)), _shape(b))
        return ga, gb


def _power(xp, a, b):
    """a ** b as PyTorch computes it: a number exponent of 0.5, -0.5, 2, 3, -1 or -2 on a float tensor is
    sqrt, 1/sqrt, a*a, a*a*a, 1/a, 1/(a*a) (so (-0) ** -0.5 = -inf and (-inf) ** 0.5 = NaN, as there); an
    integer base to a negative integer power is 1, +-1 or 0 (NumPy refuses it)."""
    if not hasattr(b, "dtype") and hasattr(a, "dtype") and a.dtype.kind == "f":
        special = {0.5: lambda: xp.sqrt(a), -0.5: lambda: 1 / xp.sqrt(a), 2: lambda: a * a,
                   3: lambda: a * a * a, -1: lambda: 1 / a, -2: lambda: 1 / (a * a)}
        if b in special:
            return special[b]()
    if backend.result_type(a, b).kind in "iu" and bool(xp.any(xp.asarray(b) < 0)):
        a_arr = xp.asarray(a)
        b_arr = xp.asarray(b)
        whole = a_arr ** xp.where(b_arr < 0, 0, b_arr)
        negative = xp.where(a_arr == 1, 1, xp.where(a_arr == -1, 1 - 2 * (b_arr % 2), 0))
        return xp.where(b_arr < 0, negative, whole).astype(backend.result_type(a, b))
    return a ** b


def _quiet():
    """NumPy's warnings off for the edge values whose inf/NaN results are the intended ones (CuPy does not
    warn)."""
    return np.errstate(divide="ignore", invalid="ignore", over="ignore")


class MatMul(Function):
    """Y = A @ B, with NumPy's matmul broadcasting over leading (batch) axes.

    For 2-D A (n, k) and B (k, m): dL/dA = dL/dY @ B^T (n, m)(m, k) and dL/dB = A^T @ dL/dY (k, n)(n, m).
    1-D operands are promoted (a vector a as (1, k), b as (k, 1)) and the result's axis squeezed back;
    batch axes that were broadcast are summed out.
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul: both operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ShapeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                             f"({ka} (dim -1 of the first) != {kb} (dim -2 of the second))")
        self.a, self.b = a, b  # both: their shapes drive the backward even where one value is unused
        return a @ b

    def backward(self, gy):
        a, b = self.a, self.b
        xp = get_array_module(gy)
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = gy
        if b.ndim == 1:  # restore the column axis first: for vector @ vector gy is 0-d
            g2 = xp.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = xp.expand_dims(g2, -2)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g2 @ xp.swapaxes(b2, -1, -2)
            ga = unbroadcast(ga, a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = xp.swapaxes(a2, -1, -2) @ g2
            gb = unbroadcast(gb, b2.shape).reshape(b.shape)
        return ga, gb


class RoundedDiv(Function):
    """y = trunc(a / b) or floor(a / b) (``div(..., rounding_mode=)``, ``//``).  Piecewise constant:
    PyTorch returns zero gradients for both inputs, and so does this. Integer inputs give an integer
    result (integer division by zero is an error, as in PyTorch)."""

    def forward(self, a, b, *, mode):
        check_broadcast(a, b, "div")
        a, b = promote(a, b)
        xp = get_array_module(a, b)
        self.shapes = _shape(a), _shape(b)
        dtype = backend.result_type(a, b)
        if dtype.kind in "iub":
            if xp.any(xp.asarray(b) == 0):
                raise ZeroDivisionError(f"div(rounding_mode={mode!r}): integer division by zero")
            q = xp.floor_divide(a, b)
            if mode == "trunc":  # floor rounds negative quotients down; trunc rounds them towards 0
                q = q + ((q < 0) & (q * b != a))
            return q.astype(dtype, copy=False) if hasattr(q, "astype") else q
        if mode == "floor":
            return _floor_div(xp, a, b)
        with _quiet():
            return xp.trunc(xp.true_divide(a, b))

    def backward(self, gy):
        xp = get_array_module(gy)
        sa, sb = self.shapes
        return (xp.zeros(sa, gy.dtype) if self.needs_input_grad[0] else None,
                xp.zeros(sb, gy.dtype) if self.needs_input_grad[1] else None)


def _floor_div(xp, a, b):
    """PyTorch's floor division of floats (by way of fmod, so inf // 2 is NaN as in PyTorch)."""
    with _quiet():
        mod = xp.fmod(a, b)
        q = (a - mod) / b
        q = xp.where((mod != 0) & ((b < 0) != (mod < 0)), q - 1, q)
        fq = xp.floor(q)
        fq = xp.where(q - fq > 0.5, fq + 1, fq)
        out = xp.where(q != 0, fq, xp.copysign(xp.zeros_like(q), a / b))
        return xp.where(b == 0, a / b, out)



# ---- functional forms -------------------------------------------------------------------------------------
def _scaled(b, alpha, op):
    if alpha == 1:
        return b
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Number):
        raise TypeError(f"{op}(): alpha must be a number, got {alpha!r}")
    return mul(b, alpha)


def add(input, other, *, alpha=1):
    """input + alpha * other (broadcast)."""
    return Add.apply(as_operand(input), as_operand(_scaled(as_operand(other), alpha, "add")))


def sub(input, other, *, alpha=1):
    """input - alpha * other (broadcast)."""
    return Sub.apply(as_operand(input), as_operand(_scaled(as_operand(other), alpha, "sub")))


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    return sub(other, input, alpha=alpha)


def mul(input, other):
    return Mul.apply(as_operand(input), as_operand(other))


def div(input, other, *, rounding_mode=None):
    """input / other; ``rounding_mode`` None (true division, float result), 'trunc' or 'floor'."""
    if rounding_mode is None:
        return Div.apply(as_operand(input), as_operand(other))
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div(): rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    return RoundedDiv.apply(as_operand(input), as_operand(other), mode=rounding_mode)


def floor_divide(input, other):
    """floor(input / other) (``//``), as PyTorch's (which rounds toward -inf since 1.13)."""
    return div(input, other, rounding_mode="floor")


def neg(x):
    return Neg.apply(x)


def pow(a, b):  # noqa: A001  (PyTorch's name)
    return Pow.apply(as_operand(a), as_operand(b))


def matmul(a, b):
    return MatMul.apply(as_operand(a), as_operand(b))


def _compare(ufunc_name):
    def compare(a, b):
        xp = get_array_module(a, b)
        a = as_operand(a)
        b = as_operand(b)
        a = a.array if isinstance(a, Tensor) else a
        b = b.array if isinstance(b, Tensor) else b
        check_broadcast(a, b, ufunc_name)
        return Tensor(getattr(xp, ufunc_name)(a, b))
    compare.__name__ = ufunc_name
    compare.__doc__ = f"Elementwise {ufunc_name} (a bool tensor, no gradient)."
    return compare


eq, ne, lt, le, gt, ge = (_compare(n) for n in ("equal", "not_equal", "less", "less_equal", "greater",
                                                 "greater_equal"))

multiply, subtract, divide, true_divide = mul, sub, div, div
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne

TENSOR_METHODS = {
    "__add__": add, "__radd__": lambda a, b: add(b, a), "add": add,
    "__sub__": sub, "__rsub__": lambda a, b: sub(b, a), "sub": sub,
    "__mul__": mul, "__rmul__": lambda a, b: mul(b, a), "mul": mul,
    "__truediv__": div, "__rtruediv__": lambda a, b: div(b, a), "div": div,
    "__floordiv__": floor_divide, "__rfloordiv__": lambda a, b: floor_divide(b, a), "floor_divide": floor_divide,
    "multiply": mul, "subtract": sub, "divide": div, "true_divide": div,
    "__neg__": neg, "neg": neg,
    "__pow__": pow, "__rpow__": lambda a, b: pow(b, a), "pow": pow,
    "__matmul__": matmul, "__rmatmul__": lambda a, b: matmul(b, a), "matmul": matmul,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le, "not_equal": ne,
}
