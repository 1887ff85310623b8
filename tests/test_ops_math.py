"""Elementwise math ops: finite differences, PyTorch agreement (incl. kinks and ties), dtypes, no in-place."""
import numpy as np
import pytest

import tinycnn
from helpers import (analytic_grad, assert_grads_match, assert_keeps_float32, assert_matches_torch, lib,
                     assert_no_inplace)
from tinycnn import Tensor
from tinycnn.utils.gradcheck_cases.common import normal


MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


def positive(rng):
    return [rng.uniform(0.5, 2.0, (3, 4))]


def away_from(*points):
    def make(rng):
        x = rng.uniform(-2, 2, (3, 4))
        for p in points:
            x[np.abs(x - p) < 0.1] = p + 0.3
        return [x]
    return make


def apart(rng):  # (3, 4) and (4,) never within 0.1 of each other: no ties for maximum/minimum
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    a[np.abs(a - b) < 0.1] += 0.3
    return [a, b]


def with_kinks(rng):
    x = rng.uniform(-2, 2, (3, 4))
    x.reshape(-1)[:5] = [-0.5, 0.5, 0.0, -0.0, 1.0]
    return [x]


def tied(rng):
    a = rng.standard_normal((3, 4))
    b = a[1].copy()       # row 1 of a ties with b everywhere
    b[0] = 5.0
    return [a, b]


# (id, ours, theirs (torch through lib), inputs away from kinks, inputs at the kinks/ties (torch comparison only))
CASES = [
    ("exp", tinycnn.exp, lambda x: lib(x).exp(x), normal((3, 4)), None),
    ("log", tinycnn.log, lambda x: lib(x).log(x), positive, None),
    ("sqrt", tinycnn.sqrt, lambda x: lib(x).sqrt(x), positive, None),
    ("abs", tinycnn.abs, lambda x: lib(x).abs(x), away_from(0.0), with_kinks),
    ("abs_method", lambda x: abs(x), lambda x: abs(x), away_from(0.0), with_kinks),
    # clamp at its bounds: PyTorch changed the subgradient (1 up to 2.13, 0 for number bounds and 0.5 ties
    # for tensor bounds after); tinycnn follows 2.14, checked in test_kink_values_are_pytorchs, so the oracle
    # comparison stays away from the bounds.
    ("clamp", lambda x: x.clamp(-0.5, 0.5), lambda x: x.clamp(-0.5, 0.5), away_from(-0.5, 0.5), None),
    ("clamp_min", lambda x: tinycnn.clamp(x, min=0.0), lambda x: lib(x).clamp(x, min=0.0), away_from(0.0), None),
    ("clamp_max", lambda x: x.clamp(max=1.0), lambda x: x.clamp(max=1.0), away_from(1.0), None),
    ("clamp_tensor_bounds", lambda x, lo: tinycnn.clamp(x, lo, lo + 1.0),
     lambda x, lo: lib(x).clamp(x, lo, lo + 1.0), apart, None),
    ("maximum", tinycnn.maximum, lambda a, b: lib(a).maximum(a, b), apart, tied),
    ("minimum", tinycnn.minimum, lambda a, b: lib(a).minimum(a, b), apart, tied),
    ("maximum_method_swapped", lambda a, b: b.maximum(a), lambda a, b: b.maximum(a), apart, tied),
    ("sign", tinycnn.sign, lambda x: lib(x).sign(x), away_from(0.0), with_kinks),
    ("where", lambda a, b: tinycnn.where(Tensor(MASK), a, b), lambda a, b: lib(a).where(lib(a).tensor(MASK), a, b),
     normal((3, 4), (4,)), None),
    ("where_scalar", lambda a: tinycnn.where(Tensor(MASK), a, 0.5),
     lambda a: lib(a).where(lib(a).tensor(MASK), a, 0.5), normal((3, 4)), None),
    ("where_method", lambda a, b: a.where(Tensor(MASK[0]), b),
     lambda a, b: a.where(lib(a).tensor(MASK[0]), b), normal((3, 4), (3, 1)), None),
    ("chain", lambda x: (x.exp() + 1.0).log().sqrt(), lambda x: (x.exp() + 1.0).log().sqrt(),
     normal((2, 3)), None),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,ours,theirs,make,kinks", CASES, ids=IDS)
def test_finite_differences_float64(name, ours, theirs, make, kinks):
    assert_grads_match(ours, make(np.random.default_rng(0)))


@pytest.mark.parametrize("name,ours,theirs,make,kinks", CASES, ids=IDS)
def test_matches_torch_float64(name, ours, theirs, make, kinks, torch):
    rng = np.random.default_rng(1)
    assert_matches_torch(ours, theirs, make(rng))
    if kinks is not None:  # PyTorch's exact values at the kinks / ties
        assert_matches_torch(ours, theirs, kinks(rng))


@pytest.mark.parametrize("name,ours,theirs,make,kinks", CASES, ids=IDS)
def test_float32_stays_float32(name, ours, theirs, make, kinks):
    assert_keeps_float32(ours, make(np.random.default_rng(2)))


@pytest.mark.parametrize("name,ours,theirs,make,kinks", CASES, ids=IDS)
def test_no_inplace_modification(name, ours, theirs, make, kinks):
    assert_no_inplace(ours, make(np.random.default_rng(3)))


def test_kink_values_are_pytorchs():
    """PyTorch 2.14's gradients at kinks and ties (clamp, abs, maximum), as constants: checked without torch."""
    x = np.array([-1.0, 0.0, 3.0, 6.0, 7.0])
    _, (g,) = analytic_grad(lambda t: t.clamp(0, 6), [x], upstream=np.ones(5))
    np.testing.assert_array_equal(g, [0, 0, 1, 0, 0])  # number bounds: 0 at both bounds
    _, (g,) = analytic_grad(lambda t: t.clamp(min=0), [x], upstream=np.ones(5))
    np.testing.assert_array_equal(g, [0, 0, 1, 1, 1])
    _, (g,) = analytic_grad(lambda t: tinycnn.clamp(t, tinycnn.zeros_like(t), tinycnn.full((5,), 6.0,
                                                                                             dtype="float64")),
                            [x], upstream=np.ones(5))
    np.testing.assert_array_equal(g, [0, 0.5, 1, 0.5, 0])  # tensor bounds: ties split
    _, (g,) = analytic_grad(tinycnn.abs, [np.array([0.0, -0.0, 2.0])], upstream=np.ones(3))
    np.testing.assert_array_equal(g, [0, 0, 1])
    _, (ga, gb) = analytic_grad(tinycnn.maximum, [np.array([1.0, 2.0]), np.array([1.0, 3.0])],
                                upstream=np.ones(2))
    np.testing.assert_array_equal(ga, [0.5, 0])
    np.testing.assert_array_equal(gb, [0.5, 1])


def test_where_condition_needs_bool_and_shapes_broadcast():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="bool"):
        tinycnn.where(Tensor(np.ones((2, 3))), x, x)
    with pytest.raises(ValueError, match=r"\(2, 2\)"):
        tinycnn.where(np.ones((2, 2), bool), x, x)
    assert tinycnn.where(np.array([True, False]), 1.0, 2.0).tolist() == [1.0, 2.0]


def test_clamp_needs_a_bound_and_int_inputs_become_float():
    with pytest.raises(ValueError, match="min and max"):
        tinycnn.clamp(Tensor(np.ones(2)))
    assert tinycnn.exp(tinycnn.tensor([0, 1])).dtype == np.float32
    assert tinycnn.clamp(tinycnn.tensor([-3, 0, 9]), 0, 6).tolist() == [0, 0, 6]


def test_sign_has_zero_gradient():
    x = Tensor(np.array([-2.0, 3.0]), requires_grad=True)
    (tinycnn.sign(x) * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 1.0])  # only through the product's x factor
