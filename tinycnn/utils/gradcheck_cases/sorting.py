"""Gradcheck cases for tinycnn.ops.sorting (distinct values: the selected positions do not change under
the finite-difference steps)."""
from ...ops import sorting as so
from .common import Case, distinct

CASES = [
    Case("sort", lambda x: so.sort(x, dim=1).values, distinct((3, 4))),
    Case("sort_descending", lambda x: so.sort(x, dim=0, descending=True).values, distinct((3, 4))),
    Case("msort", so.msort, distinct((3, 4))),
    Case("topk", lambda x: so.topk(x, 2).values, distinct((3, 5))),
    Case("topk_smallest", lambda x: so.topk(x, 2, dim=0, largest=False).values, distinct((3, 4))),
    Case("kthvalue", lambda x: so.kthvalue(x, 2, dim=1, keepdim=True).values, distinct((3, 4))),
    Case("median", so.median, distinct((3, 5))),
    Case("median_dim", lambda x: so.median(x, dim=1).values, distinct((3, 4))),
    Case("nanmedian_dim", lambda x: so.nanmedian(x, dim=0).values, distinct((3, 4))),
]
