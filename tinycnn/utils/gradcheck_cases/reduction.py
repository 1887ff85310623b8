"""Gradcheck cases for tinycnn.ops.reduction (max/min on distinct values: no ties to split)."""
from ...ops import reduction as r
from .common import Case, away_from_zero, distinct, normal


def _with_a_zero(rng):
    x = rng.standard_normal((3, 4))
    x[1, 2] = 0.0
    return [x]

CASES = [
    Case("sum", lambda x: r.sum(x, dim=(0, 2)), normal((2, 3, 4))),
    Case("mean", lambda x: r.mean(x, dim=-1, keepdim=True), normal((2, 3, 4))),
    Case("var", lambda x: r.var(x, dim=1), normal((2, 3, 4))),
    Case("std", lambda x: r.std(x, dim=(0, 1), correction=0), normal((2, 3, 4))),
    Case("max", lambda x: r.max(x), distinct((3, 4))),
    Case("max_dim", lambda x: r.max(x, dim=1).values, distinct((3, 4))),
    Case("min_dim", lambda x: r.min(x, dim=0, keepdim=True).values, distinct((3, 4))),
    Case("amax", lambda x: r.amax(x, dim=(0, 2)), distinct((2, 3, 4))),
    Case("amin", lambda x: r.amin(x, dim=-1), distinct((2, 3, 4))),
    Case("prod", r.prod, normal((3, 4))),
    Case("prod_dim", lambda x: r.prod(x, 1), normal((3, 4))),
    Case("prod_dim_one_zero", lambda x: r.prod(x, dim=1, keepdim=True), _with_a_zero),
    Case("logsumexp", lambda x: r.logsumexp(x, dim=(0, 2)), normal((2, 3, 4))),
    Case("var_mean", lambda x: r.var_mean(x, dim=1)[0] + r.var_mean(x, dim=1)[1], normal((2, 3, 4))),
    Case("std_mean", lambda x: r.std_mean(x, dim=0)[0] * r.std_mean(x, dim=0)[1], normal((3, 4))),
    Case("aminmax", lambda x: r.aminmax(x, dim=1).max - r.aminmax(x, dim=1).min, distinct((3, 4))),
    Case("nansum", lambda x: r.nansum(x, dim=0), normal((3, 4))),
    Case("nanmean", lambda x: r.nanmean(x, dim=1), normal((3, 4))),
    Case("norm", lambda x: r.norm(x, dim=1), normal((3, 4))),
    Case("norm_p1", lambda x: r.norm(x, p=1), away_from_zero((3, 4))),
    Case("norm_p3", lambda x: r.norm(x, p=3, dim=0, keepdim=True), away_from_zero((3, 4))),
]
