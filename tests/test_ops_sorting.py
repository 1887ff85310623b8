"""Sorting and selection: sort, argsort, msort, topk, kthvalue, median, nanmedian, mode, unique, searchsorted,
bucketize. Values, indices and gradients equal PyTorch's, with NaN, ties (where PyTorch defines the order)
and integers."""
import numpy as np
import pytest

import tinycnn
from helpers import assert_grads_match, compare_with_torch


def _distinct(shape=(3, 5), seed=0):
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.37 - 2.0


NAN_TIES = np.array([[3.0, np.nan, 1.0, 3.0, -np.inf], [2.0, 2.0, np.inf, 0.0, -1.0], [0.5, -0.0, 0.0, 7.0, 0.5]])

CASES = [
    ("sort", lambda x: x.sort(1).values, lambda x: x.sort(1).values),
    ("sort_dim0_desc", lambda x: tinycnn.sort(x, 0, descending=True).values,
     lambda x: x.sort(0, descending=True).values),
    ("msort", tinycnn.msort, lambda x: x.msort()),
    ("topk", lambda x: x.topk(3).values, lambda x: x.topk(3).values),
    ("topk_smallest_dim0", lambda x: x.topk(2, dim=0, largest=False).values,
     lambda x: x.topk(2, dim=0, largest=False).values),
    ("kthvalue", lambda x: x.kthvalue(2, 1).values, lambda x: x.kthvalue(2, 1).values),
    ("kthvalue_keepdim", lambda x: x.kthvalue(3, 0, keepdim=True).values,
     lambda x: x.kthvalue(3, 0, keepdim=True).values),
    ("median_all", lambda x: x.median(), lambda x: x.median()),
    ("median_dim", lambda x: x.median(1).values, lambda x: x.median(1).values),
    ("nanmedian_dim", lambda x: x.nanmedian(0).values, lambda x: x.nanmedian(0).values),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,ours,theirs", CASES, ids=IDS)
def test_finite_differences(name, ours, theirs):
    assert_grads_match(ours, [_distinct()])


@pytest.mark.parametrize("name,ours,theirs", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(torch, name, ours, theirs, dtype):
    compare_with_torch(ours, theirs, [_distinct()], dtype=dtype)
    compare_with_torch(ours, theirs, [_distinct((3, 5), seed=1)], strided=True)


@pytest.mark.parametrize("name,ours,theirs", [c for c in CASES if not c[0].startswith("topk")],
                         ids=[c for c in IDS if not c.startswith("topk")])
def test_nan_and_ties_match_torch(torch, name, ours, theirs):
    """NaN sorts as the largest value; stable order among equal values; median is NaN where a line has NaN;
    median() over everything shares the gradient among the elements equal to it."""
    compare_with_torch(ours, theirs, [NAN_TIES], rtol=1e-12, atol=0)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_sort_indices_match_torch_stable(torch, descending, dim):
    for x in (NAN_TIES, np.array([[3, 1, 3, 2, 1], [0, 0, -5, 7, 7]]), np.array([[True, False, True]])):
        ours = tinycnn.sort(tinycnn.tensor(x), dim, descending, stable=True)
        theirs = torch.sort(torch.tensor(x), dim=dim, descending=descending, stable=True)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        assert ours.indices.tolist() == theirs.indices.tolist()
        assert tinycnn.argsort(tinycnn.tensor(x), dim, descending).tolist() == theirs.indices.tolist()


def test_topk_values_with_nan_and_indices_without_ties(torch):
    x = np.array([3.0, np.nan, 1.0, 5.0, -2.0])
    ours, theirs = tinycnn.tensor(x).topk(2), torch.tensor(x).topk(2)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert ours.indices.tolist() == theirs.indices.tolist()
    d = _distinct((4, 6))
    for k, largest in ((1, True), (4, False), (6, True)):
        ours, theirs = tinycnn.tensor(d).topk(k, largest=largest), torch.tensor(d).topk(k, largest=largest)
        assert ours.indices.tolist() == theirs.indices.tolist()


def test_kthvalue_median_mode_indices_match_torch(torch):
    """With ties: median and mode give PyTorch's indices; kthvalue's index among equal values is left
    unspecified by PyTorch's partial sort, so it is compared on distinct values."""
    x = np.array([[3.0, 1.0, 3.0, 1.0, 2.0], [5.0, 5.0, 1.0, 1.0, 9.0], [4.0, 1.0, 2.0, 3.0, 0.0]])
    d = _distinct()
    for ours, theirs in [(tinycnn.tensor(d).kthvalue(2, 1), torch.tensor(d).kthvalue(2, 1)),
                         (tinycnn.tensor(d).kthvalue(3, 0), torch.tensor(d).kthvalue(3, 0)),
                         (tinycnn.tensor(x).median(1), torch.tensor(x).median(1)),
                         (tinycnn.tensor(x).mode(1), torch.tensor(x).mode(1)),
                         (tinycnn.tensor(x.astype(np.int64)).mode(0), torch.tensor(x.astype(np.int64)).mode(0))]:
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        assert ours.indices.tolist() == theirs.indices.tolist()


def test_mode_gradient_goes_to_the_returned_index(torch):
    x = np.array([[3.0, 1.0, 3.0, 1.0, 2.0], [5.0, 5.0, 1.0, 1.0, 9.0]])
    compare_with_torch(lambda t: t.mode(1).values, lambda t: t.mode(1).values, [x])


def test_median_of_an_even_count_is_the_lower_one(torch):
    assert tinycnn.tensor([1.0, 2.0, 3.0, 4.0]).median().item() == torch.tensor([1.0, 2.0, 3.0, 4.0]).median().item()


@pytest.mark.parametrize("kwargs", [{}, {"return_inverse": True}, {"return_counts": True},
                                    {"return_inverse": True, "return_counts": True}, {"dim": 0}, {"dim": 1}])
def test_unique_matches_torch(torch, kwargs):
    x = np.array([[3, 1, 3], [2, 1, 2], [3, 1, 3]])
    ours, theirs = tinycnn.unique(tinycnn.tensor(x), **kwargs), torch.unique(torch.tensor(x), **kwargs)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = theirs if isinstance(theirs, tuple) else (theirs,)
    for a, b in zip(ours, theirs):
        assert a.tolist() == b.tolist()


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_and_bucketize_match_torch(torch, right):
    seq = np.array([1.0, 3.0, 5.0, 7.0])
    values = np.array([[0.0, 3.0, 6.0], [7.0, 8.0, 1.0]])
    assert tinycnn.searchsorted(tinycnn.tensor(seq), tinycnn.tensor(values), right=right).tolist() == \
        torch.searchsorted(torch.tensor(seq), torch.tensor(values), right=right).tolist()
    assert tinycnn.bucketize(tinycnn.tensor(values), tinycnn.tensor(seq), right=right).tolist() == \
        torch.bucketize(torch.tensor(values), torch.tensor(seq), right=right).tolist()
    batched = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0]])
    queries = np.array([[2.5], [2.5]])
    assert tinycnn.searchsorted(tinycnn.tensor(batched), tinycnn.tensor(queries), right=right).tolist() == \
        torch.searchsorted(torch.tensor(batched), torch.tensor(queries), right=right).tolist()


def test_bad_k_names_the_range():
    with pytest.raises(ValueError, match=r"must be in \[0, 5\]"):
        tinycnn.randn(3, 5).topk(6)
    with pytest.raises(ValueError, match=r"must be in \[1, 5\]"):
        tinycnn.randn(3, 5).kthvalue(0)
    with pytest.raises(IndexError):
        tinycnn.randn(3, 5).sort(2)
