"""Activations: values and gradients against PyTorch (float64), finite differences, kinks, stability."""
import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor, nn
from tinycnn.utils.gradcheck_registry import REGISTRY

# (id, function name in F and in torch.nn.functional, keyword arguments): a table that needs no torch to build
CASES = [
    ("relu", "relu", {}),
    ("relu6", "relu6", {}),
    ("leaky_relu", "leaky_relu", {}),
    ("leaky_relu_0.2", "leaky_relu", {"negative_slope": 0.2}),
    ("elu", "elu", {}),
    ("elu_alpha2", "elu", {"alpha": 2.0}),
    ("sigmoid", "sigmoid", {}),
    ("tanh", "tanh", {}),
    ("hardsigmoid", "hardsigmoid", {}),
    ("hardswish", "hardswish", {}),
    ("silu", "silu", {}),
    ("hardtanh", "hardtanh", {}),
    ("hardtanh_-2_3", "hardtanh", {"min_val": -2.0, "max_val": 3.0}),
    ("softmax_1", "softmax", {"dim": 1}),
    ("softmax_-1", "softmax", {"dim": -1}),
    ("log_softmax_0", "log_softmax", {"dim": 0}),
    ("log_softmax_2", "log_softmax", {"dim": 2}),
]
KINKS = [-3.0, -2.0, -1.0, -0.0, 0.0, 1.0, 3.0, 6.0]


def _inputs(rng):
    x = rng.uniform(-8, 8, (3, 4, 5))
    x.reshape(-1)[:len(KINKS)] = KINKS  # every kink point once, compared exactly with PyTorch
    return x


def _ours(fn, x, upstream):
    t = Tensor(x.copy(), requires_grad=True)
    y = fn(t)
    y.backward(Tensor(upstream))
    return y.numpy(), t.grad.numpy()


def _theirs(torch, fn, x, upstream):
    t = torch.tensor(x, requires_grad=True)
    y = fn(t)
    y.backward(torch.tensor(upstream))
    return y.detach().numpy(), t.grad.numpy()


@pytest.mark.parametrize("name,fn,kwargs", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_in_float64_including_kinks(name, fn, kwargs, torch):
    rng = np.random.default_rng(0)
    x = _inputs(rng)
    upstream = rng.standard_normal(x.shape)
    y, gx = _ours(lambda t: getattr(F, fn)(t, **kwargs), x, upstream)
    ty, tgx = _theirs(torch, lambda t: getattr(torch.nn.functional, fn)(t, **kwargs), x, upstream)
    assert y.dtype == np.float64 and gx.dtype == np.float64
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-14)
    # rtol 1e-7: PyTorch's float64 hardsigmoid slope is the float32 constant 1/6 (3e-8 relative off)
    np.testing.assert_allclose(gx, tgx, rtol=1e-7, atol=1e-14)


MY_OPS = ["relu", "relu6", "leaky_relu", "elu", "hardtanh", "sigmoid", "tanh", "hardsigmoid", "hardswish",
          "silu", "softmax", "log_softmax"]


@pytest.mark.parametrize("name", MY_OPS)
def test_registered_gradcheck(name):
    op = REGISTRY[name]
    inputs = [Tensor(a, requires_grad=True) for a in op.make_inputs(np.random.default_rng(1))]
    assert tinycnn.gradcheck(op.fn, inputs, atol=1e-7, rtol=1e-6)


def test_gradcheck_can_fail_on_a_wrong_derivative():
    class BadTanh(tinycnn.Function):
        def forward(self, x):
            self.y = np.tanh(x)
            return self.y

        def backward(self, gy):
            return gy * (1 - self.y)  # wrong: should be 1 - y^2

    with pytest.raises(tinycnn.GradcheckError):
        tinycnn.gradcheck(lambda x: BadTanh.apply(x), [np.linspace(-1, 1, 5)])


def _grad_at(fn, points, dtype=np.float32):
    x = Tensor(np.array(points, dtype=dtype), requires_grad=True)
    fn(x).backward(Tensor(np.ones(len(points), dtype)))
    return x.grad.numpy().tolist()


def test_kink_derivatives_from_the_semantics_file():
    np.testing.assert_allclose(_grad_at(F.hardswish, [-3.0, -2.5, 0.0, 2.5, 3.0, 6.0]),
                               [0.0, -1 / 3, 0.5, 4 / 3, 1.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(_grad_at(F.hardsigmoid, [-3.0, -2.5, 0.0, 2.5, 3.0, 6.0]),
                               [0.0, 1 / 6, 1 / 6, 1 / 6, 0.0, 0.0], rtol=1e-6)
    assert _grad_at(F.relu6, [-1.0, 0.0, 3.0, 6.0, 7.0]) == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert _grad_at(nn.ReLU6(), [-1.0, 0.0, 3.0, 6.0, 7.0]) == [0.0, 0.0, 1.0, 0.0, 0.0]
    assert _grad_at(F.hardtanh, [-1.0, 0.0, 1.0]) == [0.0, 1.0, 0.0]
    assert _grad_at(F.relu, [-1.0, -0.0, 0.0, 1.0]) == [0.0, 0.0, 0.0, 1.0]
    np.testing.assert_allclose(_grad_at(lambda t: F.leaky_relu(t, 0.01), [0.0]), [0.01], rtol=1e-6)
    assert _grad_at(F.elu, [0.0]) == [1.0]
    assert _grad_at(F.silu, [0.0]) == [0.5]


@pytest.mark.parametrize("name,fn,kwargs", CASES, ids=[c[0] for c in CASES])
def test_float32_stays_float32(name, fn, kwargs):
    x = Tensor(np.linspace(-5, 5, 24, dtype=np.float32).reshape(2, 3, 4), requires_grad=True)
    y = getattr(F, fn)(x, **kwargs)
    y.backward(Tensor(np.ones(y.shape, np.float32)))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


@pytest.mark.parametrize("scale", [1e3, 1e4])
def test_softmax_and_log_softmax_are_stable_for_huge_logits(scale, torch):
    TF = torch.nn.functional
    rng = np.random.default_rng(2)
    x = rng.standard_normal((4, 6)) * scale
    for ours, theirs in ((F.softmax, TF.softmax), (F.log_softmax, TF.log_softmax)):
        upstream = rng.standard_normal(x.shape)
        for dtype in (np.float32, np.float64):
            xd = x.astype(dtype)
            y, g = _ours(lambda t: ours(t, dim=1), xd, upstream.astype(dtype))
            assert np.isfinite(y).all() and np.isfinite(g).all()
            ty, tg = _theirs(torch, lambda t: theirs(t, dim=1), xd, upstream.astype(dtype))
            np.testing.assert_allclose(y, ty, rtol=1e-5, atol=1e-5 * (1 if dtype == np.float64 else 1e3))
            np.testing.assert_allclose(g, tg, rtol=1e-5, atol=1e-5)


def test_sigmoid_and_silu_do_not_overflow():
    x = Tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=np.float32), requires_grad=True)
    with np.errstate(over="raise"):
        y = F.sigmoid(x)
        s = F.silu(x)
    np.testing.assert_allclose(y.numpy(), [0.0, 1.9287e-22, 0.5, 1.0, 1.0], rtol=1e-4)
    assert np.isfinite(s.numpy()).all()


def test_softmax_dim_none_follows_torch_legacy_rule_and_rows_sum_to_one(torch):
    TF = torch.nn.functional
    x2 = np.random.default_rng(3).standard_normal((3, 4))
    np.testing.assert_allclose(F.softmax(Tensor(x2)).numpy(), TF.softmax(torch.tensor(x2), dim=1).numpy())
    x3 = np.random.default_rng(3).standard_normal((2, 3, 4))
    np.testing.assert_allclose(F.softmax(Tensor(x3)).numpy(), TF.softmax(torch.tensor(x3), dim=0).numpy())
    np.testing.assert_allclose(F.softmax(Tensor(x2), dim=1).numpy().sum(1), 1.0)
    assert F.softmax(Tensor(np.array(3.0)), dim=0).item() == 1.0


def test_tensor_methods():
    x = np.random.default_rng(4).standard_normal((2, 5))
    t = Tensor(x)
    np.testing.assert_allclose(t.relu().numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(t.sigmoid().numpy(), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(t.tanh().numpy(), np.tanh(x))
    np.testing.assert_allclose(t.softmax(1).numpy(), np.exp(x) / np.exp(x).sum(1, keepdims=True))
    np.testing.assert_allclose(t.log_softmax(dim=0).numpy(), x - np.log(np.exp(x).sum(0, keepdims=True)))


# (tinycnn module, the same construction in torch as a function of torch)
MODULES = [
    (nn.ReLU(), lambda t: t.nn.ReLU()), (nn.ReLU(inplace=True), lambda t: t.nn.ReLU(inplace=True)),
    (nn.ReLU6(), lambda t: t.nn.ReLU6()), (nn.ReLU6(True), lambda t: t.nn.ReLU6(True)),
    (nn.LeakyReLU(), lambda t: t.nn.LeakyReLU()),
    (nn.LeakyReLU(0.2, inplace=True), lambda t: t.nn.LeakyReLU(0.2, True)),
    (nn.ELU(alpha=0.5), lambda t: t.nn.ELU(alpha=0.5)), (nn.Sigmoid(), lambda t: t.nn.Sigmoid()),
    (nn.Tanh(), lambda t: t.nn.Tanh()), (nn.Hardsigmoid(), lambda t: t.nn.Hardsigmoid()),
    (nn.Hardswish(inplace=True), lambda t: t.nn.Hardswish(inplace=True)), (nn.SiLU(), lambda t: t.nn.SiLU()),
    (nn.SiLU(inplace=True), lambda t: t.nn.SiLU(inplace=True)),
    (nn.Hardtanh(-2.0, 2.0), lambda t: t.nn.Hardtanh(-2.0, 2.0)), (nn.Softmax(dim=1), lambda t: t.nn.Softmax(dim=1)),
    (nn.LogSoftmax(dim=-1), lambda t: t.nn.LogSoftmax(dim=-1)),
]


@pytest.mark.parametrize("ours,make_theirs", MODULES, ids=[repr(m[0]) for m in MODULES])
def test_modules_match_torch_repr_and_output(ours, make_theirs, torch):
    theirs = make_theirs(torch)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(5).standard_normal((3, 4)) * 4
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-12)
    assert x.min() < 0  # inplace=True must not have changed the caller's data (tinycnn never works in place)


def test_bad_inputs_are_clear_errors():
    with pytest.raises(TypeError, match="relu.*floating-point"):
        F.relu(tinycnn.tensor([1, 2]))
    with pytest.raises(TypeError, match="sigmoid.*Tensor"):
        F.sigmoid(np.zeros(3))
    with pytest.raises(ValueError, match="softmax.*dim 2 is out of range"):
        F.softmax(tinycnn.zeros(2, 3), dim=2)
    with pytest.raises(ValueError, match="Hardtanh.*min_val"):
        nn.Hardtanh(1.0, -1.0)
