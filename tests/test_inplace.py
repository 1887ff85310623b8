"""In-place ops and storage semantics, as PyTorch's: ``.data`` shares the storage outside the graph; the
tutorial in-place methods work on it and on leaves under no_grad; a leaf that requires grad refuses them in
grad mode; an in-place change of a tensor the graph saved raises PyTorch's error at backward; in-place ops
inside the graph (on non-leaves and on views) give PyTorch's gradients; version counters as PyTorch's."""
import numpy as np
import pytest

import tinycnn
from helpers import compare_with_torch
from tinycnn import no_grad

X = np.random.default_rng(0).standard_normal((3, 4))
W = np.random.default_rng(1).standard_normal(4)


# ---- in-place methods outside the graph -------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    "t.fill_(2.5)", "t.zero_()", "t.add_(o)", "t.add_(o, alpha=-2)", "t.sub_(0.5)", "t.mul_(o)", "t.div_(o)",
    "t.div_(2.0)", "t.copy_(o)", "t.copy_(o[0])", "t.clamp_(-0.5, 0.5)", "t.clamp_(min=0)", "t.clamp_max_(0.1)",
    "t.masked_fill_(t > 0, -1.0)", "t.index_fill_(1, idx, 7.0)", "t.pow_(2)", "t.abs_()", "t.neg_()",
    "t.exp_()", "t.sigmoid_()", "t.tanh_()", "t.relu_()", "t.floor_()", "t.round_()", "t.sqrt_().nan_to_num_()",
    "t.lerp_(o, 0.3)", "t.addcmul_(o, o, value=2)", "t.addcdiv_(o, o.abs() + 1)", "t.index_add_(0, idx, o[:2])",
    "t.scatter_(1, idx.reshape(1, 2).repeat(3, 1), 0.0)", "t.scatter_add_(0, idx.reshape(2, 1).repeat(1, 4), o[:2])",
    "t.masked_scatter_(t > 0, o)", "t.fill_diagonal_(9.0)", "t.t_()" if False else "t.transpose(0, 1).mul_(2)",
    "t.__setitem__((slice(None), 0), 5.0)", "t.index_put_((idx,), o[0] * 0 + 1.0)", "t.tril_()", "t.triu_(1)",
])
def test_in_place_methods_match_torch_values(torch, call):
    def run(lib):
        t = lib.tensor(X.copy())
        o = lib.tensor(np.abs(X[::-1].copy()) + 0.5)
        idx = lib.tensor([0, 2])
        out = eval(call, {"t": t, "o": o, "idx": idx})
        if call.startswith("t.") and "transpose" not in call and "__setitem__" not in call:
            assert out is t, "an in-place method returns the tensor itself"
        return t
    np.testing.assert_allclose(run(tinycnn).numpy(), run(torch).numpy(), rtol=1e-12, equal_nan=True)


def test_in_place_on_data_changes_the_tensor_outside_the_graph():
    w = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    w.data.mul_(10).add_(1)
    assert w.tolist() == [11.0, 21.0] and w.is_leaf and w.requires_grad
    assert w._version == 0                       # .data has a version counter of its own, as in PyTorch
    w.data.zero_()
    w.data += 3
    assert w.tolist() == [3.0, 3.0]


def test_manual_sgd_under_no_grad_matches_torch(torch):
    """The tutorial loop: w -= lr * w.grad under no_grad, then w.grad.zero_(); w stays the same leaf."""
    def train(lib):
        lib.manual_seed(0)
        x = lib.tensor(X)
        y = lib.tensor(X @ np.array([1.0, -2.0, 0.5, 3.0]))
        w = lib.tensor(np.zeros(4), requires_grad=True)
        leaf = w
        for _ in range(20):
            loss = ((x @ w - y) ** 2).mean()
            loss.backward()
            with lib.no_grad():
                w -= 0.1 * w.grad
                w.grad.zero_()
        assert w is leaf and w.is_leaf and w.requires_grad
        return w.detach().numpy()
    np.testing.assert_allclose(train(tinycnn), train(torch), rtol=1e-12)


def test_leaf_that_requires_grad_refuses_in_place_in_grad_mode(torch):
    w = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    for op in (lambda: w.add_(1), lambda: w.mul_(2), lambda: w.fill_(0), lambda: w.zero_(),
               lambda: w.__iadd__(1), lambda: w.__setitem__(0, 5.0), lambda: w[0].mul_(2)):
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad is being used in an in-place"):
            op()
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad is being used in an in-place"):
        tw.add_(1)
    with no_grad():
        w.add_(1)
        w[0] = 0.0
    assert w.tolist() == [0.0, 3.0] and w.is_leaf


def test_version_counter_is_shared_with_views_and_detach_not_data(torch):
    x = tinycnn.zeros(3, 4)
    v, d, data = x[0], x.detach(), x.data
    x.add_(1)
    assert x._version == v._version == d._version == 1 and data._version == 0
    v.mul_(2)
    assert x._version == 2 and x[0].tolist() == [2.0] * 4
    t = torch.zeros(3, 4)
    tv = t[0]
    t.add_(1)
    tv.mul_(2)
    assert t._version == 2


# ---- the graph: PyTorch's error for a changed saved tensor ------------------------------------------------
@pytest.mark.parametrize("make", [
    "y = x.exp(); y.add_(1); y.sum()",                      # exp saved its output
    "a = x * 1; y = a * a; a.mul_(2); y.sum()",            # mul saved its inputs
    "a = x * 1; y = a.sqrt(); y.fill_(1.0); y.sum()",   # sqrt saved its output
    "a = x * 1; y = a[0] * a[1]; a[0] = 3.0; y.sum()",
])
def test_changing_what_backward_needs_raises_pytorchs_error(torch, make):
    for lib, phrase in ((tinycnn, "modified by an inplace operation"), (torch, "modified by an inplace operation")):
        x = lib.tensor(np.abs(X) + 0.5, requires_grad=True)
        env = {"x": x}
        exec(make.rsplit(";", 1)[0], env)
        loss = eval(make.rsplit(";", 1)[1], env)
        with pytest.raises(RuntimeError, match=phrase):
            loss.backward()


def test_error_names_the_tensor_the_op_and_the_versions():
    x = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match=r"\[tinycnn.FloatTensor \[2\]\], which is output 0 of Exp, is at "
                                           r"version 1; expected version 0 instead"):
        y.sum().backward()


# ---- the graph: in-place ops with PyTorch's gradients -----------------------------------------------------
SCENARIOS = {
    "non-leaf add_": "y = x * 2; y.add_(w); out = y",
    "residual +=": "out = x * 3; identity = x.sin(); out += identity",
    "chain of in-place": "y = x * 1; y.mul_(w).sub_(0.5).div_(2); y.pow_(2); out = y",
    "setitem value": "y = x * 1; y[1] = w; out = y * 2",
    "setitem mask": "y = x * 1; y[x > 0] = 0.0; out = y",
    "view slice +=": "y = x * 2; y[:, 1] += w[:3]; out = y",
    "view mul_": "y = x * 2; y[0].mul_(w); out = y",
    "view of a view": "y = x + 0; y[1:][0].add_(w); out = y.sin()",
    "view of reshape": "y = x * 1; y.view(-1)[:4].mul_(w); out = y",
    "transpose view": "y = x * 1; y.t()[1].fill_(2.0); out = y * x",
    "buffer takes graph values": "y = tc.zeros(3, 4); y[0] = w; y[2].add_(x[2]); out = y",
    "copy_ into buffer": "y = tc.zeros(3, 4); y.copy_(x * w); out = y",
    "read the view after the base changed": "y = x * 2; v = y[0]; y.mul_(3); out = v * w",
    "read the view before the base changed": "y = x * 2; v = y[0]; z = v * 2; y.mul_(3); out = z + y[0] * w",
    "input kept only for the other's gradient": "a = x * 1; y = a * 3; a.add_(1); out = y + a",
    "clamp_ and masked_fill_": "y = x * 1; y.clamp_(-0.5, 0.5); y.masked_fill_(x < -1, 9.0); out = y",
    "relu_ after op": "y = x * w; y.relu_(); out = y",
    "index_add_ of graph values": "y = x * 1; y.index_add_(0, tc.tensor([0, 0]), x[:2] * w); out = y",
    "scatter_ into non-leaf": "y = x * 1; y.scatter_(1, tc.tensor([[0], [3], [1]]), x[:, :1] * 5); out = y",
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_in_place_in_the_graph_gives_pytorchs_gradients(torch, name):
    code = SCENARIOS[name]

    def run(lib):
        def f(x, w):
            env = {"x": x, "w": w, "tc": lib}
            exec(code, env)
            return env["out"]
        return f
    compare_with_torch(run(tinycnn), run(torch), [X, W])


def test_in_place_result_dtype_must_fit(torch):
    i = tinycnn.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.add_(1.5)
    with pytest.raises(RuntimeError, match="can't be cast"):
        i.div_(2)
    f = tinycnn.tensor([1.0, 2.0])
    f.add_(tinycnn.tensor([1, 1]))
    assert f.dtype == tinycnn.float32 and f.tolist() == [2.0, 3.0]


def test_in_place_result_must_keep_the_shape():
    with pytest.raises(RuntimeError, match="does not fit the tensor of shape"):
        tinycnn.zeros(3).add_(tinycnn.zeros(2, 3))
    with pytest.raises(RuntimeError, match="read-only view"):
        tinycnn.zeros(3, 1).expand(3, 4).add_(1)


def test_random_fills_follow_the_seed_and_the_distribution():
    t = tinycnn.empty(20000)
    tinycnn.manual_seed(3)
    t.normal_(2.0, 0.5)
    a = t.numpy().copy()
    tinycnn.manual_seed(3)
    t.normal_(2.0, 0.5)
    assert np.array_equal(a, t.numpy()) and abs(a.mean() - 2.0) < 0.02 and abs(a.std() - 0.5) < 0.02
    t.uniform_(-1, 3)
    assert t.numpy().min() >= -1 and t.numpy().max() < 3 and abs(t.numpy().mean() - 1.0) < 0.05
    t.bernoulli_(0.25)
    assert set(np.unique(t.numpy())) <= {0.0, 1.0} and abs(t.numpy().mean() - 0.25) < 0.02
    t.exponential_(4.0)
    assert abs(t.numpy().mean() - 0.25) < 0.02
    i = tinycnn.empty(1000, dtype=tinycnn.int64).random_(0, 5)
    assert set(np.unique(i.numpy())) == {0, 1, 2, 3, 4}


def test_random_fill_of_a_non_leaf_cuts_its_gradient(torch):
    def run(lib):
        def f(x):
            y = x * 2
            y[0].normal_()
            return y * 1
        return f
    x = tinycnn.tensor(X, requires_grad=True)
    run(tinycnn)(x).sum().backward()
    assert x.grad.numpy()[0].tolist() == [0.0] * 4 and x.grad.numpy()[1].tolist() == [2.0] * 4


def test_optimizer_and_init_still_work_on_leaves():
    from tinycnn import nn, optim
    layer = nn.Linear(4, 2)
    opt = optim.SGD(layer.parameters(), lr=0.1, momentum=0.9)
    x = tinycnn.tensor(X.astype(np.float32))
    for _ in range(3):
        loss = layer(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    nn.init.zeros_(layer.bias)
    with no_grad():
        layer.weight.mul_(0.5)
    assert layer.weight.is_leaf and layer.bias.tolist() == [0.0, 0.0]
