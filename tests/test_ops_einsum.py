"""einsum: forward and every operand's gradient equal PyTorch's (contractions, batch dims, implicit output,
traces and diagonals, labels summed inside one operand, ``...`` with broadcasting, three operands)."""
import numpy as np
import pytest

import tinycnn
from helpers import assert_grads_match, compare_with_torch

rng = np.random.default_rng(0)

CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ij,jk", [(2, 3), (3, 2)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(3,), (3,)]),
    ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]),
    ("ij->", [(2, 3)]),
    ("ij->ji", [(2, 3)]),
    ("ij,j->i", [(3, 4), (4,)]),
    ("ijk,j->i", [(2, 3, 2), (3,)]),
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (3, 3, 2)]),
    ("b...,b->...", [(2, 3, 4), (2,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 2), (2, 2)]),
    ("i j , j k -> i k", [(2, 3), (3, 2)]),
]
IDS = [c[0].replace(" ", "_") for c in CASES]


def _operands(shapes, seed=0):
    g = np.random.default_rng(seed)
    return [g.standard_normal(s) for s in shapes]


@pytest.mark.parametrize("eq,shapes", CASES, ids=IDS)
def test_finite_differences(eq, shapes):
    assert_grads_match(lambda *ts: tinycnn.einsum(eq, *ts), _operands(shapes))


@pytest.mark.parametrize("eq,shapes", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(torch, eq, shapes, dtype):
    compare_with_torch(lambda *ts: tinycnn.einsum(eq, *ts), lambda *ts: torch.einsum(eq, *ts),
                       _operands(shapes, 1), dtype=dtype, rtol=None if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("eq,shapes", CASES, ids=IDS)
def test_matches_torch_on_strided_input(torch, eq, shapes):
    compare_with_torch(lambda *ts: tinycnn.einsum(eq, *ts), lambda *ts: torch.einsum(eq, *ts),
                       _operands(shapes, 2), strided=True)


def test_operands_as_a_list_and_integer_operands(torch):
    a, b = np.arange(6).reshape(2, 3), np.arange(3)
    assert tinycnn.einsum("ij,j->i", [tinycnn.tensor(a), tinycnn.tensor(b)]).tolist() == \
        torch.einsum("ij,j->i", [torch.tensor(a), torch.tensor(b)]).tolist()


def test_bad_equations_name_the_problem():
    with pytest.raises(ValueError, match="names 2 operands"):
        tinycnn.einsum("ij,jk->ik", tinycnn.randn(2, 3))
    with pytest.raises(RuntimeError, match="has 2 labels but shape"):
        tinycnn.einsum("ij->i", tinycnn.randn(2, 3, 4))
    with pytest.raises(RuntimeError, match="label 'j' has size 3"):
        tinycnn.einsum("ij,jk->ik", tinycnn.randn(2, 3), tinycnn.randn(4, 2))
    with pytest.raises(ValueError, match="output label 'z'"):
        tinycnn.einsum("ij->iz", tinycnn.randn(2, 3))
