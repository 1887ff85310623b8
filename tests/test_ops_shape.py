"""Shape ops and indexing: finite differences, PyTorch agreement, dtypes, no in-place, accumulation, errors."""
import numpy as np
import pytest

import tinycnn
from helpers import (analytic_grad, assert_grads_match, assert_keeps_float32, assert_matches_torch, assert_no_inplace,
                     lib)
from tinycnn import Tensor
from tinycnn.utils.gradcheck_cases.common import normal

MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, False]])


def pad(x, *args, **kwargs):
    return tinycnn.pad(x, *args, **kwargs) if isinstance(x, Tensor) else lib(x).nn.functional.pad(x, *args, **kwargs)


# (id, function used for both libraries, inputs)
CASES = [
    ("reshape_ints", lambda x: x.reshape(4, 6), normal((2, 3, 4))),
    ("reshape_tuple_-1", lambda x: x.reshape((3, -1, 2)), normal((2, 3, 4))),
    ("view", lambda x: x.view(-1), normal((2, 3, 4))),
    ("reshape_fn", lambda x: lib(x).reshape(x, (6, 4)), normal((2, 3, 4))),
    ("transpose", lambda x: x.transpose(0, 2), normal((2, 3, 4))),
    ("transpose_neg", lambda x: lib(x).transpose(x, -1, -2), normal((2, 3, 4))),
    ("permute", lambda x: x.permute(2, 0, 1), normal((2, 3, 4))),
    ("permute_tuple", lambda x: x.permute((1, 0, 2)), normal((2, 3, 4))),
    ("T_2d", lambda x: x.T, normal((3, 4))),
    ("T_3d", lambda x: x.T if isinstance(x, Tensor) else x.permute(2, 1, 0), normal((2, 3, 4))),  # torch warns
    ("flatten", lambda x: x.flatten(), normal((2, 3, 4))),
    ("flatten_1", lambda x: lib(x).flatten(x, 1), normal((2, 3, 4))),
    ("flatten_0_1", lambda x: x.flatten(0, 1), normal((2, 3, 4))),
    ("squeeze_all", lambda x: x.squeeze(), normal((3, 1, 4, 1))),
    ("squeeze_dim", lambda x: x.squeeze(-1), normal((3, 1, 4, 1))),
    ("squeeze_noop", lambda x: x.squeeze(0), normal((3, 1, 4, 1))),
    ("unsqueeze", lambda x: x.unsqueeze(0), normal((3, 4))),
    ("unsqueeze_neg", lambda x: lib(x).unsqueeze(x, -1), normal((3, 4))),
    ("expand", lambda x: x.expand(2, 3, 4), normal((3, 1))),
    ("expand_-1", lambda x: x.expand(-1, 5) * 1.0, normal((3, 1))),
    ("getitem_int", lambda x: x[1], normal((3, 4))),
    ("getitem_neg_int_pair", lambda x: x[-1, 2], normal((3, 4))),
    ("getitem_step_slice", lambda x: x[::2, 1:], normal((3, 4))),
    ("getitem_none_ellipsis", lambda x: x[None, ..., 1:3], normal((2, 3, 4))),
    ("getitem_repeated", lambda x: x[lib(x).tensor([0, 2, 0, 0])], normal((3, 4))),
    ("getitem_list", lambda x: x[[1, 1, 0]], normal((3, 4))),
    ("getitem_two_arrays", lambda x: x[lib(x).tensor([0, 2, 2]), lib(x).tensor([1, 1, 3])], normal((3, 4))),
    ("getitem_mixed", lambda x: x[:, lib(x).tensor([2, 0, 2]), 1:3], normal((2, 3, 4))),
    ("getitem_mask", lambda x: x[lib(x).tensor(MASK)], normal((3, 4))),
    ("getitem_mask_rows", lambda x: x[lib(x).tensor([True, False, True])], normal((3, 4))),
    ("pad_constant", lambda x: pad(x, (1, 2)), normal((2, 3, 4))),
    ("pad_constant_value", lambda x: pad(x, (1, 0, 2, 1), value=0.5), normal((2, 3, 4))),
    ("pad_negative_crop", lambda x: pad(x, (-1, 2, 1, -1)), normal((2, 3, 4))),
    ("pad_reflect", lambda x: pad(x, (2, 1), mode="reflect"), normal((2, 3, 4))),
    ("pad_reflect_2d", lambda x: pad(x, (1, 2, 2, 1), mode="reflect"), normal((1, 2, 3, 4))),
    ("pad_replicate", lambda x: pad(x, (3, 1, 0, 2), mode="replicate"), normal((1, 2, 3, 4))),
    ("pad_circular", lambda x: pad(x, (1, 2, 2, 1), mode="circular"), normal((1, 2, 3, 4))),
    ("cat", lambda a, b: lib(a).cat([a, b]), normal((2, 3), (1, 3))),
    ("cat_last_three", lambda a, b: lib(a).cat((a, b, a), dim=-1), normal((2, 3), (2, 1))),
    ("stack", lambda a, b: lib(a).stack([a, b]), normal((2, 3), (2, 3))),
    ("stack_last", lambda a, b: lib(a).stack([a, b, a], dim=-1), normal((2, 3), (2, 3))),
    ("split_int", lambda x: x.split(2, 1)[1], normal((3, 5))),
    ("split_sections", lambda x: lib(x).cat(x.split([1, 3], dim=1)[::-1], 1), normal((3, 4))),
    ("chunk", lambda x: x.chunk(2, 0)[1], normal((3, 4))),
    ("unbind", lambda x: lib(x).stack(x.unbind(1)[::-1]), normal((3, 4))),
    ("iter", lambda x: lib(x).stack(list(x)[::-1]), normal((3, 4))),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_finite_differences_float64(name, fn, make):
    assert_grads_match(fn, make(np.random.default_rng(0)))


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_matches_torch_float64(name, fn, make, torch):
    assert_matches_torch(fn, fn, make(np.random.default_rng(1)))


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_float32_stays_float32(name, fn, make):
    assert_keeps_float32(fn, make(np.random.default_rng(2)))


@pytest.mark.parametrize("name,fn,make", CASES, ids=IDS)
def test_no_inplace_modification(name, fn, make):
    assert_no_inplace(fn, make(np.random.default_rng(3)))


def test_repeated_indices_accumulate():
    _, (g,) = analytic_grad(lambda x: x[[0, 0, 2, 0]], [np.zeros(4)], upstream=np.ones(4))
    np.testing.assert_array_equal(g, [3, 0, 1, 0])
    _, (g,) = analytic_grad(lambda x: x[np.array([[1, 1], [1, 3]])], [np.zeros(4)], upstream=np.ones((2, 2)))
    np.testing.assert_array_equal(g, [0, 3, 0, 1])


def test_T_reverses_all_dims_and_expand_shares_memory():
    x = Tensor(np.zeros((2, 3, 4)))
    assert x.T.shape == (4, 3, 2)
    e = Tensor(np.arange(3.0).reshape(3, 1)).expand(3, 1000)
    assert e.shape == (3, 1000) and e.array.strides[1] == 0


def test_reshape_and_basic_slices_are_views_like_torch():
    x = Tensor(np.arange(6.0))
    assert np.shares_memory(x.reshape(2, 3).array, x.array)
    assert np.shares_memory(x[1:4].array, x.array)


@pytest.mark.parametrize("call,match", [
    (lambda x: x.reshape(5, -1), r"shape \(5, -1\) is invalid for input of shape \(2, 3, 4\)"),
    (lambda x: x.reshape(-1, -1), "at most one -1"),
    (lambda x: x.view(7), "24 elements"),
    (lambda x: x.permute(0, 1), "permute"),
    (lambda x: x.permute(0, 1, 1), "not a permutation"),
    (lambda x: x.transpose(0, 3), r"dim 3 .*ndim 3"),
    (lambda x: x.squeeze(4), r"dim 4 .*ndim 3"),
    (lambda x: x.unsqueeze(4), r"dim 4 .*ndim 3"),
    (lambda x: x.flatten(2, 1), "start_dim"),
    (lambda x: x.expand(2, 5, 4), r"cannot expand shape \(2, 3, 4\)"),
    (lambda x: tinycnn.cat([x, x[:, :2, :2]], dim=1), r"\(2, 3, 4\).*\(2, 2, 2\)"),
    (lambda x: tinycnn.cat([], dim=0), "non-empty"),
    (lambda x: tinycnn.stack([x, x[0]]), r"\(2, 3, 4\).*\(3, 4\)"),
    (lambda x: tinycnn.pad(x, (1, 2, 3)), "even-length"),
    (lambda x: tinycnn.pad(x, (1,) * 8), "only 3"),
    (lambda x: tinycnn.pad(x, (4, 0), mode="reflect"), r"reflect padding \(4, 0\).*size 4"),
    (lambda x: tinycnn.pad(x, (1, 1), mode="wrap"), "mode"),
    (lambda x: x.split([1, 1], dim=1), "sum to the size 3"),
])
def test_errors_name_the_problem(call, match):
    with pytest.raises(ValueError, match=match):
        call(Tensor(np.zeros((2, 3, 4))))


def test_iterating_and_indexing_errors():
    with pytest.raises(TypeError, match="0-d"):
        iter(Tensor(np.array(1.0)))
    with pytest.raises(IndexError):
        Tensor(np.zeros(3))[5]
    assert [r.tolist() for r in Tensor(np.eye(2))] == [[1.0, 0.0], [0.0, 1.0]]
