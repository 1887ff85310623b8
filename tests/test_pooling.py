"""Max/avg/adaptive pooling: PyTorch agreement (sizes, values, indices, gradients; float64) on both kernel
sets, tie rule, overlapping windows, ceil_mode, count_include_pad, gradcheck, bad input."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycnn
import tinycnn.nn as nn
import tinycnn.nn.functional as F
from tinycnn import Tensor

from helpers import use_config

KSETS = ["numpy", "numba"]


def compare(ours_fn, torch_fn, x, seed=0, with_indices=False):
    """Run both on x (float64), backward a random upstream; compare output, input gradient, indices."""
    import torch
    X, tx = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours_fn(X), torch_fn(tx)
    if with_indices:
        (y, idx), (ty, tidx) = y, ty
        np.testing.assert_array_equal(idx.array, tidx.numpy())
    assert y.shape == tuple(ty.shape)
    gy = np.random.default_rng(seed).standard_normal(y.shape)
    y.backward(Tensor(gy))
    ty.backward(torch.tensor(gy))
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(X.grad.array, tx.grad.numpy(), rtol=1e-12, atol=1e-12)
    return y.array, X.grad.array


# (H, W, kernel, stride, padding, dilation, ceil_mode)
MAX_CASES = [
    (8, 8, 2, None, 0, 1, False),
    (13, 13, 3, 2, 0, 1, False),          # AlexNet's overlapping 3/2
    (13, 12, 3, 2, 1, 1, True),
    (5, 5, 2, 2, 1, 1, True),             # the ceil rule: naive ceil gives one too many
    (8, 8, 2, 3, 1, 1, True),
    (6, 6, 3, 2, 0, 1, True),             # a partial last window
    (9, 7, (3, 2), (2, 1), (1, 1), 1, False),
    (9, 9, 3, 1, 1, 2, False),            # dilation
    (7, 10, (1, 3), (1, 4), (0, 1), (1, 2), True),
    (4, 4, 4, 1, 2, 1, False),
]


@pytest.mark.parametrize("kset", KSETS)
@pytest.mark.parametrize("case", MAX_CASES, ids=[str(i) for i in range(len(MAX_CASES))])
def test_max_pool2d_matches_torch(case, kset, torch):
    TF = torch.nn.functional
    use_config(kernels=kset)
    h, w, k, s, p, d, ceil = case
    x = np.random.default_rng(h * w).standard_normal((2, 3, h, w))
    kw = dict(kernel_size=k, stride=s, padding=p, dilation=d, ceil_mode=ceil, return_indices=True)
    compare(lambda t: F.max_pool2d(t, **kw), lambda t: TF.max_pool2d(t, **kw), x, with_indices=True)
    mod = nn.MaxPool2d(k, s, p, d, ceil_mode=ceil)
    np.testing.assert_array_equal(mod(Tensor(x)).array, TF.max_pool2d(torch.tensor(x), k, s, p, d, ceil).numpy())


@pytest.mark.parametrize("kset", KSETS)
def test_max_pool_ties_nan_and_padding(kset, torch):
    TF = torch.nn.functional
    use_config(kernels=kset)
    for x, k in [(np.full((1, 1, 2, 2), 3.0), 2), (np.array([[[[1., 5.], [5., 0.]]]]), 2),
                 (np.ones((2, 3, 17, 17)), 3)]:          # ties: the first maximum (row-major) wins
        compare(lambda t: F.max_pool2d(t, k, 2, return_indices=True),
                lambda t: TF.max_pool2d(t, k, 2, return_indices=True), x, with_indices=True)
    # overlapping windows k=(1,2) s=1 on [1,5,5,0]: indices [1,1,2], gradient [0,2,1,0]
    X = Tensor(np.array([[[[1., 5., 5., 0.]]]]), requires_grad=True)
    y, idx = F.max_pool2d(X, (1, 2), 1, return_indices=True)
    y.sum().backward()
    assert idx.array.ravel().tolist() == [1, 1, 2]
    assert X.grad.array.ravel().tolist() == [0.0, 2.0, 1.0, 0.0]
    # NaN wins (PyTorch keeps the last NaN of the scan); padding (-inf) never wins over -1
    y, idx = F.max_pool2d(Tensor(np.array([[[[np.nan, 1.], [np.nan, 2.]]]])), 2, return_indices=True)
    assert np.isnan(y.array).all() and idx.array.ravel().tolist() == [2]
    y, idx = F.max_pool2d(Tensor(-np.ones((1, 1, 2, 2))), 2, 2, 1, return_indices=True)
    assert y.array.ravel().tolist() == [-1.0] * 4 and idx.array.ravel().tolist() == [0, 1, 2, 3]
    y, idx = F.max_pool2d(Tensor(np.full((1, 1, 2, 2), -np.inf)), 2, 2, 1, return_indices=True)
    assert idx.array.ravel().tolist() == [0, 1, 2, 3]          # a window of only -inf: its first real element


# (H, W, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
AVG_CASES = [
    (8, 8, 2, None, 0, False, True, None),
    (3, 3, 3, 1, 1, False, True, None),
    (3, 3, 3, 1, 1, False, False, None),
    (6, 6, 3, 2, 1, True, True, None),    # ceil-mode overhang past H+p is not counted
    (6, 6, 3, 2, 1, True, False, None),
    (5, 5, 3, 2, 1, True, True, 2),
    (9, 7, (3, 2), (2, 3), (1, 1), True, False, None),
    (13, 11, 3, 2, 0, False, True, None),
    (7, 9, (1, 3), (3, 1), (0, 1), False, True, 5),
]


@pytest.mark.parametrize("kset", KSETS)
@pytest.mark.parametrize("case", AVG_CASES, ids=[str(i) for i in range(len(AVG_CASES))])
def test_avg_pool2d_matches_torch(case, kset, torch):
    TF = torch.nn.functional
    use_config(kernels=kset)
    h, w, k, s, p, ceil, cip, div = case
    x = np.random.default_rng(h + w).standard_normal((2, 3, h, w))
    kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=ceil, count_include_pad=cip, divisor_override=div)
    compare(lambda t: F.avg_pool2d(t, **kw), lambda t: TF.avg_pool2d(t, **kw), x)
    np.testing.assert_allclose(nn.AvgPool2d(**kw)(Tensor(x)).array, TF.avg_pool2d(torch.tensor(x), **kw).numpy(),
                               atol=1e-12)


@pytest.mark.parametrize("kset", KSETS)
@pytest.mark.parametrize("hw,out", [((5, 7), (3, 2)), ((2, 2), (7, 7)), ((1, 1), (6, 6)), ((7, 7), 1),
                                    ((9, 4), (2, None)), ((6, 8), (3, 4))])
def test_adaptive_pools_match_torch(kset, hw, out, torch):
    TF = torch.nn.functional
    use_config(kernels=kset)
    x = np.random.default_rng(0).standard_normal((2, 3, *hw))
    compare(lambda t: F.adaptive_avg_pool2d(t, out), lambda t: TF.adaptive_avg_pool2d(t, out), x)
    compare(lambda t: F.adaptive_max_pool2d(t, out, return_indices=True),
            lambda t: TF.adaptive_max_pool2d(t, out, return_indices=True), x, with_indices=True)
    assert nn.AdaptiveAvgPool2d(out)(Tensor(x)).shape == tuple(TF.adaptive_avg_pool2d(torch.tensor(x), out).shape)
    assert nn.AdaptiveMaxPool2d(out)(Tensor(x)).shape == tuple(TF.adaptive_max_pool2d(torch.tensor(x), out).shape)


def test_kernel_sets_agree_float64():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 4, 11, 10))
    outs = {}
    for kset in KSETS:
        use_config(kernels=kset)
        res = []
        for fn in (lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True),
                   lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                   lambda t: F.avg_pool2d(t, (2, 3), 1, (1, 0))):
            X = Tensor(x, requires_grad=True)
            y = fn(X)
            y.backward(Tensor(np.random.default_rng(1).standard_normal(y.shape)))
            res += [y.array, X.grad.array]
        outs[kset] = res
    for a, b in zip(outs["numpy"], outs["numba"]):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kset", KSETS)
def test_gradcheck_pools(kset):
    use_config(kernels=kset)
    rng = np.random.default_rng(0)
    distinct = Tensor(rng.permutation(2 * 2 * 7 * 6).reshape(2, 2, 7, 6) * 0.1, requires_grad=True)
    assert tinycnn.gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1, ceil_mode=True), [distinct])
    assert tinycnn.gradcheck(lambda t: F.adaptive_max_pool2d(t, (3, 4)), [distinct])
    x = Tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    assert tinycnn.gradcheck(lambda t: F.avg_pool2d(t, 3, 2, 1, ceil_mode=True, count_include_pad=False), [x])
    assert tinycnn.gradcheck(lambda t: F.adaptive_avg_pool2d(t, (4, 5)), [x])


@pytest.mark.parametrize("kset", KSETS)
def test_float32_stays_float32(kset):
    use_config(kernels=kset)
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    for fn in (lambda t: F.max_pool2d(t, 2), lambda t: F.avg_pool2d(t, 3, 2, 1),
               lambda t: F.adaptive_avg_pool2d(t, 3), lambda t: F.adaptive_max_pool2d(t, 3)):
        x.grad = None
        y = fn(x)
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32


@pytest.mark.parametrize("make_call,match", [
    (lambda: nn.MaxPool2d(2, padding=2), r"MaxPool2d: padding should be at most half of the kernel size"),
    (lambda: nn.AvgPool2d(3, padding=2), r"AvgPool2d: padding should be at most half"),
    (lambda: nn.MaxPool2d(0), r"MaxPool2d: kernel_size must be positive"),
    (lambda: nn.MaxPool2d(2, stride=0), r"MaxPool2d: stride must be positive"),
    (lambda: nn.AvgPool2d(2, stride=-1), r"AvgPool2d: stride must be positive"),
    (lambda: nn.MaxPool2d(3, padding=-1), r"padding must be non-negative"),
    (lambda: nn.MaxPool2d(2)(tinycnn.randn(3, 8)), r"MaxPool2d\(.*\) expects a 4-D input .* shape \(3, 8\)"),
    (lambda: nn.MaxPool2d(5)(tinycnn.randn(1, 1, 3, 3)), r"does not fit the input"),
    (lambda: F.avg_pool2d(tinycnn.randn(1, 1, 4, 4), 2, divisor_override=0), r"divisor_override"),
    (lambda: nn.AdaptiveAvgPool2d(0)(tinycnn.randn(1, 1, 4, 4)), r"output_size must be positive"),
    (lambda: F.adaptive_max_pool2d(tinycnn.randn(4, 4), 2), r"adaptive_max_pool2d expects a 4-D input"),
])
def test_bad_input_raises_clear_value_error(make_call, match):
    with pytest.raises(ValueError, match=match):
        make_call()


@st.composite
def pool_configs(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    d = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    h = draw(st.integers(max(1, d[0] * (k[0] - 1) + 1 - 2 * p[0]), 11))
    w = draw(st.integers(max(1, d[1] * (k[1] - 1) + 1 - 2 * p[1]), 11))
    return dict(hw=(h, w), k=k, s=s, p=p, d=d, ceil=draw(st.booleans()), cip=draw(st.booleans()),
                kset=draw(st.sampled_from(KSETS)))


@settings(max_examples=25, deadline=None)
@given(pool_configs())
def test_property_random_pool_configs_match_torch(torch, cfg):
    TF = torch.nn.functional
    use_config(kernels=cfg["kset"])
    x = np.random.default_rng(0).standard_normal((1, 2, *cfg["hw"]))
    mk = dict(kernel_size=cfg["k"], stride=cfg["s"], padding=cfg["p"], dilation=cfg["d"], ceil_mode=cfg["ceil"])
    ours = F.max_pool2d(Tensor(x, requires_grad=True), **mk)
    if np.isinf(ours.numpy()).any():
        # A window lying wholly in the padding (dilation skips the input): PyTorch returns -inf with an index
        # past the plane and scatters its gradient into the next channel; we return -inf and drop it.
        np.testing.assert_array_equal(ours.numpy(), TF.max_pool2d(torch.from_numpy(x), **mk).numpy())
        xt = Tensor(x, requires_grad=True)
        y = F.max_pool2d(xt, **mk)
        y.backward(Tensor(np.where(np.isinf(y.numpy()), 1.0, 0.0)))
        assert not xt.grad.numpy().any()
    else:
        compare(lambda t: F.max_pool2d(t, **mk), lambda t: TF.max_pool2d(t, **mk), x)
    if cfg["p"][0] * 2 <= cfg["k"][0] and cfg["hw"][0] + 2 * cfg["p"][0] >= cfg["k"][0] \
            and cfg["hw"][1] + 2 * cfg["p"][1] >= cfg["k"][1]:
        ak = dict(kernel_size=cfg["k"], stride=cfg["s"], padding=cfg["p"], ceil_mode=cfg["ceil"],
                  count_include_pad=cfg["cip"])
        compare(lambda t: F.avg_pool2d(t, **ak), lambda t: TF.avg_pool2d(t, **ak), x)


@pytest.mark.parametrize("kset", KSETS)
@pytest.mark.parametrize("shape,k,p,d", [((1, 1), (2, 1), (1, 0), (2, 1)),     # rows -1 and 1 of a 1-row map
                                         ((2, 1), (1, 2), (0, 1), (1, 2))])    # cols -1 and 1 of 1-col rows
def test_window_of_padding_only_gets_minus_inf_and_sends_no_gradient(kset, shape, k, p, d):
    use_config(kernels=kset)
    x = Tensor(np.random.default_rng(0).standard_normal((1, 2, *shape)), requires_grad=True)
    y, idx = F.max_pool2d(x, k, 1, p, d, return_indices=True)
    assert np.isneginf(y.numpy()).all() and (idx.numpy() == -1).all()
    y.backward(Tensor(np.ones(y.shape)))
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
