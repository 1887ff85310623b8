"""Rounding, remainders and the two-argument elementwise functions: floor, ceil, trunc, round (with
decimals), frac, fmod, remainder (``%``), atan2, lerp, copysign, logaddexp, logaddexp2, hypot, nan_to_num,
addcmul, addcdiv.

The rounding functions are piecewise constant: their gradient is 0 everywhere (PyTorch's choice at the
jumps as well). ``fmod`` and ``remainder`` are a - q b with q = trunc(a/b) or floor(a/b) held fixed, so
d/da = 1 and d/db = -q. Two-argument ops broadcast and sum each gradient back over its broadcast axes.
Forward formulas follow PyTorch's where NumPy's differ at the edges (remainder and floor division by
way of fmod, lerp's two branches), so the results match bit for bit.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._args import tensor_arg
from .arithmetic import (_floor_div, _quiet, _shape, add, as_operand, check_broadcast, div, mul, promote,
                         to_floating, unbroadcast)


class _Piecewise(Function):
    """y = r(x) for a rounding r; dy/dx = 0 (PyTorch returns zeros, also at the jumps)."""

    def forward(self, x, **params):
        self.shape = x.shape
        if x.dtype.kind in "biu":
            return x.copy()  # integers are already whole
        return self.f(get_array_module(x), x, **params)

    def backward(self, gy):
        return get_array_module(gy).zeros(self.shape, dtype=gy.dtype)


class Floor(_Piecewise):
    """y = floor x (the largest integer <= x).  dy/dx = 0."""
    def f(self, xp, x): return xp.floor(x)


class Ceil(_Piecewise):
    """y = ceil x (the smallest integer >= x).  dy/dx = 0."""
    def f(self, xp, x): return xp.ceil(x)


class Trunc(_Piecewise):
    """y = trunc x (towards 0).  dy/dx = 0."""
    def f(self, xp, x): return xp.trunc(x)


class Round(_Piecewise):
    """y = x rounded to ``decimals`` places, halves to even (as PyTorch: nearbyint(x * 10^d) / 10^d, or
    nearbyint(x / 10^-d) * 10^-d for negative d).  dy/dx = 0."""
    def f(self, xp, x, decimals=0):
        if decimals == 0:
            return xp.rint(x)
        scale = 10.0 ** abs(decimals)
        with _quiet():
            return xp.rint(x * scale) / scale if decimals > 0 else xp.rint(x / scale) * scale


class Frac(Function):
    """y = x - trunc(x) (the fractional part, with x's sign).  dy/dx = 1 (trunc is locally constant)."""

    def forward(self, x):
        return x - get_array_module(x).trunc(x)

    def backward(self, gy):
        return gy


class _Remainder(Function):
    """y = a - q b with q = trunc(a / b) (fmod: y has a's sign) or floor(a / b) (remainder: b's sign).

    q is piecewise constant, so dy/da = 1 and dy/db = -q:  ga = unbroadcast(gy), gb = unbroadcast(-gy q)."""

    floor = False

    def forward(self, a, b):
        check_broadcast(a, b, type(self).__name__.lower())
        a, b = promote(a, b)
        xp = get_array_module(a, b)
        self.a, self.b = a, b
        self.shapes = _shape(a), _shape(b)
        integral = not any(hasattr(v, "dtype") and v.dtype.kind == "f" for v in (a, b)) and not any(
            isinstance(v, float) for v in (a, b))
        if integral and xp.any(xp.asarray(b) == 0):
            raise ZeroDivisionError(f"{type(self).__name__.lower()}(): integer division by zero")
        with _quiet():
            mod = xp.fmod(a, b)
            if self.floor:
                mod = xp.where((mod != 0) & ((xp.asarray(b) < 0) != (mod < 0)), mod + b, mod)
        return mod

    def backward(self, gy):
        xp = get_array_module(gy)
        sa, sb = self.shapes
        ga = unbroadcast(gy, sa) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            with _quiet():
                q = _floor_div(xp, self.a, self.b) if self.floor else xp.trunc(self.a / self.b)
            gb = unbroadcast(-gy * q, sb)
        return ga, gb


class Fmod(_Remainder):
    __doc__ = _Remainder.__doc__


class Remainder(_Remainder):
    __doc__ = _Remainder.__doc__
    floor = True


class Atan2(Function):
    """y = atan2(a, b), the angle of the point (b, a).  With r^2 = a^2 + b^2:
    dy/da = b / r^2,  dy/db = -a / r^2;  0 where r^2 = 0 (the origin, or squares that underflow), as PyTorch
    (the formula would give 0/0)."""

    def forward(self, a, b):
        check_broadcast(a, b, "atan2")
        a, b = to_floating(a, b)
        self.a, self.b = a, b
        return get_array_module(a, b).arctan2(a, b)

    def backward(self, gy):
        a, b = self.a, self.b
        xp = get_array_module(gy)
        with _quiet():
            r2 = a * a + b * b
            inv = xp.where(r2 == 0, 0, 1 / xp.where(r2 == 0, 1, r2))  # 0 at the origin, as PyTorch
            ga = unbroadcast(gy * b * inv, _shape(a)) if self.needs_input_grad[0] else None
            gb = unbroadcast(gy * -a * inv, _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Lerp(Function):
    """y = start + w (end - start), computed as PyTorch does: start + w (end - start) for |w| < 0.5,
    end - (end - start)(1 - w) otherwise.  dy/dstart = 1 - w, dy/dend = w, dy/dw = end - start."""

    def forward(self, start, end, weight):
        xp = get_array_module(start, end, weight)
        start, end, weight = promote(start, end, weight)
        self.start, self.end, self.weight = start, end, weight
        self.shapes = _shape(start), _shape(end), _shape(weight)
        diff = end - start
        return xp.where(xp.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))

    def backward(self, gy):
        (s0, s1, s2), w = self.shapes, self.weight
        need = self.needs_input_grad
        g_start = unbroadcast(gy * (1 - w), s0) if need[0] else None
        g_end = unbroadcast(gy * w, s1) if need[1] else None
        g_w = unbroadcast(gy * (self.end - self.start), s2) if len(need) > 2 and need[2] else None
        return g_start, g_end, g_w


class Copysign(Function):
    """y = |a| with the sign (bit) of b.  dy/da = y / a = +-1 (0 where a = 0, as PyTorch); dy/db = 0."""

    def forward(self, a, b):
        check_broadcast(a, b, "copysign")
        a, b = to_floating(a, b)
        xp = get_array_module(a, b)
        self.a, self.shapes = a, (_shape(a), _shape(b))
        self.y = xp.copysign(a, b)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        ga = gb = None
        if self.needs_input_grad[0]:
            with _quiet():
                ratio = xp.where(self.a == 0, 0, self.y / xp.where(self.a == 0, 1, self.a))
            ga = unbroadcast(gy * ratio, self.shapes[0])
        if self.needs_input_grad[1]:
            gb = xp.zeros(self.shapes[1], dtype=gy.dtype)
        return ga, gb


class LogAddExp(Function):
    """y = log_B(B^a + B^b) for base B = e (logaddexp) or 2 (logaddexp2).
    dy/da = B^a / (B^a + B^b) = 1 / (1 + B^(b - a)),  dy/db = 1 / (1 + B^(a - b))."""

    def forward(self, a, b, *, base2):
        check_broadcast(a, b, "logaddexp")
        a, b = to_floating(a, b)
        xp = get_array_module(a, b)
        self.a, self.b, self.base2 = a, b, base2
        with _quiet():
            return (xp.logaddexp2 if base2 else xp.logaddexp)(a, b)

    def backward(self, gy):
        xp = get_array_module(gy)
        power = xp.exp2 if self.base2 else xp.exp
        a, b = self.a, self.b
        with _quiet():
            ga = unbroadcast(gy / (1 + power(b - a)), _shape(a)) if self.needs_input_grad[0] else None
            gb = unbroadcast(gy / (1 + power(a - b)), _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Hypot(Function):
    """y = sqrt(a^2 + b^2).  dy/da = a / y, dy/db = b / y (NaN at the origin, as PyTorch)."""

    def forward(self, a, b):
        check_broadcast(a, b, "hypot")
        a, b = to_floating(a, b)
        self.a, self.b = a, b
        self.y = get_array_module(a, b).hypot(a, b)
        return self.y

    def backward(self, gy):
        with _quiet():
            ga = unbroadcast(gy * self.a / self.y, _shape(self.a)) if self.needs_input_grad[0] else None
            gb = unbroadcast(gy * self.b / self.y, _shape(self.b)) if self.needs_input_grad[1] else None
        return ga, gb


class NanToNum(Function):
    """y = x with NaN, +inf and -inf replaced by numbers.  dy/dx = 1 where x is finite, 0 where it was
    replaced (the replacement is a constant)."""

    def forward(self, x, *, nan, posinf, neginf):
        xp = get_array_module(x)
        self.finite = xp.isfinite(x)
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, gy):
        return gy * self.finite


# ---- functional forms -------------------------------------------------------------------------------------
def _rounding(cls, name):
    def op(input):
        return cls.apply(tensor_arg(input, name))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = cls.__doc__
    return op


floor, ceil, trunc = _rounding(Floor, "floor"), _rounding(Ceil, "ceil"), _rounding(Trunc, "trunc")
fix = trunc


def round(input, *, decimals: int = 0):  # noqa: A001  (PyTorch's name)
    """Round half to even, to ``decimals`` places (negative: to tens, hundreds...)."""
    if not isinstance(decimals, numbers.Integral):
        raise TypeError(f"round(): decimals must be an int, got {decimals!r}")
    return Round.apply(tensor_arg(input, "round"), decimals=int(decimals))


def frac(input):
    x = tensor_arg(input, "frac")
    if x.dtype.kind != "f":
        raise TypeError(f"frac(): expected a floating-point tensor, got dtype {x.dtype}")
    return Frac.apply(x)


def fmod(input, other):
    """input - trunc(input / other) * other: the C remainder, with the dividend's sign."""
    return Fmod.apply(as_operand(input), as_operand(other))


def remainder(input, other):
    """input - floor(input / other) * other (``%``): Python's remainder, with the divisor's sign."""
    return Remainder.apply(as_operand(input), as_operand(other))


def atan2(input, other):
    """The angle of (other, input) in (-pi, pi]: atan2(y, x)."""
    return Atan2.apply(as_operand(input), as_operand(other))


arctan2 = atan2


def lerp(input, end, weight):
    """input + weight * (end - input); weight a number or a tensor (broadcast)."""
    return Lerp.apply(as_operand(input), as_operand(end), as_operand(weight))


def copysign(input, other):
    return Copysign.apply(as_operand(input), as_operand(other))


def logaddexp(input, other):
    """log(exp(input) + exp(other)) without overflow."""
    return LogAddExp.apply(as_operand(input), as_operand(other), base2=False)


def logaddexp2(input, other):
    """log2(2^input + 2^other) without overflow."""
    return LogAddExp.apply(as_operand(input), as_operand(other), base2=True)


def hypot(input, other):
    return Hypot.apply(as_operand(input), as_operand(other))


def nan_to_num(input, nan: float = 0.0, posinf: float | None = None, neginf: float | None = None):
    """NaN -> ``nan``, +inf -> ``posinf`` (default: the dtype's largest value), -inf -> ``neginf``
    (default: the most negative value)."""
    x = tensor_arg(input, "nan_to_num")
    if x.dtype.kind != "f":
        return x * 1
    info = np.finfo(x.dtype)
    return NanToNum.apply(x, nan=float(nan), posinf=float(info.max if posinf is None else posinf),
                          neginf=float(info.min if neginf is None else neginf))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2 (composed: the gradients follow from mul and add)."""
    return add(input, mul(mul(tensor1, tensor2), value) if value != 1 else mul(tensor1, tensor2))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2 (composed)."""
    return add(input, mul(div(tensor1, tensor2), value) if value != 1 else div(tensor1, tensor2))


def float_power(input, exponent):
    """input ** exponent in float64 (as ``torch.float_power``)."""
    from .arithmetic import pow as _pow  # noqa: PLC0415  (the shadowed builtin stays out of this module)
    x = as_operand(input)
    e = as_operand(exponent)
    x = x.double() if isinstance(x, Tensor) else float(x)
    e = e.double() if isinstance(e, Tensor) else float(e)
    return _pow(x, e)

TENSOR_METHODS = {
    "floor": floor, "ceil": ceil, "trunc": trunc, "fix": fix, "round": round, "frac": frac,
    "fmod": fmod, "remainder": remainder, "__mod__": remainder, "__rmod__": lambda a, b: remainder(b, a),
    "atan2": atan2, "arctan2": atan2, "lerp": lerp, "copysign": copysign, "logaddexp": logaddexp,
    "logaddexp2": logaddexp2, "hypot": hypot, "nan_to_num": nan_to_num, "addcmul": addcmul, "addcdiv": addcdiv,
    "float_power": float_power,
}
