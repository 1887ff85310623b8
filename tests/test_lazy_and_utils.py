"""Lazy modules (shapes inferred on the first forward, then ordinary modules; state dicts before and after; loading
into an uninitialised module; summary after a dry run) and nn.utils (gradient clipping, parameters as one vector),
against PyTorch doing the same."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinycnn
import tinycnn.nn as nn
from tinycnn.nn.parameter import UninitializedParameter
from tinycnn.utils import summary

from helpers import assert_module_matches_torch


def d2l_lenet(lib):
    """d2l's LeNet as the current book writes it: every layer lazy."""
    L = lib.nn
    return L.Sequential(L.LazyConv2d(6, kernel_size=5, padding=2), L.Sigmoid(), L.AvgPool2d(2, 2),
                        L.LazyConv2d(16, kernel_size=5), L.Sigmoid(), L.AvgPool2d(2, 2), L.Flatten(),
                        L.LazyLinear(120), L.Sigmoid(), L.LazyLinear(84), L.Sigmoid(), L.LazyLinear(10))


def test_lazy_lenet_becomes_ordinary_like_torch(torch):
    ours, theirs = d2l_lenet(tinycnn), d2l_lenet(torch)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert all(isinstance(v, UninitializedParameter) for k, v in ours.state_dict().items() if "weight" in k)
    ours(tinycnn.randn(2, 1, 28, 28))
    theirs(torch.randn(2, 1, 28, 28))
    assert repr(ours) == repr(theirs)
    assert [type(m) for m in ours] == [getattr(nn, type(m).__name__) for m in theirs]
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert not any(m._has_hooks() for m in ours.modules())
    table = summary(ours, (1, 28, 28))
    assert table.total_params == sum(p.numel() for p in theirs.parameters()) == 61706


LAZY = [
    ("LazyLinear", (5,), dict(), (3, 4)),
    ("LazyLinear", (5,), dict(bias=False), (2, 3, 4)),
    ("LazyConv2d", (4, 3), dict(stride=2, padding=1), (2, 3, 7, 7)),
    ("LazyConv2d", (4, 3), dict(groups=2, bias=False), (2, 6, 5, 5)),
    ("LazyConv1d", (4, 3), dict(padding="same"), (2, 3, 8)),
    ("LazyConvTranspose2d", (4, 3), dict(stride=2, output_padding=1), (2, 3, 4, 4)),
    ("LazyConvTranspose1d", (2, 3), dict(), (2, 3, 5)),
    ("LazyBatchNorm1d", (), dict(), (6, 4)),
    ("LazyBatchNorm2d", (), dict(momentum=0.3), (4, 3, 5, 5)),
    ("LazyBatchNorm2d", (), dict(affine=False), (4, 3, 5, 5)),
]


@pytest.mark.parametrize("name,args,kw,shape", LAZY, ids=[f"{n}{k}" for n, _, k, _ in LAZY])
def test_lazy_modules_match_torch_after_the_dry_run(torch, name, args, kw, shape):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(0).standard_normal(shape)
    ours(tinycnn.tensor(x.astype(np.float32)))
    theirs(torch.tensor(x, dtype=torch.float32))
    assert type(ours).__name__ == type(theirs).__name__ and repr(ours) == repr(theirs)
    assert assert_module_matches_torch(ours, theirs, x).shape == tuple(theirs(torch.tensor(x)).shape)


@pytest.mark.parametrize("name,args,kw,shape", LAZY[:7], ids=[f"{n}{k}" for n, _, k, _ in LAZY[:7]])
def test_lazy_initialisation_is_the_layer_s_default(name, args, kw, shape):
    tinycnn.manual_seed(0)
    m = getattr(nn, name)(*args, **kw)
    m(tinycnn.randn(*shape))
    w = m.weight.numpy()
    bound = 1 / math.sqrt(w.shape[1] * int(np.prod(w.shape[2:])))
    assert w.dtype == np.float32 and np.abs(w).max() <= bound and np.abs(w).max() > 0.5 * bound


def test_optimizer_built_before_the_dry_run_trains_the_materialised_parameters():
    tinycnn.manual_seed(0)
    net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
    opt = tinycnn.optim.SGD(net.parameters(), lr=0.1)
    x, y = tinycnn.randn(16, 3), tinycnn.randn(16, 1)
    losses = []
    for _ in range(20):
        loss = nn.functional.mse_loss(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] and net[0].weight.shape == (8, 3)
    assert opt.param_groups[0]["params"][0] is net[0].weight


def test_load_state_dict_into_an_uninitialised_lazy_module_like_torch(torch, tmp_path):
    trained, t_trained = d2l_lenet(tinycnn), d2l_lenet(torch)
    trained(tinycnn.randn(1, 1, 28, 28))
    t_trained(torch.randn(1, 1, 28, 28))
    fresh, t_fresh = d2l_lenet(tinycnn), d2l_lenet(torch)
    fresh.load_state_dict(trained.state_dict())
    t_fresh.load_state_dict(t_trained.state_dict())
    assert [type(m).__name__ for m in fresh] == [type(m).__name__ for m in t_fresh]      # still lazy until run
    assert {k: tuple(v.shape) for k, v in fresh.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in t_fresh.state_dict().items()}
    x = tinycnn.randn(3, 1, 28, 28)
    np.testing.assert_array_equal(fresh(x).numpy(), trained(x).numpy())     # the loaded values, not a new init
    assert repr(fresh) == repr(trained)
    tinycnn.save(fresh.state_dict(), tmp_path / "lenet.npz")
    again = d2l_lenet(tinycnn)
    again.load_state_dict(tinycnn.load(tmp_path / "lenet.npz"))      # from a checkpoint file, also lazily
    np.testing.assert_array_equal(again(x).numpy(), trained(x).numpy())


def test_a_deep_copy_of_an_unrun_lazy_model_initialises_on_its_own():
    import copy
    net = nn.Sequential(nn.LazyLinear(4), nn.ReLU(), nn.LazyLinear(2))
    twin = copy.deepcopy(net)
    twin(tinycnn.randn(1, 3))
    assert type(net[0]) is nn.LazyLinear and type(twin[0]) is nn.Linear
    net(tinycnn.randn(1, 5))
    assert net[0].in_features == 5 and twin[0].in_features == 3 and not net[0]._has_hooks()


def test_lazy_errors():
    with pytest.raises(RuntimeError, match="has no shape yet"):
        nn.LazyLinear(3).weight.shape
    with pytest.raises(ValueError, match="must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(tinycnn.randn(1, 3, 5, 5))
    with pytest.raises(ValueError, match="to infer the number of channels"):
        nn.LazyConv2d(4, 3)(tinycnn.randn(5, 5))


# ---- nn.utils ----------------------------------------------------------------------------------------------------
def _grads(lib, seed=0):
    rng = np.random.default_rng(seed)
    params = [lib.nn.Parameter(lib.tensor(rng.standard_normal(s))) for s in [(3, 4), (4,), (2, 2, 2)]]
    for p in params:
        p.grad = lib.tensor(rng.standard_normal(tuple(p.shape)) * 3)
    return params


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(torch, norm_type, max_norm):
    ours, theirs = _grads(tinycnn), _grads(torch)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    t_total = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    assert total.item() == pytest.approx(t_total.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    after = nn.utils.get_total_norm([p.grad for p in ours], norm_type).item()
    assert after == pytest.approx(min(max_norm, total.item()), rel=1e-5)


def test_clip_grad_norm_edge_cases(torch):
    assert nn.utils.clip_grad_norm_([nn.Parameter(tinycnn.zeros(2))], 1.0).item() == 0.0     # no grads at all
    p = nn.Parameter(tinycnn.zeros(2))
    p.grad = tinycnn.tensor([np.inf, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    single = _grads(tinycnn)[0]
    t_single = _grads(torch)[0]
    nn.utils.clip_grad_norm_(single, 1.0)          # a single tensor is accepted
    torch.nn.utils.clip_grad_norm_(t_single, 1.0)
    np.testing.assert_allclose(single.grad.numpy(), t_single.grad.numpy(), rtol=1e-12)


def test_clip_grad_value_matches_torch(torch):
    ours, theirs = _grads(tinycnn), _grads(torch)
    nn.utils.clip_grad_value_(ours, 1.5)
    torch.nn.utils.clip_grad_value_(theirs, 1.5)
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())


def test_parameters_to_vector_and_back_like_torch(torch):
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    t_net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Linear(2, 1))
    net.load_state_dict({k: v.detach().numpy() for k, v in t_net.state_dict().items()})
    vec = nn.utils.parameters_to_vector(net.parameters())
    np.testing.assert_array_equal(vec.numpy(), torch.nn.utils.parameters_to_vector(t_net.parameters()).detach().numpy())
    vec.sum().backward()                          # differentiable, as in PyTorch
    assert all(np.array_equal(p.grad.numpy(), np.ones(p.shape)) for p in net.parameters())
    new = tinycnn.arange(11, dtype=tinycnn.float32)
    nn.utils.vector_to_parameters(new, net.parameters())
    torch.nn.utils.vector_to_parameters(torch.arange(11, dtype=torch.float32), t_net.parameters())
    for (k, a), (_, b) in zip(net.state_dict().items(), t_net.state_dict().items()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    with pytest.raises(ValueError, match="1-D tensor of 11 elements"):
        nn.utils.vector_to_parameters(tinycnn.zeros(3), net.parameters())
