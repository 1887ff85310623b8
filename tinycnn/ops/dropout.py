"""Inverted dropout: elementwise (``dropout``) and whole channels (``dropout2d``)."""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._sizes import shape_str


class DropoutFunction(Function):
    r"""y = x * mask / (1 - p), mask ~ Bernoulli(1 - p), drawn once per forward.

    Inverted dropout: kept values are scaled by 1/(1-p) in training so that E[y] = x and inference is the
    identity. The multiplier q = mask / (1 - p) is a constant of the forward pass, so
        gx = gy * q.
    ``feature=True`` (dropout2d) draws one mask value per (sample, channel), shape (N, C, 1, ...), which
    broadcasts over the spatial axes: a whole feature map is kept or zeroed.
    p = 1 gives zeros (q = 0; no 0 * inf = NaN).
    """

    def forward(self, x, *, p, rng, feature):
        xp = get_array_module(x)
        shape = x.shape[:2] + (1,) * (x.ndim - 2) if feature else x.shape
        if p >= 1.0:
            self.q = xp.zeros(shape, dtype=x.dtype)
        else:
            # u in [0, 1): P(u >= p) = 1 - p. float32 draws are twice as fast as float64 ones.
            u = rng.random(shape, dtype=np.float32 if x.dtype != np.float64 else np.float64)
            q = np.asarray(u >= p, dtype=x.dtype)
            q *= 1.0 / (1.0 - p)
            self.q = backend.to_device(q, backend.device_of(x))
        return x * self.q

    def backward(self, gy):
        return gy * self.q


def _check(input, p, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
    if not isinstance(p, numbers.Real) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{name}: dropout probability p has to be between 0 and 1, but got p={p!r}")


def _dropout(input, p, training, feature, rng=None):
    if not training or p == 0:
        return input
    return DropoutFunction.apply(input, p=float(p), rng=rng if rng is not None else backend.get_rng(),
                                 feature=feature)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """``F.dropout``: zero each element with probability p, scale the rest by 1/(1-p) (training only).

    The mask comes from tinycnn's global generator (``tinycnn.manual_seed``). ``inplace`` is accepted for
    PyTorch compatibility and ignored (the result is always a new tensor)."""
    _check(input, p, "dropout")
    return _dropout(input, p, training, feature=False)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """``F.dropout2d``: zero whole channels of (N, C, H, W) (or (N, C, L)) with probability p."""
    _check(input, p, "dropout2d")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W) or a 3-D input (N, C, L), "
                         f"got input of shape {shape_str(input.shape)}")
    return _dropout(input, p, training, feature=True)
