"""Gradcheck cases for tinycnn.ops.scan (cummax/cummin on distinct values: no ties)."""
from ...ops import scan as sc
from .common import Case, distinct, normal


def _with_zeros(rng):
    x = rng.standard_normal((3, 5))
    x[0, 1] = x[1, 3] = x[1, 4] = 0.0  # one zero in row 0, two in row 1, none in row 2
    return [x]


CASES = [
    Case("cumsum", lambda x: sc.cumsum(x, 1), normal((3, 4))),
    Case("cumprod", lambda x: sc.cumprod(x, 0), normal((3, 4))),
    Case("cumprod_zeros", lambda x: sc.cumprod(x, -1), _with_zeros),
    Case("cummax", lambda x: sc.cummax(x, 1).values, distinct((3, 4))),
    Case("cummin", lambda x: sc.cummin(x, 0).values, distinct((3, 4))),
    Case("logcumsumexp", lambda x: sc.logcumsumexp(x, 1), normal((3, 4), scale=3.0)),
]
