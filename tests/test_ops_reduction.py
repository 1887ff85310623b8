"""Reductions: finite differences, PyTorch agreement (values, indices, tie rules), dtypes, no in-place, errors."""
import numpy as np
import pytest

import tinycnn
from helpers import (analytic_grad, assert_grads_match, assert_keeps_float32, assert_matches_torch, assert_no_inplace,
                     lib)
from tinycnn import Tensor
from tinycnn.utils.gradcheck_cases.common import normal



def distinct(shape):
    """No ties, values >= 0.2 apart: max/min are differentiable and finite differences never switch argmax."""
    def make(rng):
        n = int(np.prod(shape))
        return [rng.permutation(n).reshape(shape) * 0.3 + rng.uniform(0, 0.1, shape)]
    return make


def ties(rng=None):
    """(2, 3, 4) small integers: ties along every axis (compared with PyTorch only: the tie rules)."""
    return [np.random.default_rng(5).integers(0, 3, (2, 3, 4)).astype(np.float64)]


# (id, function used for both libraries (same API), inputs); ties only in the torch comparison
CASES = [
    ("sum_all", lambda x: x.sum(), normal((2, 3, 4))),
    ("sum_dim", lambda x: x.sum(1), normal((2, 3, 4))),
    ("sum_tuple_neg", lambda x: x.sum((0, -1)), normal((2, 3, 4))),
    ("sum_keepdim", lambda x: x.sum(dim=-2, keepdim=True), normal((2, 3, 4))),
    ("sum_fn", lambda x: lib(x).sum(x, 0), normal((3, 4))),
    ("mean_all", lambda x: x.mean(), normal((2, 3, 4))),
    ("mean_tuple", lambda x: x.mean((2, 0)), normal((2, 3, 4))),
    ("mean_keepdim", lambda x: x.mean(1, keepdim=True), normal((2, 3, 4))),
    ("var_all", lambda x: x.var(), normal((3, 4))),
    ("var_dim_biased", lambda x: x.var(1, unbiased=False), normal((3, 4))),
    ("var_correction_keepdim", lambda x: x.var(dim=(0, 2), correction=0, keepdim=True), normal((2, 3, 4))),
    ("var_correction2", lambda x: x.var(dim=-1, correction=2), normal((3, 5))),
    ("std", lambda x: x.std(0), normal((3, 4))),
    ("max_all", lambda x: x.max(), distinct((3, 4))),
    ("min_all", lambda x: x.min(), distinct((3, 4))),
    ("max_dim", lambda x: x.max(1).values, distinct((2, 3, 4))),
    ("max_dim_keepdim", lambda x: x.max(dim=-1, keepdim=True)[0], distinct((2, 3, 4))),
    ("min_dim", lambda x: x.min(0).values, distinct((3, 4))),
    ("min_dim_fn", lambda x: lib(x).min(x, 1, keepdim=True).values,
     distinct((3, 4))),
    ("amax_tuple", lambda x: x.amax((0, 2)), distinct((2, 3, 4))),
    ("amax_all", lambda x: x.amax(), distinct((2, 3))),
    ("amin_keepdim", lambda x: x.amin(-1, keepdim=True), distinct((2, 3, 4))),
    ("max_elementwise", lambda x: lib(x).max(x, x * 0.5 + 0.1),
     distinct((3, 4))),
]
IDS = [c[0] for c in CASES]
TIE_CASES = [c for c in CASES if c[0].startswith(("max", "min", "amax", "amin")) and "elementwise" not in c[0]]


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_finite_differences_float64(name, fn, make):
    assert_grads_match(fn, make(np.random.default_rng(0)))


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_matches_torch_float64(name, fn, make, torch):
    assert_matches_torch(fn, fn, make(np.random.default_rng(1)))


@pytest.mark.parametrize("name,fn,make", TIE_CASES, ids=[c[0] for c in TIE_CASES])
def test_tie_gradients_match_torch(name, fn, make, torch):
    """max()/amax split ties evenly, max(dim) sends everything to the returned (first) index."""
    assert_matches_torch(fn, fn, ties())


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_float32_stays_float32(name, fn, make):
    assert_keeps_float32(fn, make(np.random.default_rng(2)))


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_no_inplace_modification(name, fn, make):
    assert_no_inplace(fn, make(np.random.default_rng(3)))


def test_tie_rules_explicitly():
    x = [np.array([2.0, 5.0, 5.0])]
    np.testing.assert_array_equal(analytic_grad(lambda t: t.max(), x, upstream=np.array(1.0))[1][0],
                                  [0, 0.5, 0.5])
    np.testing.assert_array_equal(analytic_grad(lambda t: t.max(0).values, x, upstream=np.array(1.0))[1][0],
                                  [0, 1, 0])
    assert tinycnn.tensor([2.0, 5.0, 5.0]).max(0).indices.item() == 1


@pytest.mark.parametrize("dim,keepdim", [(None, False), (None, True), (0, False), (1, True), (-1, False),
                                         (2, True)])
@pytest.mark.parametrize("op", ["argmax", "argmin", "max", "min"])
def test_indices_match_torch(op, dim, keepdim, torch):
    x = ties()[0]
    t = torch.tensor(x)
    if op in ("max", "min"):
        if dim is None:
            return
        ours, theirs = getattr(Tensor(x), op)(dim, keepdim).indices, getattr(t, op)(dim, keepdim).indices
    else:
        ours, theirs = getattr(Tensor(x), op)(dim=dim, keepdim=keepdim), getattr(t, op)(dim=dim, keepdim=keepdim)
    assert ours.dtype == np.int64 and not ours.requires_grad
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_max_dim_result_is_a_named_pair():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    values, indices = x.max(1)
    assert values.tolist() == [2.0, 5.0] and indices.tolist() == [2, 2]
    assert x.min(dim=0).values.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize("call", [
    lambda x: x.sum(3), lambda x: x.mean(-4), lambda x: x.var((0, 5)), lambda x: x.max(3),
    lambda x: x.argmax(7), lambda x: x.amax(-5),
])
def test_bad_dim_names_dim_and_ndim(call):
    x = Tensor(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"dim -?\d.*ndim 3"):
        call(x)


def test_other_errors():
    x = Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="twice"):
        x.sum((1, -1))
    with pytest.raises(TypeError, match="dim"):
        x.sum("a")
    with pytest.raises(ValueError, match="empty"):
        Tensor(np.zeros((0, 3))).max()
    with pytest.raises(TypeError, match="floating"):
        tinycnn.tensor([1, 2]).mean()


def test_zero_dim_and_integer_inputs():
    s = Tensor(np.array(3.0), requires_grad=True)
    assert s.sum().item() == 3.0 and s.sum(0).item() == 3.0 and s.max().item() == 3.0
    v, i = s.max(0)
    assert v.item() == 3.0 and i.item() == 0
    (s.sum(-1) * 2).backward()
    assert s.grad.item() == 2.0
    ints = tinycnn.tensor([[1, 2], [3, 4]])
    assert ints.sum().dtype == np.int64 and ints.sum().item() == 10
    assert ints.max(1).values.tolist() == [2, 4]
    assert ints.sum(dtype=tinycnn.float32).dtype == np.float32


@pytest.mark.filterwarnings("ignore:var")
def test_var_with_too_few_elements_is_nan_or_inf_like_torch(torch):
    x = [np.array([[1.0], [2.0]])]
    out, (g,) = analytic_grad(lambda t: t.var(1), x)
    t_out = torch.tensor(x[0]).var(1).numpy()
    np.testing.assert_array_equal(np.isnan(out), np.isnan(t_out))
