"""Gradcheck cases for tinycnn.ops.einsum: contractions, traces and diagonals, ellipsis broadcasting."""
from ...ops.einsum import einsum
from .common import Case, normal

CASES = [
    Case("einsum_matmul", lambda a, b: einsum("ij,jk->ik", a, b), normal((2, 3), (3, 4))),
    Case("einsum_batch", lambda a, b: einsum("bij,bjk->bik", a, b), normal((2, 2, 3), (2, 3, 2))),
    Case("einsum_implicit", lambda a, b: einsum("ij,jk", a, b), normal((2, 3), (3, 2))),
    Case("einsum_outer", lambda a, b: einsum("i,j->ij", a, b), normal(3, 4)),
    Case("einsum_trace", lambda a: einsum("ii->", a), normal((3, 3))),
    Case("einsum_diagonal", lambda a: einsum("ii->i", a), normal((3, 3))),
    Case("einsum_sum_only_here", lambda a, b: einsum("ij,j->i", a, b), normal((3, 4), 4)),
    Case("einsum_summed_alone", lambda a, b: einsum("ijk,j->i", a, b), normal((2, 3, 2), 3)),
    Case("einsum_ellipsis", lambda a, b: einsum("...ij,...jk->...ik", a, b), normal((2, 1, 2, 3), (3, 3, 2))),
    Case("einsum_three", lambda a, b, c: einsum("ij,jk,kl->il", a, b, c), normal((2, 3), (3, 2), (2, 2))),
]
