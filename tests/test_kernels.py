"""The kernel sets: NumPy reference vs Numba give the same numbers; im2col/col2im are adjoint; the
dispatcher honours tinycnn.config(kernels=...); the NumPy path works with Numba absent."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycnn
from tinycnn import kernels
from tinycnn.kernels import interface
from tinycnn.kernels import numpy_kernels as NP
from tinycnn.ops._sizes import pool_output_size

from helpers import use_config

NB = pytest.importorskip("tinycnn.accel.numba_kernels")


# (N, C, H, W, kernel, stride, padding (t, b, l, r), dilation)
CONV_CASES = [
    (2, 3, 7, 8, (3, 3), (1, 1), (0, 0, 0, 0), (1, 1)),
    (2, 2, 9, 7, (3, 2), (2, 3), (1, 1, 2, 2), (1, 2)),
    (1, 3, 11, 11, (5, 5), (4, 4), (2, 2, 2, 2), (1, 1)),
    (3, 1, 6, 5, (2, 4), (1, 1), (1, 2, 0, 3), (2, 1)),      # asymmetric ('same'-like) padding
    (1, 2, 4, 4, (1, 1), (3, 3), (3, 3, 3, 3), (1, 1)),      # padding wider than the kernel
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_im2col_col2im_same_in_both_sets(case, dtype):
    n, c, h, w, k, s, p, d = case
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    a, b = NP.im2col(x, k, s, p, d), NB.im2col(x, k, s, p, d)
    assert a.dtype == b.dtype == dtype and a.shape == b.shape and a.flags.c_contiguous
    np.testing.assert_array_equal(a, b)
    cols = rng.standard_normal(a.shape).astype(dtype)
    ga, gb = NP.col2im(cols, x.shape, k, s, p, d), NB.col2im(cols, x.shape, k, s, p, d)
    assert ga.dtype == gb.dtype == dtype and ga.shape == x.shape
    np.testing.assert_allclose(ga, gb, rtol=0, atol=1e-12 if dtype == np.float64 else 1e-5)


@pytest.mark.parametrize("case", CONV_CASES, ids=[str(i) for i in range(len(CONV_CASES))])
def test_col2im_is_the_adjoint_of_im2col(case):
    """<im2col(x), c> == <x, col2im(c)> for all x, c: col2im is exactly the transpose of the linear map."""
    n, c, h, w, k, s, p, d = case
    rng = np.random.default_rng(1)
    x = rng.standard_normal((n, c, h, w))
    cols = NP.im2col(x, k, s, p, d)
    r = rng.standard_normal(cols.shape)
    for mod in (NP, NB):
        np.testing.assert_allclose(np.sum(mod.im2col(x, k, s, p, d) * r),
                                   np.sum(x * mod.col2im(r, x.shape, k, s, p, d)), rtol=1e-12)


def test_im2col_layout():
    """cols[(c*kh + i)*kw + j, n*L + a*OW + b] = x[n, c, a*s + i*d - p, b*s + j*d - p]."""
    x = np.arange(2 * 2 * 4 * 5, dtype=np.float64).reshape(2, 2, 4, 5)
    for mod in (NP, NB):
        cols = mod.im2col(x, (2, 2), (1, 2), (0, 0, 0, 0), (1, 1))   # OH = 3, OW = 2
        assert cols.shape == (8, 2 * 6)
        assert cols[(1 * 2 + 1) * 2 + 0, 1 * 6 + 2 * 2 + 1] == x[1, 1, 2 + 1, 1 * 2 + 0]


POOL_CASES = [  # (H, W, kernel, stride, padding, dilation, ceil_mode)
    (8, 8, (2, 2), (2, 2), (0, 0), (1, 1), False),
    (13, 12, (3, 3), (2, 2), (1, 1), (1, 1), True),
    (9, 7, (3, 2), (2, 1), (1, 1), (2, 1), False),
    (6, 6, (3, 3), (2, 2), (1, 1), (1, 1), True),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", POOL_CASES, ids=[str(i) for i in range(len(POOL_CASES))])
def test_pool_kernels_same_in_both_sets(case, dtype):
    h, w, k, s, p, d, ceil = case
    out = tuple(pool_output_size((h, w)[a], k[a], s[a], p[a], d[a], ceil) for a in range(2))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, h, w)).astype(dtype)
    x[0, 0, :2, :2] = 1.0                                         # some ties
    (ya, ia), (yb, ib) = NP.max_pool2d_forward(x, k, s, p, d, out), NB.max_pool2d_forward(x, k, s, p, d, out)
    assert ya.dtype == yb.dtype == dtype and ia.dtype == ib.dtype == np.int64
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_array_equal(ia, ib)
    gy = rng.standard_normal(ya.shape).astype(dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    ga, gb = NP.max_pool2d_backward(gy, ia, x.shape), NB.max_pool2d_backward(gy, ib, x.shape)
    assert ga.dtype == gb.dtype == dtype
    np.testing.assert_allclose(ga, gb, rtol=0, atol=tol)
    for cip in (True, False):
        for div in (None, 3):
            args = (k, s, p, out, cip, div)
            ya, yb = NP.avg_pool2d_forward(x, *args), NB.avg_pool2d_forward(x, *args)
            assert ya.dtype == yb.dtype == dtype
            np.testing.assert_allclose(ya, yb, rtol=0, atol=tol)
            ga, gb = NP.avg_pool2d_backward(gy, x.shape, *args), NB.avg_pool2d_backward(gy, x.shape, *args)
            assert ga.dtype == gb.dtype == dtype
            np.testing.assert_allclose(ga, gb, rtol=0, atol=tol)


def test_both_modules_export_the_same_functions():
    names = ["im2col", "col2im", "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
             "avg_pool2d_backward"]
    import inspect
    for name in names:
        assert inspect.signature(getattr(NP, name)) == inspect.signature(getattr(NB, name)), name


# ---- the interface ------------------------------------------------------------------------------------------
def test_both_sets_implement_the_declared_interface():
    assert NP.PROVIDES == frozenset() and NB.PROVIDES == frozenset(interface.CAPABILITIES)
    assert interface.check(NP) is NP and interface.check(NB, reference=NP) is NB
    for name in interface.functions(NB):
        assert hasattr(NB, name), name


def test_a_set_missing_a_declared_function_is_refused_naming_it():
    import types
    broken = types.ModuleType("broken")
    broken.NAME, broken.PROVIDES = "broken", frozenset({"relu"})
    for name in interface.REQUIRED:
        setattr(broken, name, getattr(NP, name))
    broken.relu_forward = NB.relu_forward
    with pytest.raises(TypeError, match=r"kernel set 'broken' lacks relu_backward, RELU_MIN_SIZE"):
        interface.check(broken)
    broken.PROVIDES = frozenset({"fft"})
    with pytest.raises(TypeError, match=r"declares unknown capabilities \['fft'\]"):
        interface.check(broken)
    broken.PROVIDES = frozenset()
    broken.im2col = lambda x, kernel_size: None
    with pytest.raises(TypeError, match=r"kernel set 'broken': im2col\(x, kernel_size\) differs"):
        interface.check(broken, reference=NP)


def test_ops_ask_the_interface_not_hasattr():
    import pathlib
    ops = pathlib.Path(kernels.__file__).parent.parent / "ops"
    for path in ops.glob("*.py"):
        assert "hasattr(kern" not in path.read_text() and "hasattr(get_kernels" not in path.read_text(), path


# ---- the dispatcher -------------------------------------------------------------------------------------------
def test_dispatcher_follows_the_config():
    x = np.zeros((1, 1, 2, 2))
    if tinycnn.get_config().kernels == "auto":
        assert kernels.get_kernels(x) is NB                  # numba installed -> numba by default
    use_config(kernels="numpy")
    assert kernels.get_kernels(x) is NP and kernels.get_kernels_name() == "numpy"
    use_config(kernels="numba")
    assert kernels.get_kernels(x) is NB                      # the inner scope wins
    use_config(kernels="auto")
    assert kernels.get_kernels(x) is NB


def test_dispatcher_without_numba(monkeypatch):
    use_config(kernels="auto")
    monkeypatch.setattr(sys.modules["tinycnn.config"], "_numba_installed", False)
    monkeypatch.setattr(kernels, "_numba_kernels", None)
    assert kernels.get_kernels(np.zeros(1)) is NP
    with pytest.raises(ImportError, match="numba is not installed"):
        use_config(kernels="numba")


def test_numpy_path_runs_with_numba_uninstalled():
    """A fresh interpreter where `import numba` fails: conv + pooling forward/backward still work."""
    code = (
        "import sys; sys.modules['numba'] = None\n"
        "import importlib.util as u; real = u.find_spec\n"
        "u.find_spec = lambda name, *a: None if name == 'numba' else real(name, *a)\n"
        "import numpy as np, tinycnn, tinycnn.nn as nn\n"
        "from tinycnn import kernels\n"
        "assert kernels.get_kernels_name() == 'numpy', kernels.get_kernels_name()\n"
        "m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.MaxPool2d(2), nn.AvgPool2d(2))\n"
        "x = tinycnn.randn(2, 1, 9, 9, requires_grad=True)\n"
        "m(x).sum().backward()\n"
        "assert x.grad.shape == (2, 1, 9, 9) and 'tinycnn.accel.numba_kernels' not in sys.modules\n"
        "print('ok')\n")
    env = {k: v for k, v in os.environ.items() if k != "TINYCNN_KERNELS"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), timeout=120)
    assert res.returncode == 0 and "ok" in res.stdout, res.stderr


# ---- property test --------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 2), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       k=st.tuples(st.integers(1, 4), st.integers(1, 4)), s=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       p=st.tuples(*[st.integers(0, 2)] * 4), d=st.tuples(st.integers(1, 2), st.integers(1, 2)))
def test_property_im2col_col2im_agree(n, c, h, w, k, s, p, d):
    if h + p[0] + p[1] < d[0] * (k[0] - 1) + 1 or w + p[2] + p[3] < d[1] * (k[1] - 1) + 1:
        return                                          # the kernel does not fit: nothing to compare
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w))
    a = NP.im2col(x, k, s, p, d)
    np.testing.assert_array_equal(a, NB.im2col(x, k, s, p, d))
    r = rng.standard_normal(a.shape)
    np.testing.assert_allclose(NP.col2im(r, x.shape, k, s, p, d), NB.col2im(r, x.shape, k, s, p, d),
                               rtol=0, atol=1e-12)


def test_im2col_padding_wider_than_the_output_row_stays_in_its_row():
    """Found by the property test: with left padding past the whole output row (k=(1, 4), dilation 2, padding
    2, one output column), the Numba im2col wrote its leading zeros into the next image's columns."""
    x = np.arange(1.0, 7.0).reshape(2, 1, 1, 3)
    args = ((1, 4), (2, 1), (0, 0, 2, 2), (1, 2))
    np.testing.assert_array_equal(NB.im2col(x, *args), NP.im2col(x, *args))
    assert NB.im2col(x, *args)[2].tolist() == [3.0, 6.0]      # tap j=2 reads column 2 of each image
