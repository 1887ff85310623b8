"""Gradcheck cases for tinycnn.ops.arithmetic: broadcast shapes throughout."""
from ...ops import arithmetic as ar
from .common import Case, normal

CASES = [
    Case("add", ar.add, normal((2, 3, 4), (3, 1))),
    Case("sub", ar.sub, normal((2, 3, 4), (3, 1))),
    Case("mul", ar.mul, normal((2, 3, 4), (3, 1))),
    Case("div", ar.div, lambda rng: [rng.standard_normal((2, 3)), rng.uniform(0.5, 2.0, (3,))]),
    Case("neg", ar.neg, normal((2, 3))),
    Case("pow", ar.pow, lambda rng: [rng.uniform(0.5, 2.0, (2, 3)), rng.standard_normal((3,))]),
    Case("pow_scalar", lambda x: ar.pow(x, 3), normal((2, 3))),
    Case("matmul", ar.matmul, normal((2, 3, 4), (4, 2))),
    Case("matmul_vector", ar.matmul, normal(3, (2, 3, 4))),
]
