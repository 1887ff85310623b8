"""Elementwise math: exp, log, sqrt, abs, sign, clamp, maximum, minimum, where.

Every backward is the chain rule for an elementwise map, ``gx = gy * f'(x)``, with PyTorch's value at the
kinks: abs'(0) = 0 (and 0 at NaN); ``clamp`` with Python-number bounds has slope 1 only strictly inside
(min, max), 0 at the bounds and at NaN; ``maximum``/``minimum`` (and ``clamp`` with *tensor* bounds, built
from them) split a tie 0.5/0.5 between the two inputs, and where either is NaN both get the whole gradient.
At the poles the formulas give PyTorch's infinities: log'(0) = 1/0 = inf, log'(-0) = -inf, sqrt'(0) = inf.

Constants in the formulas are Python numbers, so float32 stays float32.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from ..backend import DEFAULT_DTYPE, get_array_module, result_type
from ._args import tensor_arg as _tensor
from .arithmetic import _quiet, _shape, as_operand, check_broadcast, promote, unbroadcast


def _floating(x):
    """Integer/bool arrays become the default float dtype (as torch.exp(int_tensor) gives float32)."""
    return x if x.dtype.kind in "fc" else x.astype(DEFAULT_DTYPE)


class Exp(Function):
    """y = e^x.  dy/dx = e^x = y:  gx = gy * y."""

    def forward(self, x):
        self.y = get_array_module(x).exp(_floating(x))
        return self.y

    def backward(self, gy):
        return gy * self.y


class Log(Function):
    """y = ln x.  dy/dx = 1/x:  gx = gy / x."""

    def forward(self, x):
        self.x = _floating(x)
        with _quiet():
            return get_array_module(x).log(self.x)

    def backward(self, gy):
        with _quiet():
            return gy / self.x


class Sqrt(Function):
    """y = sqrt(x).  dy/dx = 1 / (2 sqrt(x)):  gx = gy / (2 y)."""

    def forward(self, x):
        with _quiet():
            self.y = get_array_module(x).sqrt(_floating(x))
        return self.y

    def backward(self, gy):
        with _quiet():
            return gy / (2 * self.y)


class Abs(Function):
    """y = |x|.  dy/dx = sign(x) (0 at x = 0 and at NaN, like PyTorch):  gx = gy * sign(x)."""

    def forward(self, x):
        xp = get_array_module(x)
        self.sign = xp.sign(x)
        if x.dtype.kind == "f":
            self.sign = xp.nan_to_num(self.sign, nan=0.0)
        return xp.abs(x)

    def backward(self, gy):
        return gy * self.sign


class Sign(Function):
    """y = sign(x) in {-1, 0, 1} (0 for NaN, as PyTorch).  Piecewise constant: dy/dx = 0 everywhere
    (PyTorch also returns zeros)."""

    def forward(self, x):
        xp = get_array_module(x)
        return xp.nan_to_num(xp.sign(x), nan=0.0) if x.dtype.kind == "f" else xp.sign(x)

    def backward(self, gy):
        return get_array_module(gy).zeros_like(gy)


class Clamp(Function):
    """y = min(max(x, lo), hi) with Python-number bounds (either may be None).

    dy/dx = 1 where lo < x < hi, else 0 -- also 0 exactly at a bound, as PyTorch's ``x.clamp(0, 6)``.
    """

    def forward(self, x, *, lo, hi):
        xp = get_array_module(x)
        inside = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x > lo
        if hi is not None:
            inside &= x < hi
        self.inside = inside
        return xp.clip(x, lo, hi)

    def backward(self, gy):
        return gy * self.inside


class _Extremum(Function):
    """Shared backward of maximum/minimum.

    y = max(a, b) elementwise:  dy/da = [a > b] + 0.5 [a = b],  dy/db = [b > a] + 0.5 [a = b]
    (PyTorch's tie rule), each gradient then summed over the axes it was broadcast along.
    """

    pick = None  # "maximum" or "minimum"

    def forward(self, a, b):
        check_broadcast(a, b, self.pick)
        a, b = promote(a, b)
        xp = get_array_module(a, b)
        self.a, self.b = a, b
        return getattr(xp, self.pick)(a, b)

    def backward(self, gy):
        xp = get_array_module(gy)
        a, b = self.a, self.b
        b_wins = (a < b) if self.pick == "maximum" else (a > b)
        a_wins = (a > b) if self.pick == "maximum" else (a < b)
        tie = a == b
        # 1 where the input wins, 0.5 on ties, 0 where the other wins; with a NaN no comparison holds and
        # both get the whole gradient (PyTorch's rule). Float constants keep gy's dtype.
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = unbroadcast(xp.where(b_wins, 0.0, xp.where(tie, gy * 0.5, gy)), _shape(a))
        if self.needs_input_grad[1]:
            gb = unbroadcast(xp.where(a_wins, 0.0, xp.where(tie, gy * 0.5, gy)), _shape(b))
        return ga, gb


class Maximum(_Extremum):
    pick = "maximum"


class Minimum(_Extremum):
    pick = "minimum"


class Where(Function):
    """y = a where cond else b (broadcast).  ga = unbroadcast(gy * [cond]), gb = unbroadcast(gy * [not cond])."""

    def forward(self, a, b, *, cond):
        a, b = promote(a, b)
        xp = get_array_module(a, b, cond)
        self.cond = cond
        self.shapes = _shape(a), _shape(b)
        return xp.where(cond, a, b)

    def backward(self, gy):
        xp = get_array_module(gy)
        sa, sb = self.shapes
        ga = unbroadcast(xp.where(self.cond, gy, 0), sa) if self.needs_input_grad[0] else None
        gb = unbroadcast(xp.where(self.cond, 0, gy), sb) if self.needs_input_grad[1] else None
        return ga, gb


# ---- functional forms -------------------------------------------------------------------------------------
def exp(input):
    return Exp.apply(_tensor(input, "exp"))


def log(input):
    return Log.apply(_tensor(input, "log"))


def sqrt(input):
    return Sqrt.apply(_tensor(input, "sqrt"))


def abs(input):  # noqa: A001  (PyTorch's name)
    return Abs.apply(_tensor(input, "abs"))


def sign(input):
    return Sign.apply(_tensor(input, "sign"))


def maximum(input, other):
    return Maximum.apply(as_operand(input), as_operand(other))


def minimum(input, other):
    return Minimum.apply(as_operand(input), as_operand(other))


def clamp(input, min=None, max=None):
    """Clamp to [min, max]. Number bounds: slope 0 at the bounds; Tensor bounds: maximum/minimum (0.5 ties)."""
    x = _tensor(input, "clamp")
    if min is None and max is None:
        raise ValueError("clamp(): at least one of min and max must be given")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        y = x if min is None else maximum(x, min)
        return y if max is None else minimum(y, max)
    lo = None if min is None else float(min)
    hi = None if max is None else float(max)
    return Clamp.apply(x, lo=lo, hi=hi)


clip = clamp


def clamp_min(input, min):
    return clamp(input, min=min)


def clamp_max(input, max):
    return clamp(input, max=max)


def where(condition, input=None, other=None):
    """``input`` where ``condition`` is true, else ``other``; a bool Tensor/array condition, broadcast.

    ``where(condition)`` alone is ``nonzero(condition, as_tuple=True)``: one index tensor per dim."""
    if input is None and other is None:
        from .indexing import nonzero  # noqa: PLC0415  (indexing builds on this module)
        return nonzero(condition if isinstance(condition, Tensor) else Tensor(np.asarray(condition)),
                       as_tuple=True)
    if input is None or other is None:
        raise TypeError("where(): give both input and other, or neither (where(condition) = nonzero)")
    cond = condition.array if isinstance(condition, Tensor) else condition
    if not hasattr(cond, "dtype"):
        cond = np.asarray(cond)
    if cond.dtype != bool:
        raise TypeError(f"where(): condition must be a bool tensor, got dtype {cond.dtype}")
    a, b = as_operand(input), as_operand(other)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        xp = get_array_module(cond)
        return Tensor(xp.where(cond, a, b).astype(result_type(a, b)))
    check_broadcast(cond, a, "where")
    check_broadcast(cond, b, "where")
    return Where.apply(a, b, cond=cond)


TENSOR_METHODS = {
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "__abs__": abs, "sign": sign,
    "clamp": clamp, "clip": clip, "maximum": maximum, "minimum": minimum,
    "clamp_min": clamp_min, "clamp_max": clamp_max,
    # PyTorch's x.where(condition, y) == where(condition, x, y)
    "where": lambda self, condition, other: where(condition, self, other),
}
