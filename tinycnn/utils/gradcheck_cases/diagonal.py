"""Gradcheck cases for tinycnn.ops.diagonal."""
from ...ops import diagonal as dg
from .common import Case, normal

CASES = [
    Case("tril", lambda x: dg.tril(x, -1), normal((2, 3, 4))),
    Case("triu", lambda x: dg.triu(x, 1), normal((3, 4))),
    Case("diagonal", lambda x: dg.diagonal(x, 1, 0, 2), normal((3, 2, 4))),
    Case("diag_matrix", lambda x: dg.diag(x, -1), normal(3)),
    Case("diag_vector", lambda x: dg.diag(x, 1), normal((3, 4))),
    Case("diag_embed", lambda x: dg.diag_embed(x, 1, 0, 2), normal((2, 3))),
    Case("trace", dg.trace, normal((3, 4))),
]
