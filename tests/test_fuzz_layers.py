"""Property-based fuzzing of the ``nn`` layers: random constructor arguments and inputs.

Each layer, built with random valid hyperparameters, must give the documented output shape, match the same
PyTorch layer (weights copied over, float64) in its output and in the gradients of its input and of every
parameter, and pass a finite-difference check of its parameter gradients. Random *invalid* constructor
arguments and inputs must raise ValueError/TypeError naming the layer. See test_fuzz_ops.py for the
settings (``TINYCNN_FUZZ_RANDOM=1``, ``TINYCNN_FUZZ_EXAMPLES=N``).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from test_fuzz_ops import FEW, FUZZ, assert_clear_error, check_grad, conv_out, rand, seeds
from tinycnn import Tensor, nn, no_grad

TORCH_DEFAULT_DTYPE = "float64"  # set per test by tests/conftest.py

try:
    import torch
    torch.set_num_threads(1)   # tiny tensors; torch's spinning OpenMP threads would starve Numba's
except ImportError:
    torch = None


# ---- helpers -------------------------------------------------------------------------------------------------
def param_directional_check(module, x, n_dirs=4, eps=1e-6, seed=0):
    """d/deps L(params + eps*d) by central differences equals <grad, d>, for random directions d over all
    parameters at once (L = sum(u * module(x)) for a fixed random u). float64 module and input."""
    params = [p for p in module.parameters() if p.requires_grad]
    if not params:
        return
    rng = np.random.default_rng(seed)
    module.zero_grad()
    y = module(Tensor(x))
    u = rng.standard_normal(tuple(y.shape))
    y.backward(Tensor(u))
    grads = [p.grad.numpy().copy() for p in params]

    def loss():
        with no_grad():
            return float(np.sum(module(Tensor(x)).numpy() * u))

    for _ in range(n_dirs):
        dirs = [rng.standard_normal(p.shape) for p in params]
        originals = [p.array.copy() for p in params]
        for p, o, d in zip(params, originals, dirs):
            p.array = o + eps * d
        plus = loss()
        for p, o, d in zip(params, originals, dirs):
            p.array = o - eps * d
        minus = loss()
        for p, o in zip(params, originals):
            p.array = o
        numeric = (plus - minus) / (2 * eps)
        exact = sum(float(np.sum(g * d)) for g, d in zip(grads, dirs))
        assert abs(numeric - exact) <= 1e-5 + 1e-4 * abs(numeric), f"parameter gradient: {exact} vs {numeric}"


def torch_layer_agrees(ours, theirs, x, atol=1e-9):
    """Copy our state into the torch layer; compare output, input gradient and every parameter gradient."""
    if torch is None:
        return
    theirs.load_state_dict({k: torch.tensor(np.array(v.numpy())) for k, v in ours.state_dict().items()})
    theirs.train(ours.training)
    xt, tt = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xt), theirs(tt)
    assert tuple(y.shape) == tuple(ty.shape)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=atol, rtol=1e-7, err_msg="forward")
    u = np.random.default_rng(3).standard_normal(tuple(y.shape))
    ours.zero_grad()
    y.backward(Tensor(u))
    ty.backward(torch.tensor(u))
    np.testing.assert_allclose(xt.grad.numpy(), tt.grad.numpy(), atol=atol, rtol=1e-7, err_msg="input grad")
    tparams = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tparams[name].grad.numpy(), atol=atol, rtol=1e-7,
                                   err_msg=f"grad of {name}")
    for name, b in theirs.named_buffers():  # running statistics after one training step
        ours_b = ours.state_dict()[name].numpy()
        np.testing.assert_allclose(ours_b, b.numpy(), rtol=1e-10, err_msg=f"buffer {name}")


# ---- Linear, Conv2d ----------------------------------------------------------------------------------------------
@FUZZ
@given(fin=st.integers(1, 6), fout=st.integers(1, 6), bias=st.booleans(),
       batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), seed=seeds)
def test_linear_layer(fin, fout, bias, batch, seed):
    layer = nn.Linear(fin, fout, bias=bias).double()
    x = rand(seed, batch + (fin,))
    assert tuple(layer(Tensor(x)).shape) == batch + (fout,)
    param_directional_check(layer, x, seed=seed)
    if torch is not None:
        torch_layer_agrees(layer, torch.nn.Linear(fin, fout, bias=bias), x)
    assert_clear_error(lambda: layer(Tensor(rand(seed, batch + (fin + 1,)))), "Linear(in_features=")


@st.composite
def conv_layer_case(draw):
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 3))
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = draw(st.sampled_from(["same", "valid", 0, 1, (1, 0)] if s == (1, 1) else [0, 1, (0, 2)]))
    pp = (0, 0) if p in ("valid", "same") else (p, p) if isinstance(p, int) else p
    hw = tuple(max(1, d[i] * (k[i] - 1) + 1 - 2 * pp[i]) + draw(st.integers(0, 3)) for i in range(2))
    return dict(cin=cin, cout=cout, k=k, s=s, d=d, p=p, groups=groups, hw=hw, n=draw(st.integers(1, 2)),
                bias=draw(st.booleans()))


@FUZZ
@given(c=conv_layer_case(), seed=seeds)
def test_conv2d_layer(c, seed):
    kw = dict(kernel_size=c["k"], stride=c["s"], padding=c["p"], dilation=c["d"], groups=c["groups"],
              bias=c["bias"])
    layer = nn.Conv2d(c["cin"], c["cout"], **kw).double()
    x = rand(seed, (c["n"], c["cin"]) + c["hw"])
    if c["p"] == "same":
        ohw = c["hw"]
    else:
        pp = (0, 0) if c["p"] == "valid" else (c["p"],) * 2 if isinstance(c["p"], int) else c["p"]
        ohw = tuple(conv_out(c["hw"][i], c["k"][i], c["s"][i], 2 * pp[i], c["d"][i]) for i in range(2))
    assert tuple(layer(Tensor(x)).shape) == (c["n"], c["cout"]) + ohw
    param_directional_check(layer, x, seed=seed)
    if torch is not None:
        torch_layer_agrees(layer, torch.nn.Conv2d(c["cin"], c["cout"], **kw), x)
    wrong = rand(seed, (c["n"], c["cin"] + 1) + c["hw"])
    assert_clear_error(lambda: layer(Tensor(wrong)), f"Conv2d({c['cin']}, {c['cout']}")
    assert_clear_error(lambda: layer(Tensor(x[0])), "4-D")


_BAD_CONV = [
    (dict(in_channels=0), "in_channels"), (dict(in_channels=-3), "in_channels"), (dict(in_channels=2.5), "in_channels"),
    (dict(out_channels=0), "out_channels"), (dict(kernel_size=0), "kernel_size"),
    (dict(kernel_size=(3,)), "kernel_size"),
    (dict(kernel_size="3"), "kernel_size"), (dict(stride=0), "stride"), (dict(stride=(1, -1)), "stride"),
    (dict(dilation=0), "dilation"), (dict(padding=-1), "padding"), (dict(padding="full"), "padding"),
    (dict(padding="same", stride=2), "same"), (dict(groups=0), "groups"), (dict(groups=4), "divisible"),
    (dict(padding_mode="mirror"), "padding_mode"),     # reflect, replicate and circular are supported
]


@pytest.mark.parametrize("bad,word", _BAD_CONV, ids=[w + str(i) for i, (_, w) in enumerate(_BAD_CONV)])
def test_conv2d_invalid_constructor(bad, word):
    args = {"in_channels": 6, "out_channels": 6, "kernel_size": 3, **bad}
    msg = assert_clear_error(lambda: nn.Conv2d(**args), word)
    assert "Conv2d" in msg


# ---- pooling -------------------------------------------------------------------------------------------------
@FUZZ
@given(kind=st.sampled_from(["max", "avg"]), k=st.integers(1, 3), s=st.sampled_from([None, 1, 2, 3]),
       ceil=st.booleans(), n=st.integers(1, 2), c=st.integers(1, 3), extra=st.integers(0, 4), data=st.data(),
       seed=seeds)
def test_pool_layers(kind, k, s, ceil, n, c, extra, data, seed):
    p = data.draw(st.integers(0, k // 2), label="padding")
    layer = (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(k, s, p, ceil_mode=ceil)
    x = rand(seed, (n, c, k + extra, k + extra + 1))
    y = layer(Tensor(x))
    assert y.shape[:2] == (n, c)
    check_grad(layer, [x])
    if torch is not None:
        torch_layer_agrees(layer, (torch.nn.MaxPool2d if kind == "max" else torch.nn.AvgPool2d)(
            k, s, p, ceil_mode=ceil), x)
    name = "MaxPool2d" if kind == "max" else "AvgPool2d"
    assert_clear_error(lambda: (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(k, s, k // 2 + 1), name)
    assert_clear_error(lambda: (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(0), name)
    assert_clear_error(lambda: layer(Tensor(rand(seed, (k + extra,)))), name)


@FEW
@given(kind=st.sampled_from(["max", "avg"]), out=st.tuples(st.integers(1, 4), st.integers(1, 4)),
       hw=st.tuples(st.integers(1, 6), st.integers(1, 6)), seed=seeds)
def test_adaptive_pool_layers(kind, out, hw, seed):
    layer = (nn.AdaptiveMaxPool2d if kind == "max" else nn.AdaptiveAvgPool2d)(out)
    x = rand(seed, (2, 2) + hw)
    assert tuple(layer(Tensor(x)).shape) == (2, 2) + out
    check_grad(layer, [x])
    if torch is not None:
        torch_layer_agrees(layer, (torch.nn.AdaptiveMaxPool2d if kind == "max" else torch.nn.AdaptiveAvgPool2d)(out), x)
    name = "AdaptiveMaxPool2d" if kind == "max" else "AdaptiveAvgPool2d"
    assert_clear_error(lambda: (nn.AdaptiveMaxPool2d if kind == "max" else nn.AdaptiveAvgPool2d)(0)(Tensor(x)),
                       name, "output_size")


# ---- normalisation and friends -------------------------------------------------------------------------------
@FUZZ
@given(two_d=st.booleans(), c=st.integers(1, 4), n=st.integers(2, 4), hw=st.integers(1, 3), affine=st.booleans(),
       track=st.booleans(), momentum=st.sampled_from([0.1, 0.5, None]), training=st.booleans(), seed=seeds)
def test_batchnorm_layers(two_d, c, n, hw, affine, track, momentum, training, seed):
    cls = nn.BatchNorm2d if two_d else nn.BatchNorm1d
    layer = cls(c, affine=affine, track_running_stats=track, momentum=momentum).double()
    layer.train(training)
    shape = (n, c, hw, hw) if two_d else (n, c)
    x = rand(seed, shape)
    assert tuple(layer(Tensor(x)).shape) == shape
    if torch is not None:
        tcls = torch.nn.BatchNorm2d if two_d else torch.nn.BatchNorm1d
        theirs = tcls(c, affine=affine, track_running_stats=track, momentum=momentum)
        fresh = cls(c, affine=affine, track_running_stats=track, momentum=momentum).double()
        if affine:
            fresh.weight.array = rand(seed + 1, (c,))
            fresh.bias.array = rand(seed + 2, (c,))
        fresh.train(training)
        torch_layer_agrees(fresh, theirs, x)
    param_directional_check(layer.train(True), x, seed=seed)
    label = f"{cls.__name__}({c})"
    assert_clear_error(lambda: layer(Tensor(rand(seed, (n, c + 1, hw, hw) if two_d else (n, c + 1)))), label)
    assert_clear_error(lambda: layer(Tensor(rand(seed, (n,)))), label)
    assert_clear_error(lambda: cls(0), cls.__name__)
    assert_clear_error(lambda: cls(c, momentum=2.0), "momentum")


@FEW
@given(size=st.integers(1, 5), c=st.integers(1, 5), seed=seeds)
def test_local_response_norm_layer(size, c, seed):
    layer = nn.LocalResponseNorm(size, alpha=1e-2, beta=0.75, k=2.0)
    x = rand(seed, (2, c, 3, 3))
    check_grad(layer, [x])
    if torch is not None:
        torch_layer_agrees(layer, torch.nn.LocalResponseNorm(size, alpha=1e-2, beta=0.75, k=2.0), x)
    assert_clear_error(lambda: nn.LocalResponseNorm(0), "LocalResponseNorm")


@FEW
@given(p=st.floats(0.0, 0.9), seed=seeds, two_d=st.booleans())
def test_dropout_layers_eval_identity(p, seed, two_d):
    layer = (nn.Dropout2d if two_d else nn.Dropout)(p).eval()
    x = rand(seed, (2, 3, 4, 4))
    np.testing.assert_array_equal(layer(Tensor(x)).numpy(), x)
    assert_clear_error(lambda: (nn.Dropout2d if two_d else nn.Dropout)(p + 1.5), "Dropout")


@FEW
@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4).map(tuple), data=st.data(), seed=seeds)
def test_flatten_unflatten_layers(shape, data, seed):
    nd = len(shape)
    start = data.draw(st.integers(0, nd - 1))
    end = data.draw(st.integers(start, nd - 1))
    x = rand(seed, shape)
    flat = nn.Flatten(start, end)
    y = flat(Tensor(x))
    assert tuple(y.shape) == shape[:start] + (int(np.prod(shape[start:end + 1])),) + shape[end + 1:]
    back = nn.Unflatten(start, shape[start:end + 1])
    np.testing.assert_array_equal(back(y).numpy(), x)
    check_grad(lambda t: back(flat(t)), [x])
    assert_clear_error(lambda: nn.Unflatten(start, (shape[start] + 1, 7))(Tensor(x)), "Unflatten")
    assert_clear_error(lambda: nn.Flatten(nd + 1)(Tensor(x)), "dim")


@FEW
@given(pad=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)), seed=seeds,
       groups=st.integers(1, 3))
def test_zeropad_and_channel_shuffle_layers(pad, seed, groups):
    x = rand(seed, (2, 2 * groups, 3, 3))
    pad_layer = nn.ZeroPad2d(pad)
    assert tuple(pad_layer(Tensor(x)).shape) == (2, 2 * groups, 3 + pad[2] + pad[3], 3 + pad[0] + pad[1])
    check_grad(pad_layer, [x])
    shuffle = nn.ChannelShuffle(groups)
    check_grad(shuffle, [x])
    if torch is not None:
        torch_layer_agrees(pad_layer, torch.nn.ZeroPad2d(pad), x)
        torch_layer_agrees(shuffle, torch.nn.ChannelShuffle(groups), x)
    assert_clear_error(lambda: nn.ZeroPad2d(pad[:3]), "ZeroPad2d")
    assert_clear_error(lambda: nn.ChannelShuffle(0), "ChannelShuffle")


# ---- a random small CNN, end to end -----------------------------------------------------------------------------
@FEW
@given(c1=st.integers(1, 4), c2=st.integers(1, 4), k=st.integers(1, 3), pool=st.sampled_from(["max", "avg"]),
       bn=st.booleans(), act=st.sampled_from(["ReLU", "Tanh", "SiLU", "Hardswish", "ELU", "LeakyReLU"]),
       hidden=st.integers(1, 6), seed=seeds)
def test_random_cnn_matches_torch(c1, c2, k, pool, bn, act, hidden, seed):
    """conv -> [bn] -> act -> pool -> flatten -> linear -> act -> linear, trained one step in both libraries."""
    def build(lib):
        layers = [lib.Conv2d(c1, c2, k, padding=k // 2)] + ([lib.BatchNorm2d(c2)] if bn else [])
        layers += [getattr(lib, act)(), (lib.MaxPool2d if pool == "max" else lib.AvgPool2d)(2),
                   lib.Flatten(), lib.Linear(c2 * 9, hidden), getattr(lib, act)(), lib.Linear(hidden, 3)]
        return lib.Sequential(*layers)

    ours = build(nn).double()
    x = rand(seed, (2, c1, 6, 6))
    assert tuple(ours(Tensor(x)).shape) == (2, 3)
    param_directional_check(ours, x, n_dirs=3, seed=seed)
    if torch is not None:
        torch_layer_agrees(ours, build(torch.nn), x, atol=1e-8)
