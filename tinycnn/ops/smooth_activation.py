"""Smooth activations: GELU (exact and tanh), SELU, CELU, Softplus, Mish, LogSigmoid, Softsign, Tanhshrink.

Each is y = f(x) elementwise, so its backward is gx = gy * f'(x); the docstrings give f' in closed form.
Exponentials are written so that no intermediate overflows for any finite x (log1p(e^-|x|), e^min(x, 0)),
and constants are Python floats, so float32 stays float32. The one corner each has (SELU and CELU at 0)
gets PyTorch's value.
"""
from __future__ import annotations

import math


from ..autograd import Function
from ..backend import get_array_module, get_special_module
from .activation import _check_tensor, _stable_sigmoid

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _erf(x):
    """The error function of an array, from the one home of the special functions (SciPy or CuPy's)."""
    return get_special_module(x).erf(x)


def _softplus(x):
    """log(1 + e^x) without overflow: max(x, 0) + log1p(e^-|x|)."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class GELU(Function):
    r"""y = x Phi(x), Phi the standard normal CDF (Hendrycks & Gimpel, 2016).

    Exact ("none"):  Phi(x) = (1 + erf(x / sqrt 2)) / 2,   dy/dx = Phi(x) + x phi(x),  phi(x) = e^(-x^2/2)/sqrt(2 pi)
    "tanh":          y = x (1 + tanh u) / 2,  u = sqrt(2/pi) (x + 0.044715 x^3),
                     dy/dx = (1 + tanh u) / 2 + x (1 - tanh^2 u) sqrt(2/pi) (1 + 3 * 0.044715 x^2) / 2
    """

    def forward(self, x, *, approximate):
        xp = get_array_module(x)
        self.x, self.approximate = x, approximate
        if approximate == "tanh":
            self.t = xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))
            return 0.5 * x * (1 + self.t)
        self.cdf = 0.5 * (1 + _erf(x / _SQRT_2))
        return x * self.cdf

    def backward(self, gy):
        xp = get_array_module(gy)
        x = self.x
        if self.approximate == "tanh":
            t = self.t
            du = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x)
            return gy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
        return gy * (self.cdf + x * _INV_SQRT_2PI * xp.exp(-0.5 * x * x))


class ScaledELU(Function):
    r"""y = scale * (x if x > 0 else alpha (e^(x / k) - 1)): SELU (scale, alpha fixed, k = 1) and CELU
    (scale = 1, k = alpha).

    dy/dx = scale for x > 0, and scale * (alpha / k) e^(x/k) for x <= 0 (PyTorch's value at 0):
    SELU'(0) = scale * alpha, CELU'(0) = 1.
    """

    def forward(self, x, *, alpha, scale, input_scale):
        xp = get_array_module(x)
        self.mask = x > 0
        self.e = xp.exp(xp.minimum(x, 0) * input_scale)       # e^(x/k) on the negative side, never overflows
        self.params = alpha, scale, input_scale
        return scale * xp.where(self.mask, x, alpha * (self.e - 1))

    def backward(self, gy):
        xp = get_array_module(gy)
        alpha, scale, input_scale = self.params
        return gy * xp.where(self.mask, scale, scale * alpha * input_scale * self.e)


class Softplus(Function):
    r"""y = (1/beta) log(1 + e^(beta x)), and y = x where beta x > threshold (PyTorch's linear tail).

    dy/dx = sigmoid(beta x) (1 where beta x > threshold).
    """

    def forward(self, x, *, beta, threshold):
        xp = get_array_module(x)
        bx = x * beta
        self.linear, self.bx = bx > threshold, bx
        return xp.where(self.linear, x, _softplus(bx) / beta)

    def backward(self, gy):
        xp = get_array_module(gy)
        return gy * xp.where(self.linear, 1.0, _stable_sigmoid(self.bx))


class Mish(Function):
    r"""y = x tanh(softplus(x)) (Misra, 2019).

    With t = tanh(softplus(x)) and d softplus/dx = sigmoid(x):  dy/dx = t + x sigmoid(x) (1 - t^2).
    """

    def forward(self, x):
        self.x = x
        self.t = get_array_module(x).tanh(_softplus(x))
        return x * self.t

    def backward(self, gy):
        t = self.t
        return gy * (t + self.x * _stable_sigmoid(self.x) * (1 - t * t))


class LogSigmoid(Function):
    r"""y = log sigmoid(x) = -softplus(-x) = min(x, 0) - log(1 + e^-|x|).  dy/dx = 1 - sigmoid(x) = sigmoid(-x)."""

    def forward(self, x):
        xp = get_array_module(x)
        self.x = x
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, gy):
        return gy * _stable_sigmoid(-self.x)


class Softsign(Function):
    r"""y = x / (1 + |x|).  dy/dx = ((1 + |x|) - x sign(x)) / (1 + |x|)^2 = 1 / (1 + |x|)^2."""

    def forward(self, x):
        self.d = 1 + get_array_module(x).abs(x)
        return x / self.d

    def backward(self, gy):
        return gy / (self.d * self.d)


class Tanhshrink(Function):
    r"""y = x - tanh x.  dy/dx = 1 - (1 - tanh^2 x) = tanh^2 x."""

    def forward(self, x):
        self.t = get_array_module(x).tanh(x)
        return x - self.t

    def backward(self, gy):
        return gy * self.t * self.t


# ---- functional forms (PyTorch's signatures) -------------------------------------------------------------------
def gelu(input, approximate: str = "none"):
    _check_tensor(input, "gelu")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(input, approximate=approximate)


def selu(input, inplace: bool = False):
    _check_tensor(input, "selu")
    return ScaledELU.apply(input, alpha=SELU_ALPHA, scale=SELU_SCALE, input_scale=1.0)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    _check_tensor(input, "celu")
    if alpha == 0:
        raise ValueError("celu(): ZeroDivisionError: alpha cannot be 0 for CELU")
    return ScaledELU.apply(input, alpha=float(alpha), scale=1.0, input_scale=1.0 / float(alpha))


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    _check_tensor(input, "softplus")
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def mish(input, inplace: bool = False):
    _check_tensor(input, "mish")
    return Mish.apply(input)


def logsigmoid(input):
    _check_tensor(input, "logsigmoid")
    return LogSigmoid.apply(input)


def softsign(input):
    _check_tensor(input, "softsign")
    return Softsign.apply(input)


def tanhshrink(input):
    _check_tensor(input, "tanhshrink")
    return Tanhshrink.apply(input)
