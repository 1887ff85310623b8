"""cross_entropy with probability targets, KL divergence, Smooth L1, Huber, margin ranking, cosine embedding and
triplet losses, normalize / cosine_similarity / pairwise_distance, one_hot: PyTorch agreement (forward and the
gradients of every float input, float64), the loss modules, and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinycnn
import tinycnn.nn as nn
import tinycnn.nn.functional as F
from tinycnn import Tensor

from helpers import assert_grads_match, assert_matches_torch, assert_module_matches_torch

REDUCTIONS = ["mean", "sum", "none"]
pytestmark = pytest.mark.filterwarnings("ignore:reduction. .mean. divides:UserWarning")   # torch on kl_div


def _probabilities(rng, shape, class_axis):
    p = rng.uniform(0.05, 1.0, shape)
    return p / p.sum(axis=class_axis, keepdims=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(4, 5), (2, 5, 3, 2), (5,)])
@pytest.mark.parametrize("smoothing,weighted", [(0.0, False), (0.2, False), (0.0, True), (0.3, True)])
def test_cross_entropy_with_probability_targets_matches_torch(torch, shape, reduction, smoothing, weighted):
    rng = np.random.default_rng(0)
    z, q = rng.standard_normal(shape), _probabilities(rng, shape, 0 if len(shape) == 1 else 1)
    w = rng.uniform(0.5, 2, 5) if weighted else None
    assert_matches_torch(
        lambda z, q: F.cross_entropy(z, q, weight=None if w is None else Tensor(w), reduction=reduction,
                                     label_smoothing=smoothing),
        lambda z, q: torch.nn.functional.cross_entropy(z, q, weight=None if w is None else torch.tensor(w),
                                                       reduction=reduction, label_smoothing=smoothing),
        [z, q])


def test_one_hot_targets_give_the_index_loss():
    """Probabilities that are one-hot rows give exactly the class-index cross-entropy (and its gradient)."""
    rng = np.random.default_rng(1)
    z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    a, b = Tensor(z, requires_grad=True), Tensor(z, requires_grad=True)
    F.cross_entropy(a, F.one_hot(Tensor(y), 4).double(), label_smoothing=0.1).backward()
    F.cross_entropy(b, Tensor(y), label_smoothing=0.1).backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=1e-15)
    assert_grads_match(lambda z, q: F.cross_entropy(z, q, reduction="sum"), [z, _probabilities(rng, (6, 4), 1)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("beta", [1.0, 0.5, 0.0])
def test_smooth_l1_matches_torch(torch, reduction, beta):
    rng = np.random.default_rng(2)
    x, t = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5)) * 2
    assert_matches_torch(lambda x, t: F.smooth_l1_loss(x, t, reduction=reduction, beta=beta),
                         lambda x, t: torch.nn.functional.smooth_l1_loss(x, t, reduction=reduction, beta=beta),
                         [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.0])
def test_huber_matches_torch(torch, reduction, delta):
    rng = np.random.default_rng(3)
    x, t = rng.standard_normal((4, 5)) * 2, rng.standard_normal((4, 5)) * 2
    assert_matches_torch(lambda x, t: F.huber_loss(x, t, reduction=reduction, delta=delta),
                         lambda x, t: torch.nn.functional.huber_loss(x, t, reduction=reduction, delta=delta), [x, t])
    # Huber is delta times Smooth L1 with beta = delta
    h = F.huber_loss(Tensor(x), Tensor(t), reduction="sum", delta=delta).item()
    assert h == pytest.approx(delta * F.smooth_l1_loss(Tensor(x), Tensor(t), reduction="sum", beta=delta).item())


@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(torch, reduction, log_target):
    rng = np.random.default_rng(4)
    logp = np.log(_probabilities(rng, (4, 5), 1))
    t = _probabilities(rng, (4, 5), 1)
    t = np.log(t) if log_target else t
    assert_matches_torch(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
                         lambda x, t: torch.nn.functional.kl_div(x, t, reduction=reduction, log_target=log_target),
                         [logp, t])


def test_kl_div_with_zero_target_entries(torch):
    """t = 0 contributes 0 (not nan), and the input gradient there is 0."""
    logp = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]))
    t = np.array([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    x = Tensor(logp, requires_grad=True)
    loss = F.kl_div(x, Tensor(t), reduction="batchmean")
    loss.backward()
    expected = torch.nn.functional.kl_div(torch.tensor(logp), torch.tensor(t), reduction="batchmean")
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    assert x.grad.numpy()[0, 0] == 0.0 and np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("p", [2, 1, 3, 0.5, math.inf])
def test_normalize_matches_torch(torch, p):
    x = np.random.default_rng(5).standard_normal((3, 4, 5))
    x[0, :, 0] = 0.0                               # a zero vector: divided by eps, gradient 1/eps
    assert_matches_torch(lambda x: F.normalize(x, p, 1), lambda x: torch.nn.functional.normalize(x, p, 1), [x],
                         atol=1e-6 if p == 0.5 else 1e-10)


def test_cosine_similarity_and_pairwise_distance_match_torch(torch):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((3, 4, 5)), rng.standard_normal((4, 1))
    a[0, :, 0] = 1e-10                              # a norm below eps: PyTorch's clamped form
    assert_matches_torch(lambda a, b: F.cosine_similarity(a, b, 1), lambda a, b: torch.nn.functional.cosine_similarity(
        a, b, 1), [a, b], atol=1e-9)
    a, b = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    for p in (2, 1, 3):
        assert_matches_torch(lambda a, b: F.pairwise_distance(a, b, p),
                             lambda a, b: torch.nn.functional.pairwise_distance(a, b, p), [a, b])
    assert_module_matches_torch(nn.CosineSimilarity(dim=0), torch.nn.CosineSimilarity(dim=0), a, b)
    assert_module_matches_torch(nn.PairwiseDistance(p=1.0, keepdim=True),
                                torch.nn.PairwiseDistance(p=1.0, keepdim=True), a, b)
    np.testing.assert_allclose(F.cosine_similarity(Tensor(a), Tensor(2 * a)).numpy(), 1.0)


_Y = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_margin_ranking_and_cosine_embedding_match_torch(torch, reduction):
    rng = np.random.default_rng(7)
    assert_matches_torch(lambda a, b: F.margin_ranking_loss(a, b, Tensor(_Y), 0.3, reduction=reduction),
                         lambda a, b: torch.nn.functional.margin_ranking_loss(a, b, torch.tensor(_Y), 0.3,
                                                                              reduction=reduction),
                         [rng.standard_normal(6), rng.standard_normal(6)])
    assert_matches_torch(lambda a, b: F.cosine_embedding_loss(a, b, Tensor(_Y), 0.1, reduction=reduction),
                         lambda a, b: torch.nn.functional.cosine_embedding_loss(a, b, torch.tensor(_Y), 0.1,
                                                                                reduction=reduction),
                         [rng.standard_normal((6, 4)), rng.standard_normal((6, 4))])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("swap,p", [(False, 2), (True, 2), (True, 1)])
def test_triplet_margin_matches_torch(torch, reduction, swap, p):
    rng = np.random.default_rng(8)
    assert_matches_torch(
        lambda a, q, n: F.triplet_margin_loss(a, q, n, 1.5, p=p, swap=swap, reduction=reduction),
        lambda a, q, n: torch.nn.functional.triplet_margin_loss(a, q, n, 1.5, p=p, swap=swap, reduction=reduction),
        [rng.standard_normal((6, 4)) for _ in range(3)])


LOSS_MODULES = [
    ("KLDivLoss", dict(reduction="batchmean"), "kl"), ("KLDivLoss", dict(log_target=True), "kl_log"),
    ("SmoothL1Loss", dict(beta=0.5), "pair"), ("HuberLoss", dict(delta=0.7, reduction="sum"), "pair"),
    ("MarginRankingLoss", dict(margin=0.2), "rank"), ("CosineEmbeddingLoss", dict(margin=-0.1), "embed"),
    ("TripletMarginLoss", dict(margin=2.0, swap=True), "triplet"), ("CrossEntropyLoss", dict(label_smoothing=0.1),
                                                                    "soft"),
]


@pytest.mark.parametrize("name,kw,kind", LOSS_MODULES, ids=[f"{n}{k}" for n, k, _ in LOSS_MODULES])
def test_loss_modules_match_torch(torch, name, kw, kind):
    ours, theirs = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(ours) == repr(theirs)
    rng = np.random.default_rng(9)
    inputs = {
        "kl": [np.log(_probabilities(rng, (4, 5), 1)), _probabilities(rng, (4, 5), 1)],
        "kl_log": [np.log(_probabilities(rng, (4, 5), 1)), np.log(_probabilities(rng, (4, 5), 1))],
        "pair": [rng.standard_normal((4, 5)), rng.standard_normal((4, 5))],
        "rank": [rng.standard_normal(6), rng.standard_normal(6), _Y],
        "embed": [rng.standard_normal((6, 3)), rng.standard_normal((6, 3)), _Y],
        "triplet": [rng.standard_normal((6, 3)) for _ in range(3)],
        "soft": [rng.standard_normal((4, 5)), _probabilities(rng, (4, 5), 1)],
    }[kind]
    assert_module_matches_torch(ours, theirs, *inputs)


def test_legacy_reduction_arguments_and_kl_batchmean_module():
    assert nn.KLDivLoss(reduce=False).reduction == "none"
    assert nn.SmoothL1Loss(size_average=False).reduction == "sum"
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.SmoothL1Loss(reduction="batchmean")


def test_one_hot_like_torch(torch):
    y = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(Tensor(y)).numpy(), torch.nn.functional.one_hot(torch.tensor(y)).numpy())
    out = F.one_hot(Tensor(y), num_classes=6)
    assert out.dtype == np.int64 and out.shape == (2, 2, 6)
    with pytest.raises(ValueError, match="smaller than num_classes"):
        F.one_hot(Tensor(y), 3)
    with pytest.raises(ValueError, match="non-negative"):
        F.one_hot(Tensor(np.array([-1])))
    with pytest.raises(TypeError, match="integer tensor"):
        F.one_hot(tinycnn.randn(3))


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.cross_entropy(tinycnn.randn(4, 3), tinycnn.rand(4)), ValueError,
     r"class probabilities must have the input's shape \(4, 3\)"),
    (lambda: F.cross_entropy(tinycnn.randn(4, 3).double(), tinycnn.rand(4, 3).double(), weight=tinycnn.ones(2)),
     ValueError, "expected weight of shape"),
    (lambda: F.kl_div(tinycnn.randn(4, 3), tinycnn.rand(4, 3), reduction="avg"), ValueError,
     "'none', 'batchmean', 'mean', 'sum'"),
    (lambda: F.huber_loss(tinycnn.randn(3), tinycnn.randn(3), delta=0.0), ValueError, "delta must be positive"),
    (lambda: F.smooth_l1_loss(tinycnn.randn(3), tinycnn.randn(3), beta=-1.0), ValueError, "beta must be"),
    (lambda: F.margin_ranking_loss(tinycnn.randn(3), tinycnn.randn(4), tinycnn.ones(3)), ValueError, "same shape"),
    (lambda: F.cosine_embedding_loss(tinycnn.randn(3, 2), tinycnn.randn(3, 2), tinycnn.ones(2)), ValueError,
     r"expected target of shape \(3\)"),
    (lambda: F.cosine_similarity(tinycnn.randn(3, 2), tinycnn.randn(4, 2)), ValueError, "cannot be broadcast"),
    (lambda: nn.TripletMarginLoss(margin=0.0), ValueError, "margin must be greater than 0"),
])
def test_loss_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()
