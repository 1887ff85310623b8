"""linear / nn.Linear, nn.init, Identity, Flatten, Unflatten."""
import math

import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor, nn
from tinycnn.nn import init
from tinycnn.utils.gradcheck_registry import REGISTRY



# ---- linear ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("x_shape", [(5, 4), (2, 3, 4), (4,), (2, 1, 3, 4)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_matches_torch_in_float64(x_shape, with_bias, torch):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(x_shape), rng.standard_normal((3, 4))] + ([rng.standard_normal(3)]
                                                                           if with_bias else [])
    ours = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    y = F.linear(*ours)
    ty = torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    upstream = rng.standard_normal(y.shape)
    y.backward(Tensor(upstream))
    ty.backward(torch.tensor(upstream))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["linear", "linear_nobias_1d"])
def test_linear_registered_gradcheck(name):
    op = REGISTRY[name]
    inputs = [Tensor(a, requires_grad=True) for a in op.make_inputs(np.random.default_rng(1))]
    assert tinycnn.gradcheck(op.fn, inputs, atol=1e-7, rtol=1e-6)


def test_linear_module_shapes_dtype_and_repr(torch):
    layer = nn.Linear(400, 120)
    assert repr(layer) == repr(torch.nn.Linear(400, 120)) == "Linear(in_features=400, out_features=120, bias=True)"
    assert repr(nn.Linear(3, 2, bias=False)) == repr(torch.nn.Linear(3, 2, bias=False))
    assert layer.weight.shape == (120, 400) and layer.bias.shape == (120,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert [n for n, _ in nn.Linear(3, 2, bias=False).named_parameters()] == ["weight"]
    x = tinycnn.randn(8, 400)
    y = layer(x)
    assert y.shape == (8, 120) and y.dtype == np.float32
    y.backward(Tensor(np.ones((8, 120), np.float32)))
    assert layer.weight.grad.dtype == np.float32 and layer.bias.grad.shape == (120,)
    assert nn.Linear(3, 2, dtype=tinycnn.float64).weight.dtype == np.float64


def test_linear_default_init_bounds_like_torch():
    tinycnn.manual_seed(0)
    layer = nn.Linear(256, 300)
    bound = 1 / math.sqrt(256)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.9 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)  # U(-b, b) has std b / sqrt(3)
    tinycnn.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(256, 300).weight.numpy(), w)  # drawn from the global generator


def test_linear_wrong_feature_count_is_a_clear_error():
    msg = ("Linear(in_features=400, out_features=120) expects input with 400 features in its last dimension, "
           "got input of shape (8, 256)")
    with pytest.raises(ValueError) as info:
        nn.Linear(400, 120)(tinycnn.zeros(8, 256))
    assert str(info.value) == msg
    with pytest.raises(ValueError, match=r"linear .*expects input with 4 features.*\(2, 3\)"):
        F.linear(tinycnn.zeros(2, 3), tinycnn.zeros(5, 4))
    with pytest.raises(ValueError, match=r"bias of shape \(5,\)"):
        F.linear(tinycnn.zeros(2, 4), tinycnn.zeros(5, 4), tinycnn.zeros(4))
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(4, 2)(tinycnn.zeros(2, 4, dtype=tinycnn.float64))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(-1, 3)


# ---- init --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(7, 5), (16, 6, 5, 5), (4, 3, 2), (8, 1, 3, 3, 3)])
def test_fan_computation_matches_torch(shape, torch):
    ours = init._calculate_fan_in_and_fan_out(tinycnn.zeros(*shape))
    assert ours == torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fan_needs_two_dimensions_and_mode_is_checked():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_uniform_(tinycnn.zeros(5))
    with pytest.raises(ValueError, match="fan_in, fan_out"):
        init.kaiming_normal_(tinycnn.zeros(3, 3), mode="fan_avg")


@pytest.mark.parametrize("nl,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                      ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(nl, param, torch):
    assert init.calculate_gain(nl, param) == pytest.approx(torch.nn.init.calculate_gain(nl, param), rel=1e-12)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_kaiming_uniform_bound_for_fan_in():
    t = tinycnn.zeros(300, 50, 2, 2)  # fan_in = 200, fan_out = 1200
    assert init.kaiming_uniform_(t, nonlinearity="relu") is t
    bound = math.sqrt(6 / 200)
    assert np.abs(t.numpy()).max() <= bound and np.abs(t.numpy()).max() > 0.99 * bound
    init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu")
    assert np.abs(t.numpy()).max() <= math.sqrt(6 / 1200) * (1 + 1e-6)


@pytest.mark.parametrize("fn,expected_std", [
    (lambda t: init.kaiming_normal_(t, nonlinearity="relu"), math.sqrt(2 / 400)),
    (lambda t: init.kaiming_normal_(t, a=0.2, mode="fan_out"), math.sqrt(2 / (1 + 0.04)) / math.sqrt(500)),
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), 1 / math.sqrt(400) / math.sqrt(3)),
    (lambda t: init.xavier_normal_(t, gain=2.0), 2 * math.sqrt(2 / 900)),
    (lambda t: init.xavier_uniform_(t), math.sqrt(2 / 900)),
    (lambda t: init.normal_(t, 0.5, 0.3), 0.3),
    (lambda t: init.uniform_(t, -2.0, 4.0), 6 / math.sqrt(12)),
    (lambda t: init.trunc_normal_(t, std=1.0), 0.87962566),  # std of N(0, 1) truncated to [-2, 2]
])
def test_random_init_statistics(fn, expected_std):
    t = tinycnn.zeros(500, 400)
    assert fn(t) is t
    assert t.numpy().std() == pytest.approx(expected_std, rel=0.02)


def test_bounded_inits_stay_in_their_bounds_and_means():
    t = tinycnn.zeros(200, 300)
    init.trunc_normal_(t, mean=1.0, std=2.0, a=-0.5, b=1.5)
    assert t.numpy().min() >= -0.5 and t.numpy().max() <= 1.5
    init.uniform_(t, 2.0, 3.0)
    assert t.numpy().min() >= 2.0 and t.numpy().max() < 3.0
    init.normal_(t, mean=5.0, std=0.1)
    assert t.numpy().mean() == pytest.approx(5.0, abs=0.01)
    with pytest.raises(ValueError, match="trunc_normal_"):
        init.trunc_normal_(t, a=10.0, b=11.0)


def test_inits_keep_dtype_modify_in_place_and_use_global_generator():
    for dtype in (tinycnn.float32, tinycnn.float64):
        p = nn.Parameter(np.zeros((4, 3), dtype=dtype))
        data = p.array
        for fn in (init.kaiming_uniform_, init.kaiming_normal_, init.xavier_uniform_, init.xavier_normal_,
                   init.normal_, init.uniform_, init.trunc_normal_, init.zeros_, init.ones_,
                   lambda t: init.constant_(t, 0.25)):
            assert fn(p) is p and p.dtype == dtype and p.array is data
    assert p.numpy().tolist() == [[0.25] * 3] * 4
    assert init.zeros_(p).numpy().sum() == 0 and init.ones_(p).numpy().sum() == 12
    tinycnn.manual_seed(3)
    a = init.normal_(tinycnn.zeros(5)).numpy().copy()
    tinycnn.manual_seed(3)
    np.testing.assert_array_equal(init.normal_(tinycnn.zeros(5)).numpy(), a)
    b = init.normal_(tinycnn.zeros(5), generator=np.random.default_rng(3)).numpy()
    c = init.normal_(tinycnn.zeros(5), generator=np.random.default_rng(3)).numpy()
    np.testing.assert_array_equal(b, c)


# ---- Identity, Flatten, Unflatten ----------------------------------------------------------------------------
# Flatten/Unflatten use the shape ops (ops/shape.py, Tensor.reshape), written in parallel by another helper.
needs_reshape = pytest.mark.skipif(not hasattr(Tensor, "reshape"),
                                   reason="shape ops (Tensor.reshape) not installed yet")


def test_identity(torch):
    x = tinycnn.randn(2, 3)
    assert nn.Identity(54, unused="x")(x) is x
    assert repr(nn.Identity()) == repr(torch.nn.Identity())


@needs_reshape
def test_flatten_unflatten(torch):
    x = tinycnn.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Flatten(start_dim=2)(x).shape == (2, 3, 20)
    assert repr(nn.Flatten()) == repr(torch.nn.Flatten())
    np.testing.assert_array_equal(nn.Flatten()(x).numpy(), x.numpy().reshape(2, 60))
    u = nn.Unflatten(1, (4, 15))
    assert u(nn.Flatten()(x)).shape == (2, 4, 15)
    assert nn.Unflatten(1, (-1, 5))(tinycnn.zeros(2, 60)).shape == (2, 12, 5)
    assert repr(u) == repr(torch.nn.Unflatten(1, (4, 15)))
    with pytest.raises(ValueError, match="Unflatten"):
        nn.Unflatten(1, (7, 7))(tinycnn.zeros(2, 60))


@needs_reshape
def test_flatten_then_linear_backpropagates():
    x = Tensor(np.random.default_rng(4).standard_normal((2, 3, 2, 2)), requires_grad=True)
    layer = nn.Linear(12, 2, dtype=tinycnn.float64)
    y = layer(nn.Flatten()(x))
    y.backward(Tensor(np.ones((2, 2))))
    np.testing.assert_allclose(x.grad.numpy(), np.broadcast_to(layer.weight.numpy().sum(0), (2, 12))
                               .reshape(2, 3, 2, 2))
