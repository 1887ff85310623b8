"""The speed paths give the reference numbers: the direct (im2col-free) Numba convolution against im2col +
GEMM, the unrolled/inside max-pooling kernels against the NumPy reference, and the thread-managed matmul
against ``@``. Float64 within 1e-12; gradcheck through the direct path. No timings here."""
from __future__ import annotations

import os
import types

import numpy as np
import pytest
from helpers import output_and_grads, use_config
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycnn
from tinycnn.accel import blas
from tinycnn.kernels import numpy_kernels as NP
from tinycnn.ops import conv as conv_ops

NB = pytest.importorskip("tinycnn.accel.numba_kernels")
ND = pytest.importorskip("tinycnn.accel.numba_direct")


def _reference(x, w, b, pad, gy):
    """y, gw, gb, gx by im2col + GEMM + col2im with the NumPy reference kernels (stride 1)."""
    n, c, h, wd = x.shape
    cout, _, kh, kw = w.shape
    cols = NP.im2col(x, (kh, kw), (1, 1), pad, (1, 1))
    oh, ow = h + pad[0] + pad[1] - kh + 1, wd + pad[2] + pad[3] - kw + 1
    y = (w.reshape(cout, -1) @ cols).reshape(cout, n, oh, ow).transpose(1, 0, 2, 3) + b[None, :, None, None]
    g2 = gy.transpose(1, 0, 2, 3).reshape(cout, -1)
    gw = (g2 @ cols.T).reshape(w.shape)
    gx = NP.col2im(w.reshape(cout, -1).T @ g2, x.shape, (kh, kw), (1, 1), pad, (1, 1))
    return y, gw, gy.sum(axis=(0, 2, 3)), gx


# (x shape, w shape, padding (t, b, l, r)): LeNet's two layers (Cout % 4 and K % 4 remainders, batch
# larger than the weight-gradient chunk count), asymmetric padding, a batch smaller than the chunk count.
DIRECT_CASES = [
    ((20, 1, 12, 12), (6, 1, 5, 5), (2, 2, 2, 2)),
    ((18, 6, 9, 9), (16, 6, 5, 5), (0, 0, 0, 0)),
    ((3, 2, 7, 6), (5, 2, 3, 2), (1, 0, 2, 1)),
    ((1, 3, 4, 5), (4, 3, 1, 3), (0, 2, 0, 0)),
]


@pytest.mark.parametrize("case", DIRECT_CASES, ids=[str(i) for i in range(len(DIRECT_CASES))])
def test_direct_conv_kernels_equal_im2col_float64(case):
    xs, ws, pad = case
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = ND.conv2d_direct_forward(x, w, b, pad)
    gy = rng.standard_normal(y.shape)
    y_ref, gw_ref, gb_ref, gx_ref = _reference(x, w, b, pad, gy)
    gw, gb = ND.conv2d_direct_weight_grad(x, gy, ws, pad)
    gx = ND.conv2d_direct_input_grad(gy, w, xs, pad)
    for got, want in ((y, y_ref), (gw, gw_ref), (gb, gb_ref), (gx, gx_ref)):
        assert got.shape == want.shape and got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


@st.composite
def _direct_case(draw):
    """Any shape the direct kernels take: batches below, at and above their chunk count, 1-7 channels in and
    out (partial blocks of four), kernels up to 5x5, asymmetric padding, outputs one pixel wide or tall."""
    n, c, cout = draw(st.integers(1, 20)), draw(st.integers(1, 7)), draw(st.integers(1, 7))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    pad = tuple(draw(st.integers(0, 2)) for _ in range(4))
    h = draw(st.integers(max(1, kh - pad[0] - pad[1]), 14))
    w = draw(st.integers(max(1, kw - pad[2] - pad[3]), 19))
    return (n, c, h, w), (cout, c, kh, kw), pad


@settings(max_examples=40, deadline=None)
@given(_direct_case(), st.integers(0, 2**31 - 1))
def test_direct_conv_kernels_equal_im2col_for_any_shape(case, seed):
    """The kernels' flat offsets into their workspace (per chunk of images, per column phase) must land on
    the same sums as im2col for every geometry."""
    xs, ws, pad = case
    rng = np.random.default_rng(seed)
    x, w, b = rng.standard_normal(xs), rng.standard_normal(ws), rng.standard_normal(ws[0])
    y = ND.conv2d_direct_forward(x, w, b, pad)
    gy = rng.standard_normal(y.shape)
    gx, gw, gb = ND.conv2d_direct_backward(gy, x, w, xs, pad)
    for got, want in zip((y, gw, gb, gx), _reference(x, w, b, pad, gy)):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-11)


def test_direct_conv_float32_stays_float32_and_close():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 6, 9, 9)).astype(np.float32)
    w = rng.standard_normal((16, 6, 5, 5)).astype(np.float32)
    b = rng.standard_normal(16).astype(np.float32)
    y = ND.conv2d_direct_forward(x, w, b, (0, 0, 0, 0))
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gw, gb = ND.conv2d_direct_weight_grad(x, gy, w.shape, (0, 0, 0, 0))
    gx = ND.conv2d_direct_input_grad(gy, w, x.shape, (0, 0, 0, 0))
    ref = _reference(*(a.astype(np.float64) for a in (x, w, b)), (0, 0, 0, 0), gy.astype(np.float64))
    for got, want in zip((y, gw, gb, gx), ref):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_direct_conv_propagates_nan():
    x = np.ones((1, 1, 4, 4))
    x[0, 0, 1, 1] = np.nan
    y = ND.conv2d_direct_forward(x, np.ones((1, 1, 2, 2)), None, (0, 0, 0, 0))
    assert np.isnan(y[0, 0, :2, :2]).all() and not np.isnan(y[0, 0, 2:, 2:]).any()


def test_which_layers_take_the_direct_path():
    assert ND.direct_conv_applies((8, 1, 28, 28), (6, 1, 5, 5), (1, 1), (1, 1), 1)
    assert ND.direct_conv_applies((8, 6, 14, 14), (16, 6, 5, 5), (1, 1), (1, 1), 1)
    assert not ND.direct_conv_applies((8, 6, 14, 14), (16, 6, 5, 5), (2, 2), (1, 1), 1)      # stride
    assert not ND.direct_conv_applies((8, 6, 14, 14), (16, 6, 5, 5), (1, 1), (2, 2), 1)      # dilation
    assert not ND.direct_conv_applies((8, 6, 14, 14), (16, 3, 5, 5), (1, 1), (1, 1), 2)      # groups
    assert not ND.direct_conv_applies((8, 64, 56, 56), (64, 64, 3, 3), (1, 1), (1, 1), 1)    # ResNet width


def _conv_through_ops(direct, x, w, b, padding):
    use_config(conv_direct=direct)
    use_config(kernels="numba")
    def ran_the_path_under_test(y):
        assert (y.grad_fn.path == "direct") is direct

    _, results = output_and_grads(lambda x, w, b: conv_ops.conv2d(x, w, b, padding=padding), (x, w, b),
                                  ran_the_path_under_test)
    return results


def test_conv2d_direct_path_equals_im2col_path_through_autograd():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((4, 3, 8, 7)), rng.standard_normal((6, 3, 3, 3)), rng.standard_normal(6)
    fast = _conv_through_ops(True, x, w, b, 1)
    slow = _conv_through_ops(False, x, w, b, 1)
    for got, want in zip(fast, slow):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)


def test_conv2d_direct_path_gradcheck():
    use_config(kernels="numba")
    rng = np.random.default_rng(3)
    x = tinycnn.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True)
    w = tinycnn.tensor(rng.standard_normal((3, 2, 3, 2)), requires_grad=True)
    b = tinycnn.tensor(rng.standard_normal(3), requires_grad=True)
    assert conv_ops.conv2d(x, w, b, padding=1).grad_fn.path == "direct"
    assert tinycnn.gradcheck(lambda x, w, b: conv_ops.conv2d(x, w, b, padding=1), [x, w, b])


def test_conv2d_direct_path_skips_unwanted_gradients():
    use_config(kernels="numba")
    rng = np.random.default_rng(4)
    x = tinycnn.tensor(rng.standard_normal((2, 1, 6, 6)))                 # input needs no gradient
    w = tinycnn.tensor(rng.standard_normal((2, 1, 3, 3)), requires_grad=True)
    y = conv_ops.conv2d(x, w, None, padding=1)
    y.sum().backward()
    assert x.grad is None and w.grad.shape == (2, 1, 3, 3)


# ---- max pooling fast kernels ---------------------------------------------------------------------------
POOL_CASES = [((2, 2), (2, 2), (8, 10)), ((2, 2), (2, 2), (7, 9)),      # unrolled 2x2 (odd: last row unused)
              ((3, 3), (2, 2), (9, 7)), ((3, 2), (3, 1), (9, 8))]      # the generic 'inside' kernel


@pytest.mark.parametrize("k, s, hw", POOL_CASES)
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_max_pool_fast_kernels_match_reference_with_ties_nan_and_inf(k, s, hw, index_dtype):
    rng = np.random.default_rng(5)
    x = rng.integers(-2, 3, size=(2, 3, *hw)).astype(np.float64)      # many ties
    x[0, 0, 0, 1] = np.nan
    x[0, 1, 1, 1] = x[0, 1, 2, 3] = np.nan
    x[1, 0, :3, :3] = -np.inf
    x[1, 1, 0, 0] = np.inf
    out = tuple((hw[a] - k[a]) // s[a] + 1 for a in range(2))
    y_ref, i_ref = NP.max_pool2d_forward(x, k, s, (0, 0), (1, 1), out)
    y, idx = NB.max_pool2d_forward(x, k, s, (0, 0), (1, 1), out, index_dtype)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, i_ref)
    assert idx.dtype == index_dtype
    gy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(NB.max_pool2d_backward(gy, idx, x.shape),
                               NP.max_pool2d_backward(gy, i_ref, x.shape), rtol=0, atol=1e-12)


WINDOW_2X2 = ((2, 2), (2, 2), (0, 0), (1, 1))


def _bits(a):
    return a.view(np.uint64 if a.dtype == np.float64 else np.uint32)


@pytest.mark.parametrize("hw", [(8, 10), (7, 9), (9, 8), (2, 3), (5, 2)])  # odd: last row/col in no window
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int64, np.int32])
def test_max_pool_2x2_backward_same_bits_as_the_general_and_numpy_kernels(hw, dtype, index_dtype):
    rng = np.random.default_rng(7)
    x = rng.integers(-2, 3, size=(2, 3, *hw)).astype(dtype)          # many ties
    x[0, 0, 0, 1] = x[1, 2, 1, 0] = np.nan
    x[1, 0, :2, :2] = -np.inf                                         # a window of -inf only
    x[0, 1, 1, 1] = np.inf
    out = (hw[0] // 2, hw[1] // 2)
    _, i_ref = NP.max_pool2d_forward(x, *WINDOW_2X2, out)
    _, idx = NB.max_pool2d_forward(x, *WINDOW_2X2, out, index_dtype)
    gy = rng.standard_normal((2, 3, *out)).astype(dtype)
    gy[0, 0, 0, 0], gy[0, 1, 0, 0], gy[1, 1, -1, -1] = -0.0, np.nan, np.inf   # -0.0 comes back as +0.0
    fast = NB.max_pool2d_backward(gy, idx, x.shape, WINDOW_2X2)
    general = NB.max_pool2d_backward(gy, idx, x.shape)
    reference = NP.max_pool2d_backward(gy, i_ref, x.shape, WINDOW_2X2)
    assert fast.dtype == general.dtype == reference.dtype == dtype and fast.shape == x.shape
    np.testing.assert_array_equal(_bits(fast), _bits(general))
    np.testing.assert_array_equal(_bits(fast), _bits(reference))
    assert not fast[:, :, 2 * out[0]:].any() and not fast[:, :, :, 2 * out[1]:].any()


def test_max_pool_layer_gradient_same_bits_with_both_kernel_sets():
    """MaxPool2d(2) hands its window to the backward (the 2x2 kernel); MaxPool2d(2, padding=1) does not fit
    it and takes the general one: both give the NumPy set's gradient."""
    x = np.random.default_rng(8).integers(-2, 3, size=(2, 3, 9, 8)).astype(np.float32)
    grads = {}
    for kernels in ("numpy", "numba"):
        for layer in (tinycnn.nn.MaxPool2d(2), tinycnn.nn.MaxPool2d(3, 2, padding=1)):
            with tinycnn.config(kernels=kernels):
                t = tinycnn.tensor(x, requires_grad=True)
                y = layer(t)
                (y * tinycnn.tensor(np.arange(y.numel(), dtype=np.float32).reshape(y.shape))).sum().backward()
            grads[kernels, layer.kernel_size] = t.grad.numpy()
    for k in (2, 3):
        np.testing.assert_array_equal(_bits(grads["numba", k]), _bits(grads["numpy", k]))


def test_max_pool_return_indices_stays_int64():
    x = tinycnn.tensor(np.arange(32, dtype=np.float32).reshape(1, 2, 4, 4))
    _, idx = tinycnn.nn.functional.max_pool2d(x, 2, return_indices=True)
    assert idx.dtype == np.int64


# ---- thread-managed matmul --------------------------------------------------------------------------------
BIG_BATCHES = [((16, 64, 64), (16, 64, 700)), ((5, 80, 90), (90, 600)), ((80, 90), (7, 90, 600)),
               ((16, 64, 64), (16, 700, 64))]     # the last one's b is a transposed view, as in the Winograd backward


@pytest.mark.parametrize("shapes", [((7, 5), (5, 3)), ((2, 4, 6), (2, 6, 3)), ((300, 400), (400, 500)),
                                    *BIG_BATCHES])
@pytest.mark.parametrize("into", [False, True])
def test_blas_matmul_equals_operator_and_restores_threads(shapes, into):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    if shapes in BIG_BATCHES[3:]:
        b = b.transpose(0, 2, 1)
    ctl = blas._controller()
    before = ctl.num_threads if ctl is not None else None
    expected = a @ b
    out = np.full(expected.shape, np.nan) if into else None
    got = blas.matmul(a, b, out=out)
    # to rounding only: one BLAS thread may block a product differently from two
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12 * np.abs(expected).max())
    if into:
        assert got is out
    if ctl is not None:
        assert ctl.num_threads == before


def test_blas_policy_finds_numpys_own_library_among_several(tmp_path):
    """SciPy (imported by Numba when installed) loads a second OpenBLAS: the thread policy must still act
    on the one NumPy calls, found by its place inside NumPy's folder, and not give up."""
    numpy_dir = os.path.dirname(os.path.realpath(np.__file__))
    ours = types.SimpleNamespace(filepath=os.path.join(numpy_dir + ".libs", "libscipy_openblas64_.so"))
    scipys = types.SimpleNamespace(filepath=str(tmp_path / "scipy.libs" / "libscipy_openblas.so"))
    assert blas._numpy_blas([scipys, ours]) is ours
    assert blas._numpy_blas([scipys]) is scipys                 # the only BLAS is NumPy's
    stranger = types.SimpleNamespace(filepath=str(tmp_path / "libopenblas.so"))
    assert blas._numpy_blas([scipys, stranger]) is None         # cannot tell: leave BLAS alone


# ---- ReLU parallel kernels ----------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_kernels_bitwise_equal_numpy(dtype):
    rng = np.random.default_rng(7)
    x = rng.standard_normal(5000).astype(dtype)
    x[:6] = [np.nan, -0.0, 0.0, np.inf, -np.inf, -np.nan]
    y, mask = NB.relu_forward(x.reshape(10, 500))
    ref = np.maximum(x, 0).reshape(10, 500)
    assert y.dtype == dtype and mask.dtype == np.bool_
    np.testing.assert_array_equal(y.view(np.uint8), ref.view(np.uint8))         # bitwise, signed zeros too
    np.testing.assert_array_equal(mask, x.reshape(10, 500) > 0)
    gy = rng.standard_normal(5000).astype(dtype)
    gy[6:9] = [np.nan, np.inf, -1.5]
    gx = NB.relu_backward(gy.reshape(10, 500), mask)
    np.testing.assert_array_equal(gx.view(np.uint8), (gy.reshape(10, 500) * mask).view(np.uint8))


def test_relu_op_takes_the_kernel_path_for_large_inputs_and_matches():
    use_config(kernels="numba")
    rng = np.random.default_rng(8)
    data = rng.standard_normal(NB.RELU_MIN_SIZE + 10)
    results = []
    for name in ("numba", "numpy"):
        use_config(kernels=name)
        x = tinycnn.tensor(data, requires_grad=True)
        y = tinycnn.nn.functional.relu(x)
        (y * tinycnn.tensor(np.arange(data.size, dtype=np.float64))).sum().backward()
        results.append((y.numpy(), x.grad.numpy()))
    for got, want in zip(*results):
        np.testing.assert_array_equal(got, want)
