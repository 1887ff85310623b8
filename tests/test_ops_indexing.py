"""Indexing: x[key] (PyTorch's rule for an int beside a tensor index), x[key] = v, gather, scatter,
scatter_add, scatter_reduce, index_select, index_add, index_copy, index_fill, index_put, masked_fill,
masked_select, masked_scatter, nonzero (as_tuple), argwhere, take, take_along_dim, where(condition).
Forward, gradients (repeated indices add up) and errors as PyTorch's."""
import numpy as np
import pytest

import tinycnn
from helpers import assert_grads_match, compare_with_torch

X = np.random.default_rng(0).standard_normal((3, 4))
X4 = np.random.default_rng(1).standard_normal((3, 3, 4, 5))
MASK = np.array([[True, False, True, False], [False, True, True, False], [True, True, False, True]])


def _lib_env(lib, dtype=None):
    """Index tensors, masks and float sources (in ``dtype``, the input's) for the expressions below."""
    def t(data):
        out = lib.tensor(data)
        return out.to(dtype) if dtype is not None and out.is_floating_point() else out
    return {
        "idx": t([2, 0, 2]), "i2": t([[0, 1], [2, 0]]), "rows": t([[0, 1, 2, 0], [2, 2, 1, 0]]),
        "gidx": t([[0, 2, 0], [1, 1, 3], [2, 0, 0]]), "mask": t(MASK), "m1": t(MASK[0]),
        "src24": t(np.arange(8.0).reshape(2, 4) / 4), "src35": t(np.arange(15.0).reshape(3, 5) / 7),
        "tc": lib, "cols": t([3, 0]), "src32": t(np.ones((3, 2)) * 0.5), "flat": t([[0, -1], [5, 11]]),
        "along": t([[0], [2], [1]]),
    }


# keys to compare with PyTorch's indexing, on a (2, 3, 4, 5) tensor
KEYS = [
    "x[1, :, 2, idx]", "x[:, 1, :, idx]", "x[idx[:2], :, 1]", "x[1, idx]", "x[..., idx]", "x[0, ..., 1]",
    "x[None, 1, :, idx]", "x[1, None, idx, 2]", "x[idx[:2], 0, idx[:2]]", "x[i2]", "x[0, i2, 1:3]",
    "x[:, ::2, 1, idx]", "x[1][2][3]", "x[x > 0]", "x[0][x[0] > 0]", "x[tc.tensor(1), :, idx]",
    "x[[0, 1], [1, 2]]", "x[-1, -1]", "x[..., -1, idx[:1]]",
]


@pytest.mark.parametrize("key", KEYS)
def test_getitem_follows_pytorchs_rule(torch, key):
    def run(lib, t):
        return eval(key, {**_lib_env(lib), "x": t})
    compare_with_torch(lambda t: run(tinycnn, t), lambda t: run(torch, t), [X4])


def test_int_beside_tensor_index_has_pytorchs_shape_not_numpys():
    x = tinycnn.zeros(2, 3, 4, 5)
    idx = tinycnn.tensor([0, 2])
    assert x[1, :, 2, idx].shape == (3, 2)              # NumPy would give (2, 3)
    assert np.zeros((2, 3, 4, 5))[1, :, 2, [0, 2]].shape == (2, 3)


# (name, ours/theirs expression on x, extra float inputs)
CASES = [
    ("gather", "x.gather(1, gidx)"),
    ("gather_fn", "tc.gather(x, 0, rows)"),
    ("scatter_src", "x.scatter(1, gidx, src35)"),
    ("scatter_value", "x.scatter(0, rows, 2.5)"),
    ("scatter_add", "x.scatter_add(0, rows, src24)"),
    ("scatter_add_fn", "tc.scatter_add(x, 1, gidx, src35)"),
    *[(f"scatter_reduce_{r}_{s}", f"x.scatter_reduce(0, rows, src24, '{r}', include_self={s})")
      for r in ("sum", "prod", "mean", "amax", "amin") for s in (True, False)],
    ("index_select", "x.index_select(1, idx)"),
    ("index_select_fn", "tc.index_select(x, 0, idx)"),
    ("index_add", "x.index_add(0, idx, src24[:1].expand(3, 4) * 1, alpha=2)"),
    ("index_copy", "x.index_copy(1, cols, src32)"),
    ("index_fill", "x.index_fill(1, idx, -1.5)"),
    ("index_put", "x.index_put((cols[1:],), src24[0])"),
    ("index_put_accumulate", "x.index_put((idx,), src24[0], accumulate=True)"),
    ("masked_fill", "x.masked_fill(mask, 0.25)"),
    ("masked_fill_broadcast", "x.masked_fill(m1, -2.0)"),
    ("masked_select", "x.masked_select(mask)"),
    ("masked_select_broadcast", "tc.masked_select(x[:1], mask)"),
    ("masked_scatter", "x.masked_scatter(mask, src35)"),
    ("take", "x.take(flat)"),
    ("take_along_dim", "x.take_along_dim(along, 1)"),
    ("take_along_dim_flat", "tc.take_along_dim(x, flat % 12)"),
    ("where_value", "tc.where(mask, x, 0.5)"),
]
IDS = [c[0] for c in CASES]


def _run(expr, lib, x):
    return eval(expr, {**_lib_env(lib, x.dtype), "x": x})


@pytest.mark.parametrize("name,expr", CASES, ids=IDS)
def test_finite_differences(name, expr):
    if "amax" in expr or "amin" in expr:
        x = np.random.default_rng(2).permutation(12).reshape(3, 4) * 0.3  # no ties with src24
    else:
        x = X
    assert_grads_match(lambda t: _run(expr, tinycnn, t), [x])


@pytest.mark.parametrize("name,expr", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(torch, name, expr, dtype):
    x = X if "amax" not in expr and "amin" not in expr else np.arange(12.0).reshape(3, 4) / 10
    compare_with_torch(lambda t: _run(expr, tinycnn, t), lambda t: _run(expr, torch, t), [x], dtype=dtype)
    compare_with_torch(lambda t: _run(expr, tinycnn, t), lambda t: _run(expr, torch, t), [x], strided=True)


def test_scatter_reduce_ties_share_like_torch(torch):
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    src = np.array([[1.0, 5.0], [1.0, 4.0]])
    index = np.array([[0, 1], [0, 1]])
    for reduce in ("amax", "amin", "prod"):
        for include_self in (True, False):
            compare_with_torch(
                lambda a, b: a.scatter_reduce(0, tinycnn.tensor(index), b, reduce, include_self=include_self),
                lambda a, b: a.scatter_reduce(0, torch.tensor(index), b, reduce, include_self=include_self),
                [x, src])


def test_scatter_reduce_prod_with_zeros_matches_torch(torch):
    x = np.array([[0.0, 2.0, 3.0], [1.0, 0.0, 5.0]])
    src = np.array([[2.0, 0.0, 0.0], [0.0, 3.0, 1.0]])
    index = np.array([[0, 0, 1], [1, 0, 1]])
    for include_self in (True, False):
        compare_with_torch(
            lambda a, b: a.scatter_reduce(1, tinycnn.tensor(index), b, "prod", include_self=include_self),
            lambda a, b: a.scatter_reduce(1, torch.tensor(index), b, "prod", include_self=include_self), [x, src])


@pytest.mark.parametrize("key", ["[1]", "[:, 2]", "[mask]", "[idx, 1:3]", "[1, idx[:2]]", "[..., 0]", "[:, m1]",
                                 "[idx[:2], :, None]"])
@pytest.mark.parametrize("value", ["0.5", "v"])
def test_setitem_matches_torch_forward_and_gradients(torch, key, value):
    """x[key] = value inside the graph: the overwritten part gets no gradient, the value gets the sum of
    its positions' gradients."""
    def run(lib, x, v):
        y = x * 1.0
        env = {**_lib_env(lib), "y": y, "v": v}
        exec(f"y{key} = {value}", env)
        return y
    v = np.array(1.5)
    compare_with_torch(lambda x, w: run(tinycnn, x, w), lambda x, w: run(torch, x, w), [X, v])


def test_setitem_outside_the_graph_writes_the_storage_and_casts(torch):
    x = tinycnn.zeros(2, 3, dtype=tinycnn.int64)
    x[0] = 2.7 if False else 2
    x[1, tinycnn.tensor([0, 2])] = tinycnn.tensor([5, 6])
    t = torch.zeros(2, 3, dtype=torch.int64)
    t[0] = 2
    t[1, torch.tensor([0, 2])] = torch.tensor([5, 6])
    assert x.tolist() == t.tolist() and x._version == 2
    f = tinycnn.zeros(3)
    f[tinycnn.tensor([True, False, True])] = tinycnn.tensor([1, 2])
    assert f.tolist() == [1.0, 0.0, 2.0]
    with pytest.raises(RuntimeError, match="can't be written"):
        x[0] = tinycnn.tensor([0.5, 0.5, 0.5])


@pytest.mark.parametrize("x", [MASK, X > 0.3, np.array([0, 3, 0, -1]), np.array(5.0), np.array(0)])
def test_nonzero_argwhere_and_where_match_torch(torch, x):
    assert tinycnn.nonzero(tinycnn.tensor(x)).tolist() == torch.nonzero(torch.tensor(x)).tolist()
    assert tinycnn.argwhere(tinycnn.tensor(x)).tolist() == torch.argwhere(torch.tensor(x)).tolist()
    ours = tinycnn.tensor(x).nonzero(as_tuple=True)
    theirs = torch.tensor(x).nonzero(as_tuple=True)
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    if x.dtype == bool:
        assert [t.tolist() for t in tinycnn.where(tinycnn.tensor(x))] == \
            [t.tolist() for t in torch.where(torch.tensor(x))]


def test_boolean_mask_from_where_indexes_like_torch(torch):
    x = tinycnn.tensor(X)
    assert x[tinycnn.where(x > 0)].tolist() == torch.tensor(X)[torch.where(torch.tensor(X) > 0)].tolist()


@pytest.mark.parametrize("call,exc,match", [
    ("x.gather(1, tc.tensor([[5]]))", RuntimeError, "index 5 is out of bounds for dimension 1 with size 4"),
    ("x.gather(1, tc.tensor([[-1]]))", IndexError, "out of bounds"),
    ("x.index_select(0, tc.tensor([3]))", IndexError, "out of bounds"),
    ("x.scatter(0, tc.tensor([[7]]), 1.0)", RuntimeError, "out of bounds"),
    ("x.take(tc.tensor([12]))", IndexError, "out of bounds"),
    ("x.gather(1, tc.tensor([0, 1]))", RuntimeError, "as many dims"),
    ("x.gather(1, tc.tensor([[0.5]]))", TypeError, "integer tensor"),
    ("x.masked_fill(tc.tensor([[True, False]]), 1.0)", RuntimeError, "does not broadcast"),
    ("x.masked_fill(tc.tensor([1, 0, 1, 0]), 1.0)", TypeError, "bool tensor"),
    ("x.index_add(0, tc.tensor([0]), tc.ones(2, 4))", RuntimeError, "source must have shape"),
    ("x.masked_scatter(tc.tensor(MASK), tc.ones(3))", RuntimeError, "True positions"),
    ("x.gather(2, tc.tensor([[0]]))", IndexError, "out of range"),
    ("x[5]", IndexError, "out of bounds"),
])
def test_errors_are_catchable_as_pytorchs(call, exc, match):
    with pytest.raises(exc, match=match):
        eval(call, {"x": tinycnn.tensor(X), "tc": tinycnn, "MASK": MASK})


@pytest.mark.filterwarnings("ignore")
def test_random_keys_index_like_torch(torch):
    """Property: any mix of ints, slices, None, Ellipsis and index tensors selects what PyTorch selects,
    with the same shape and the same gradient."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    # parts of a key for a (3, 4, 5, 6) tensor: "tensor" becomes an index tensor (all of one length)
    part = st.one_of(st.integers(-3, 2), st.none(), st.just("tensor"),
                     st.builds(slice, st.none() | st.integers(-3, 2), st.none() | st.integers(-2, 3),
                               st.sampled_from([None, 1, 2])))

    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(part, min_size=1, max_size=4), st.booleans(), st.integers(1, 3), st.integers(0, 2 ** 16))
    def check(parts, with_ellipsis, length, seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((3, 4, 5, 6))
        dims_used = sum(p is not None for p in parts)
        if dims_used > 4 or (with_ellipsis and dims_used > 3):
            return
        if with_ellipsis:
            parts = parts[:1] + [Ellipsis] + parts[1:]
        sizes, dim = [], 0
        for p in parts:  # the size each part indexes (for index tensors in range)
            if p is Ellipsis:
                dim += 4 - dims_used
            elif p is not None:
                sizes.append(x.shape[dim])
                dim += 1
        size_iter = iter(sizes)
        arrays = []
        for p in parts:
            if p is None or p is Ellipsis:
                arrays.append(p)
                continue
            n = next(size_iter)
            arrays.append(rng.integers(-n, n, length) if p == "tensor" else p)

        def key(lib):
            return tuple(lib.tensor(a) if isinstance(a, np.ndarray) else a for a in arrays)
        compare_with_torch(lambda t: t[key(tinycnn)], lambda t: t[key(torch)], [x])
    check()
