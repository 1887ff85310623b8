"""Gradcheck cases for tinycnn.ops.reduction (max/min on distinct values: no ties to split)."""
from ...ops import reduction as r
from .common import Case, distinct, normal

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
]
