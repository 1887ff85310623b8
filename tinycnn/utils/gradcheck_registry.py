"""The registry of differentiable ops that ``python -m tinycnn gradcheck`` and the tests check.

The table lives in ``tinycnn/utils/gradcheck_cases/``: one module per ops module, each a list ``CASES`` of
``Case(name, fn, make_inputs)`` (``RegisteredOp`` here), for example::

    Case("conv2d", lambda x, w, b: conv2d(x, w, b, stride=2),
         lambda rng: [rng.standard_normal((2, 3, 7, 7)), ...])

``make_inputs(rng)`` returns float64 arrays (all become inputs that require grad); they are kept small, so
the whole registry is checked in a few seconds. This module sits in the tools layer and imports the ops:
the ops know nothing of it.
"""
from __future__ import annotations

from typing import Callable

from .gradcheck_cases import (activation, arithmetic, conv, diagonal, dropout, einsum, elementwise, fused, gather,
                              indexing, inplace, layout, linear, loss, math, misc, normalization, pointwise,
                              pooling, reduction, scan, shape, sorting)
from .gradcheck_cases import (conv1d, conv_transpose, distance, gated_activation, pointwise_loss, sample_norm,
                              smooth_activation, unpool, upsample)
from .gradcheck_cases.common import Case as RegisteredOp

_TABLE = (arithmetic, elementwise, math, pointwise, reduction, scan, sorting, einsum, shape, layout, diagonal,
          indexing, gather, inplace, activation, linear, conv, pooling, fused, normalization, dropout, loss, misc,
          smooth_activation, gated_activation, conv_transpose, conv1d, unpool, upsample, sample_norm,
          pointwise_loss, distance)

REGISTRY: dict[str, RegisteredOp] = {}


def register(name: str, fn: Callable, make_inputs: Callable) -> None:
    if name in REGISTRY:
        raise ValueError(f"gradcheck registry: op {name!r} registered twice")
    REGISTRY[name] = RegisteredOp(name, fn, make_inputs)


for _module in _TABLE:
    for _case in _module.CASES:
        register(*_case)
