"""Parameter initialisation, with PyTorch's names, signatures and fan computation.

Every function fills ``tensor.array`` in place (keeping its dtype and device) and returns the tensor. The
random ones draw from tinycnn's global generator (``tinycnn.manual_seed``), or from ``generator`` (a NumPy
``Generator``) when one is given.

Fans: a weight of shape (out, in, *kernel) has fan_in = in * prod(kernel) and fan_out = out * prod(kernel)
(a Linear weight (out, in) has no kernel axes). The variance-preserving schemes:

    Xavier/Glorot:   Var(w) = gain^2 * 2 / (fan_in + fan_out)
    Kaiming/He:      Var(w) = gain^2 / fan          (fan = fan_in or fan_out, chosen by ``mode``)

A uniform U(-b, b) has variance b^2 / 3, hence the bound b = sqrt(3) * std.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from .. import backend
from ..autograd import Tensor

_LINEAR_LIKE = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                "conv_transpose3d", "sigmoid", "identity")


def calculate_gain(nonlinearity: str, param=None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table): 1 for linear/conv/sigmoid, 5/3 for tanh,
    sqrt(2) for relu, sqrt(2 / (1 + slope^2)) for leaky_relu (slope ``param``, default 0.01), 3/4 for selu."""
    if nonlinearity in _LINEAR_LIKE:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, numbers.Number) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r} (expected one of "
                     f"{_LINEAR_LIKE + ('tanh', 'relu', 'leaky_relu', 'selu')})")


def _check(tensor, name):
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{name}: expected a Tensor or Parameter, got {type(tensor).__name__}")


def _calculate_fan_in_and_fan_out(tensor):
    """(fan_in, fan_out) of a weight (out, in, *kernel); needs at least 2 dimensions."""
    if tensor.ndim < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
                         f"(got shape {tuple(tensor.shape)})")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _calculate_correct_fan(tensor, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor, values):
    """Write NumPy ``values`` into the tensor's data in place, in its dtype and on its device."""
    xp = backend.get_array_module(tensor.array)
    values = np.asarray(values, dtype=tensor.array.dtype)
    tensor.array[...] = values if xp is np else xp.asarray(values)
    return tensor


def _rng(generator):
    return generator if generator is not None else backend.get_rng()


def _draw_dtype(tensor):
    # Draw float32 directly for float32 weights: a float64 draw then cast doubles time and peak memory
    # (about 800 MB of temporaries for VGG's first Linear).
    return np.float32 if tensor.array.dtype == np.float32 else np.float64


def _uniform(rng, a, b, tensor):
    """U(a, b) samples of the tensor's shape."""
    dtype = _draw_dtype(tensor)
    out = rng.random(tensor.shape, dtype=dtype)
    out *= dtype(b - a)
    out += dtype(a)
    return out


def _normal(rng, mean, std, shape_of, size=None):
    """N(mean, std^2) samples of the tensor's shape (or ``size`` of them)."""
    dtype = _draw_dtype(shape_of)
    out = rng.standard_normal(shape_of.shape if size is None else size, dtype=dtype)
    out *= dtype(std)
    out += dtype(mean)
    return out


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with samples of U(a, b)."""
    _check(tensor, "uniform_")
    return _fill(tensor, _uniform(_rng(generator), a, b, tensor))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with samples of N(mean, std^2)."""
    _check(tensor, "normal_")
    if std < 0:
        raise ValueError(f"nn.init.normal_: std must be non-negative, got {std}")
    return _fill(tensor, _normal(_rng(generator), mean, std, tensor))


def trunc_normal_(tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0,
                  generator=None):
    """Fill with N(mean, std^2) samples conditioned on lying in [a, b] (absolute bounds, as PyTorch).

    By rejection: draw, then redraw the samples outside [a, b]. Each round keeps a fraction P(a <= X <= b)
    of the remainder, so a window holding less than about 1e-4 of the mass is refused instead.
    """
    _check(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"nn.init.trunc_normal_: expected a < b, got a={a}, b={b}")
    mass = 0.5 * (math.erf((b - mean) / (std * math.sqrt(2))) - math.erf((a - mean) / (std * math.sqrt(2))))
    if mass < 1e-4:
        raise ValueError(f"nn.init.trunc_normal_: [a, b] = [{a}, {b}] holds only {mass:.2g} of the mass of "
                         f"N({mean}, {std}^2); choose bounds closer to the mean")
    rng = _rng(generator)
    out = _normal(rng, mean, std, tensor)
    bad = (out < a) | (out > b)
    while bad.any():
        out[bad] = _normal(rng, mean, std, tensor, int(bad.sum()))
        bad = (out < a) | (out > b)
    return _fill(tensor, out)


def constant_(tensor, val: float):
    _check(tensor, "constant_")
    tensor.array[...] = val
    return tensor


def zeros_(tensor):
    return constant_(tensor, 0)


def ones_(tensor):
    return constant_(tensor, 1)


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """U(-b, b) with b = gain * sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio, 2010)."""
    _check(tensor, "xavier_uniform_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    bound = math.sqrt(3.0) * gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, _uniform(_rng(generator), -bound, bound, tensor))


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    _check(tensor, "xavier_normal_")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    return _fill(tensor, _normal(_rng(generator), 0.0, std, tensor))


def kaiming_uniform_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                     generator=None):
    """U(-b, b) with b = sqrt(3) * gain / sqrt(fan), gain = calculate_gain(nonlinearity, a) (He et al., 2015).

    ``a`` is the negative slope of the leaky ReLU that follows. nn.Linear and nn.Conv2d use a = sqrt(5),
    which gives b = 1 / sqrt(fan_in).
    """
    _check(tensor, "kaiming_uniform_")
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    bound = math.sqrt(3.0) * calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, _uniform(_rng(generator), -bound, bound, tensor))


def kaiming_normal_(tensor, a: float = 0, mode: str = "fan_in", nonlinearity: str = "leaky_relu",
                    generator=None):
    """N(0, std^2) with std = gain / sqrt(fan)."""
    _check(tensor, "kaiming_normal_")
    if 0 in tensor.shape:
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return _fill(tensor, _normal(_rng(generator), 0.0, std, tensor))


def default_layer_init_(weight, bias=None):
    """PyTorch's default initialisation of Linear and Conv layers, shared by both.

    ``kaiming_uniform_(a=sqrt(5))`` gives weight ~ U(-b, b) with b = gain * sqrt(3 / fan_in) and
    gain = sqrt(2 / (1 + 5)), i.e. b = 1 / sqrt(fan_in); the bias gets the same bound, U(+-1/sqrt(fan_in)).
    """
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        uniform_(bias, -bound, bound)
    return weight
