"""The Numba batch-norm and hardtanh kernels against the NumPy path of the same ops.

Batch norm: float64 to 1e-12; float32 to float32 rounding. Not bitwise: the kernels accumulate the
per-channel sums in float64 while NumPy's einsum accumulates float32 in float32, so the statistics differ
by float32 rounding (the kernels' are the closer ones: checked against a float64 computation). Hardtanh:
bit for bit, also at the corners, for NaN and signed zeros. Small shapes reach the kernels through a
lowered ``BATCH_NORM_MIN_SIZE`` (and L = 1, which the ops leave to NumPy, through ``batch_norm_applies``);
one test per op keeps the real thresholds."""
from __future__ import annotations

import collections

import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor

NB = pytest.importorskip("tinycnn.accel.numba_kernels")

SHAPES = [(64, 8), (1, 4, 300), (3, 5, 7, 9), (2, 16, 12, 10), (5, 3, 1)]   # BatchNorm1d, N=1, L=1 ...


@pytest.fixture
def calls(monkeypatch):
    """Counts of the Numba fast-path calls, with every array large enough to take them."""
    counts = collections.Counter()
    for name in ("batch_norm_forward", "batch_norm_backward", "hardtanh_forward", "hardtanh_backward"):
        original = getattr(NB, name)

        def counted(*args, _name=name, _original=original, **kwargs):
            counts[_name] += 1
            return _original(*args, **kwargs)

        monkeypatch.setattr(NB, name, counted)
    monkeypatch.setattr(NB, "BATCH_NORM_MIN_SIZE", 0)
    monkeypatch.setattr(NB, "batch_norm_applies", lambda shape3: True)     # L = 1 too
    monkeypatch.setattr(NB, "HARDTANH_MIN_SIZE", 0)
    return counts


def _data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    c = shape[1]
    x = (rng.standard_normal(shape) * 3 + 2).astype(dtype)
    return (x, rng.uniform(0.5, 1.5, c).astype(dtype), rng.standard_normal(c).astype(dtype),
            rng.standard_normal(shape).astype(dtype))


def _batch_norm(kernels, x, w, b, gy, *, affine=True, x_grad=True, momentum=0.1):
    """(y, gx, gw, gb, running_mean, running_var) from one training-mode batch norm and its backward."""
    c = x.shape[1]
    rm, rv = Tensor(np.linspace(-1, 1, c).astype(x.dtype)), Tensor(np.linspace(0.5, 2, c).astype(x.dtype))
    with tinycnn.config(kernels=kernels):
        xt = Tensor(x.copy(order="K"), requires_grad=x_grad)         # keeps a non-contiguous layout
        wt = Tensor(w.copy(), requires_grad=True) if affine else None
        bt = Tensor(b.copy(), requires_grad=True) if affine else None
        y = F.batch_norm(xt, rm, rv, wt, bt, training=True, momentum=momentum)
        y.backward(Tensor(gy))
    grads = [None if t is None or t.grad is None else t.grad.numpy() for t in (xt, wt, bt)]
    return [y.numpy(), *grads, rm.numpy(), rv.numpy()]


def _assert_close(got, want, rtol, atol):
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if g is not None:
            assert g.dtype == w.dtype
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_match_numpy_float64(calls, shape, affine):
    x, w, b, gy = _data(shape, np.float64)
    got = _batch_norm("numba", x, w, b, gy, affine=affine)
    assert calls["batch_norm_forward"] == 1 and calls["batch_norm_backward"] == 1
    want = _batch_norm("numpy", x, w, b, gy, affine=affine)
    _assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_kernels_match_numpy_float32(calls, shape, affine):
    x, w, b, gy = _data(shape, np.float32)
    got = _batch_norm("numba", x, w, b, gy, affine=affine)
    assert calls["batch_norm_forward"] == 1
    want = _batch_norm("numpy", x, w, b, gy, affine=affine)
    _assert_close(got, want, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("shape", [(64, 8), (4, 6, 50, 50)])
def test_batch_norm_kernel_statistics_are_float32_rounded_exact(calls, shape):
    """momentum=1 makes the running statistics this batch's mean and unbiased variance: the kernels'
    float32 values are the exact (float64) ones rounded, within 2 ulp."""
    x, w, b, gy = _data(shape, np.float32)
    *_, rm, rv = _batch_norm("numba", x, w, b, gy, momentum=1.0)
    axes = (0, *range(2, x.ndim))
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(rm, x64.mean(axes), rtol=2.4e-7, atol=1e-7)
    np.testing.assert_allclose(rv, x64.var(axes, ddof=1), rtol=2.4e-7)


def test_batch_norm_kernels_without_input_gradient(calls):
    x, w, b, gy = _data((4, 6, 9, 9), np.float64)
    got = _batch_norm("numba", x, w, b, gy, x_grad=False)
    want = _batch_norm("numpy", x, w, b, gy, x_grad=False)
    assert got[1] is None
    _assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_batch_norm_kernels_on_a_non_contiguous_input(calls):
    x, w, b, gy = _data((6, 4, 5, 7), np.float64)
    xt = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)    # (N, C, ...) view, C-major
    assert not xt.flags.c_contiguous
    got = _batch_norm("numba", xt, w, b, gy)
    want = _batch_norm("numpy", xt, w, b, gy)
    _assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_batch_norm_takes_the_kernels_at_the_real_threshold_and_not_on_the_textbook_path(monkeypatch):
    counts = collections.Counter()
    original = NB.batch_norm_forward

    def counted(*args):
        counts["forward"] += 1
        return original(*args)

    monkeypatch.setattr(NB, "batch_norm_forward", counted)
    x, w, b, gy = _data((2, 16, 40, 40), np.float32)          # 51200 >= BATCH_NORM_MIN_SIZE
    got = _batch_norm("numba", x, w, b, gy)
    assert counts["forward"] == 1
    want = _batch_norm("numpy", x, w, b, gy)
    assert counts["forward"] == 1
    _assert_close(got, want, rtol=2e-5, atol=2e-5)
    _batch_norm("numba", x[:, :, :4, :4], w, b, gy[:, :, :4, :4])  # too small to gain: NumPy
    assert counts["forward"] == 1
    x1, w1, b1, gy1 = _data((64, 1024), np.float32)                # BatchNorm1d (L = 1): NumPy
    _batch_norm("numba", x1, w1, b1, gy1)
    assert counts["forward"] == 1


@pytest.mark.parametrize("shape", [(6, 3), (3, 2, 5), (2, 3, 2, 3)])
def test_batch_norm_gradcheck_through_the_kernels(calls, shape):
    rng = np.random.default_rng(1)
    c = shape[1]
    args = [Tensor(rng.standard_normal(shape) * 3 + 2, requires_grad=True),
            Tensor(rng.standard_normal(c), requires_grad=True), Tensor(rng.standard_normal(c), requires_grad=True)]
    with tinycnn.config(kernels="numba"):
        assert tinycnn.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), args)
    assert calls["batch_norm_backward"] > 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_kernels_match_torch(calls, dtype):
    torch = pytest.importorskip("torch")
    x, w, b, gy = _data((4, 6, 11, 13), dtype)
    got = _batch_norm("numba", x, w, b, gy)
    assert calls["batch_norm_forward"] == 1
    xt = torch.tensor(x, requires_grad=True)
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    c = x.shape[1]
    rm, rv = torch.tensor(np.linspace(-1, 1, c).astype(dtype)), torch.tensor(np.linspace(0.5, 2, c).astype(dtype))
    y = torch.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=True, momentum=0.1)
    y.backward(torch.tensor(gy))
    want = [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy(), rm.numpy(), rv.numpy()]
    tol = 1e-10 if dtype == np.float64 else 2e-5
    _assert_close(got, want, rtol=tol, atol=tol)


# ---- hardtanh / ReLU6 ---------------------------------------------------------------------------------------
BOUNDS = [(0.0, 6.0), (-1.0, 1.0), (-2.0, 3.0), (-1.1, 0.1), (-0.0, 0.0)]


def _special(dtype, lo, hi):
    """Values at and next to both corners (the bounds rounded to dtype, as NumPy rounds them), signed
    zeros, NaNs of both signs and infinities, then random ones."""
    lo_, hi_ = dtype(lo), dtype(hi)
    near = [lo_, hi_, np.nextafter(lo_, dtype(-np.inf)), np.nextafter(lo_, dtype(np.inf)),
            np.nextafter(hi_, dtype(-np.inf)), np.nextafter(hi_, dtype(np.inf)), lo, hi]
    special = np.array([*near, -0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf], dtype=dtype)
    rest = np.random.default_rng(3).uniform(lo - 2, hi + 2, 5000).astype(dtype)
    return np.concatenate([special, rest])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bounds", BOUNDS)
def test_hardtanh_kernels_bitwise_equal_numpy(dtype, bounds):
    lo, hi = bounds
    x = _special(dtype, lo, hi).reshape(2, -1)
    y, mask = NB.hardtanh_forward(x, lo, hi)
    ref = np.clip(x, lo, hi)
    assert y.dtype == dtype and mask.dtype == np.bool_
    np.testing.assert_array_equal(y.view(np.uint8), ref.view(np.uint8))       # NaN payloads, signed zeros
    np.testing.assert_array_equal(mask, (x > lo) & (x < hi))
    gy = np.random.default_rng(4).standard_normal(x.shape).astype(dtype)
    gy[0, :3] = [np.nan, np.inf, -0.0]
    with np.errstate(invalid="ignore"):                                      # inf * 0 = NaN in both
        ref = gy * mask
    np.testing.assert_array_equal(NB.hardtanh_backward(gy, mask).view(np.uint8), ref.view(np.uint8))


@pytest.mark.parametrize("op", [lambda t: F.relu6(t), lambda t: F.hardtanh(t, -1.1, 0.1)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hardtanh_op_takes_the_kernels_and_matches_bitwise(op, dtype):
    data = np.tile(_special(dtype, -1.1, 6.0), 8)                # 40k elements: above HARDTANH_MIN_SIZE
    assert data.size >= NB.HARDTANH_MIN_SIZE
    u = np.random.default_rng(5).standard_normal(data.size).astype(dtype)
    results = []
    for name in ("numba", "numpy"):
        with tinycnn.config(kernels=name):
            x = Tensor(data.copy(), requires_grad=True)
            y = op(x)
            y.backward(Tensor(u))
        results.append((y.numpy(), x.grad.numpy()))
    for got, want in zip(*results):
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


def test_hardtanh_op_calls_the_kernels_and_gradcheck_passes(calls):
    rng = np.random.default_rng(6)
    x = Tensor(rng.uniform(-0.9, 6.9, (3, 7)), requires_grad=True)       # no point within 1e-6 of a corner
    with tinycnn.config(kernels="numba"):
        assert tinycnn.gradcheck(lambda t: F.relu6(t), [x])
    assert calls["hardtanh_forward"] > 0 and calls["hardtanh_backward"] > 0


def test_memory_bound_kernels_put_numbas_thread_count_back(monkeypatch):
    numba = pytest.importorskip("numba")
    from tinycnn.accel import threads

    before = numba.get_num_threads()
    NB.hardtanh_forward(np.zeros(10), 0.0, 6.0)
    assert numba.get_num_threads() == before

    def failing(*_):
        assert numba.get_num_threads() == min(before, threads.MEMORY_BOUND_THREADS or before)
        raise RuntimeError("kernel failed")

    big = np.zeros(threads.SMALL_WORK)
    for cap in (None, 1):                        # all threads (the default), and a cap
        monkeypatch.setattr(threads, "MEMORY_BOUND_THREADS", cap)
        with pytest.raises(RuntimeError, match="kernel failed"):
            threads.run_memory_bound(failing, big)
        assert numba.get_num_threads() == before


def test_small_kernel_calls_run_on_one_thread_and_put_the_count_back():
    numba = pytest.importorskip("numba")
    from tinycnn.accel import threads

    before = numba.get_num_threads()
    seen = []

    def kernel(*_):
        seen.append(numba.get_num_threads())
        raise RuntimeError("kernel failed")

    for size in (threads.SMALL_WORK - 1, threads.SMALL_WORK):
        with pytest.raises(RuntimeError, match="kernel failed"):
            threads.run_parallel(kernel, np.zeros(size), work=size)
        assert numba.get_num_threads() == before
    assert seen == [1, before]
