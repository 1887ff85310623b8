"""Arithmetic ops (ops/arithmetic.py): broadcasting backward, scalars on both sides, ndarray operands,
matmul with 1-D and batched operands, error messages; finite differences and PyTorch agreement."""
import numpy as np
import pytest

import tinycnn
from helpers import (analytic_grad, assert_grads_match, assert_keeps_float32, assert_matches_torch,
                     assert_no_inplace)
from tinycnn import Tensor
from tinycnn.utils.gradcheck_cases.common import normal



def base_exponent(a_shape, b_shape):
    return lambda rng: [rng.uniform(0.5, 2.0, a_shape), rng.standard_normal(b_shape)]


def nonzero(*shapes):
    return lambda rng: [rng.uniform(0.5, 2.0, s) * rng.choice([-1.0, 1.0], s) for s in shapes]


# (id, function used for both libraries, inputs)
CASES = [
    ("add_broadcast", lambda a, b: a + b, normal((3, 1, 4), (2, 1))),
    ("sub_broadcast", lambda a, b: a - b, normal((2, 1), (3, 1, 4))),
    ("mul_broadcast", lambda a, b: a * b, normal((3, 1, 4), (2, 1))),
    ("div_broadcast", lambda a, b: a / b, nonzero((3, 1, 4), (2, 1))),
    ("pow_broadcast", lambda a, b: a ** b, base_exponent((3, 1, 4), (2, 1))),
    ("add_0d", lambda a, b: a + b, normal((), (3, 4))),
    ("mul_0d_right", lambda a, b: a * b, normal((3, 4), ())),
    ("add_same", lambda a, b: a.add(b), normal((3, 4), (3, 4))),
    ("scalar_radd", lambda a: 2.0 + a, normal((3, 4))),
    ("scalar_rsub", lambda a: 2.0 - a, normal((3, 4))),
    ("scalar_sub", lambda a: a - 1.5, normal((3, 4))),
    ("scalar_rmul", lambda a: 0.5 * a, normal((3, 4))),
    ("scalar_rdiv", lambda a: 3.0 / a, nonzero((3, 4))),
    ("scalar_div", lambda a: a / 4.0, normal((3, 4))),
    ("scalar_pow", lambda a: a ** 3, normal((3, 4))),
    ("scalar_pow_half", lambda a: a ** 0.5, lambda rng: [rng.uniform(0.5, 2.0, (3, 4))]),
    ("scalar_rpow", lambda a: 2.0 ** a, normal((3, 4))),
    ("neg", lambda a: -a, normal((3, 4))),
    ("same_input_twice", lambda a: a * a + a, normal((3, 4))),
    ("matmul_2d", lambda a, b: a @ b, normal((3, 4), (4, 2))),
    ("matmul_mat_vec", lambda a, b: a @ b, normal((3, 4), (4,))),
    ("matmul_vec_mat", lambda a, b: a @ b, normal((4,), (4, 2))),
    ("matmul_vec_vec", lambda a, b: a @ b, normal((4,), (4,))),
    ("matmul_batched", lambda a, b: a.matmul(b), normal((2, 3, 4), (2, 4, 5))),
    ("matmul_batch_broadcast", lambda a, b: a @ b, normal((2, 1, 3, 4), (5, 4, 2))),
    ("matmul_batch_vs_2d", lambda a, b: a @ b, normal((2, 3, 4), (4, 2))),
    ("matmul_vec_batched", lambda a, b: a @ b, normal((4,), (2, 4, 3))),
    ("matmul_batched_vec", lambda a, b: a @ b, normal((2, 3, 4), (4,))),
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


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_ndarray_on_either_side_acts_as_a_constant(op, torch):
    rng = np.random.default_rng(4)
    c = rng.uniform(0.5, 2.0, (2, 1))
    x0 = rng.uniform(0.5, 2.0, (3, 1, 4))
    ops = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
           "div": lambda a, b: a / b}
    f = ops[op]
    for ours, theirs in [(lambda x: f(c, x), lambda x: f(torch.tensor(c), x)),
                         (lambda x: f(x, c), lambda x: f(x, torch.tensor(c)))]:
        out = ours(Tensor(x0))
        assert isinstance(out, Tensor), f"ndarray {op} Tensor gave {type(out).__name__}"
        assert_matches_torch(ours, theirs, [x0])
        assert_grads_match(ours, [x0])


def test_ndarray_float64_constant_with_float32_tensor_keeps_grad_dtype():
    x = Tensor(np.ones((2, 3), np.float32), requires_grad=True)
    (x * np.full((3,), 2.0)).sum().backward()
    assert x.grad.dtype == np.float32


def test_broadcast_gradient_sums_over_the_copied_axes():
    # b of shape (2, 1) is used 3 * 4 times per element: its gradient is 12 under an all-ones upstream
    _, (ga, gb) = analytic_grad(lambda a, b: a + b, [np.zeros((3, 1, 4)), np.zeros((2, 1))],
                                upstream=np.ones((3, 2, 4)))
    np.testing.assert_array_equal(ga, np.full((3, 1, 4), 2.0))
    np.testing.assert_array_equal(gb, np.full((2, 1), 12.0))


@pytest.mark.parametrize("a,b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3, 4), (5, 2)), ((4,), (3, 2, 4))])
def test_matmul_shape_errors_name_both_shapes(a, b):
    with pytest.raises(ValueError, match=rf"matmul: shapes {tuple(a)!r}.*{tuple(b)!r}".replace("(", r"\(")
                       .replace(")", r"\)")):
        Tensor(np.zeros(a)) @ Tensor(np.zeros(b))


def test_matmul_rejects_0d_and_broadcast_errors_name_shapes():
    with pytest.raises(ValueError, match="at least 1-D"):
        tinycnn.matmul(Tensor(np.array(2.0)), Tensor(np.zeros(3)))
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        Tensor(np.zeros((2, 3))) + Tensor(np.zeros(4))


def test_comparisons_are_bool_without_grad():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for r in (x > 2.0, x == 2.0, x <= Tensor(np.array([1.0, 1.0, 1.0]))):
        assert r.dtype == np.bool_ and not r.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]
