"""Logical and bitwise ops, their operators, predicates (isnan...), isclose/allclose/equal and the logical
reductions (any, all, count_nonzero): values and dtypes equal to PyTorch's; none carries a gradient."""
import numpy as np
import pytest

import tinycnn

INTS = np.array([[0, 1, -2, 7], [5, -1, 3, 12]])
OTHER = np.array([3, -6, 2, 1])
BOOLS = np.array([[True, False, True, False], [False, False, True, True]])
FLOATS = np.array([0.0, -0.0, 1.5, -2.0, np.inf, -np.inf, np.nan, 1e-310])


@pytest.mark.parametrize("expr", [
    "a & b", "a | b", "a ^ b", "~a", "a << 2", "a >> 1", "b >> a.abs()", "a & 6", "6 & a", "3 | a", "1 << b.abs()",
    "m & n", "m | n", "m ^ n", "~m", "m & True", "a.bitwise_and(b)", "a.bitwise_not()", "a.bitwise_left_shift(b.abs())",
    "tc.bitwise_xor(a, b)", "tc.bitwise_right_shift(a, 1)", "u8 & 200", "~u8",
])
def test_bitwise_matches_torch(torch, expr):
    def env(lib):
        return {"a": lib.tensor(INTS), "b": lib.tensor(OTHER), "m": lib.tensor(BOOLS),
                "n": lib.tensor(BOOLS[::-1].copy()), "u8": lib.tensor([1, 200, 255], dtype=lib.uint8), "tc": lib}
    ours, theirs = eval(expr, env(tinycnn)), eval(expr, env(torch))
    assert ours.tolist() == theirs.tolist(), expr
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), expr


def test_bitwise_ops_refuse_floats():
    with pytest.raises(TypeError, match="integer or bool"):
        tinycnn.tensor([1.0]) & tinycnn.tensor([1.0])
    with pytest.raises(TypeError, match="integer or bool"):
        ~tinycnn.tensor([1.0])


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_binary_ops_match_torch(torch, name):
    for a, b in ((INTS, OTHER), (FLOATS, FLOATS[::-1].copy()), (BOOLS, BOOLS[0])):
        ours = getattr(tinycnn, name)(tinycnn.tensor(a), tinycnn.tensor(b))
        theirs = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
        assert ours.tolist() == theirs.tolist() and ours.dtype == tinycnn.bool
        assert getattr(tinycnn.tensor(a), name)(tinycnn.tensor(b)).tolist() == theirs.tolist()


def test_logical_not_matches_torch(torch):
    for a in (INTS, FLOATS, BOOLS):
        assert tinycnn.logical_not(tinycnn.tensor(a)).tolist() == torch.logical_not(torch.tensor(a)).tolist()


@pytest.mark.parametrize("name", ["isnan", "isinf", "isposinf", "isneginf", "isfinite", "signbit", "isreal"])
def test_predicates_match_torch(torch, name):
    for a in (FLOATS, INTS, BOOLS):
        if name == "signbit" and a.dtype == bool:
            continue
        ours, theirs = getattr(tinycnn, name)(tinycnn.tensor(a)), getattr(torch, name)(torch.tensor(a))
        assert ours.tolist() == theirs.tolist(), (name, a.dtype)
        assert getattr(tinycnn.tensor(a), name)().tolist() == theirs.tolist()


def test_isclose_allclose_equal_match_torch(torch):
    a = np.array([1.0, 1.0 + 1e-9, np.nan, np.inf, -np.inf, 2.0])
    b = np.array([1.0, 1.0, np.nan, np.inf, np.inf, 2.1])
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.1}, {"atol": 0.2}):
        ours = tinycnn.isclose(tinycnn.tensor(a), tinycnn.tensor(b), **kwargs)
        assert ours.tolist() == torch.isclose(torch.tensor(a), torch.tensor(b), **kwargs).tolist()
        assert tinycnn.allclose(tinycnn.tensor(a[:2]), tinycnn.tensor(b[:2]), **kwargs) == \
            torch.allclose(torch.tensor(a[:2]), torch.tensor(b[:2]), **kwargs)
    assert tinycnn.equal(tinycnn.tensor([1, 2]), tinycnn.tensor([1, 2])) is True
    assert tinycnn.equal(tinycnn.tensor([1, 2]), tinycnn.tensor([[1, 2]])) is False
    assert tinycnn.tensor([1.0, 2.0]).allclose(tinycnn.tensor([1.0, 2.0 + 1e-7]))


@pytest.mark.parametrize("name", ["any", "all", "count_nonzero"])
@pytest.mark.parametrize("dim", [None, 0, 1, -1, (0, 1)])
def test_logical_reductions_match_torch(torch, name, dim):
    for a in (INTS, FLOATS.reshape(2, 4), BOOLS):
        if name != "count_nonzero" and isinstance(dim, tuple):
            continue  # torch.any/all take one dim in this version of the oracle
        kwargs = {} if dim is None else {"dim": dim}
        ours = getattr(tinycnn, name)(tinycnn.tensor(a), **kwargs)
        theirs = getattr(torch, name)(torch.tensor(a), **kwargs)
        assert ours.tolist() == theirs.tolist(), (name, dim, a.dtype)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")


def test_any_all_keepdim_and_numpy_aliases(torch):
    x = tinycnn.tensor(INTS)
    assert x.any(1, keepdim=True).shape == torch.tensor(INTS).any(1, keepdim=True).shape
    assert x.all(axis=0, keepdims=True).tolist() == torch.tensor(INTS).all(dim=0, keepdim=True).tolist()


def test_comparisons_of_tensors_of_other_shapes_name_them():
    with pytest.raises(RuntimeError, match="cannot be broadcast"):
        tinycnn.logical_and(tinycnn.ones(3), tinycnn.ones(2))
