"""Two-input elementwise ops: + - * / ** maximum minimum and atan2, fmod, remainder (%), floor division (//),
div(rounding_mode=), lerp, copysign, logaddexp(2), hypot, addcmul, addcdiv, float_power.

Forward and both gradients equal PyTorch's with broadcasting, in float64 and float32, on strided input, and
on the grid of every pair of edge values (0, -0, +-1, +-inf, NaN, tiny, huge); PyTorch's type promotion.
"""
import itertools
import warnings

import numpy as np
import pytest

import tinycnn
from helpers import assert_grads_match, compare_with_torch

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, -2.0, 3.0, 1e-30, 1e30, np.inf, -np.inf, np.nan]
_PAIRS = np.array(list(itertools.product(EDGES, EDGES)))
EDGE_A, EDGE_B = _PAIRS[:, 0].copy(), _PAIRS[:, 1].copy()


def _t(name):
    return lambda t: getattr(t, name)


# (name, ours, theirs, make(rng) -> smooth inputs of broadcastable shapes)
def _normal(rng):
    return [rng.standard_normal((3, 4)), rng.standard_normal(4)]


def _positive_base(rng):
    return [rng.uniform(0.5, 2.0, (3, 4)), rng.standard_normal(4)]


def _divisor_away_from_zero(rng):
    b = rng.uniform(0.5, 2.0, 4) * np.array([1, -1, 1, -1])
    q = rng.integers(-3, 3, (3, 4)) + rng.uniform(0.15, 0.85, (3, 4))  # a / b off the integers
    return [q * b, b]


def _apart(rng):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal(4)
    a[np.abs(a - b) < 0.1] += 0.3
    return [a, b]


def _nonzero(rng):
    return [rng.uniform(0.3, 2, (3, 4)) * rng.choice([-1, 1], (3, 4)), rng.uniform(0.3, 2, 4) * np.array([1, -1, 1, 1])]


CASES = [
    ("add", tinycnn.add, lambda t: t[0] + t[1], _normal),
    ("sub", tinycnn.sub, lambda t: t[0] - t[1], _normal),
    ("mul", tinycnn.mul, lambda t: t[0] * t[1], _normal),
    ("div", tinycnn.div, lambda t: t[0] / t[1], _nonzero),
    ("pow", tinycnn.pow, lambda t: t[0] ** t[1], _positive_base),
    ("maximum", tinycnn.maximum, lambda t: t[0].maximum(t[1]), _apart),
    ("minimum", tinycnn.minimum, lambda t: t[0].minimum(t[1]), _apart),
    ("atan2", tinycnn.atan2, lambda t: t[0].atan2(t[1]), _nonzero),
    ("fmod", tinycnn.fmod, lambda t: t[0].fmod(t[1]), _divisor_away_from_zero),
    ("remainder", tinycnn.remainder, lambda t: t[0] % t[1], _divisor_away_from_zero),
    # PyTorch's floor_divide (//) has no backward at all; its div(rounding_mode='floor') has zero gradients,
    # which is what tinycnn gives both
    ("floor_divide", tinycnn.floor_divide, lambda t: t[0].div(t[1], rounding_mode="floor"),
     _divisor_away_from_zero),
    ("div_trunc", lambda a, b: tinycnn.div(a, b, rounding_mode="trunc"),
     lambda t: t[0].div(t[1], rounding_mode="trunc"), _divisor_away_from_zero),
    ("copysign", tinycnn.copysign, lambda t: t[0].copysign(t[1]), _nonzero),
    ("logaddexp", tinycnn.logaddexp, lambda t: t[0].logaddexp(t[1]), _normal),
    ("logaddexp2", tinycnn.logaddexp2, lambda t: t[0].logaddexp2(t[1]), _normal),
    ("hypot", tinycnn.hypot, lambda t: t[0].hypot(t[1]), _nonzero),
    ("float_power", tinycnn.float_power, lambda t: t[0].float_power(t[1]), _positive_base),
]
IDS = [c[0] for c in CASES]


def _torch_fn(theirs):
    return lambda *ts: theirs(ts)


@pytest.mark.parametrize("name,ours,theirs,make", CASES, ids=IDS)
def test_finite_differences_with_broadcasting(name, ours, theirs, make):
    assert_grads_match(ours, make(np.random.default_rng(0)))


@pytest.mark.parametrize("name,ours,theirs,make", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(torch, name, ours, theirs, make, dtype):
    if name == "float_power" and dtype == np.float32:
        pytest.skip("float_power computes in float64 by definition")
    compare_with_torch(ours, _torch_fn(theirs), make(np.random.default_rng(1)), dtype=dtype)


@pytest.mark.parametrize("name,ours,theirs,make", CASES, ids=IDS)
def test_matches_torch_on_strided_input(torch, name, ours, theirs, make):
    compare_with_torch(ours, _torch_fn(theirs), make(np.random.default_rng(2)), strided=True)


@pytest.mark.parametrize("name,ours,theirs,make", CASES, ids=IDS)
def test_edge_value_pairs_match_torch(torch, name, ours, theirs, make):
    """Every pair of edge values: the same results and the same two gradients (including inf and NaN)."""
    compare_with_torch(ours, _torch_fn(theirs), [EDGE_A, EDGE_B], rtol=1e-12, atol=1e-15)


def test_gradient_of_x_to_the_zero_at_zero_is_zero(torch):
    """d/dx x**0 = 0 everywhere, x = 0 included (0 * 0**-1 would be NaN), as PyTorch."""
    x = tinycnn.tensor([0.0, -0.0, 2.0, -3.0], requires_grad=True)
    (x ** 0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0, 0.0]
    for e in (0.0, 0.5, 2.0, -1.0, 3.0):
        compare_with_torch(lambda t: t ** e, lambda t: t ** e, [np.array(EDGES)], rtol=1e-12, atol=0)
        compare_with_torch(lambda t: e ** t, lambda t: e ** t, [np.array(EDGES)], rtol=1e-12, atol=0)


def test_negative_base_gives_nan_exponent_gradient_like_torch():
    a = tinycnn.tensor([-2.0], requires_grad=True)
    b = tinycnn.tensor([2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (a ** b).sum().backward()
    assert a.grad.item() == -4.0 and np.isnan(b.grad.item())


@pytest.mark.parametrize("expr", [
    "a + 2.5", "a * 2.5", "a / 2", "a / a", "a // 2", "a % 3", "a + b", "b + a", "a + f16", "f16 * 2.0",
    "f16 + f64_0d", "a + f32", "u8 + i8", "bools + 1", "bools + True", "bools * 2.5", "a ** 2", "a ** 0.5",
    "2 ** a", "a - 1", "3 - a", "i32 + a0", "i32 * 2", "a.maximum(f32)", "a.fmod(2.5)", "a.atan2(a)",
])
def test_type_promotion_is_pytorchs(torch, expr):
    def env(lib):
        t = lib.tensor
        return {"a": t([1, -2, 3]), "b": t([0.5, 1.5, 2.5]), "f16": t([1.0, 2.0, 3.0], dtype=lib.float16),
                "f64_0d": t(1.0, dtype=lib.float64), "f32": t([1.0, 2.0, 3.0]), "u8": t([1, 2, 3], dtype=lib.uint8),
                "i8": t([1, 2, 3], dtype=lib.int8), "bools": t([True, False, True]),
                "i32": t([1, 2, 3], dtype=lib.int32), "a0": t(4)}
    ours, theirs = eval(expr, env(tinycnn)), eval(expr, env(torch))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), expr
    np.testing.assert_allclose(ours.numpy().astype(float), theirs.numpy().astype(float), rtol=1e-3)


def test_integer_division_and_remainder(torch):
    a, b = [7, -7, 7, -7, 0], [2, 2, -2, -2, 3]
    for op in (lambda x, y: x // y, lambda x, y: x % y, lambda x, y: x.fmod(y),
               lambda x, y: x.div(y, rounding_mode="trunc"), lambda x, y: x.div(y, rounding_mode="floor")):
        ours, theirs = op(tinycnn.tensor(a), tinycnn.tensor(b)), op(torch.tensor(a), torch.tensor(b))
        assert ours.tolist() == theirs.tolist() and str(ours.dtype) == "int64"
    with pytest.raises(ZeroDivisionError):
        tinycnn.tensor([1]) // 0
    with pytest.raises(ZeroDivisionError):
        tinycnn.tensor([1]) % tinycnn.tensor([0])


def test_reflected_operators_with_numbers(torch):
    x = np.array([1.5, -2.5, 4.0])
    for expr in ("7 % t", "7 // t", "2 ** t", "1 - t", "3 / t", "t % -2", "t // 0.5"):
        ours = eval(expr, {"t": tinycnn.tensor(x)})
        theirs = eval(expr, {"t": torch.tensor(x)})
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_lerp_with_tensor_and_scalar_weight_matches_torch(torch):
    rng = np.random.default_rng(3)
    a, b, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.uniform(-0.5, 1.5, (3, 1))
    compare_with_torch(tinycnn.lerp, torch.lerp, [a, b, w])
    compare_with_torch(lambda x, y: tinycnn.lerp(x, y, 0.75), lambda x, y: torch.lerp(x, y, 0.75), [a, b])


def test_addcmul_addcdiv_match_torch(torch):
    rng = np.random.default_rng(4)
    a, b, c = rng.standard_normal((3, 4)), rng.standard_normal((3, 4)), rng.uniform(0.5, 2, 4)
    compare_with_torch(lambda x, y, z: tinycnn.addcmul(x, y, z, value=0.3),
                       lambda x, y, z: torch.addcmul(x, y, z, value=0.3), [a, b, c])
    compare_with_torch(lambda x, y, z: tinycnn.addcdiv(x, y, z, value=-2),
                       lambda x, y, z: torch.addcdiv(x, y, z, value=-2), [a, b, c])


def test_add_and_sub_take_alpha(torch):
    a, b = np.array([1.0, 2.0]), np.array([0.5, 0.25])
    compare_with_torch(lambda x, y: tinycnn.add(x, y, alpha=3), lambda x, y: torch.add(x, y, alpha=3), [a, b])
    compare_with_torch(lambda x, y: x.sub(y, alpha=-2), lambda x, y: x.sub(y, alpha=-2), [a, b])


def test_shape_mismatch_is_a_runtime_error_like_torch():
    with pytest.raises(RuntimeError, match="cannot be broadcast together"):
        tinycnn.atan2(tinycnn.randn(3, 4), tinycnn.randn(3))
    with pytest.raises(ValueError):  # the same error, caught as before
        tinycnn.randn(3, 4) % tinycnn.randn(2)
