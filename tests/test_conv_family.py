"""ConvTranspose2d/1d, Conv1d and padding_mode: PyTorch agreement (forward, input and parameter gradients,
float64), the two views of the transposed convolution (its forward is conv2d's input gradient, its backward a
conv2d), state-dict keys, default initialisation, reprs and bad input."""
from __future__ import annotations

import math

import numpy as np
import pytest

import tinycnn
import tinycnn.nn as nn
import tinycnn.nn.functional as F
from tinycnn import Tensor
from tinycnn.utils.gradcheck import gradcheck

from helpers import assert_matches_torch, assert_module_matches_torch, use_config

pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")


# (x shape, weight shape, kwargs): stride, padding, output_padding (within and beyond the padding), groups,
# dilation, non-square everything
CT_CASES = [
    ((2, 3, 5, 4), (3, 2, 3, 3), dict()),
    ((2, 3, 5, 4), (3, 2, 3, 3), dict(stride=2, padding=1, output_padding=1)),
    ((1, 4, 4, 5), (4, 3, 2, 3), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2), groups=2)),
    ((2, 2, 4, 4), (2, 3, 3, 2), dict(stride=1, output_padding=1, dilation=2)),
    ((1, 6, 3, 4), (6, 1, 3, 3), dict(stride=3, padding=2, groups=6, dilation=(2, 1))),
    ((2, 3, 6, 5), (3, 4, 1, 1), dict(stride=2, output_padding=1)),
    ((1, 2, 7, 6), (2, 2, 5, 4), dict(stride=2, padding=(2, 1), dilation=(1, 2))),
]


@pytest.mark.parametrize("mode", ["col2im", "rot180"])
@pytest.mark.parametrize("ksets", ["numpy", "numba"])
@pytest.mark.parametrize("x_shape,w_shape,kw", CT_CASES)
def test_conv_transpose2d_matches_torch(torch, x_shape, w_shape, kw, mode, ksets):
    use_config(conv_backward=mode)
    use_config(kernels=ksets)
    rng = np.random.default_rng(0)
    g = kw.get("groups", 1)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[1] * g)
    assert_matches_torch(lambda x, w, b: F.conv_transpose2d(x, w, b, **kw),
                         lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kw), [x, w, b])


def _padded_to(x, shape):
    """x in the top-left corner of zeros of ``shape``: with output_padding >= stride (dilation allows it) the
    convolution over y's shape has outputs beyond x's; the transposed convolution reads none of them."""
    out = np.zeros(shape)
    out[tuple(slice(0, n) for n in x.shape)] = x
    return out


@pytest.mark.parametrize("x_shape,w_shape,kw", CT_CASES)
def test_conv_transpose2d_forward_is_the_conv_input_gradient(x_shape, w_shape, kw):
    """y = C^T x: the transposed convolution of x equals the gradient, w.r.t. its input, of the convolution
    (same weight, stride, padding, dilation, groups) that maps y's shape to x's, with x as the upstream."""
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    y = F.conv_transpose2d(Tensor(x), Tensor(w), **kw)
    conv_kw = {k: v for k, v in kw.items() if k != "output_padding"}
    z = Tensor(np.zeros(y.shape), requires_grad=True)
    c = F.conv2d(z, Tensor(w), **conv_kw)
    assert c.shape[2:] >= x.shape[2:]
    c.backward(Tensor(_padded_to(x, c.shape)))
    np.testing.assert_allclose(y.numpy(), z.grad.numpy(), atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("x_shape,w_shape,kw", CT_CASES)
def test_conv_transpose2d_backward_is_a_convolution(x_shape, w_shape, kw):
    """gx = conv2d(gy, w) and gw = conv2d's weight gradient with gy as input and x as upstream."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal(x_shape), rng.standard_normal(w_shape)
    X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    y = F.conv_transpose2d(X, W, **kw)
    gy = rng.standard_normal(y.shape)
    y.backward(Tensor(gy))
    conv_kw = {k: v for k, v in kw.items() if k != "output_padding"}
    G, W2 = Tensor(gy), Tensor(w, requires_grad=True)
    c = F.conv2d(G, W2, **conv_kw)
    np.testing.assert_allclose(X.grad.numpy(), c.numpy()[:, :, :x.shape[2], :x.shape[3]], atol=1e-12, rtol=1e-12)
    c.backward(Tensor(_padded_to(x, c.shape)))
    np.testing.assert_allclose(W.grad.numpy(), W2.grad.numpy(), atol=1e-12, rtol=1e-12)


def test_conv_transpose2d_gradcheck_and_float32():
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((1, 2, 3, 3)), rng.standard_normal((2, 2, 3, 2)), rng.standard_normal(2)
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, output_padding=1), [x, w, b])
    y = F.conv_transpose2d(Tensor(x.astype(np.float32), requires_grad=True), Tensor(w.astype(np.float32)))
    assert y.dtype == np.float32


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1, dilation=2),
                                dict(groups=3, stride=3, output_padding=2)])
def test_conv_transpose1d_matches_torch(torch, kw):
    rng = np.random.default_rng(4)
    g = kw.get("groups", 1)
    x, w, b = rng.standard_normal((2, 3 * g, 7)), rng.standard_normal((3 * g, 2, 4)), rng.standard_normal(2 * g)
    assert_matches_torch(lambda x, w, b: F.conv_transpose1d(x, w, b, **kw),
                         lambda x, w, b: torch.nn.functional.conv_transpose1d(x, w, b, **kw), [x, w, b])


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(padding="same"),
                                dict(padding="same", dilation=3), dict(padding="valid", groups=2, dilation=2),
                                dict(padding=(2,), stride=(3,))])
def test_conv1d_matches_torch(torch, kw):
    rng = np.random.default_rng(5)
    g = kw.get("groups", 1)
    x, w, b = rng.standard_normal((2, 2 * g, 12)), rng.standard_normal((4 * g, 2, 4)), rng.standard_normal(4 * g)
    assert_matches_torch(lambda x, w, b: F.conv1d(x, w, b, **kw),
                         lambda x, w, b: torch.nn.functional.conv1d(x, w, b, **kw), [x, w, b])


# ---- layers ---------------------------------------------------------------------------------------------------
LAYERS = [
    ("ConvTranspose2d", (3, 4, 3), dict(stride=2, padding=1, output_padding=1), (2, 3, 5, 4)),
    ("ConvTranspose2d", (4, 6, (2, 3)), dict(groups=2, dilation=2, bias=False), (1, 4, 3, 3)),
    ("ConvTranspose1d", (3, 2, 5), dict(stride=2, padding=2, output_padding=1), (2, 3, 6)),
    ("Conv1d", (3, 4, 3), dict(stride=2, padding=1), (2, 3, 11)),
    ("Conv1d", (4, 4, 4), dict(padding="same", groups=2, padding_mode="reflect"), (2, 4, 9)),
    ("Conv1d", (3, 2, 3), dict(padding=2, padding_mode="circular"), (2, 3, 7)),
    ("Conv2d", (3, 4, 3), dict(padding=1, padding_mode="reflect"), (2, 3, 6, 5)),
    ("Conv2d", (3, 4, (3, 2)), dict(padding=(2, 1), stride=2, padding_mode="replicate"), (2, 3, 7, 6)),
    ("Conv2d", (2, 4, 4), dict(padding="same", dilation=2, padding_mode="circular"), (1, 2, 9, 9)),
    ("Conv2d", (2, 2, 3), dict(padding="same", padding_mode="zeros"), (1, 2, 5, 5)),
]


@pytest.mark.parametrize("name,args,kw,x_shape", LAYERS, ids=[f"{c[0]}-{c[2]}" for c in LAYERS])
def test_layers_match_torch(torch, name, args, kw, x_shape):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(6).standard_normal(x_shape)
    assert_module_matches_torch(ours, theirs, x)


@pytest.mark.parametrize("name,args,kw,x_shape", LAYERS, ids=[f"{c[0]}-{c[2]}" for c in LAYERS])
def test_default_initialisation_bounds_are_torch_s(name, args, kw, x_shape):
    """kaiming_uniform_(a=sqrt(5)): U(+-1/sqrt(fan_in)), fan_in = weight.shape[1] * prod(kernel) (for the
    transposed layers that is out_channels/groups * prod(kernel), PyTorch's rule)."""
    tinycnn.manual_seed(0)
    layer = getattr(nn, name)(*args, **kw)
    w = layer.weight.numpy()
    bound = 1 / math.sqrt(w.shape[1] * int(np.prod(w.shape[2:])))
    assert np.abs(w).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.5)
    if layer.bias is not None:
        assert np.abs(layer.bias.numpy()).max() <= bound


def test_conv_transpose2d_output_size(torch):
    ours, theirs = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(2, 3, 3, stride=2,
                                                                                              padding=1)
    x = np.random.default_rng(7).standard_normal((1, 2, 4, 5))
    for size in [(7, 9), (8, 10), (1, 3, 8, 9)]:
        ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.double().state_dict().items()})
        ours.double()
        got = ours(Tensor(x), output_size=size)
        want = theirs(torch.tensor(x), output_size=size)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), atol=1e-12)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        ours(Tensor(x), output_size=(9, 9))
    ct1 = nn.ConvTranspose1d(2, 2, 3, stride=3).double()
    assert ct1(Tensor(np.zeros((1, 2, 4))), output_size=[12]).shape == (1, 2, 12)


def test_upsampling_autoencoder_round_trip_shapes_and_training():
    """A strided Conv2d encoder and a ConvTranspose2d decoder give back the input size and train."""
    tinycnn.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, stride=2, padding=1), nn.ReLU(),
                        nn.ConvTranspose2d(4, 1, 3, stride=2, padding=1, output_padding=1))
    x = tinycnn.randn(4, 1, 8, 8)
    opt = tinycnn.optim.Adam(net.parameters(), lr=0.01)
    losses = []
    for _ in range(30):
        loss = F.mse_loss(net(x), x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert net(x).shape == x.shape and losses[-1] < 0.5 * losses[0]


def test_padding_mode_is_not_fused_away():
    """A reflect-padded Conv2d inside Sequential (conv -> relu -> pool) gives the layer-by-layer result."""
    tinycnn.manual_seed(0)
    seq = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), nn.ReLU(), nn.MaxPool2d(2)).double()
    x = Tensor(np.random.default_rng(8).standard_normal((2, 2, 6, 6)))
    by_layer = x
    for layer in seq:
        by_layer = layer(by_layer)
    np.testing.assert_array_equal(seq(x).numpy(), by_layer.numpy())


@pytest.mark.parametrize("make,match", [
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"), 'only "zeros" padding mode'),
    (lambda: nn.Conv2d(3, 4, 3, padding_mode="mirror"), "padding_mode must be one of"),
    (lambda: nn.ConvTranspose2d(3, 4, 3, padding="same"), "padding must be an int or a tuple"),
    (lambda: nn.Conv1d(3, 4, 3, stride=2, padding="same"), "padding='same' is not supported for strided"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, groups=3), "divisible by groups"),
    (lambda: F.conv_transpose2d(tinycnn.randn(1, 3, 4, 4), tinycnn.randn(3, 2, 3, 3), stride=2, output_padding=2),
     "output_padding must be smaller than either stride or dilation"),
    (lambda: nn.ConvTranspose2d(3, 4, 3)(tinycnn.randn(1, 2, 4, 4)), r"ConvTranspose2d\(3, 4\) expects 3 input"),
    (lambda: nn.ConvTranspose2d(3, 4, 3)(tinycnn.randn(3, 4, 4)), "expects a 4-D input"),
    (lambda: nn.Conv1d(3, 4, 3)(tinycnn.randn(2, 4, 10)), r"Conv1d\(3, 4\) expects 3 input channels"),
    (lambda: nn.Conv1d(3, 4, 5)(tinycnn.randn(2, 3, 3)), "larger than the padded input"),
    (lambda: nn.Conv1d(3, 4, 3)(tinycnn.randn(2, 3, 4, 4)), "expects a 3-D input"),
    (lambda: nn.ConvTranspose2d(1, 1, 3, padding=3)(tinycnn.randn(1, 1, 2, 2)), "the output would be"),
])
def test_errors_name_the_layer(make, match):
    with pytest.raises(ValueError, match=match):
        make()
