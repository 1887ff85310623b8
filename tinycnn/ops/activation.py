"""Activation functions, one ``Function`` each, with PyTorch's values and its gradients at the kinks.

Kink convention (what PyTorch 2.14's backward returns exactly at a corner; ``tests/test_ops_math.py`` pins it):
a piecewise-linear function gets the slope of the *open* interval only, so ReLU'(0) = 0, ReLU6'(0) =
ReLU6'(6) = 0, hardtanh'(min) = hardtanh'(max) = 0, hardsigmoid'(+-3) = 0; the exceptions are
leaky_relu'(0) = negative_slope, elu'(0) = alpha, hardswish'(-3) = 0 and hardswish'(3) = 1.

Every formula keeps the input's dtype: constants are Python floats, never float64 arrays.
"""
from __future__ import annotations

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import DimensionError
from ..kernels import fast_path


class ReLU(Function):
    """y = max(x, 0).  dy/dx = 1 where x > 0, else 0 (0 at x = 0, like PyTorch):  gx = gy * [x > 0].

    Large NumPy arrays with the Numba kernels go through ``relu_forward``/``relu_backward`` (the same
    formulas in one pass each; tests check bitwise equality).
    """

    def forward(self, x):
        if self.needs_input_grad:     # empty unless the graph is recorded: inference skips the mask pass
            kern = fast_path(x, "relu", "RELU_MIN_SIZE")
            if kern is not None:
                y, self.mask = kern.relu_forward(x)
                return y
            self.mask = x > 0
        return get_array_module(x).maximum(x, 0)  # maximum, not where: NaN stays NaN as in PyTorch

    def backward(self, gy):
        kern = fast_path(gy, "relu", "RELU_MIN_SIZE")
        return kern.relu_backward(gy, self.mask) if kern is not None else gy * self.mask


class LeakyReLU(Function):
    """y = x if x > 0 else a*x.  dy/dx = 1 where x > 0, a elsewhere (a at x = 0):  gx = gy * (1 or a)."""

    def forward(self, x, *, negative_slope):
        xp = get_array_module(x)
        self.mask = x > 0
        self.slope = negative_slope
        return xp.where(self.mask, x, x * negative_slope)

    def backward(self, gy):
        xp = get_array_module(gy)
        return xp.where(self.mask, gy, gy * self.slope)


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1).

    dy/dx = 1 for x > 0; alpha e^x = y + alpha for x <= 0 (so alpha at x = 0, like PyTorch).
    """

    def forward(self, x, *, alpha):
        xp = get_array_module(x)
        self.mask = x > 0
        self.alpha = alpha
        # expm1 of min(x, 0): no overflow warning from the branch that where() throws away
        self.y = xp.where(self.mask, x, alpha * xp.expm1(xp.minimum(x, 0)))
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        return xp.where(self.mask, gy, gy * (self.y + self.alpha))


class Hardtanh(Function):
    """y = clamp(x, lo, hi).  dy/dx = 1 where lo < x < hi, else 0 (0 at both corners, like PyTorch):
    gx = gy * [lo < x < hi]. A NaN input gives a NaN output (np.clip passes it through) and mask 0.

    ReLU6 is hardtanh with lo = 0, hi = 6. Large NumPy arrays with the Numba kernels go through
    ``hardtanh_forward``/``hardtanh_backward``: the same formulas in one pass each, bit for bit.
    """

    def forward(self, x, *, min_val, max_val):
        kern = fast_path(x, "hardtanh", "HARDTANH_MIN_SIZE")
        if kern is not None:
            y, self.mask = kern.hardtanh_forward(x, min_val, max_val)
            return y
        xp = get_array_module(x)
        self.mask = (x > min_val) & (x < max_val)
        return xp.clip(x, min_val, max_val)

    def backward(self, gy):
        kern = fast_path(gy, "hardtanh", "HARDTANH_MIN_SIZE")
        return kern.hardtanh_backward(gy, self.mask) if kern is not None else gy * self.mask


class Sigmoid(Function):
    """y = 1 / (1 + e^-x).  dy/dx = y (1 - y):  gx = gy * y * (1 - y).

    Computed as e^(-|x|) based halves so that no exp overflows: for x >= 0, 1/(1 + e^-x); for x < 0,
    e^x / (1 + e^x).
    """

    def forward(self, x):
        self.y = _stable_sigmoid(x)
        return self.y

    def backward(self, gy):
        return gy * self.y * (1 - self.y)


def _stable_sigmoid(x):
    xp = get_array_module(x)
    e = xp.exp(-xp.abs(x))            # in (0, 1]: never overflows
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e))


class Tanh(Function):
    """y = tanh x.  dy/dx = 1 - y^2:  gx = gy * (1 - y^2)."""

    def forward(self, x):
        self.y = get_array_module(x).tanh(x)
        return self.y

    def backward(self, gy):
        return gy * (1 - self.y * self.y)


class Hardsigmoid(Function):
    """y = relu6(x + 3) / 6 = clamp(x/6 + 1/2, 0, 1).  dy/dx = 1/6 on -3 < x < 3, 0 elsewhere (also at +-3).

    (PyTorch's float64 kernel multiplies by the float32 constant 1/6 = 0.16666667163; we use the exact 1/6,
    a relative difference of 3e-8.)
    """

    def forward(self, x):
        xp = get_array_module(x)
        self.mask = (x > -3) & (x < 3)
        return xp.clip(x / 6 + 0.5, 0, 1)

    def backward(self, gy):
        return gy * self.mask / 6


class Hardswish(Function):
    """y = x * relu6(x + 3) / 6:  0 for x <= -3, x for x >= 3, x (x + 3) / 6 between.

    dy/dx = 0 for x <= -3, (2x + 3) / 6 = x/3 + 1/2 for -3 < x < 3, 1 for x >= 3
    (PyTorch's values at the corners: 0 at -3, 1 at 3).
    """

    def forward(self, x):
        xp = get_array_module(x)
        self.x = x
        return x * xp.clip(x + 3, 0, 6) / 6

    def backward(self, gy):
        xp = get_array_module(gy)
        x = self.x
        slope = xp.where(x <= -3, 0, xp.where(x >= 3, 1, x / 3 + 0.5)).astype(x.dtype, copy=False)
        return gy * slope


class SiLU(Function):
    """y = x * s, s = sigmoid(x) (also called swish).

    dy/dx = s + x s (1 - s) = s (1 + x (1 - s)):  gx = gy * s * (1 + x (1 - s)).
    """

    def forward(self, x):
        self.x, self.s = x, _stable_sigmoid(x)
        return x * self.s

    def backward(self, gy):
        s = self.s
        return gy * s * (1 + self.x * (1 - s))


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m) along ``dim``, m = max_j x_j (the shift changes nothing
    mathematically and keeps every exponent <= 0, so logits of size 1e3 do not overflow).

    Jacobian dy_i/dx_k = y_i ([i = k] - y_k), so
        gx_k = sum_i gy_i y_i ([i = k] - y_k) = y_k (gy_k - sum_i gy_i y_i).
    """

    def forward(self, x, *, dim):
        xp = get_array_module(x)
        e = xp.exp(x - x.max(axis=dim, keepdims=True))
        self.dim = dim
        self.y = e / e.sum(axis=dim, keepdims=True)
        return self.y

    def backward(self, gy):
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    """y_i = x_i - m - log sum_j e^(x_j - m) along ``dim`` (m = max x: the log-sum-exp trick).

    dy_i/dx_k = [i = k] - softmax_k, so gx_k = gy_k - softmax_k * sum_i gy_i,  softmax = e^y.
    """

    def forward(self, x, *, dim):
        self.y = log_softmax_array(x, dim)
        self.dim = dim
        return self.y

    def backward(self, gy):
        xp = get_array_module(gy)
        return gy - xp.exp(self.y) * gy.sum(axis=self.dim, keepdims=True)


def log_softmax_array(x, dim):
    """log softmax of a raw array (shared with the fused cross-entropy in ``ops.loss``)."""
    xp = get_array_module(x)
    shifted = x - x.max(axis=dim, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=dim, keepdims=True))


# ---- functional forms (PyTorch's signatures; ``inplace`` is accepted and ignored: tinycnn never
# overwrites an array that backward may need) ------------------------------------------------------------
def _check_tensor(x, name):
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): expected a Tensor as input, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{name}(): expected a floating-point tensor, got dtype {x.dtype}")


def relu(input, inplace: bool = False):
    _check_tensor(input, "relu")
    return ReLU.apply(input)


def relu6(input, inplace: bool = False):
    _check_tensor(input, "relu6")
    return Hardtanh.apply(input, min_val=0.0, max_val=6.0)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    _check_tensor(input, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh(): min_val must be <= max_val, got min_val={min_val}, max_val={max_val}")
    return Hardtanh.apply(input, min_val=float(min_val), max_val=float(max_val))


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    _check_tensor(input, "leaky_relu")
    return LeakyReLU.apply(input, negative_slope=float(negative_slope))


def elu(input, alpha: float = 1.0, inplace: bool = False):
    _check_tensor(input, "elu")
    return ELU.apply(input, alpha=float(alpha))


def sigmoid(input):
    _check_tensor(input, "sigmoid")
    return Sigmoid.apply(input)


def tanh(input):
    _check_tensor(input, "tanh")
    return Tanh.apply(input)


def hardsigmoid(input, inplace: bool = False):
    _check_tensor(input, "hardsigmoid")
    return Hardsigmoid.apply(input)


def hardswish(input, inplace: bool = False):
    _check_tensor(input, "hardswish")
    return Hardswish.apply(input)


def silu(input, inplace: bool = False):
    _check_tensor(input, "silu")
    return SiLU.apply(input)


def softmax_dim(ndim: int, dim, name: str) -> int:
    """Normalise ``dim`` for softmax-like ops; ``None`` picks PyTorch's legacy implicit choice
    (0 for 0-, 1- and 3-D inputs, else 1). A 0-d input gives None (reduce over "all" of its one element)."""
    if dim is None:
        dim = 0 if ndim in (0, 1, 3) else 1
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"{name}(): dim must be an int, got {dim!r}")
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise DimensionError(f"{name}(): dim {dim} is out of range for a tensor with {ndim} dimensions "
                         f"(expected in [{-size}, {size - 1}])")
    return dim % size if ndim else None


def _softmax_like(fn, input, dim, dtype, name):
    _check_tensor(input, name)
    x = input if dtype is None else input.to(dtype=dtype)
    return fn.apply(x, dim=softmax_dim(x.ndim, dim, name))


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    return _softmax_like(Softmax, input, dim, dtype, "softmax")


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    return _softmax_like(LogSoftmax, input, dim, dtype, "log_softmax")


def softmin(input, dim=None, _stacklevel: int = 3, dtype=None):
    """softmax(-x): composed, so its gradient is softmax's with the sign flipped."""
    _check_tensor(input, "softmin")
    return softmax(-input, dim, dtype=dtype)


TENSOR_METHODS = {
    "relu": relu, "sigmoid": sigmoid, "tanh": tanh,
    "softmax": lambda x, dim=None, dtype=None: softmax(x, dim, dtype=dtype),
    "log_softmax": lambda x, dim=None, dtype=None: log_softmax(x, dim, dtype=dtype),
}
