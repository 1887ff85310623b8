"""Numerical edge cases: huge logits, saturated sigmoids, degenerate batches, float64 end to end."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor, nn, optim
from tinycnn.models.lenet import lenet5




def _no_warnings():
    """Fail on any NumPy overflow/invalid/divide warning (a stable formula must not even warn); underflow to
    0 is the correct, harmless result of exp(-huge)."""
    return np.errstate(over="raise", invalid="raise", divide="raise", under="ignore")


# ---- softmax family with huge logits ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e4, 1e30, np.finfo(np.float32).max / 4])
def test_softmax_log_softmax_cross_entropy_with_huge_logits(dtype, scale):
    logits = np.array([[1.0, 0.0, -1.0], [-1.0, 2.0, 0.5]], dtype=dtype) * dtype(scale)
    target = np.array([0, 2])
    x = Tensor(logits, requires_grad=True)
    with _no_warnings():
        p = F.softmax(x, dim=1)
        logp = F.log_softmax(x, dim=1)
        loss = F.cross_entropy(x, Tensor(target))
        loss.backward()
    assert np.isfinite(p.numpy()).all() and np.isfinite(logp.numpy()).all()
    np.testing.assert_allclose(p.numpy().sum(axis=1), 1.0, rtol=1e-6)
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    # the exact values: one-hot softmax; log-probabilities are the logit gaps; grad = (p - onehot) / N
    np.testing.assert_array_equal(p.numpy(), [[1, 0, 0], [0, 1, 0]])
    expected_logp = logits - logits.max(axis=1, keepdims=True)
    np.testing.assert_allclose(logp.numpy(), expected_logp, rtol=1e-6)
    np.testing.assert_allclose(loss.item(), -(expected_logp[0, 0] + expected_logp[1, 2]) / 2, rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), [[0, 0, 0], [0, 0.5, -0.5]], atol=1e-7)
    assert x.grad.dtype == dtype


def test_cross_entropy_with_infinite_logit_gap_matches_torch(torch):
    logits = np.array([[np.finfo(np.float32).max, -np.finfo(np.float32).max, 0.0]], dtype=np.float32)
    with np.errstate(over="ignore"):
        ours = F.cross_entropy(Tensor(logits), Tensor(np.array([1]))).item()
    theirs = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor([1])).item()
    assert ours == theirs   # both inf: the gap overflows float32, neither library invents a value


# ---- sigmoid and BCE at extreme inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_saturates_without_overflow(dtype, torch):
    z = np.array([-1e4, -800.0, -100.0, -30.0, 0.0, 30.0, 100.0, 800.0, 1e4], dtype=dtype)
    x = Tensor(z, requires_grad=True)
    with _no_warnings():
        s = F.sigmoid(x)
        s.sum().backward()
    ts = torch.sigmoid(torch.tensor(z))
    np.testing.assert_allclose(s.numpy(), ts.numpy(), rtol=1e-6, atol=1e-8)  # torch rounds tiny values to 0
    assert np.isfinite(x.grad.numpy()).all() and (x.grad.numpy() >= 0).all()
    assert s.numpy()[0] >= 0 and s.numpy()[-1] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_at_extremes_matches_torch(dtype, torch):
    z = np.array([-1e4, -100.0, -20.0, 0.0, 20.0, 100.0, 1e4], dtype=dtype)
    for target in (np.zeros_like(z), np.ones_like(z), np.full_like(z, 0.3)):
        x = Tensor(z, requires_grad=True)
        with _no_warnings():
            loss = F.binary_cross_entropy_with_logits(x, Tensor(target), reduction="none")
            loss.sum().backward()
        tz = torch.tensor(z, requires_grad=True)
        tl = torch.nn.functional.binary_cross_entropy_with_logits(tz, torch.tensor(target), reduction="none")
        tl.sum().backward()
        np.testing.assert_allclose(loss.numpy(), tl.detach().numpy(), rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(x.grad.numpy(), tz.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_bce_on_exact_zero_and_one_probabilities_is_clamped_like_torch(torch):
    """PyTorch clamps log(p) at -100, so BCE(p=0, y=1) is 100, not inf; the gradient stays finite."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5], dtype=np.float64)
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    x = Tensor(p, requires_grad=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        loss = F.binary_cross_entropy(x, Tensor(y), reduction="none")
        loss.sum().backward()
    tp = torch.tensor(p, requires_grad=True)
    tl = torch.nn.functional.binary_cross_entropy(tp, torch.tensor(y), reduction="none")
    tl.sum().backward()
    np.testing.assert_allclose(loss.numpy(), tl.detach().numpy())
    assert np.isfinite(loss.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy(), tp.grad.numpy(), rtol=1e-6)


# ---- BatchNorm degenerate batches -------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,shape", [(nn.BatchNorm1d(3), (1, 3)), (nn.BatchNorm2d(3), (1, 3, 1, 1))])
def test_batchnorm_single_value_per_channel_in_training_is_a_clear_error(layer, shape):
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        layer(Tensor(np.ones(shape, np.float32)))
    layer.eval()
    assert tuple(layer(Tensor(np.ones(shape, np.float32))).shape) == shape   # fine in eval mode
    layer2 = type(layer)(3)
    layer2(Tensor(np.random.default_rng(0).standard_normal((1, 3, 2, 2) if len(shape) == 4 else (2, 3))
                  .astype(np.float32)))  # N=1 with H*W>1 values per channel is allowed


def test_batchnorm_zero_variance_channel_matches_torch(torch):
    """A constant channel has variance 0: the output is bias (xhat = 0 / sqrt(eps)), gradients finite."""
    x = np.random.default_rng(0).standard_normal((4, 3, 2, 2))
    x[:, 1] = 7.0
    ours, theirs = nn.BatchNorm2d(3).double(), torch.nn.BatchNorm2d(3).double()
    ours.weight.array = np.array([1.5, 2.0, -1.0])
    ours.bias.array = np.array([0.1, 0.2, 0.3])
    theirs.load_state_dict({k: torch.tensor(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    xt, tt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with _no_warnings():
        y = ours(xt)
        y.backward(Tensor(np.ones(x.shape)))
    ty = theirs(tt)
    ty.backward(torch.ones_like(ty))
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(y.numpy()[:, 1], 0.2)
    np.testing.assert_allclose(xt.grad.numpy(), tt.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(ours.running_var.numpy(), theirs.running_var.numpy(), rtol=1e-12)


# ---- empty batches ----------------------------------------------------------------------------------------------
_EMPTY_LAYERS = {
    "conv": (lambda: nn.Conv2d(3, 4, 3, padding=1), (0, 3, 6, 6), (0, 4, 6, 6)),
    "linear": (lambda: nn.Linear(3, 2), (0, 3), (0, 2)),
    "maxpool": (lambda: nn.MaxPool2d(2), (0, 3, 6, 6), (0, 3, 3, 3)),
    "avgpool": (lambda: nn.AvgPool2d(2), (0, 3, 6, 6), (0, 3, 3, 3)),
    "adaptive": (lambda: nn.AdaptiveAvgPool2d(1), (0, 3, 6, 6), (0, 3, 1, 1)),
    "relu": (lambda: nn.ReLU(), (0, 3, 6, 6), (0, 3, 6, 6)),
    "flatten": (lambda: nn.Flatten(), (0, 3, 2, 2), (0, 12)),
    "batchnorm_train": (lambda: nn.BatchNorm2d(3), (0, 3, 2, 2), (0, 3, 2, 2)),
    "batchnorm_eval": (lambda: nn.BatchNorm2d(3).eval(), (0, 3, 2, 2), (0, 3, 2, 2)),
    "lenet": (lambda: lenet5(), (0, 1, 28, 28), (0, 10)),
}


@pytest.mark.parametrize("name", sorted(_EMPTY_LAYERS))
def test_empty_batch_flows_forward_and_backward_like_torch(name):
    make, in_shape, out_shape = _EMPTY_LAYERS[name]
    layer = make()
    x = Tensor(np.zeros(in_shape, np.float32), requires_grad=True)
    y = layer(x)
    assert tuple(y.shape) == out_shape and y.dtype == np.float32
    y.sum().backward()
    assert tuple(x.grad.shape) == in_shape
    for p in layer.parameters():
        assert p.grad is None or (p.grad.shape == p.shape and not p.grad.numpy().any())
    if name.startswith("batchnorm"):   # an empty batch teaches the running statistics nothing
        np.testing.assert_array_equal(layer.running_mean.numpy(), 0)
        np.testing.assert_array_equal(layer.running_var.numpy(), 1)


def test_cross_entropy_of_an_empty_batch_is_nan_like_torch():
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        mean = F.cross_entropy(Tensor(np.zeros((0, 3), np.float32)), Tensor(np.zeros(0, np.int64)))
        total = F.cross_entropy(Tensor(np.zeros((0, 3), np.float32)), Tensor(np.zeros(0, np.int64)),
                                reduction="sum")
    assert np.isnan(mean.item()) and total.item() == 0.0


# ---- float64 end to end --------------------------------------------------------------------------------------------
def test_lenet_trains_a_step_in_float64():
    tinycnn.manual_seed(0)
    model = lenet5().double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 1, 28, 28)))          # float64 data
    y = Tensor(rng.integers(0, 10, size=4))
    before = [p.numpy().copy() for p in model.parameters()]
    logits = model(x)
    assert logits.dtype == np.float64
    loss = F.cross_entropy(logits, y)
    assert loss.dtype == np.float64
    opt.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.dtype == np.float64, name
    opt.step()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert any(not np.array_equal(b, p.numpy()) for b, p in zip(before, model.parameters()))
    # and a float32 batch into the float64 model is a clear error, not a silent cast
    with pytest.raises(TypeError, match="float32|float64"):
        model(Tensor(rng.standard_normal((1, 1, 28, 28)).astype(np.float32)))
