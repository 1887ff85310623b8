"""BatchNorm1d/2d and F.batch_norm: finite differences, PyTorch agreement over training steps and in eval,
running statistics (momentum, momentum=None), edge cases, errors, state dicts and dtypes."""
import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor, nn
from tinycnn.utils.gradcheck_registry import REGISTRY



def _t(a, grad=False):
    return Tensor(np.array(a), requires_grad=grad)


# ---- finite differences -----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5), (2, 3, 2, 3)])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck_training(shape, affine):
    rng = np.random.default_rng(1)
    x = _t(rng.standard_normal(shape) * 3 + 2, True)
    c = shape[1]
    if affine:
        w, b = _t(rng.standard_normal(c), True), _t(rng.standard_normal(c), True)
        assert tinycnn.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b])
    else:
        assert tinycnn.gradcheck(lambda x: F.batch_norm(x, None, None, training=True), [x])


def test_gradcheck_eval():
    rng = np.random.default_rng(2)
    rm, rv = _t(rng.standard_normal(3)), _t(rng.uniform(0.5, 2, 3))
    args = [_t(rng.standard_normal((2, 3, 2, 2)), True), _t(rng.standard_normal(3), True),
            _t(rng.standard_normal(3), True)]
    assert tinycnn.gradcheck(lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training=False), args)


def test_registered_in_gradcheck_registry():
    rng = np.random.default_rng(0)
    for name in ("batch_norm_train", "batch_norm_eval"):
        op = REGISTRY[name]
        assert tinycnn.gradcheck(op.fn, op.make_inputs(rng))


# ---- agreement with PyTorch over several training steps, then eval ----------------------------------------
def _ours_and_torch(cls, c, **kw):
    import torch
    ours = getattr(nn, cls)(c, **kw).double()
    theirs = getattr(torch.nn, cls)(c, **kw).double()
    rng = np.random.default_rng(3)
    if ours.affine:
        w, b = rng.uniform(0.5, 1.5, c), rng.standard_normal(c)
        ours.weight.array[...] = w
        with torch.no_grad():
            theirs.weight.copy_(torch.from_numpy(w))
            if ours.bias is not None:
                ours.bias.array[...] = b
                theirs.bias.copy_(torch.from_numpy(b))
    return ours, theirs


def _step(ours, theirs, x, g):
    import torch
    xo, xt = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
    yo, yt = ours(xo), theirs(xt)
    np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    yo.backward(Tensor(g))
    yt.backward(torch.from_numpy(g))
    np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-9, atol=1e-10)
    if ours.affine:
        for po, pt in ((ours.weight, theirs.weight), (ours.bias, theirs.bias)):
            if po is None:
                continue
            np.testing.assert_allclose(po.grad.numpy(), pt.grad.numpy(), rtol=1e-9, atol=1e-10)
            po.grad, pt.grad = None, None
    if ours.track_running_stats:
        np.testing.assert_allclose(ours.running_mean.numpy(), theirs.running_mean.numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-12)
        assert ours.num_batches_tracked.item() == theirs.num_batches_tracked.item()


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm1d", (6, 3)),
                                       ("BatchNorm1d", (4, 3, 7))])
@pytest.mark.parametrize("kw", [{}, {"momentum": None}, {"eps": 1e-3, "momentum": 0.01},
                                {"affine": False}, {"bias": False}, {"track_running_stats": False}])
def test_matches_torch_train_then_eval(cls, shape, kw, torch):
    ours, theirs = _ours_and_torch(cls, shape[1], **kw)
    rng = np.random.default_rng(4)
    for step in range(3):
        x = rng.standard_normal(shape) * (1 + step) + step   # statistics change from step to step
        _step(ours, theirs, x, rng.standard_normal(shape))
    ours.eval()
    theirs.eval()
    for _ in range(2):   # eval: outputs and gradients, running statistics untouched
        _step(ours, theirs, rng.standard_normal(shape) * 2, rng.standard_normal(shape))


def test_running_var_is_unbiased_and_mean_uses_momentum():
    bn = nn.BatchNorm2d(1)
    x = np.arange(1., 9., dtype=np.float32).reshape(2, 1, 2, 2)   # mean 4.5, biased var 5.25, unbiased 6
    y = bn(Tensor(x))
    np.testing.assert_allclose(y.numpy().ravel()[:2], [-1.527524, -1.091088], atol=1e-5)
    np.testing.assert_allclose(bn.running_mean.numpy(), [0.45], rtol=1e-6)
    np.testing.assert_allclose(bn.running_var.numpy(), [0.9 + 0.1 * 6.0], rtol=1e-6)


def test_momentum_none_is_cumulative_average():
    bn = nn.BatchNorm2d(1, momentum=None).double()
    x = np.arange(1., 9.).reshape(2, 1, 2, 2)
    bn(Tensor(x))
    bn(Tensor(x + 10))
    bn(Tensor(x + 20))
    assert bn.running_mean.item() == pytest.approx((4.5 + 14.5 + 24.5) / 3)
    assert bn.running_var.item() == pytest.approx(6.0)
    assert bn.num_batches_tracked.item() == 3


def test_functional_updates_given_running_stats_in_place(torch):
    rm, rv = Tensor(np.zeros(2)), Tensor(np.ones(2))
    x = np.random.default_rng(5).standard_normal((5, 2, 3))
    F.batch_norm(Tensor(x), rm, rv, training=True, momentum=0.5)
    rmt, rvt = torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    torch.nn.functional.batch_norm(torch.from_numpy(x), rmt, rvt, training=True, momentum=0.5)
    np.testing.assert_allclose(rm.numpy(), rmt.numpy(), rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), rvt.numpy(), rtol=1e-12)
    assert not rm.requires_grad and not rv.requires_grad


# ---- edge cases and errors ----------------------------------------------------------------------------------
def test_zero_variance_channel_is_finite_and_matches_torch(torch):
    ours, theirs = _ours_and_torch("BatchNorm2d", 2)
    x = np.random.default_rng(6).standard_normal((3, 2, 2, 2))
    x[:, 1] = 7.0                                     # a constant channel: variance 0, only eps remains
    g = np.random.default_rng(7).standard_normal(x.shape)
    _step(ours, theirs, x, g)
    xo = Tensor(x, requires_grad=True)
    y = ours(xo)
    y.backward(Tensor(g))
    assert np.isfinite(y.numpy()).all() and np.isfinite(xo.grad.numpy()).all()
    np.testing.assert_allclose(y.numpy()[:, 1], ours.bias.numpy()[1])


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (1, 3, 1, 1)), ("BatchNorm1d", (1, 3)),
                                       ("BatchNorm1d", (1, 3, 1))])
def test_one_value_per_channel_in_training_raises(cls, shape):
    bn = getattr(nn, cls)(3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn(Tensor(np.ones(shape, dtype=np.float32)))
    assert bn.num_batches_tracked.item() == 0
    bn.eval()
    assert bn(Tensor(np.ones(shape, dtype=np.float32))).shape == shape   # fine with running statistics
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(Tensor(np.ones(shape)), None, None, training=True)


def test_wrong_channels_and_dims_raise_naming_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(16\) expects 16 channels, got input of shape "
                                         r"\(8, 3, 28, 28\)"):
        nn.BatchNorm2d(16)(tinycnn.zeros(8, 3, 28, 28))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\) expects a 4-D"):
        nn.BatchNorm2d(3)(tinycnn.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\) expects a 2-D .* or 3-D"):
        nn.BatchNorm1d(3)(tinycnn.zeros(2, 3, 4, 4))
    with pytest.raises(ValueError, match="running_mean"):
        F.batch_norm(tinycnn.zeros(2, 3), None, None, training=False)
    with pytest.raises(ValueError, match="num_features"):
        nn.BatchNorm2d(0)
    with pytest.raises(TypeError, match=r"BatchNorm2d\(3\): input dtype float64 differs"):
        nn.BatchNorm2d(3)(Tensor(np.zeros((2, 3, 2, 2))))


# ---- state dict, repr, dtypes --------------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [{}, {"affine": False}, {"bias": False}, {"track_running_stats": False}])
def test_state_dict_keys_dtypes_and_repr_match_torch(kw, torch):
    ours, theirs = nn.BatchNorm2d(4, **kw), torch.nn.BatchNorm2d(4, **kw)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    if ours.track_running_stats:
        assert ours.num_batches_tracked.dtype == np.int64 and ours.num_batches_tracked.shape == ()
        assert ours.running_mean.dtype == np.float32


def test_loads_torch_state_dict_and_evaluates_alike(torch):
    theirs = torch.nn.BatchNorm2d(3).double()
    theirs.train()
    rng = np.random.default_rng(8)
    for _ in range(2):
        theirs(torch.from_numpy(rng.standard_normal((4, 3, 3, 3)) * 2 + 1))
    ours = nn.BatchNorm2d(3).double()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    assert ours.num_batches_tracked.item() == 2 and ours.num_batches_tracked.dtype == np.int64
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 3, 3))
    np.testing.assert_allclose(ours(Tensor(x)).numpy(), theirs(torch.from_numpy(x)).detach().numpy(),
                               rtol=1e-12)


@pytest.mark.parametrize("cls,shape", [("BatchNorm2d", (4, 3, 5, 5)), ("BatchNorm1d", (8, 3))])
def test_float32_stays_float32_and_is_close_to_torch(cls, shape, torch):
    ours, theirs = getattr(nn, cls)(3), getattr(torch.nn, cls)(3)
    rng = np.random.default_rng(9)
    x = (rng.standard_normal(shape) * 4 + 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    for mode in ("train", "eval"):
        getattr(ours, mode)()
        getattr(theirs, mode)()
        xo, xt = Tensor(x.copy(), requires_grad=True), torch.tensor(x, requires_grad=True)
        yo, yt = ours(xo), theirs(xt)
        yo.backward(Tensor(g))
        yt.backward(torch.from_numpy(g))
        for a in (yo, xo.grad, ours.weight.grad, ours.bias.grad, ours.running_mean, ours.running_var):
            assert a.dtype == np.float32
        np.testing.assert_allclose(yo.numpy(), yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-5)
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-5)


def test_no_grad_and_running_stats_build_no_graph():
    bn = nn.BatchNorm2d(2)
    x = Tensor(np.random.default_rng(10).standard_normal((3, 2, 2, 2)).astype(np.float32), requires_grad=True)
    y = bn(x)
    assert y.requires_grad and y.grad_fn is not None
    assert bn.running_mean.grad_fn is None and not bn.running_mean.requires_grad
    with tinycnn.no_grad():
        assert not bn(x).requires_grad
    assert bn.num_batches_tracked.item() == 2
