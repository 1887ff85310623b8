"""Losses: values and gradients against PyTorch (float64) for every option, finite differences, stability."""
import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor, nn
from tinycnn.utils.gradcheck_registry import REGISTRY

REDUCTIONS = ["none", "mean", "sum"]


def _compare(ours, theirs, inputs, consts=(), kwargs=None, grad_inputs=None, rtol=1e-10, atol=1e-12):
    """Run ours(*inputs, *consts, **kwargs) and theirs(...) and compare values and input gradients.

    ``inputs`` are float64 arrays that require grad; ``consts`` are passed as they are (numpy arrays to
    tinycnn, converted to torch tensors for torch).
    """
    import torch
    kwargs = kwargs or {}
    rng = np.random.default_rng(99)
    ts = [Tensor(a.copy(), requires_grad=True) for a in inputs]
    tt = [torch.tensor(a, requires_grad=True) for a in inputs]
    y = ours(*ts, *consts, **kwargs)
    ty = theirs(*tt, *[torch.tensor(c) for c in consts],
                **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()})
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), rtol=rtol, atol=atol)
    upstream = rng.standard_normal(y.shape)
    y.backward(Tensor(upstream))
    ty.backward(torch.tensor(upstream))
    for i in (range(len(inputs)) if grad_inputs is None else grad_inputs):
        np.testing.assert_allclose(ts[i].grad.numpy(), tt[i].grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")
    return y


# ---- cross-entropy and NLL ---------------------------------------------------------------------------------
CE_OPTIONS = [
    {},
    {"weight": np.array([0.3, 1.0, 2.0, 0.7, 1.5])},
    {"ignore_index": 2},
    {"label_smoothing": 0.1},
    {"label_smoothing": 0.2, "weight": np.array([0.3, 1.0, 2.0, 0.7, 1.5]), "ignore_index": 1},
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", CE_OPTIONS, ids=lambda o: ",".join(o) or "plain")
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 2, 3), (5,)], ids=["2d", "kdim", "unbatched"])
def test_cross_entropy_matches_torch(shape, opts, reduction, torch):
    TF = torch.nn.functional
    rng = np.random.default_rng(0)
    z = rng.standard_normal(shape) * 2
    tshape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    y = rng.integers(0, 5, tshape)
    if tshape:
        y.reshape(-1)[0] = opts.get("ignore_index", -100)  # an ignored target in every batched case
        y.reshape(-1)[1] = 2
    _compare(F.cross_entropy, TF.cross_entropy, [z], [y], dict(opts, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", [o for o in CE_OPTIONS if "label_smoothing" not in o],
                         ids=lambda o: ",".join(o) or "plain")
@pytest.mark.parametrize("shape", [(6, 5), (3, 5, 2, 3)], ids=["2d", "kdim"])
def test_nll_loss_matches_torch(shape, opts, reduction, torch):
    TF = torch.nn.functional
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape)
    y = rng.integers(0, 5, (shape[0],) + shape[2:])
    y.reshape(-1)[0] = opts.get("ignore_index", -100)
    y.reshape(-1)[1] = 2
    _compare(F.nll_loss, TF.nll_loss, [x], [y], dict(opts, reduction=reduction))


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    rng = np.random.default_rng(2)
    z = Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = np.array([0, 2, 1, 1])
    F.cross_entropy(z, y).backward()
    p = np.exp(z.numpy()) / np.exp(z.numpy()).sum(1, keepdims=True)
    np.testing.assert_allclose(z.grad.numpy(), (p - np.eye(3)[y]) / 4, rtol=1e-12)


def test_all_ignored_mean_is_nan_and_sum_is_zero_like_torch():
    z = Tensor(np.zeros((3, 4)), requires_grad=True)
    y = np.full(3, -100)
    assert np.isnan(F.cross_entropy(z, y).item())
    assert F.cross_entropy(z, y, reduction="sum").item() == 0.0
    assert np.isnan(F.nll_loss(z, y).item())


def test_cross_entropy_is_stable_for_logits_of_1e3(torch):
    TF = torch.nn.functional
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64):
        z = (rng.standard_normal((5, 4)) * 1e3).astype(dtype)
        y = np.array([0, 1, 2, 3, 0])
        ours = _compare(F.cross_entropy, TF.cross_entropy, [z], [y], {"label_smoothing": 0.1},
                        rtol=1e-5, atol=1e-4) if dtype == np.float64 else None
        t = Tensor(z, requires_grad=True)
        loss = F.cross_entropy(t, y)
        loss.backward()
        assert np.isfinite(loss.item()) and np.isfinite(t.grad.numpy()).all()
        assert loss.dtype == dtype and t.grad.dtype == dtype
        assert ours is None or np.isfinite(ours.item())


def test_class_losses_bad_input_errors():
    z = tinycnn.zeros(4, 3, requires_grad=True)
    with pytest.raises(ValueError,
                       match=r"cross_entropy: expected target of shape \(4,\).*got target of shape \(4, 3\)"):
        F.cross_entropy(z, np.zeros((4, 3), dtype=np.int64))
    with pytest.raises(ValueError, match=r"cross_entropy: class index out of range.*\[0, 2\].*got 3"):
        F.cross_entropy(z, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match=r"cross_entropy: class index out of range.*got -1"):
        F.cross_entropy(z, np.array([0, 1, -1, 0]))
    with pytest.raises(ValueError, match="cross_entropy: expected target to hold class indices.*float32"):
        F.cross_entropy(z, tinycnn.tensor([0.0, 1.0, 2.0, 0.0]))
    with pytest.raises(ValueError, match="nll_loss: .*out of range"):
        nn.NLLLoss()(z, np.array([0, 1, 5, 0]))
    with pytest.raises(ValueError, match=r"cross_entropy: expected weight of shape \(3,\)"):
        F.cross_entropy(z, np.array([0, 1, 2, 0]), weight=np.ones(4))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(z, np.array([0, 1, 2, 0]), reduction="average")


# ---- elementwise losses ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_and_l1_match_torch_with_target_gradients(reduction, torch):
    TF = torch.nn.functional
    rng = np.random.default_rng(4)
    x, t = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    t[0, 0] = x[0, 0]  # the L1 kink: gradient 0 (sign(0)) in both libraries
    _compare(F.mse_loss, TF.mse_loss, [x, t], kwargs={"reduction": reduction})
    _compare(F.l1_loss, TF.l1_loss, [x, t], kwargs={"reduction": reduction})


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy_matches_torch(reduction, weighted, torch):
    TF = torch.nn.functional
    rng = np.random.default_rng(5)
    x, t = rng.uniform(0.05, 0.95, (3, 4)), rng.uniform(0, 1, (3, 4))
    kw = {"reduction": reduction}
    if weighted:
        kw["weight"] = rng.uniform(0.5, 2, (4,))  # broadcast over the batch
    _compare(F.binary_cross_entropy, TF.binary_cross_entropy, [x, t], kwargs=kw)


def test_binary_cross_entropy_clamps_log_at_minus_100_like_torch(torch):
    TF = torch.nn.functional
    x, t = np.array([0.0, 1.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0, 1.0])
    # rtol 1e-8: PyTorch clamps x (1 - x) at the float32 constant 1e-12 (4e-9 relative off), we at 1e-12
    _compare(F.binary_cross_entropy, TF.binary_cross_entropy, [x], [t], {"reduction": "none"}, rtol=1e-8)
    assert F.binary_cross_entropy(Tensor(x), Tensor(t), reduction="none").tolist() == [100.0, 100.0, 0.0, 0.0]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("opts", ["plain", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(reduction, opts, torch):
    TF = torch.nn.functional
    rng = np.random.default_rng(6)
    z, t = rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))
    kw = {"reduction": reduction}
    if opts in ("weight", "both"):
        kw["weight"] = rng.uniform(0.5, 2, (3, 1))
    if opts in ("pos_weight", "both"):
        kw["pos_weight"] = rng.uniform(0.5, 3, (4,))
    _compare(F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits, [z, t], kwargs=kw)


def test_bce_with_logits_is_stable_for_logits_of_50_and_more(torch):
    TF = torch.nn.functional
    for dtype in (np.float32, np.float64):
        z = np.array([-1000.0, -50.0, -20.0, 0.0, 20.0, 50.0, 1000.0], dtype=dtype)
        t = np.array([1.0, 1.0, 0.0, 0.5, 1.0, 0.0, 0.0], dtype=dtype)
        zt = Tensor(z, requires_grad=True)
        with np.errstate(over="raise"):
            loss = F.binary_cross_entropy_with_logits(zt, Tensor(t), reduction="none")
            loss.backward(Tensor(np.ones_like(z)))
        ref = TF.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(t), reduction="none")
        assert loss.dtype == dtype and zt.grad.dtype == dtype
        assert np.isfinite(loss.numpy()).all() and np.isfinite(zt.grad.numpy()).all()
        # atol: at z = -20, t = 0 PyTorch's float32 formula cancels to 0 where the exact value is 2e-9
        np.testing.assert_allclose(loss.numpy(), ref.numpy(), rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(loss.numpy()[[1, 5]], [50.0, 50.0], rtol=1e-6)


def test_elementwise_losses_bad_input_errors():
    x = tinycnn.zeros(2, 3)
    with pytest.raises(ValueError,
                       match=r"mse_loss: expected target of the input's shape \(2, 3\), got target of shape \(3,\)"):
        F.mse_loss(x, tinycnn.zeros(3))
    with pytest.raises(ValueError, match=r"binary_cross_entropy: .*\[0, 1\]"):
        F.binary_cross_entropy(tinycnn.tensor([0.5, 1.5]), tinycnn.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="l1_loss: reduction"):
        F.l1_loss(x, x, reduction="avg")


@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_kdim", "nll_loss", "mse_loss", "l1_loss",
                                  "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_registered_gradcheck(name):
    op = REGISTRY[name]
    inputs = [Tensor(a, requires_grad=True) for a in op.make_inputs(np.random.default_rng(7))]
    assert tinycnn.gradcheck(op.fn, inputs, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_gradcheck_cross_entropy_all_options(reduction):
    rng = np.random.default_rng(8)
    y = np.array([[1, -100, 0], [2, 2, 1]])
    w = np.array([0.5, 2.0, 1.2])
    fn = lambda z: F.cross_entropy(z, y, weight=w, label_smoothing=0.3, reduction=reduction)
    assert tinycnn.gradcheck(fn, [rng.standard_normal((2, 3, 3))], atol=1e-7, rtol=1e-6)


# ---- modules -----------------------------------------------------------------------------------------------
def test_loss_modules_match_functional_and_torch(torch):
    rng = np.random.default_rng(9)
    z, y = rng.standard_normal((4, 3)), np.array([0, 2, 1, -100])
    w = np.array([1.0, 2.0, 0.5])
    ours = nn.CrossEntropyLoss(weight=tinycnn.tensor(w), label_smoothing=0.1)(Tensor(z), y).item()
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1)(torch.tensor(z),
                                                                                     torch.tensor(y)).item()
    assert ours == pytest.approx(theirs, rel=1e-12)
    assert nn.NLLLoss(reduction="sum")(Tensor(z), y).item() == pytest.approx(
        torch.nn.NLLLoss(reduction="sum")(torch.tensor(z), torch.tensor(y)).item(), rel=1e-12)
    a, b = rng.uniform(0.1, 0.9, (2, 3)), rng.uniform(0, 1, (2, 3))
    for ours_m, theirs_m in ((nn.MSELoss(), torch.nn.MSELoss()), (nn.L1Loss(reduction="sum"),
                             torch.nn.L1Loss(reduction="sum")), (nn.BCELoss(), torch.nn.BCELoss()),
                             (nn.BCEWithLogitsLoss(pos_weight=tinycnn.tensor(np.array([1.0, 2.0, 3.0]))),
                              torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor([1.0, 2.0, 3.0],
                                                                                 dtype=torch.float64)))):
        assert ours_m(Tensor(a), Tensor(b)).item() == pytest.approx(
            theirs_m(torch.tensor(a), torch.tensor(b)).item(), rel=1e-12)
        assert repr(ours_m) == repr(theirs_m)
    assert nn.MSELoss(size_average=False).reduction == "sum"
    assert "weight" in nn.CrossEntropyLoss(weight=tinycnn.ones(3)).state_dict()
    with pytest.raises(ValueError, match="CrossEntropyLoss: reduction"):
        nn.CrossEntropyLoss(reduction="avg")


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_stays_float32(reduction):
    rng = np.random.default_rng(10)
    z = rng.standard_normal((4, 3)).astype(np.float32)
    p, t = rng.uniform(0.1, 0.9, (4, 3)).astype(np.float32), rng.uniform(0, 1, (4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, -100])
    w = np.array([1.0, 2.0, 0.5])  # a float64 weight must not promote the float32 loss
    calls = [lambda a: F.cross_entropy(a, y, weight=w, label_smoothing=0.1, reduction=reduction),
             lambda a: F.nll_loss(a, y, weight=w, reduction=reduction),
             lambda a: F.mse_loss(a, Tensor(t), reduction=reduction),
             lambda a: F.l1_loss(a, Tensor(t), reduction=reduction),
             lambda a: F.binary_cross_entropy_with_logits(a, Tensor(t), weight=w, pos_weight=w,
                                                          reduction=reduction)]
    for fn in calls + [None]:
        a = Tensor(p.copy() if fn is None else z.copy(), requires_grad=True)
        loss = F.binary_cross_entropy(a, Tensor(t), weight=w, reduction=reduction) if fn is None else fn(a)
        loss.backward(Tensor(np.ones(loss.shape, np.float32)))
        assert loss.dtype == np.float32 and a.grad.dtype == np.float32
        assert a.grad.array.dtype == np.float32
