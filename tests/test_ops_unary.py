"""One-input elementwise ops (tinycnn.ops.math, the rounding ops, and exp/log/sqrt/abs/sign/clamp): forward
and gradients equal to PyTorch's in float64 and float32, on non-contiguous input, at the edge values (0, -0,
+-1, +-inf, NaN, tiny and huge numbers), as methods, functions and in-place methods; integers become float32.
"""
import numpy as np
import pytest

import tinycnn
from helpers import assert_grads_match, compare_with_torch

EDGES = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 1e-30, -1e-30, 1e30, -1e30, 100.0, 0.999999,
                  np.inf, -np.inf, np.nan])

# (name, domain of smooth points for finite differences)
SMOOTH = {
    "sin": (-3, 3), "cos": (-3, 3), "tan": (-1.2, 1.2), "asin": (-0.9, 0.9), "acos": (-0.9, 0.9),
    "atan": (-3, 3), "sinh": (-2, 2), "cosh": (-2, 2), "asinh": (-3, 3), "acosh": (1.2, 3), "atanh": (-0.9, 0.9),
    "erf": (-2, 2), "erfc": (-2, 2), "erfinv": (-0.9, 0.9), "log2": (0.5, 3), "log10": (0.5, 3),
    "log1p": (-0.5, 3), "exp2": (-2, 2), "expm1": (-2, 2), "rsqrt": (0.5, 3), "reciprocal": (0.5, 3),
    "square": (-2, 2), "lgamma": (0.5, 3), "digamma": (0.5, 3), "deg2rad": (-3, 3), "rad2deg": (-3, 3),
    "exp": (-2, 2), "log": (0.5, 3), "sqrt": (0.5, 3), "sigmoid": (-3, 3), "tanh": (-3, 3),
}
PIECEWISE = ["floor", "ceil", "trunc", "round", "frac", "sign", "abs"]
ALL = sorted(SMOOTH) + PIECEWISE


def ours(name):
    """tinycnn's function (the method where the top-level form belongs to the activations)."""
    return getattr(tinycnn, name) if hasattr(tinycnn, name) else (lambda t: getattr(t, name)())


def smooth_points(name):
    lo, hi = SMOOTH.get(name, (-3, 3))
    x = np.random.default_rng(0).uniform(lo, hi, (3, 4))
    if name in PIECEWISE:  # away from the jumps and kinks
        x = np.floor(x) + np.random.default_rng(1).uniform(0.1, 0.4, (3, 4))
    return x


@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_finite_differences(name):
    assert_grads_match(ours(name), [smooth_points(name)])


# PyTorch's trigamma (digamma's derivative) is a series good to about 1e-9 relative; SciPy's is exact
RTOL = {"digamma": 1e-8}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(torch, name, dtype):
    rtol = RTOL.get(name) if dtype == np.float64 else None
    compare_with_torch(ours(name), getattr(torch, name), [smooth_points(name)], dtype=dtype, rtol=rtol)


@pytest.mark.parametrize("name", ALL)
def test_matches_torch_on_strided_input(torch, name):
    x = np.random.default_rng(2).uniform(*SMOOTH.get(name, (-3, 3)), (4, 5))
    compare_with_torch(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), [x], strided=True,
                       rtol=RTOL.get(name))


@pytest.mark.parametrize("name", ALL)
def test_edge_values_forward_and_backward_match_torch(torch, name):
    """0, -0, poles, the ends of the domain, infinities and NaN: the same values and the same gradients
    (inf, -inf, NaN, 0) as PyTorch."""
    edges = EDGES
    if name == "digamma":  # at its poles (0, -1, -2...) and at -inf PyTorch's trigamma is a finite artefact
        edges = edges[(edges > -0.9) | (edges == -0.5)]
        edges = edges[edges != 0]
    compare_with_torch(ours(name), getattr(torch, name), [edges], rtol=RTOL.get(name, 1e-12), atol=1e-15)


def test_digamma_gradient_at_its_poles_is_inf():
    x = tinycnn.tensor([-1.0, -2.0], dtype=tinycnn.float64, requires_grad=True)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tinycnn.digamma(x).backward(tinycnn.ones(2, dtype=tinycnn.float64))
    assert np.isinf(x.grad.numpy()).all()


@pytest.mark.parametrize("name", ALL)
def test_in_place_form_matches_torch(torch, name):
    x = smooth_points(name)
    ours = tinycnn.tensor(x)
    theirs = torch.tensor(x)
    assert getattr(ours, name + "_")() is ours
    getattr(theirs, name + "_")()
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, atol=1e-14)
    assert ours._version == 1


@pytest.mark.parametrize("name", [n for n in sorted(SMOOTH) if n not in ("sigmoid", "tanh")])
def test_integer_input_gives_float32_like_torch(torch, name):
    ints = np.array([1, 2, 3])
    ours, theirs = getattr(tinycnn, name)(tinycnn.tensor(ints)), getattr(torch, name)(torch.tensor(ints))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, equal_nan=True)


def test_round_with_decimals_matches_torch(torch):
    x = np.array([2.5, 3.5, -2.5, 1.2345, -0.5, 1234.5678, 0.125, -7.45])
    for decimals in (0, 1, 2, -1, -2):
        ours = tinycnn.round(tinycnn.tensor(x), decimals=decimals)
        np.testing.assert_array_equal(ours.numpy(), torch.round(torch.tensor(x), decimals=decimals).numpy())


def test_aliases_name_the_same_functions():
    assert tinycnn.arcsin is tinycnn.asin and tinycnn.arctanh is tinycnn.atanh and tinycnn.fix is tinycnn.trunc
    x = tinycnn.tensor([0.25])
    assert x.arccos().item() == pytest.approx(np.arccos(0.25))


def test_special_functions_come_from_one_helper():
    """erf and the gamma family read scipy.special through backend.get_special_module (cupyx on CuPy)."""
    import scipy.special

    from tinycnn.backend import get_special_module
    assert get_special_module(np.zeros(2)) is scipy.special
