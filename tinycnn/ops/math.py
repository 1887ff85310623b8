"""Smooth elementwise functions: trigonometric, hyperbolic, error function, logs and exponentials in other
bases, reciprocal square root, reciprocal, square, the gamma family.

Each is y = f(x) with the chain rule ``gx = gy * f'(x)``, and each class states f' in its docstring. f' is
evaluated as written, so at the edges it gives what PyTorch's formula gives: 1/0 = inf at a pole
(asin'(1), log2'(0), rsqrt'(0)), NaN outside the domain (acos'(2), acosh'(0.5)), 0 where an exponential
underflows (erf'(inf)). Integer and bool inputs become float32, as in PyTorch. ``get_special_module`` (SciPy
or CuPy's SciPy) supplies erf, erfinv and the gamma family.
"""
from __future__ import annotations

import math

from ..autograd import Function
from ..backend import get_array_module, get_special_module
from ._args import tensor_arg
from .arithmetic import _quiet
from .elementwise import _floating


class _Unary(Function):
    """y = f(x) elementwise; subclasses give ``f(xp, x)`` and ``df(xp, x, y)`` (dy/dx from x and y)."""

    def forward(self, x):
        xp = get_array_module(x)
        self.x = _floating(x)
        with _quiet():
            self.y = self.f(xp, self.x)
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        with _quiet():
            return gy * self.df(xp, self.x, self.y)

    def f(self, xp, x):  # pragma: no cover - abstract
        raise NotImplementedError

    def df(self, xp, x, y):  # pragma: no cover - abstract
        raise NotImplementedError


class Sin(_Unary):
    """y = sin x.  dy/dx = cos x."""
    def f(self, xp, x): return xp.sin(x)
    def df(self, xp, x, y): return xp.cos(x)


class Cos(_Unary):
    """y = cos x.  dy/dx = -sin x."""
    def f(self, xp, x): return xp.cos(x)
    def df(self, xp, x, y): return -xp.sin(x)


class Tan(_Unary):
    """y = tan x.  dy/dx = 1 / cos^2 x = 1 + tan^2 x = 1 + y^2."""
    def f(self, xp, x): return xp.tan(x)
    def df(self, xp, x, y): return 1 + y * y


class Asin(_Unary):
    """y = asin x.  dy/dx = 1 / sqrt(1 - x^2) (inf at |x| = 1, NaN beyond)."""
    def f(self, xp, x): return xp.arcsin(x)
    def df(self, xp, x, y): return 1 / xp.sqrt(1 - x * x)


class Acos(_Unary):
    """y = acos x.  dy/dx = -1 / sqrt(1 - x^2) (-inf at |x| = 1, NaN beyond)."""
    def f(self, xp, x): return xp.arccos(x)
    def df(self, xp, x, y): return -1 / xp.sqrt(1 - x * x)


class Atan(_Unary):
    """y = atan x.  dy/dx = 1 / (1 + x^2) (0 at +-inf)."""
    def f(self, xp, x): return xp.arctan(x)
    def df(self, xp, x, y): return 1 / (1 + x * x)


class Sinh(_Unary):
    """y = sinh x.  dy/dx = cosh x."""
    def f(self, xp, x): return xp.sinh(x)
    def df(self, xp, x, y): return xp.cosh(x)


class Cosh(_Unary):
    """y = cosh x.  dy/dx = sinh x."""
    def f(self, xp, x): return xp.cosh(x)
    def df(self, xp, x, y): return xp.sinh(x)


class Asinh(_Unary):
    """y = asinh x = ln(x + sqrt(x^2 + 1)).  dy/dx = 1 / sqrt(x^2 + 1)."""
    def f(self, xp, x): return xp.arcsinh(x)
    def df(self, xp, x, y): return 1 / xp.sqrt(x * x + 1)


class Acosh(_Unary):
    """y = acosh x = ln(x + sqrt(x^2 - 1)) for x >= 1.  dy/dx = 1 / sqrt(x^2 - 1) (inf at 1, NaN below)."""
    def f(self, xp, x): return xp.arccosh(x)
    def df(self, xp, x, y): return 1 / xp.sqrt(x * x - 1)


class Atanh(_Unary):
    """y = atanh x = ln((1 + x) / (1 - x)) / 2.  dy/dx = 1 / (1 - x^2) (inf at |x| = 1)."""
    def f(self, xp, x): return xp.arctanh(x)
    def df(self, xp, x, y): return 1 / (1 - x * x)


_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


class Erf(_Unary):
    """y = erf x = 2/sqrt(pi) int_0^x e^(-t^2) dt.  dy/dx = 2/sqrt(pi) e^(-x^2)."""
    def f(self, xp, x): return get_special_module(x).erf(x)
    def df(self, xp, x, y): return _TWO_OVER_SQRT_PI * xp.exp(-x * x)


class Erfc(_Unary):
    """y = erfc x = 1 - erf x.  dy/dx = -2/sqrt(pi) e^(-x^2)."""
    def f(self, xp, x): return get_special_module(x).erfc(x)
    def df(self, xp, x, y): return -_TWO_OVER_SQRT_PI * xp.exp(-x * x)


class Erfinv(_Unary):
    """y = erfinv x (erf y = x, for -1 < x < 1).  By the inverse function rule dy/dx = 1 / erf'(y) =
    sqrt(pi)/2 e^(y^2) (inf at x = +-1, where y = +-inf)."""
    def f(self, xp, x): return get_special_module(x).erfinv(x)
    def df(self, xp, x, y): return (1 / _TWO_OVER_SQRT_PI) * xp.exp(y * y)


class Log2(_Unary):
    """y = log2 x = ln x / ln 2.  dy/dx = 1 / (x ln 2)."""
    def f(self, xp, x): return xp.log2(x)
    def df(self, xp, x, y): return 1 / (x * math.log(2))


class Log10(_Unary):
    """y = log10 x = ln x / ln 10.  dy/dx = 1 / (x ln 10)."""
    def f(self, xp, x): return xp.log10(x)
    def df(self, xp, x, y): return 1 / (x * math.log(10))


class Log1p(_Unary):
    """y = ln(1 + x), exact for small x.  dy/dx = 1 / (1 + x)."""
    def f(self, xp, x): return xp.log1p(x)
    def df(self, xp, x, y): return 1 / (x + 1)


class Exp2(_Unary):
    """y = 2^x.  dy/dx = 2^x ln 2 = y ln 2."""
    def f(self, xp, x): return xp.exp2(x)
    def df(self, xp, x, y): return y * math.log(2)


class Expm1(_Unary):
    """y = e^x - 1, exact for small x.  dy/dx = e^x = y + 1."""
    def f(self, xp, x): return xp.expm1(x)
    def df(self, xp, x, y): return y + 1


class Rsqrt(_Unary):
    """y = 1 / sqrt(x) = x^(-1/2).  dy/dx = -1/2 x^(-3/2) = -y^3 / 2 (-inf at 0)."""
    def f(self, xp, x): return 1 / xp.sqrt(x)
    def df(self, xp, x, y): return -0.5 * y * y * y


class Reciprocal(_Unary):
    """y = 1 / x.  dy/dx = -1 / x^2 = -y^2 (-inf at 0)."""
    def f(self, xp, x): return 1 / x
    def df(self, xp, x, y): return -(y * y)


class Square(_Unary):
    """y = x^2.  dy/dx = 2x.  Integers stay integers (x * x), as in PyTorch."""
    def forward(self, x):
        self.x = x
        self.y = x * x
        return self.y
    def df(self, xp, x, y): return 2 * x


class Lgamma(_Unary):
    """y = ln |Gamma(x)|.  dy/dx = digamma(x) = Gamma'(x) / Gamma(x).  lgamma(-inf) = inf, as PyTorch and C's
    lgamma (SciPy's gammaln gives -inf there)."""
    def f(self, xp, x): return xp.where(x == -xp.inf, xp.inf, get_special_module(x).gammaln(x))
    def df(self, xp, x, y): return get_special_module(x).digamma(x)


class Digamma(_Unary):
    """y = digamma(x) = d/dx ln Gamma(x).  dy/dx = trigamma(x) = polygamma(1, x).

    trigamma comes from SciPy: inf at the poles x = 0, -1, -2, ... and at -inf, where PyTorch's series
    gives large finite numbers (trigamma(-1) = 6.6e32); elsewhere the two agree to about 1e-9 relative
    (PyTorch's series is the less precise one)."""
    def f(self, xp, x): return get_special_module(x).digamma(x)
    def df(self, xp, x, y): return get_special_module(x).polygamma(1, x)


class Deg2rad(_Unary):
    """y = x pi / 180.  dy/dx = pi / 180."""
    def f(self, xp, x): return x * (math.pi / 180)
    def df(self, xp, x, y): return xp.full_like(x, math.pi / 180)


class Rad2deg(_Unary):
    """y = x 180 / pi.  dy/dx = 180 / pi."""
    def f(self, xp, x): return x * (180 / math.pi)
    def df(self, xp, x, y): return xp.full_like(x, 180 / math.pi)


def _unary(cls, name):
    def op(input):
        return cls.apply(tensor_arg(input, name))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = cls.__doc__
    return op


sin, cos, tan = _unary(Sin, "sin"), _unary(Cos, "cos"), _unary(Tan, "tan")
asin, acos, atan = _unary(Asin, "asin"), _unary(Acos, "acos"), _unary(Atan, "atan")
sinh, cosh = _unary(Sinh, "sinh"), _unary(Cosh, "cosh")
asinh, acosh, atanh = _unary(Asinh, "asinh"), _unary(Acosh, "acosh"), _unary(Atanh, "atanh")
erf, erfc, erfinv = _unary(Erf, "erf"), _unary(Erfc, "erfc"), _unary(Erfinv, "erfinv")
log2, log10, log1p = _unary(Log2, "log2"), _unary(Log10, "log10"), _unary(Log1p, "log1p")
exp2, expm1 = _unary(Exp2, "exp2"), _unary(Expm1, "expm1")
rsqrt, reciprocal, square = _unary(Rsqrt, "rsqrt"), _unary(Reciprocal, "reciprocal"), _unary(Square, "square")
lgamma, digamma = _unary(Lgamma, "lgamma"), _unary(Digamma, "digamma")
deg2rad, rad2deg = _unary(Deg2rad, "deg2rad"), _unary(Rad2deg, "rad2deg")
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh

TENSOR_METHODS = {f.__name__: f for f in (
    sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, erf, erfc, erfinv, log2, log10, log1p,
    exp2, expm1, rsqrt, reciprocal, square, lgamma, digamma, deg2rad, rad2deg)}
TENSOR_METHODS.update(arcsin=asin, arccos=acos, arctan=atan, arcsinh=asinh, arccosh=acosh, arctanh=atanh)
