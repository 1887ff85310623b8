"""Dropout/Dropout2d statistics and semantics, LocalResponseNorm, ChannelShuffle and ZeroPad2d against
PyTorch (values and gradients in float64), finite differences, errors and dtypes."""
import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor, nn
from tinycnn.utils.gradcheck_registry import REGISTRY



def _both(fn_ours, fn_theirs, x, seed=0):
    """Run both on x (float64) with the same random upstream gradient; compare values and input grads."""
    import torch
    g = np.random.default_rng(seed).standard_normal(np.shape(fn_theirs(torch.from_numpy(x))))
    xo, xt = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = fn_ours(xo), fn_theirs(xt)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-12, atol=1e-14)
    yo.backward(Tensor(g))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("name", ["dropout", "dropout2d", "local_response_norm", "channel_shuffle"])
def test_registered_ops_pass_gradcheck(name):
    op = REGISTRY[name]
    assert tinycnn.gradcheck(op.fn, op.make_inputs(np.random.default_rng(0)))


# ---- dropout ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_dropout_keeps_fraction_and_scales(p):
    tinycnn.manual_seed(1)
    x = Tensor(np.ones(200_000, dtype=np.float32), requires_grad=True)
    y = F.dropout(x, p)
    kept = y.numpy() != 0
    assert abs(kept.mean() - (1 - p)) < 0.01          # ~7 standard deviations of the binomial fraction
    np.testing.assert_allclose(y.numpy()[kept], np.float32(1 / (1 - p)), rtol=1e-6)
    y.backward(Tensor(np.ones(200_000, dtype=np.float32)))
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())   # grad = mask / (1 - p)
    assert y.dtype == np.float32 and x.grad.dtype == np.float32


def test_dropout_eval_p0_p1():
    x = Tensor(np.arange(1., 7.).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())
    d = nn.Dropout(0.7)
    d.eval()
    np.testing.assert_array_equal(d(x).numpy(), x.numpy())
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.numpy(), np.zeros((2, 3)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))   # no NaN from 0 * 1/(1-1)
    assert nn.Dropout(1.0)(Tensor(np.ones(4, dtype=np.float32))).dtype == np.float32


def test_dropout_reproducible_with_manual_seed_and_fresh_each_call():
    x = Tensor(np.ones((4, 50), dtype=np.float32))
    tinycnn.manual_seed(123)
    a, b = F.dropout(x, 0.5).numpy(), F.dropout(x, 0.5).numpy()
    tinycnn.manual_seed(123)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), a)
    assert not np.array_equal(a, b)
    tinycnn.manual_seed(5)
    c = nn.Dropout2d(0.5)(Tensor(np.ones((4, 30, 2, 2)))).numpy()
    tinycnn.manual_seed(5)
    np.testing.assert_array_equal(nn.Dropout2d(0.5)(Tensor(np.ones((4, 30, 2, 2)))).numpy(), c)


@pytest.mark.parametrize("shape", [(8, 64, 3, 3), (8, 64, 5)])
def test_dropout2d_zeroes_whole_channels(shape):
    tinycnn.manual_seed(2)
    p = 0.3
    x = Tensor(np.random.default_rng(0).uniform(1, 2, shape), requires_grad=True)
    y = F.dropout2d(x, p)
    ratio = (y.numpy() / x.numpy()).reshape(shape[0], shape[1], -1)
    per_channel = ratio[:, :, :1]
    np.testing.assert_allclose(ratio, np.broadcast_to(per_channel, ratio.shape), rtol=1e-12)
    assert set(np.round(np.unique(per_channel), 12)) <= {0.0, round(1 / (1 - p), 12)}
    assert abs((per_channel != 0).mean() - (1 - p)) < 0.06   # 512 channels: ~3 standard deviations
    y.backward(Tensor(np.ones(shape)))
    np.testing.assert_allclose(x.grad.numpy().reshape(ratio.shape), ratio)
    module = nn.Dropout2d(p)
    module.eval()
    assert module(x) is x or np.array_equal(module(x).numpy(), x.numpy())


def test_dropout_bad_p_raises_naming_p():
    x = tinycnn.ones(3, 2, 2, 2)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="p=" + str(bad)):
            F.dropout(x, bad)
        with pytest.raises(ValueError, match="p=" + str(bad)):
            F.dropout2d(x, bad)
        with pytest.raises(ValueError, match=r"Dropout: .*p=" + str(bad)):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match=r"Dropout2d: .*p=" + str(bad)):
            nn.Dropout2d(bad)
    with pytest.raises(ValueError, match="dropout2d"):
        F.dropout2d(tinycnn.ones(3, 4), 0.5)


def test_dropout_reprs_match_torch(torch):
    assert repr(nn.Dropout(0.25)) == repr(torch.nn.Dropout(0.25))
    assert repr(nn.Dropout2d(0.3)) == repr(torch.nn.Dropout2d(0.3))


# ---- local response norm ------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
@pytest.mark.parametrize("shape", [(2, 6, 3, 3), (2, 5, 4)])
def test_lrn_matches_torch(size, shape, torch):
    TF = torch.nn.functional
    x = np.random.default_rng(size).standard_normal(shape) * 3
    args = (size, 0.3, 0.75, 1.5)
    _both(lambda t: F.local_response_norm(t, *args), lambda t: TF.local_response_norm(t, *args), x)


def test_lrn_module_defaults_5d_input_and_repr(torch):
    x = np.random.default_rng(3).standard_normal((1, 7, 2, 2, 2)) * 20
    _both(nn.LocalResponseNorm(5), torch.nn.LocalResponseNorm(5), x)
    _both(nn.LocalResponseNorm(3, alpha=1.0, beta=0.5, k=2.0),
          torch.nn.LocalResponseNorm(3, alpha=1.0, beta=0.5, k=2.0), x[:, :, :, :, 0])
    assert repr(nn.LocalResponseNorm(5)) == repr(torch.nn.LocalResponseNorm(5))


def test_lrn_reference_values_and_float32(torch):
    TF = torch.nn.functional
    x = np.arange(1., 6., dtype=np.float32).reshape(1, 5, 1, 1)
    xo = Tensor(x, requires_grad=True)
    y = F.local_response_norm(xo, 3, 1e-1, 0.75, 2.0)
    # PyTorch 2.14's values for this input (x = 1..5, size 3, alpha 0.1, beta 0.75, k 2)
    np.testing.assert_allclose(y.numpy().ravel(), [0.559959, 1.016125, 1.327149, 1.509581, 2.011731], atol=1e-6)
    y.sum().backward()
    assert y.dtype == np.float32 and xo.grad.dtype == np.float32
    x64 = torch.tensor(x.astype(np.float64), requires_grad=True)
    TF.local_response_norm(x64, 3, 1e-1, 0.75, 2.0).sum().backward()
    np.testing.assert_allclose(xo.grad.numpy(), x64.grad.numpy(), rtol=1e-5)


def test_lrn_float32_grad_dtype_and_errors(torch):
    x = Tensor(np.random.default_rng(4).standard_normal((2, 6, 3, 3)).astype(np.float32), requires_grad=True)
    y = nn.LocalResponseNorm(4, alpha=0.5)(x)
    y.backward(Tensor(np.ones((2, 6, 3, 3), dtype=np.float32)))
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    xt = torch.tensor(x.numpy(), requires_grad=True)
    torch.nn.LocalResponseNorm(4, alpha=0.5)(xt).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="3 or more dimensions"):
        F.local_response_norm(tinycnn.ones(2, 3), 2)
    with pytest.raises(ValueError, match="size"):
        nn.LocalResponseNorm(0)


# ---- channel shuffle ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("groups,shape", [(1, (2, 4, 3, 3)), (2, (2, 6, 3, 2)), (3, (1, 12, 2, 2)),
                                          (4, (2, 8, 5))])
def test_channel_shuffle_matches_torch(groups, shape, torch):
    TF = torch.nn.functional
    x = np.random.default_rng(groups).standard_normal(shape)
    _both(lambda t: F.channel_shuffle(t, groups), lambda t: TF.channel_shuffle(t, groups), x)
    _both(nn.ChannelShuffle(groups), torch.nn.ChannelShuffle(groups), x)


def test_channel_shuffle_order_errors_repr_dtype(torch):
    x = Tensor(np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1))
    y = F.channel_shuffle(x, 2)
    np.testing.assert_array_equal(y.numpy().ravel(), [0, 3, 1, 4, 2, 5])   # groups [0 1 2] [3 4 5]
    assert y.dtype == np.float32
    with pytest.raises(ValueError, match=r"ChannelShuffle\(groups=2\).*7 channels and 2 groups"):
        nn.ChannelShuffle(2)(tinycnn.zeros(1, 7, 2, 2))
    assert repr(nn.ChannelShuffle(3)) == repr(torch.nn.ChannelShuffle(3))


# ---- zero padding -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding", [1, (1, 2, 0, 3), (-1, 2, 1, -2), 0])
def test_zero_pad2d_matches_torch(padding, torch):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5))
    _both(nn.ZeroPad2d(padding), torch.nn.ZeroPad2d(padding), x)
    _both(nn.ZeroPad2d(padding), torch.nn.ZeroPad2d(padding), x[0])   # unbatched (C, H, W)
    assert repr(nn.ZeroPad2d(padding)) == repr(torch.nn.ZeroPad2d(padding))


def test_zero_pad2d_dtype_and_errors():
    y = nn.ZeroPad2d(2)(tinycnn.ones(1, 1, 2, 2))
    assert y.dtype == np.float32 and y.shape == (1, 1, 6, 6) and y.numpy().sum() == 4
    with pytest.raises(ValueError, match="ZeroPad2d: padding must be"):
        nn.ZeroPad2d((1, 2))
    with pytest.raises(ValueError, match=r"ZeroPad2d\(\(1, 1, 1, 1\)\) expects a 3-D"):
        nn.ZeroPad2d(1)(tinycnn.ones(4, 4))
    with pytest.raises(ValueError, match=r"ZeroPad2d\(\(-2, -2, 0, 0\)\) expects"):
        nn.ZeroPad2d((-2, -2, 0, 0))(tinycnn.ones(1, 2, 3))
