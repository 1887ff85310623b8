"""The fused conv2d -> relu -> max_pool2d op gives exactly the numbers of the three ops run one by one:
kernel by kernel, through autograd, and inside ``nn.Sequential`` (which fuses that run of layers by itself).
Float64 and float32, bit for bit; gradcheck through it; the cases it must leave to the separate ops."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import output_and_grads, use_config
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycnn
from tinycnn import accel, nn
from tinycnn.kernels import numpy_kernels as NP
from tinycnn.nn import functional as F
from tinycnn.ops import fused as fused_ops

ND = pytest.importorskip("tinycnn.accel.numba_direct")
NB = pytest.importorskip("tinycnn.accel.numba_kernels")


# (x shape, w shape, conv padding (t, b, l, r), pool kernel, pool stride): LeNet's two layers, overlapping
# windows (AlexNet's 3/2), an odd conv output whose last row/column no window reaches, asymmetric padding,
# non-square windows and strides, more output channels than one block of four, and fewer.
CASES = [
    ((6, 1, 12, 12), (6, 1, 5, 5), (2, 2, 2, 2), (2, 2), (2, 2)),
    ((3, 2, 17, 20), (5, 2, 3, 3), (1, 1, 1, 1), (2, 2), (2, 2)),     # wide: pooled by column parity
    ((3, 2, 18, 19), (7, 2, 3, 2), (1, 0, 2, 1), (2, 2), (2, 2)),     # ... with an odd width
    ((5, 6, 14, 14), (16, 6, 5, 5), (0, 0, 0, 0), (2, 2), (2, 2)),
    ((3, 3, 11, 11), (5, 3, 3, 3), (1, 1, 1, 1), (3, 3), (2, 2)),
    ((2, 2, 9, 8), (7, 2, 2, 3), (1, 0, 2, 1), (2, 3), (1, 2)),
    ((4, 5, 7, 7), (2, 5, 3, 3), (0, 0, 0, 0), (2, 2), (2, 2)),
]


def _case_data(case, dtype, rng, ties=False):
    xs, ws, pad, pk, ps = case
    if ties:        # small integers: equal values inside windows, and conv outputs of exactly 0
        x = rng.integers(-2, 3, xs).astype(dtype)
        w = rng.integers(-1, 2, ws).astype(dtype)
        b = rng.integers(-1, 2, ws[0]).astype(dtype)
    else:
        x, w, b = (rng.standard_normal(s).astype(dtype) for s in (xs, ws, ws[0]))
    return x, w, b, pad, pk, ps


def _separate(x, w, b, pad, pk, ps, gy):
    """The three ops by the separate Numba kernels (what the unfused path runs): y, the pool indices where
    y > 0, and the conv output's gradient."""
    z = ND.conv2d_direct_forward(x, w, b, pad)
    r = np.maximum(z, 0)
    out = ((z.shape[2] - pk[0]) // ps[0] + 1, (z.shape[3] - pk[1]) // ps[1] + 1)
    y, idx = NB.max_pool2d_forward(r, pk, ps, (0, 0), (1, 1), out)
    np.testing.assert_array_equal(idx, NP.max_pool2d_forward(r, pk, ps, (0, 0), (1, 1), out)[1])
    gz = NB.max_pool2d_backward(gy, idx, z.shape) * (z > 0)
    return y, np.where(y > 0, idx, -1), gz, z.shape[2:]


@pytest.mark.parametrize("parity_min_width", [ND.PARITY_MIN_WIDTH, 1], ids=["auto", "parity"])
@pytest.mark.parametrize("ties", [False, True], ids=["random", "ties"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_fused_kernels_equal_the_separate_ops_bitwise(case, dtype, ties, parity_min_width, monkeypatch):
    """Both ways of pooling 2x2/2 windows (on the grid, and by column parity for wide layers) are checked on
    every case by lowering the width from which the parity layout is used."""
    monkeypatch.setattr(ND, "PARITY_MIN_WIDTH", parity_min_width)
    _check_fused_equals_separate(case, dtype, np.random.default_rng(0), ties)


def _check_fused_equals_separate(case, dtype, rng, ties=False):
    x, w, b, pad, pk, ps = _case_data(case, dtype, rng, ties)
    y, idx, conv_hw = ND.conv2d_direct_relu_maxpool(x, w, b, pad, pk, ps)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y_ref, idx_ref, gz, hw_ref = _separate(x, w, b, pad, pk, ps, gy)
    assert y.dtype == dtype and tuple(conv_hw) == tuple(hw_ref)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(ND.grid_to_plane_index(idx, conv_hw, w.shape[3]), idx_ref)
    pooled = (gy, idx, conv_hw)
    gw, gb = ND.conv2d_direct_weight_grad(x, None, w.shape, pad, pooled=pooled)
    gw_ref, gb_ref = ND.conv2d_direct_weight_grad(x, gz, w.shape, pad)
    gx = ND.conv2d_direct_input_grad(None, w, x.shape, pad, pooled=pooled)
    gx_ref = ND.conv2d_direct_input_grad(gz, w, x.shape, pad)
    for got, want in ((gw, gw_ref), (gb, gb_ref), (gx, gx_ref)):
        assert got.dtype == dtype
        np.testing.assert_array_equal(got, want)


@st.composite
def _fused_case(draw):
    """Random geometry: 2x2/2 pooling (checked on the grid and by column parity) or any other window."""
    n, c, cout = draw(st.integers(1, 19)), draw(st.integers(1, 5)), draw(st.integers(1, 9))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    pk = draw(st.sampled_from([(2, 2), (2, 2), (3, 3), (2, 3), (1, 2)]))
    ps = (2, 2) if pk == (2, 2) else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    h = draw(st.integers(max(1, kh + pk[0] - 1 - pad[0] - pad[1]), 13))
    w = draw(st.integers(max(1, kw + pk[1] - 1 - pad[2] - pad[3]), 21))
    return (n, c, h, w), (cout, c, kh, kw), pad, pk, ps


@settings(max_examples=40, deadline=None)
@given(_fused_case(), st.sampled_from([np.float64, np.float32]), st.booleans(), st.integers(0, 2**31 - 1))
def test_fused_kernels_equal_the_separate_ops_for_any_shape(case, dtype, by_parity, seed):
    saved = ND.PARITY_MIN_WIDTH
    ND.PARITY_MIN_WIDTH = 1 if by_parity else 10**9
    try:
        _check_fused_equals_separate(case, dtype, np.random.default_rng(seed), ties=seed % 2 == 1)
    finally:
        ND.PARITY_MIN_WIDTH = saved


@pytest.mark.parametrize("parity_min_width", [ND.PARITY_MIN_WIDTH, 1], ids=["grid", "parity"])
def test_fused_kernel_nan_and_signed_zero_follow_relu_and_max_pool(parity_min_width, monkeypatch):
    """NaN wins a window (max pooling's rule) and passes no gradient (NaN > 0 is false); -0.0 becomes +0."""
    monkeypatch.setattr(ND, "PARITY_MIN_WIDTH", parity_min_width)
    x = np.zeros((1, 1, 4, 4))
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 2, 2] = -0.0
    w = np.ones((1, 1, 1, 1))
    y, idx, hw = ND.conv2d_direct_relu_maxpool(x, w, None, (0, 0, 0, 0), (2, 2), (2, 2))
    assert np.isnan(y[0, 0, 0, 0]) and idx[0, 0, 0, 0] == -1
    assert y[0, 0, 1, 1] == 0 and not np.signbit(y[0, 0, 1, 1]) and idx[0, 0, 1, 1] == -1


def _run(fuse, kernel_set, x, w, b, conv_kw, pool_kw):
    use_config(fusion=fuse)
    use_config(kernels=kernel_set)
    return output_and_grads(lambda x, w, b: fused_ops.conv2d_relu_max_pool2d(x, w, b, **conv_kw, **pool_kw),
                            (x, w, b))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_op_through_autograd_equals_separate_ops_bitwise(dtype):
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s).astype(dtype) for s in ((4, 3, 10, 9), (6, 3, 3, 3), (6,)))
    conv_kw, pool_kw = {"padding": 1}, {"pool_kernel_size": 2}
    y, fused = _run(True, "numba", x, w, b, conv_kw, pool_kw)
    assert isinstance(y.grad_fn, fused_ops.Conv2dReLUMaxPool2dFunction)   # the fused kernel really ran
    y, separate = _run(False, "numba", x, w, b, conv_kw, pool_kw)
    assert not isinstance(y.grad_fn, fused_ops.Conv2dReLUMaxPool2dFunction)
    for got, want in zip(fused, separate):
        np.testing.assert_array_equal(got, want)
    if dtype == np.float64:       # and the NumPy reference kernels (im2col path) agree to rounding
        _, reference = _run(True, "numpy", x, w, b, conv_kw, pool_kw)
        for got, want in zip(fused, reference):
            np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_fused_op_gradcheck():
    use_config(kernels="numba")
    rng = np.random.default_rng(2)
    x = tinycnn.tensor(rng.standard_normal((2, 2, 7, 6)), requires_grad=True)
    w = tinycnn.tensor(rng.standard_normal((5, 2, 3, 3)), requires_grad=True)
    b = tinycnn.tensor(rng.standard_normal(5), requires_grad=True)

    def f(x, w, b):
        return fused_ops.conv2d_relu_max_pool2d(x, w, b, padding=1, pool_kernel_size=3, pool_stride=2)

    assert isinstance(f(x, w, b).grad_fn, fused_ops.Conv2dReLUMaxPool2dFunction)
    assert tinycnn.gradcheck(f, [x, w, b])


@pytest.mark.parametrize("conv_kw,pool_kw", [
    ({"stride": 2}, {"pool_kernel_size": 2}),                              # strided conv: im2col path
    ({"padding": 1}, {"pool_kernel_size": 2, "pool_padding": 1}),          # padded pooling
    ({"padding": 1}, {"pool_kernel_size": 3, "ceil_mode": True}),          # ceil_mode
    ({"dilation": 2}, {"pool_kernel_size": 2}),                            # dilated conv
])
def test_cases_the_kernel_does_not_cover_run_the_separate_ops(conv_kw, pool_kw):
    rng = np.random.default_rng(3)
    x, w, b = rng.standard_normal((2, 3, 9, 9)), rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    y, fused = _run(True, "numba", x, w, b, conv_kw, pool_kw)
    assert not isinstance(y.grad_fn, fused_ops.Conv2dReLUMaxPool2dFunction)
    z = F.conv2d(tinycnn.tensor(x), tinycnn.tensor(w), tinycnn.tensor(b), **conv_kw)
    pool = {k.replace("pool_", ""): v for k, v in pool_kw.items()}
    np.testing.assert_array_equal(fused[0], F.max_pool2d(F.relu(z), **pool).numpy())


# ---- nn.Sequential and accel.fuse -------------------------------------------------------------------------
def _lenet():
    tinycnn.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                         nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
                         nn.Linear(400, 10))


def _graph_functions(t):
    seen, stack = [], [t]
    while stack:
        fn = stack.pop()._ctx
        if fn is not None:
            seen.append(type(fn).__name__)
            stack += [i for i in fn.inputs if isinstance(i, tinycnn.Tensor)]
    return seen


def _train_step(model, x, y):
    out = model(x)
    ops = _graph_functions(out)
    F.cross_entropy(out, y).backward()
    return out, ops, {k: p.grad.numpy().copy() for k, p in model.named_parameters()}


def test_sequential_runs_its_layers_one_by_one():
    """net(x) and `for layer in net: x = layer(x)` build the same graph: no fusion inside Sequential."""
    use_config(kernels="numba")
    model = _lenet()
    x = tinycnn.randn(2, 1, 28, 28)
    by_loop = x
    for layer in model:
        by_loop = layer(by_loop)
    assert _graph_functions(model(x)) == _graph_functions(by_loop)
    assert "Conv2dReLUMaxPool2dFunction" not in _graph_functions(model(x))
    np.testing.assert_array_equal(model(x).numpy(), by_loop.numpy())


def test_fuse_puts_visible_layers_and_keeps_the_state_dict():
    model = _lenet()
    keys, params = list(model.state_dict()), [id(p) for p in model.parameters()]
    assert accel.fuse(model) is model
    text = str(model)
    assert text.count("FusedConv2dReLUMaxPool2d(") == 2 and "\n  (1): ReLU" not in text
    assert "(0): FusedConv2dReLUMaxPool2d(Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2)) -> " \
           "ReLU -> MaxPool2d(kernel_size=2, stride=2" in text
    assert [type(m).__name__ for m in model] == ["FusedConv2dReLUMaxPool2d", "FusedConv2dReLUMaxPool2d",
                                                 "Flatten", "Linear"]
    assert list(model.state_dict()) == keys == ["0.weight", "0.bias", "3.weight", "3.bias", "7.weight", "7.bias"]
    assert [id(p) for p in model.parameters()] == params       # the same Parameters: optimizers keep working
    accel.fuse(model)
    assert str(model) == text                                   # fusing twice changes nothing


def test_fused_and_unfused_models_give_the_same_numbers_bitwise():
    use_config(kernels="numba")
    rng = np.random.default_rng(4)
    x = tinycnn.tensor(rng.standard_normal((8, 1, 28, 28)).astype(np.float32))
    y = tinycnn.tensor(rng.integers(0, 10, 8))
    out, ops, grads = _train_step(accel.fuse(_lenet()), x, y)
    assert ops.count("Conv2dReLUMaxPool2dFunction") == 2 and "Conv2dFunction" not in ops
    out_ref, ops_ref, grads_ref = _train_step(_lenet(), x, y)
    assert "Conv2dReLUMaxPool2dFunction" not in ops_ref and ops_ref.count("Conv2dFunction") == 2
    np.testing.assert_array_equal(out.numpy(), out_ref.numpy())
    assert list(grads) == list(grads_ref)
    for name in grads:
        np.testing.assert_array_equal(grads[name], grads_ref[name])
    use_config(fusion=False)                                   # a fused layer then runs the three ops
    out_off, ops_off, grads_off = _train_step(accel.fuse(_lenet()), x, y)
    assert "Conv2dReLUMaxPool2dFunction" not in ops_off and ops_off.count("Conv2dFunction") == 2
    np.testing.assert_array_equal(out_off.numpy(), out_ref.numpy())


def test_checkpoints_load_across_fused_and_unfused(tmp_path):
    fused = accel.fuse(_lenet())
    tinycnn.manual_seed(5)
    plain = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
                          nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(400, 10))
    tinycnn.save(fused.state_dict(), tmp_path / "fused.npz")
    plain.load_state_dict(tinycnn.load(tmp_path / "fused.npz"))
    x = tinycnn.randn(2, 1, 28, 28)
    np.testing.assert_array_equal(plain(x).numpy(), fused(x).numpy())


class _MyReLU(nn.ReLU):
    def forward(self, input):
        return F.relu(input) * 2.0


def test_fuse_leaves_other_layer_runs_alone():
    """A subclass may change forward, return_indices changes the output, a hook wants to see the layer."""
    use_config(kernels="numba")
    x = tinycnn.randn(2, 1, 8, 8)
    custom = accel.fuse(nn.Sequential(nn.Conv2d(1, 2, 3), _MyReLU(), nn.MaxPool2d(2)))
    assert [type(m) for m in custom] == [nn.Conv2d, _MyReLU, nn.MaxPool2d]
    conv, pool = custom[0], custom[2]
    np.testing.assert_array_equal(custom(x).numpy(), pool(F.relu(conv(x)) * 2.0).numpy())
    with_indices = accel.fuse(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, return_indices=True)))
    out, idx = with_indices(x)
    assert idx.dtype == np.int64 and out.shape == idx.shape
    watched = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))
    watched[1].register_forward_hook(lambda m, i, o: None)
    assert len(accel.fuse(watched)) == 3
    with pytest.raises(TypeError, match="tinycnn.accel.fuse: expected a tinycnn.nn.Module, got list"):
        accel.fuse([conv])


def test_fused_layers_report_bad_input_like_the_layers():
    model = accel.fuse(_lenet())
    with pytest.raises(ValueError, match=r"Conv2d\(1, 6\) expects 1 input channels, got input of shape "
                                         r"\(2, 3, 28, 28\)"):
        model(tinycnn.randn(2, 3, 28, 28))
    with pytest.raises(TypeError, match="Conv2d\\(1, 6\\): input is float64 but weight is float32"):
        model(tinycnn.randn(2, 1, 28, 28, dtype=tinycnn.float64))


def test_tinycnn_train_fuses_its_model(tmp_path):
    from tinycnn.train import TrainConfig, Trainer
    trainer = Trainer(TrainConfig(out=str(tmp_path / "run"), train_limit=64, test_limit=64, progress=False))
    assert sum(isinstance(m, accel.FusedConv2dReLUMaxPool2d) for m in trainer.model.modules()) == 2


def test_a_tool_watching_the_layers_sees_every_layer_called():
    """utils.summary wraps each layer's forward: an unfused model shows its three layers."""
    from tinycnn.utils import summary
    rows = [row for row in str(summary(_lenet(), (1, 28, 28))).splitlines() if "(" in row]
    names = " ".join(rows)
    assert names.count("Conv2d") >= 2 and names.count("ReLU") >= 2 and names.count("MaxPool2d") >= 2
