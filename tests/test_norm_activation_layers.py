"""LayerNorm, GroupNorm, InstanceNorm1d/2d and the smooth and gated activations against PyTorch: forward, input
and parameter gradients (float64), state-dict keys, default initialisation, train/eval, reprs; the top-level
tinycnn.relu/sigmoid/tanh/softmax; errors."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
import tinycnn.nn as nn
import tinycnn.nn.functional as F
from tinycnn import Tensor

from helpers import assert_grads_match, assert_keeps_float32, assert_matches_torch, assert_module_matches_torch

NORMS = [
    ("LayerNorm", (5,), dict()), ("LayerNorm", ((4, 5),), dict(eps=1e-3)),
    ("LayerNorm", ((4, 5),), dict(bias=False)), ("LayerNorm", (5,), dict(elementwise_affine=False)),
    ("GroupNorm", (2, 6), dict()), ("GroupNorm", (3, 6), dict(affine=False)), ("GroupNorm", (6, 6), dict()),
    ("GroupNorm", (1, 6), dict(eps=1e-2)),
    ("InstanceNorm2d", (6,), dict()), ("InstanceNorm2d", (6,), dict(affine=True)),
    ("InstanceNorm2d", (6,), dict(affine=True, track_running_stats=True, momentum=0.3)),
    ("InstanceNorm1d", (6,), dict(track_running_stats=True)),
]


def _input(name, rng):
    if name == "LayerNorm":
        return rng.standard_normal((3, 2, 4, 5)) * 2 + 1
    if name == "InstanceNorm1d":
        return rng.standard_normal((3, 6, 7)) * 2 + 1
    return rng.standard_normal((3, 6, 4, 5)) * 2 + 1


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("name,args,kw", NORMS, ids=[f"{n}{a}{k}" for n, a, k in NORMS])
def test_norm_layers_match_torch(torch, name, args, kw, train):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(0)
    with torch.no_grad():                 # non-trivial affine parameters and running statistics
        for p in theirs.parameters():
            p.copy_(torch.tensor(rng.uniform(0.5, 1.5, tuple(p.shape))))
        if getattr(theirs, "running_mean", None) is not None:
            theirs.running_mean.copy_(torch.tensor(rng.standard_normal(tuple(theirs.running_mean.shape))))
            theirs.running_var.copy_(torch.tensor(rng.uniform(0.5, 2, tuple(theirs.running_var.shape))))
    for _ in range(2):                    # twice: the running statistics move (in training) the same way
        assert_module_matches_torch(ours, theirs, _input(name, rng), train=train)


@pytest.mark.parametrize("name,args,kw", NORMS[:8], ids=[f"{n}{a}{k}" for n, a, k in NORMS[:8]])
def test_default_parameters_are_ones_and_zeros(torch, name, args, kw):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    for (a, p), (b, q) in zip(ours.state_dict().items(), theirs.state_dict().items()):
        assert a == b and np.array_equal(p.numpy(), q.numpy()) and p.dtype == np.float32


def test_instance_norm_without_batch_axis_and_functional(torch):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5, 6))
    assert_module_matches_torch(nn.InstanceNorm2d(4, affine=True), torch.nn.InstanceNorm2d(4, affine=True), x)
    rm, rv = rng.standard_normal(3), rng.uniform(0.5, 2, 3)
    x = rng.standard_normal((2, 3, 5))
    assert_matches_torch(lambda x, w, b: F.instance_norm(x, Tensor(rm.copy()), Tensor(rv.copy()), w, b,
                                                         use_input_stats=False),
                         lambda x, w, b: torch.nn.functional.instance_norm(x, torch.tensor(rm), torch.tensor(rv),
                                                                           w, b, use_input_stats=False),
                         [x, rng.standard_normal(3), rng.standard_normal(3)])


def test_norm_gradients_by_finite_differences_and_float32():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 4, 3)), rng.standard_normal(4), rng.standard_normal(4)
    assert_grads_match(lambda x, w, b: F.group_norm(x, 2, w, b), [x, w, b])
    assert_grads_match(lambda x: F.layer_norm(x, (4, 3)), [x])
    assert_keeps_float32(lambda x, w, b: F.layer_norm(x, (3,), w[:3], b[:3]), [x, w, b])
    # the output of every group has mean 0 and (biased) variance ~1
    y = F.group_norm(Tensor(rng.standard_normal((2, 6, 5)) * 3 + 2), 3).numpy().reshape(2, 3, -1)
    np.testing.assert_allclose(y.mean(axis=2), 0, atol=1e-6)
    np.testing.assert_allclose(y.var(axis=2), 1, atol=1e-4)


@pytest.mark.parametrize("make,x,match", [
    (lambda: nn.LayerNorm(5), (2, 4), r"normalized_shape=\[5\], expected input with shape \[\*, 5\]"),
    (lambda: nn.GroupNorm(2, 6), (2, 4, 3), r"GroupNorm\(2, 6\) expects 6 channels"),
    (lambda: nn.GroupNorm(4, 6), None, "divisible by num_groups"),
    (lambda: nn.InstanceNorm2d(3, affine=True), (2, 4, 5, 5), r"InstanceNorm2d\(3\) expects 3 channels"),
    (lambda: nn.InstanceNorm2d(3), (2, 3, 1, 1), "more than 1 spatial element"),
    (lambda: nn.InstanceNorm1d(3), (2, 3, 4, 4), "2-D .* or 3-D"),
])
def test_norm_errors(make, x, match):
    with pytest.raises(ValueError, match=match):
        make()(tinycnn.randn(*x))


# ---- activations -------------------------------------------------------------------------------------------------
_X = np.concatenate([np.linspace(-6, 6, 37), [0.0, 30, -30, 100, -100, 25, 21]]).reshape(4, -1)

ACTIVATIONS = [
    ("GELU", (), {}), ("GELU", ("tanh",), {}), ("SELU", (), {}), ("CELU", (), {}),
    ("Softplus", (), {}), ("Softplus", (2.0, 5.0), {}), ("Mish", (), {}), ("LogSigmoid", (), {}),
    ("Softsign", (), {}), ("Tanhshrink", (), {}), ("GLU", (), dict(dim=0)), ("ELU", (0.5,), {}),
    ("Softmin", (), dict(dim=1)), ("Hardtanh", (-2.0, 1.5), {}),
]


@pytest.mark.parametrize("name,args,kw", ACTIVATIONS, ids=[f"{n}{a}{k}" for n, a, k in ACTIVATIONS])
def test_activation_layers_match_torch(torch, name, args, kw):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert_module_matches_torch(ours, theirs, _X)


def test_celu_with_alpha_matches_torch_to_float32_rounding(torch):
    """PyTorch's CELU backward rounds its alpha constants to float32 (a relative 1e-8); the forward is exact
    and our gradient is the exact derivative (checked by finite differences)."""
    x = _X[:, :10]
    assert_module_matches_torch(nn.CELU(0.7), torch.nn.CELU(0.7), x, rtol=1e-7, atol=1e-8)
    assert_grads_match(lambda x: F.celu(x, 0.7), [x[abs(x) > 0.1]])


@pytest.mark.parametrize("num,init,shape", [(1, 0.25, (2, 3, 4)), (3, 0.1, (2, 3, 4)), (3, -0.5, (5, 3)),
                                            (1, 0.3, (7,))])
def test_prelu_matches_torch_with_its_slope_gradient(torch, num, init, shape):
    ours, theirs = nn.PReLU(num, init), torch.nn.PReLU(num, init)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == ["weight"]
    np.testing.assert_array_equal(ours.weight.numpy(), theirs.weight.detach().numpy())
    x = np.random.default_rng(3).standard_normal(shape)
    x.flat[0] = 0.0                       # the corner: slope a, as PyTorch
    assert_module_matches_torch(ours, theirs, x)


def test_top_level_activations_like_torch(torch):
    x = np.random.default_rng(4).standard_normal((3, 4))
    for name in ("relu", "sigmoid", "tanh"):
        assert_matches_torch(getattr(tinycnn, name), getattr(torch, name), [x])
    assert_matches_torch(lambda x: tinycnn.softmax(x, 1), lambda x: torch.softmax(x, 1), [x])
    assert_matches_torch(lambda x: tinycnn.log_softmax(x, 0), lambda x: torch.log_softmax(x, 0), [x])


def test_activations_keep_float32_and_do_not_overflow():
    x = np.linspace(-800, 800, 17).reshape(1, -1)
    for fn in (F.gelu, F.selu, F.celu, F.softplus, F.mish, F.logsigmoid, F.softsign, F.tanhshrink):
        assert_keeps_float32(fn, [x])
        with np.errstate(over="raise", invalid="raise", divide="raise"):   # underflow to 0 is fine
            y = fn(Tensor(x)).numpy()
        assert np.isfinite(y).all(), fn.__name__


@pytest.mark.parametrize("call,match", [
    (lambda: F.gelu(tinycnn.randn(3), approximate="erf"), "approximate must be 'none' or 'tanh'"),
    (lambda: F.glu(tinycnn.randn(3, 5), 1), "halving dimension must be even"),
    (lambda: F.prelu(tinycnn.randn(2, 3), tinycnn.randn(4)), "found 4 parameters but input of shape"),
    (lambda: nn.PReLU(0), "num_parameters must be a positive int"),
])
def test_activation_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
