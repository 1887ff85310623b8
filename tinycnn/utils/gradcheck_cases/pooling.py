"""Gradcheck cases for tinycnn.ops.pooling (max pooling on distinct values: no ties inside a window)."""
from ...ops import pooling as p
from .common import Case, distinct, normal

CASES = [
    Case("max_pool2d", lambda x: p.max_pool2d(x, 3, 2, padding=1, ceil_mode=True), distinct((2, 2, 7, 6), 0.1)),
    Case("avg_pool2d", lambda x: p.avg_pool2d(x, (3, 2), 2, padding=1, ceil_mode=True, count_include_pad=False),
         normal((2, 2, 7, 6))),
    Case("adaptive_avg_pool2d", lambda x: p.adaptive_avg_pool2d(x, (3, 4)), normal((2, 2, 5, 3))),
    Case("adaptive_max_pool2d", lambda x: p.adaptive_max_pool2d(x, (3, 2)), distinct((2, 2, 5, 7), 0.1)),
]
