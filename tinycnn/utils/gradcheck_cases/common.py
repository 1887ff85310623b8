"""What a gradcheck case is, and the input makers the cases share (``make(rng) -> [float64 arrays]``).

Finite differences straddling a kink (ReLU at 0, a tie between two maxima) estimate neither one-sided
derivative, so the makers keep inputs away from the points where an op is not differentiable.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np


class Case(NamedTuple):
    """One entry of the gradcheck table: ``fn(*tensors)`` checked at ``make_inputs(rng)``."""
    name: str
    fn: Callable
    make_inputs: Callable


def normal(*shapes, scale: float = 1.0):
    """Standard normal arrays of the given shapes (times ``scale``)."""
    return lambda rng: [rng.standard_normal(s) * scale for s in shapes]


def uniform(lo: float, hi: float, *shapes):
    return lambda rng: [rng.uniform(lo, hi, s) for s in shapes]


def distinct(shape, step: float = 0.3):
    """A random permutation of 0, step, 2*step, ... plus jitter below step/3: no ties, values far apart."""
    def make(rng):
        n = math.prod(shape)
        return [rng.permutation(n).reshape(shape) * step + rng.uniform(0, step / 3, shape)]
    return make


def away_from(*kinks, lo: float = -4.0, hi: float = 4.0, shape=(3, 5)):
    """Uniform in [lo, hi], every value at least 0.1 from every kink."""
    def make(rng):
        x = rng.uniform(lo, hi, shape)
        for k in kinks:
            x[abs(x - k) < 0.1] = k + 0.2
        return [x]
    return make


def away_from_zero(shape):
    """|x| in [0.3, 2) with a random sign."""
    return lambda rng: [rng.uniform(0.3, 2.0, shape) * rng.choice([-1.0, 1.0], shape)]


def untied_pair(shape_a, shape_b):
    """Two broadcastable arrays at least 0.1 apart everywhere (for maximum/minimum)."""
    def make(rng):
        a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
        a[np.abs(a - b) < 0.1] += 0.3
        return [a, b]
    return make
