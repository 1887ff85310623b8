"""The registry of differentiable ops that ``python -m tinycnn gradcheck`` checks.

Each ops module registers its ops at import time::

    register("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=2),
             lambda rng: [rng.standard_normal((2, 3, 7, 7)), ...])

``make_inputs(rng)`` returns float64 arrays (all become inputs that require grad) -- keep them small, the
whole registry is checked in a few seconds.
"""
from __future__ import annotations

from typing import Callable, NamedTuple


class RegisteredOp(NamedTuple):
    name: str
    fn: Callable
    make_inputs: Callable


REGISTRY: dict[str, RegisteredOp] = {}


def register(name: str, fn: Callable, make_inputs: Callable) -> None:
    if name in REGISTRY:
        raise ValueError(f"gradcheck registry: op {name!r} registered twice")
    REGISTRY[name] = RegisteredOp(name, fn, make_inputs)
