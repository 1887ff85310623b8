"""Conv2d / unfold / fold: PyTorch agreement (forward and every gradient, float64), gradcheck, both kernel
sets and both input-gradient formulations giving the same numbers, float32 preservation, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycnn
import tinycnn.nn as nn
import tinycnn.nn.functional as F
from tinycnn import Tensor
from tinycnn.ops import conv as conv_ops

from helpers import use_config
pytestmark = pytest.mark.filterwarnings("ignore:Using padding=.same.:UserWarning")
KSETS = ["numpy", "numba"]
MODES = ["rot180", "col2im"]


def run_ours(x, w, b, gy, **kw):
    X, W = Tensor(x, requires_grad=True), Tensor(w, requires_grad=True)
    B = None if b is None else Tensor(b, requires_grad=True)
    y = F.conv2d(X, W, B, **kw)
    y.backward(Tensor(gy))
    return [y.array, X.grad.array, W.grad.array] + ([] if b is None else [B.grad.array])


def run_torch(x, w, b, gy, **kw):
    import torch
    X, W = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    B = None if b is None else torch.tensor(b, requires_grad=True)
    y = torch.nn.functional.conv2d(X, W, B, **kw)
    y.backward(torch.tensor(gy))
    return [y.detach().numpy(), X.grad.numpy(), W.grad.numpy()] + ([] if b is None else [B.grad.numpy()])


def make(rng, n, cin, hw, cout, k, groups, bias=True):
    x = rng.standard_normal((n, cin, *hw))
    w = rng.standard_normal((cout, cin // groups, *k))
    return x, w, (rng.standard_normal(cout) if bias else None)


# (N, Cin, (H, W), Cout, kernel, stride, padding, dilation, groups): each axis varied at least once
CASES = [
    (2, 3, (7, 7), 4, (3, 3), 1, 0, 1, 1),
    (2, 3, (9, 8), 4, (3, 3), 2, 1, 1, 1),
    (1, 2, (11, 13), 3, (5, 5), 3, 2, 1, 1),
    (1, 2, (15, 14), 2, (5, 5), 4, 3, 1, 1),
    (1, 3, (23, 21), 2, (11, 11), 4, 2, 1, 1),        # AlexNet conv1 shape, smaller
    (2, 3, (6, 7), 5, (1, 1), 1, 0, 1, 1),
    (2, 3, (6, 7), 5, (1, 1), 2, 1, 1, 1),
    (2, 2, (7, 9), 3, (1, 3), (1, 2), (0, 1), 1, 1),
    (2, 2, (9, 7), 3, (3, 1), (2, 1), (1, 0), 1, 1),
    (1, 4, (9, 9), 6, (3, 3), 1, 2, 2, 2),           # dilation + groups
    (1, 4, (10, 9), 4, (3, 3), 2, 1, 2, 4),          # depthwise, dilated, strided
    (2, 6, (7, 8), 6, (3, 3), 1, "same", 1, 6),      # depthwise 'same'
    (1, 2, (8, 7), 3, (2, 4), 1, "same", 1, 1),      # even kernel: asymmetric 'same'
    (1, 2, (8, 9), 3, (3, 3), 1, "same", 2, 1),
    (1, 2, (5, 6), 3, (3, 2), 1, "valid", 1, 1),
    (1, 4, (8, 8), 2, (3, 3), 3, 0, 1, 2),           # (8 - 3) % 3 != 0: last rows never reach an output
    (1, 2, (4, 5), 2, (3, 3), 1, 3, 2, 1),           # padding larger than the dilated kernel's half
]


@pytest.mark.parametrize("kset", KSETS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_conv2d_matches_torch(case, mode, kset, torch):
    use_config(kernels=kset)
    use_config(conv_backward=mode)
    n, cin, hw, cout, k, s, p, d, g = case
    rng = np.random.default_rng(len(str(case)))
    x, w, b = make(rng, n, cin, hw, cout, k, g, bias=(len(str(case)) % 2 == 0))
    kw = dict(stride=s, padding=p, dilation=d, groups=g)
    y_shape = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), None, **kw).shape
    gy = rng.standard_normal(tuple(y_shape))
    for ours, ref in zip(run_ours(x, w, b, gy, **kw), run_torch(x, w, b, gy, **kw)):
        assert ours.shape == ref.shape
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES[::2], ids=[str(i) for i in range(0, len(CASES), 2)])
def test_kernel_sets_and_backward_modes_agree(case):
    """numpy vs numba kernels and rot180 vs col2im: the same numbers (float64, within 1e-12)."""
    n, cin, hw, cout, k, s, p, d, g = case
    rng = np.random.default_rng(1)
    x, w, b = make(rng, n, cin, hw, cout, k, g)
    kw = dict(stride=s, padding=p, dilation=d, groups=g)
    gy = rng.standard_normal(F.conv2d(Tensor(x), Tensor(w), **kw).shape)
    results = {}
    for kset in KSETS:
        for mode in MODES:
            use_config(kernels=kset)
            use_config(conv_backward=mode)
            results[kset, mode] = run_ours(x, w, b, gy, **kw)
    ref = results["numpy", "col2im"]
    for key, res in results.items():
        for a, r in zip(res, ref):
            np.testing.assert_allclose(a, r, rtol=0, atol=1e-12, err_msg=str(key))


@pytest.mark.parametrize("mode", MODES)
def test_unreached_rows_get_zero_gradient(mode):
    """H=8, k=3, s=3: rows/cols 6..7 lie in no window; gx keeps x's shape and is 0 there."""
    use_config(conv_backward=mode)
    rng = np.random.default_rng(0)
    x, w, _ = make(rng, 1, 2, (8, 8), 3, (3, 3), 1)
    X = Tensor(x, requires_grad=True)
    y = F.conv2d(X, Tensor(w), stride=3)
    assert y.shape == (1, 3, 2, 2)
    y.backward(Tensor(rng.standard_normal(y.shape)))
    assert X.grad.shape == x.shape
    assert np.all(X.grad.array[:, :, 6:, :] == 0) and np.all(X.grad.array[:, :, :, 6:] == 0)
    assert np.any(X.grad.array[:, :, 5, :5] != 0)


@pytest.mark.parametrize("kset", KSETS)
@pytest.mark.parametrize("mode", MODES)
def test_gradcheck(kset, mode):
    use_config(kernels=kset)
    use_config(conv_backward=mode)
    rng = np.random.default_rng(3)
    x, w, b = make(rng, 2, 4, (6, 7), 4, (3, 2), 2)
    fn = lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2)
    assert tinycnn.gradcheck(fn, [Tensor(x, requires_grad=True), Tensor(w, requires_grad=True),
                                  Tensor(b, requires_grad=True)])


def test_gradcheck_fails_on_a_wrong_backward(monkeypatch):
    """The check can fail: a weight gradient off by a factor is caught."""
    orig = conv_ops.Conv2dFunction.backward
    monkeypatch.setattr(conv_ops.Conv2dFunction, "backward",
                        lambda self, gy: tuple(None if g is None else g * 1.01 for g in orig(self, gy)))
    rng = np.random.default_rng(0)
    x, w, _ = make(rng, 1, 2, (5, 5), 2, (3, 3), 1)
    with pytest.raises(tinycnn.GradcheckError):
        tinycnn.gradcheck(lambda x, w: F.conv2d(x, w), [Tensor(x, requires_grad=True),
                                                        Tensor(w, requires_grad=True)])


@pytest.mark.parametrize("kset", KSETS)
def test_float32_stays_float32(kset):
    use_config(kernels=kset)
    conv = nn.Conv2d(3, 4, 3, padding=1)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32), requires_grad=True)
    y = conv(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == conv.weight.grad.dtype == conv.bias.grad.dtype == np.float32


def test_input_without_grad_skips_input_gradient():
    w = Tensor(np.ones((2, 1, 3, 3)), requires_grad=True)
    x = Tensor(np.ones((1, 1, 5, 5)))
    F.conv2d(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (2, 1, 3, 3)
    np.testing.assert_array_equal(w.grad.array, np.full((2, 1, 3, 3), 9.0))


# ---- unfold / fold --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kset", KSETS)
@pytest.mark.parametrize("k,s,p,d", [((2, 3), 1, 0, 1), (3, 2, 1, 1), ((3, 2), (2, 1), (1, 0), (2, 1))])
def test_unfold_fold_match_torch(kset, k, s, p, d, torch):
    use_config(kernels=kset)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 8))
    X, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cols = F.unfold(X, k, dilation=d, padding=p, stride=s)
    tcols = torch.nn.functional.unfold(tx, k, dilation=d, padding=p, stride=s)
    np.testing.assert_allclose(cols.array, tcols.detach().numpy(), atol=1e-12)
    gc = rng.standard_normal(cols.shape)
    cols.backward(Tensor(gc))
    tcols.backward(torch.tensor(gc))
    np.testing.assert_allclose(X.grad.array, tx.grad.numpy(), atol=1e-12)
    C, tC = Tensor(gc, requires_grad=True), torch.tensor(gc, requires_grad=True)
    img = F.fold(C, (7, 8), k, dilation=d, padding=p, stride=s)
    timg = torch.nn.functional.fold(tC, (7, 8), k, dilation=d, padding=p, stride=s)
    np.testing.assert_allclose(img.array, timg.detach().numpy(), atol=1e-12)
    img.backward(Tensor(x))
    timg.backward(torch.tensor(x))
    np.testing.assert_allclose(C.grad.array, tC.grad.numpy(), atol=1e-12)


def test_conv_equals_unfold_matmul():
    """The textbook identity students check: conv2d(x, w) == (w.reshape(Cout, -1) @ unfold(x)).reshape."""
    rng = np.random.default_rng(0)
    x, w, _ = make(rng, 2, 3, (6, 6), 4, (3, 3), 1)
    cols = F.unfold(Tensor(x), 3).array                          # (N, C*9, L)
    y = (w.reshape(4, -1) @ cols).reshape(2, 4, 4, 4)
    np.testing.assert_allclose(F.conv2d(Tensor(x), Tensor(w)).array, y, atol=1e-12)


# ---- the module -----------------------------------------------------------------------------------------------
def test_conv2d_module_init_and_shapes():
    tinycnn.manual_seed(0)
    conv = nn.Conv2d(6, 12, (3, 5), stride=2, padding=1, groups=3)
    assert conv.weight.shape == (12, 2, 3, 5) and conv.bias.shape == (12,)
    bound = 1 / np.sqrt(2 * 3 * 5)
    for p in (conv.weight, conv.bias):
        assert np.abs(p.array).max() <= bound and np.abs(p.array).max() > 0.8 * bound
    assert conv.weight.dtype == np.float32
    assert nn.Conv2d(3, 3, 3, bias=False).bias is None
    y = conv(tinycnn.randn(2, 6, 9, 11))
    assert y.shape == (2, 12, 5, 5)
    assert nn.Conv2d(4, 4, 3, padding="same", groups=4)(tinycnn.randn(1, 4, 5, 7)).shape == (1, 4, 5, 7)
    assert "groups=3" in repr(conv)


def test_conv2d_module_matches_torch_module(torch):
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, dtype=np.float64)
    ref = torch.nn.Conv2d(2, 3, 3, stride=2, padding=1).double()
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(conv.weight.array))
        ref.bias.copy_(torch.tensor(conv.bias.array))
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 7))
    np.testing.assert_allclose(conv(Tensor(x)).array, ref(torch.tensor(x)).detach().numpy(), atol=1e-12)


# ---- bad input ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make_call,match", [
    (lambda: nn.Conv2d(3, 16, 5)(tinycnn.randn(8, 1, 28, 28)),
     r"Conv2d\(3, 16\) expects 3 input channels, got input of shape \(8, 1, 28, 28\)"),
    (lambda: nn.Conv2d(3, 16, 5)(tinycnn.randn(3, 28, 28)), r"Conv2d\(3, 16\) expects a 4-D input"),
    (lambda: nn.Conv2d(1, 2, 5)(tinycnn.randn(1, 1, 4, 4)), r"Conv2d\(1, 2\): kernel 5x5 .* larger than"),
    (lambda: nn.Conv2d(1, 2, 3, dilation=2)(tinycnn.randn(1, 1, 4, 9)), r"dilated extent 5x5"),
    (lambda: nn.Conv2d(3, 6, 3, groups=2), r"in_channels \(3\) must be divisible by groups \(2\)"),
    (lambda: nn.Conv2d(4, 6, 3, groups=4), r"out_channels \(6\) must be divisible by groups \(4\)"),
    (lambda: nn.Conv2d(1, 1, 0), r"kernel_size must be positive"),
    (lambda: nn.Conv2d(1, 1, (3, -1)), r"kernel_size must be positive"),
    (lambda: nn.Conv2d(1, 1, 3, stride=0), r"stride must be positive"),
    (lambda: nn.Conv2d(1, 1, 3, padding=-1), r"padding must be non-negative"),
    (lambda: nn.Conv2d(1, 1, 3, stride=2, padding="same"), r"padding='same' is not supported for strided"),
    (lambda: nn.Conv2d(1, 1, 3, padding="full"), r"'valid' or 'same'"),
    (lambda: F.conv2d(tinycnn.randn(1, 4, 5, 5), tinycnn.randn(2, 3, 3, 3)),
     r"conv2d expects 3 input channels"),
    (lambda: F.conv2d(tinycnn.randn(1, 4, 5, 5), tinycnn.randn(2, 2, 3, 3), groups=3),
     r"out_channels \(2\) must be divisible by groups \(3\)"),
    (lambda: F.conv2d(tinycnn.randn(1, 1, 5, 5), tinycnn.randn(2, 1, 3, 3), tinycnn.randn(3)),
     r"bias must have shape \(2,\)"),
    (lambda: F.unfold(tinycnn.randn(2, 5, 5), 2), r"unfold expects a 4-D input"),
    (lambda: F.fold(tinycnn.randn(1, 4, 5), (4, 4), 2), r"fold: output_size"),
])
def test_bad_input_raises_clear_value_error(make_call, match):
    with pytest.raises(ValueError, match=match):
        make_call()


def test_dtype_mismatch_is_a_type_error():
    with pytest.raises(TypeError, match="input is float64 but weight is float32"):
        F.conv2d(Tensor(np.ones((1, 1, 3, 3))), Tensor(np.ones((1, 1, 3, 3), np.float32)))


def test_config_rejects_unknown_conv_backward():
    with pytest.raises(ValueError, match=r"conv_backward must be one of 'col2im', 'rot180', got 'fft'"):
        tinycnn.config(conv_backward="fft")


# ---- property test --------------------------------------------------------------------------------------------
@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    p = (draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 12))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 12))
    return dict(n=draw(st.integers(1, 2)), cin=cin, cout=cout, hw=(h, w), k=k, s=s, p=p, d=d, g=groups,
                mode=draw(st.sampled_from(MODES)), kset=draw(st.sampled_from(KSETS)))


@settings(max_examples=25, deadline=None)
@given(conv_configs())
def test_property_random_configs_match_torch(torch, cfg):
    use_config(kernels=cfg["kset"])
    use_config(conv_backward=cfg["mode"])
    rng = np.random.default_rng(0)
    x, w, b = make(rng, cfg["n"], cfg["cin"], cfg["hw"], cfg["cout"], cfg["k"], cfg["g"])
    kw = dict(stride=cfg["s"], padding=cfg["p"], dilation=cfg["d"], groups=cfg["g"])
    gy = rng.standard_normal(F.conv2d(Tensor(x), Tensor(w), **kw).shape)
    for ours, ref in zip(run_ours(x, w, b, gy, **kw), run_torch(x, w, b, gy, **kw)):
        np.testing.assert_allclose(ours, ref, rtol=1e-10, atol=1e-10)
