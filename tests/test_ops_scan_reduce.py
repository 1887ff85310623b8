"""Reductions and scans beyond sum/mean/var/max: prod, logsumexp, norm, nansum/nanmean, var_mean/std_mean,
aminmax, cumsum, cumprod, cummax/cummin, logcumsumexp, and the axis=/keepdims= aliases.

Forward and gradients equal PyTorch's in float64 and float32, on strided input and at the edge values
(zeros in products, infinities in logsumexp, NaN), indices included where the op returns them.
"""
import numpy as np
import pytest

import tinycnn
from helpers import assert_grads_match, compare_with_torch


def _normal(shape=(3, 4), seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _distinct(shape=(3, 4), seed=0):
    n = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(n).reshape(shape) * 0.3 + 0.01


def _zeros(shape=(3, 5)):
    x = _normal(shape)
    x[0, 1] = x[1, 3] = x[1, 4] = 0.0
    return x


EDGE_ROWS = np.array([
    [1.0, 2.0, 3.0, 4.0], [0.0, 2.0, 3.0, 4.0], [0.0, 0.0, 3.0, 4.0], [np.inf, 1.0, 2.0, 3.0],
    [-np.inf, 1.0, 2.0, 3.0], [np.nan, 1.0, 2.0, 3.0], [-np.inf, -np.inf, -np.inf, -np.inf],
    [np.inf, np.inf, 1.0, 0.0], [1e300, 1e300, -1e300, 1.0], [-0.0, 5.0, -1.0, 0.5],
])

# (name, ours, theirs, input)
CASES = [
    ("prod", lambda x: x.prod(), lambda x: x.prod(), _normal()),
    ("prod_dim", lambda x: x.prod(1), lambda x: x.prod(1), _normal()),
    ("prod_keepdim_zeros", lambda x: tinycnn.prod(x, dim=1, keepdim=True), lambda x: x.prod(1, keepdim=True), _zeros()),
    ("logsumexp", lambda x: x.logsumexp(1), lambda x: x.logsumexp(1), _normal()),
    ("logsumexp_dims", lambda x: tinycnn.logsumexp(x, (0, 1), keepdim=True),
     lambda x: x.logsumexp((0, 1), keepdim=True), _normal()),
    ("norm", lambda x: x.norm(), lambda x: x.norm(), _normal()),
    ("norm_dim", lambda x: x.norm(dim=1, keepdim=True), lambda x: x.norm(dim=1, keepdim=True), _normal()),
    ("norm_p1", lambda x: x.norm(p=1, dim=0), lambda x: x.norm(p=1, dim=0), _normal()),
    ("norm_p3", lambda x: x.norm(p=3), lambda x: x.norm(p=3), _normal()),
    ("norm_inf", lambda x: x.norm(p=float("inf"), dim=1), lambda x: x.norm(p=float("inf"), dim=1), _distinct()),
    ("nansum", lambda x: x.nansum(1), lambda x: x.nansum(1), _normal()),
    ("nanmean", lambda x: x.nanmean(0), lambda x: x.nanmean(0), _normal()),
    ("var_mean", lambda x: sum(tinycnn.var_mean(x, 1)), lambda x: sum(__import__("torch").var_mean(x, 1)), _normal()),
    ("std_mean", lambda x: tinycnn.std_mean(x, 0, correction=0)[0] * 2 + tinycnn.std_mean(x, 0, correction=0)[1],
     lambda x: (lambda s, m: s * 2 + m)(*__import__("torch").std_mean(x, 0, correction=0)), _normal()),
    ("aminmax", lambda x: x.aminmax(dim=1).max - x.aminmax(dim=1).min,
     lambda x: x.aminmax(dim=1).max - x.aminmax(dim=1).min, _distinct()),
    ("cumsum", lambda x: x.cumsum(1), lambda x: x.cumsum(1), _normal()),
    ("cumsum_dim0", lambda x: tinycnn.cumsum(x, dim=0), lambda x: x.cumsum(0), _normal()),
    ("cumprod", lambda x: x.cumprod(1), lambda x: x.cumprod(1), _normal()),
    ("cumprod_zeros", lambda x: x.cumprod(-1), lambda x: x.cumprod(-1), _zeros()),
    ("cummax", lambda x: x.cummax(1).values, lambda x: x.cummax(1).values, _distinct()),
    ("cummin", lambda x: x.cummin(0).values, lambda x: x.cummin(0).values, _distinct()),
    ("logcumsumexp", lambda x: x.logcumsumexp(1), lambda x: x.logcumsumexp(1), _normal() * 5),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,ours,theirs,x", CASES, ids=IDS)
def test_finite_differences(name, ours, theirs, x):
    assert_grads_match(ours, [x])


@pytest.mark.parametrize("name,ours,theirs,x", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(torch, name, ours, theirs, x, dtype):
    compare_with_torch(ours, theirs, [x], dtype=dtype, rtol=None if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("name,ours,theirs,x", CASES, ids=IDS)
def test_matches_torch_on_strided_input(torch, name, ours, theirs, x):
    compare_with_torch(ours, theirs, [x], strided=True)


EDGE_CASES = [
    ("prod_dim", lambda x: x.prod(1)), ("logsumexp", lambda x: x.logsumexp(1)), ("cumsum", lambda x: x.cumsum(1)),
    ("cumprod", lambda x: x.cumprod(1)), ("logcumsumexp", lambda x: x.logcumsumexp(1)),
    ("norm", lambda x: x.norm(dim=1)), ("nansum", lambda x: x.nansum(1)), ("nanmean", lambda x: x.nanmean(1)),
    ("amax", lambda x: x.amax(1)), ("max_all", lambda x: x.max()), ("min_dim", lambda x: x.min(1).values),
    ("cummax", lambda x: x.cummax(1).values), ("cummin", lambda x: x.cummin(1).values),
]


@pytest.mark.parametrize("name,fn", EDGE_CASES, ids=[c[0] for c in EDGE_CASES])
def test_edge_rows_match_torch(torch, name, fn):
    """Rows holding zeros, infinities, NaN and huge values: the same results and gradients as PyTorch."""
    compare_with_torch(fn, fn, [EDGE_ROWS], rtol=1e-12, atol=1e-15)


def test_norm_at_zero_has_zero_gradient_like_torch(torch):
    compare_with_torch(lambda x: x.norm(), lambda x: x.norm(), [np.zeros((2, 3))])
    compare_with_torch(lambda x: x.norm(p=3, dim=1), lambda x: x.norm(p=3, dim=1), [np.zeros((2, 3))])


@pytest.mark.parametrize("name", ["cummax", "cummin"])
def test_cummax_cummin_indices_match_torch_with_ties_and_nan(torch, name):
    x = np.array([[1.0, 3.0, 3.0, 2.0, 3.0, np.nan, 5.0, np.nan, 1.0], [2.0, 2.0, 1.0, 1.0, 4.0, 4.0, 0.0, 0.0, 0.0]])
    ours, theirs = getattr(tinycnn.tensor(x), name)(1), getattr(torch.tensor(x), name)(1)
    np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
    assert ours.indices.tolist() == theirs.indices.tolist()


def test_integer_scans_and_products_give_int64(torch):
    for expr in ("x.cumsum(0)", "x.cumprod(0)", "x.prod()", "b.cumsum(0)", "x.prod(0)"):
        def env(lib):
            return {"x": lib.tensor([1, 2, 3], dtype=lib.int32), "b": lib.tensor([True, False, True])}
        ours, theirs = eval(expr, env(tinycnn)), eval(expr, env(torch))
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


@pytest.mark.parametrize("call", [
    "x.sum(axis=1)", "x.sum(axis=(0, 1), keepdims=True)", "x.mean(axis=0, keepdims=True)", "x.amax(axis=1)",
    "x.max(axis=1).values", "x.prod(axis=1, keepdims=True)", "x.logsumexp(axis=0)", "x.std(axis=1)",
    "x.argmax(axis=1)",
])
def test_numpy_axis_and_keepdims_aliases(torch, call):
    x = _normal()
    ours, theirs = eval(call, {"x": tinycnn.tensor(x)}), eval(call, {"x": torch.tensor(x)})
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)


def test_aminmax_and_scalar_forms(torch):
    x = _distinct()
    r = tinycnn.aminmax(tinycnn.tensor(x))
    t = torch.aminmax(torch.tensor(x))
    assert r.min.item() == t.min.item() and r.max.item() == t.max.item()
    assert tinycnn.tensor(5.0).cumsum(0).item() == 5.0
    assert tinycnn.tensor([2.0, 3.0]).prod().item() == 6.0
    assert tinycnn.zeros(0).prod().item() == 1.0


def test_dim_out_of_range_is_an_index_error():
    with pytest.raises(IndexError, match="out of range"):
        tinycnn.randn(2, 3).cumsum(2)
    with pytest.raises(IndexError):
        tinycnn.randn(2, 3).prod(-3)
