"""Gradcheck cases for tinycnn.ops.gated_activation."""
from ...ops import gated_activation as g
from .common import Case, normal


def _away_from_zero(rng):
    x = rng.standard_normal((2, 3, 4))
    x[abs(x) < 0.1] = 0.3
    return [x, rng.uniform(0.1, 0.5, 3)]


CASES = [
    Case("prelu", g.prelu, _away_from_zero),
    Case("glu", lambda x: g.glu(x, 1), normal((2, 6, 3))),
]
