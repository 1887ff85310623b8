"""Gradcheck cases for tinycnn.ops.linear."""
from ...ops.linear import linear
from .common import Case, normal

CASES = [
    Case("linear", linear, normal((2, 3, 4), (5, 4), 5)),
    Case("linear_nobias_1d", lambda x, w: linear(x, w), normal(4, (3, 4))),
]
