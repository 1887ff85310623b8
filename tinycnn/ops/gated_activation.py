"""Activations with a second operand: PReLU (a learnable negative slope) and GLU (one half gates the other)."""
from __future__ import annotations

import numbers

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._sizes import shape_str
from .activation import _check_tensor, _stable_sigmoid
from .arithmetic import unbroadcast


class PReLUFunction(Function):
    r"""y = x for x > 0, a_c x otherwise, with one learnable slope a_c per channel (axis 1), or one for all.

    dy/dx = 1 for x > 0, a_c elsewhere (a_c at 0, as PyTorch);  dy/da_c = x where x <= 0, else 0, so
        gx = gy * (1 or a_c),   ga_c = sum over every axis but the channel of gy * min(x, 0)
    """

    def forward(self, x, a, *, shape):
        xp = get_array_module(x)
        self.x, self.a, self.shape = x, a, shape
        self.mask = x > 0
        return xp.where(self.mask, x, x * a.reshape(shape))

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = ga = None
        if self.needs_input_grad[0]:
            gx = xp.where(self.mask, gy, gy * self.a.reshape(self.shape))
        if self.needs_input_grad[1]:
            ga = unbroadcast(xp.where(self.mask, 0, gy * self.x), self.shape).reshape(self.a.shape)
        return gx, ga


class GLUFunction(Function):
    r"""y = a * sigmoid(b), where a and b are the two halves of x along ``dim`` (Dauphin et al., 2017).

    With s = sigmoid(b):  dy/da = s,  dy/db = a s (1 - s), so gx = [gy * s, gy * a * s * (1 - s)] (the two
    halves put back side by side along ``dim``).
    """

    def forward(self, x, *, dim):
        xp = get_array_module(x)
        half = x.shape[dim] // 2
        self.a, b = xp.split(x, [half], axis=dim)
        self.s, self.dim = _stable_sigmoid(b), dim
        return self.a * self.s

    def backward(self, gy):
        xp = get_array_module(gy)
        s = self.s
        return xp.concatenate([gy * s, gy * self.a * s * (1 - s)], axis=self.dim)


def prelu(input, weight):
    """PyTorch's ``F.prelu``: ``weight`` has one slope (shared) or one per channel of axis 1."""
    _check_tensor(input, "prelu")
    if not isinstance(weight, Tensor):
        raise TypeError(f"prelu(): expected weight to be a Tensor, got {type(weight).__name__}")
    k = weight.numel()
    if weight.ndim > 1:
        raise ValueError(f"prelu(): weight must be 0-D or 1-D, got shape {shape_str(weight.shape)}")
    if k == 1:
        shape = (1,) * input.ndim
    else:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if k != channels:
            raise ValueError(f"prelu(): mismatch of parameter numbers and input channel size: found {k} "
                             f"parameters but input of shape {shape_str(input.shape)} has {channels} channels "
                             f"(axis 1)")
        shape = (1, k) + (1,) * (input.ndim - 2)
    if weight.dtype != input.dtype:
        raise TypeError(f"prelu(): input dtype {input.dtype} differs from the weight's {weight.dtype}")
    return PReLUFunction.apply(input, weight, shape=shape)


def glu(input, dim: int = -1):
    """PyTorch's ``F.glu``: the first half of ``dim`` times the sigmoid of the second half."""
    _check_tensor(input, "glu")
    if input.ndim == 0:
        raise ValueError("glu(): glu does not support scalars because halving size must be even")
    if not isinstance(dim, numbers.Integral) or not -input.ndim <= dim < input.ndim:
        raise ValueError(f"glu(): dim {dim!r} is out of range for an input of shape {shape_str(input.shape)}")
    d = int(dim) % input.ndim
    if input.shape[d] % 2:
        raise ValueError(f"glu(): halving dimension must be even, but dimension {d} is size {input.shape[d]}")
    return GLUFunction.apply(input, dim=d)
