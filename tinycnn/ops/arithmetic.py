"""Arithmetic with NumPy broadcasting: + - * / ** neg @, and the comparisons (which carry no gradient).

Broadcasting rule for every backward here: if an input of shape ``s`` was broadcast to the output shape,
its gradient is the output gradient summed over the broadcast axes (``unbroadcast``), because each input
element was used once per position it was copied to.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module


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
            raise ValueError(f"{op}: shapes {tuple(sa)} and {tuple(sb)} cannot be broadcast together "
                             f"(dimension {x} vs {y})")


class Add(Function):
    """y = a + b.  dy/da = 1, dy/db = 1:  ga = unbroadcast(gy), gb = unbroadcast(gy)."""

    def forward(self, a, b):
        check_broadcast(a, b, "add")
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
        self.shapes = _shape(a), _shape(b)
        return a - b

    def backward(self, gy):
        sa, sb = self.shapes
        ga = unbroadcast(gy, sa) if self.needs_input_grad[0] else None
        gb = -unbroadcast(gy, sb) if self.needs_input_grad[1] else None
        return ga, gb


class Mul(Function):
    """y = a * b.  dy/da = b, dy/db = a:  ga = unbroadcast(gy * b), gb = unbroadcast(gy * a)."""

    def forward(self, a, b):
        check_broadcast(a, b, "mul")
        self.a, self.b = a, b
        return a * b

    def backward(self, gy):
        a, b = self.a, self.b
        ga = unbroadcast(gy * b, _shape(a)) if self.needs_input_grad[0] else None
        gb = unbroadcast(gy * a, _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b.  dy/da = 1/b, dy/db = -a/b^2:  ga = gy / b, gb = -gy * a / b^2 (each unbroadcast)."""

    def forward(self, a, b):
        check_broadcast(a, b, "div")
        self.a, self.b = a, b
        return a / b

    def backward(self, gy):
        a, b = self.a, self.b
        ga = unbroadcast(gy / b, _shape(a)) if self.needs_input_grad[0] else None
        gb = unbroadcast(-gy * a / (b * b), _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    """y = -x.  gx = -gy."""

    def forward(self, x):
        return -x

    def backward(self, gy):
        return -gy


class Pow(Function):
    """y = a ** b.  dy/da = b a^(b-1);  dy/db = a^b ln a (only where a > 0; 0 elsewhere, as a**b is
    then only defined for the integer b that was used)."""

    def forward(self, a, b):
        check_broadcast(a, b, "pow")
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, gy):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(gy * b * a ** (b - 1), _shape(a))
        if self.needs_input_grad[1]:
            xp = get_array_module(a, b)
            positive = a > 0
            log_a = xp.log(xp.where(positive, a, 1))
            gb = unbroadcast(gy * xp.where(positive, self.y * log_a, 0), _shape(b))
        return ga, gb


class MatMul(Function):
    """Y = A @ B, with NumPy's matmul broadcasting over leading (batch) axes.

    For 2-D A (n, k) and B (k, m): dL/dA = dL/dY @ B^T (n, m)(m, k) and dL/dB = A^T @ dL/dY (k, n)(n, m).
    1-D operands are promoted (a vector a as (1, k), b as (k, 1)) and the result's axis squeezed back;
    batch axes that were broadcast are summed out.
    """

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: both operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        ka = a.shape[-1]
        kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if ka != kb:
            raise ValueError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} are not aligned "
                             f"({ka} (dim -1 of the first) != {kb} (dim -2 of the second))")
        self.a, self.b = a, b
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


# ---- functional forms -------------------------------------------------------------------------------------
def add(a, b):
    return Add.apply(as_operand(a), as_operand(b))


def sub(a, b):
    return Sub.apply(as_operand(a), as_operand(b))


def mul(a, b):
    return Mul.apply(as_operand(a), as_operand(b))


def div(a, b):
    return Div.apply(as_operand(a), as_operand(b))


def neg(x):
    return Neg.apply(x)


def pow(a, b):  # noqa: A001  (PyTorch's name)
    return Pow.apply(as_operand(a), as_operand(b))


def matmul(a, b):
    return MatMul.apply(as_operand(a), as_operand(b))


def _compare(ufunc_name):
    def compare(a, b):
        xp = get_array_module(a, b)
        a = a.array if isinstance(a, Tensor) else a
        b = b.array if isinstance(b, Tensor) else b
        return Tensor(getattr(xp, ufunc_name)(a, b))
    compare.__name__ = ufunc_name
    compare.__doc__ = f"Elementwise {ufunc_name} (a bool tensor, no gradient)."
    return compare


eq, ne, lt, le, gt, ge = (_compare(n) for n in ("equal", "not_equal", "less", "less_equal", "greater",
                                                 "greater_equal"))

TENSOR_METHODS = {
    "__add__": add, "__radd__": lambda a, b: add(b, a), "add": add,
    "__sub__": sub, "__rsub__": lambda a, b: sub(b, a), "sub": sub,
    "__mul__": mul, "__rmul__": lambda a, b: mul(b, a), "mul": mul,
    "__truediv__": div, "__rtruediv__": lambda a, b: div(b, a), "div": div,
    "__neg__": neg, "neg": neg,
    "__pow__": pow, "__rpow__": lambda a, b: pow(b, a), "pow": pow,
    "__matmul__": matmul, "__rmatmul__": lambda a, b: matmul(b, a), "matmul": matmul,
    "__eq__": eq, "__ne__": ne, "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
}
