"""Property-based fuzzing of every differentiable op.

For random valid shapes and hyperparameters each op must
  * give the output shape of its documented formula,
  * have gradients that pass ``tinycnn.gradcheck`` (float64; directional mode for bigger inputs),
  * agree with PyTorch in float64 (forward and backward) where torch is installed;
and for random *invalid* arguments it must raise tinycnn's own ``ValueError``/``TypeError`` naming the op or
the argument -- never an IndexError or a NumPy message from deep inside.

Examples are derandomized (the same every run, so CI is stable) and few per test (``FUZZ``). To fuzz for real:
``TINYCNN_FUZZ_RANDOM=1 TINYCNN_FUZZ_EXAMPLES=500 pytest tests/test_fuzz_ops.py``.
Values are drawn by NumPy from a drawn seed (much faster than element-wise strategies); values that would
land on a kink of a piecewise op are pushed away from it so central differences are meaningful.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tinycnn as tc
import tinycnn.nn.functional as F
from tinycnn import Tensor, gradcheck
from tinycnn.ops import conv as conv_ops

TORCH_DEFAULT_DTYPE = "float64"  # set per test by tests/conftest.py

try:
    import torch
    torch.set_num_threads(1)   # tiny tensors; torch's spinning OpenMP threads would starve Numba's
    import torch.nn.functional as TF
except ImportError:  # the oracle is optional: the rest of every test still runs
    torch = TF = None

FUZZ = settings(max_examples=int(os.environ.get("TINYCNN_FUZZ_EXAMPLES", "20")), deadline=None,
                derandomize=os.environ.get("TINYCNN_FUZZ_RANDOM") != "1", database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
FEW = settings(FUZZ, max_examples=max(5, FUZZ.max_examples // 2))

# Fragments of messages that betray an error escaping from NumPy / Python internals instead of tinycnn.
INTERNAL = ("could not be broadcast", "out of bounds", "cannot reshape", "unsupported operand", "tuple index",
            "list index", "NoneType", "object is not", "invalid literal", "could not convert",
            "setting an array element", "axis", "zero-size array")

seeds = st.integers(0, 2**31 - 1)
small_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


# ---- helpers -------------------------------------------------------------------------------------------------
def rand(seed, shape, low=-3.0, high=3.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def away_from(x, points, margin=1e-3):
    """Push values lying within ``margin`` of a kink out to the margin (central differences jump a kink)."""
    x = np.array(x, dtype=np.float64)
    for p in points:
        near = np.abs(x - p) < margin
        x[near] = p + np.where(x[near] >= p, margin, -margin)
    return x


def check_grad(fn, arrays, directional=None, **kw):
    """gradcheck in float64; directional for more than a few hundred elements (fast on 2 cores)."""
    if directional is None:
        directional = sum(np.size(a) for a in arrays if np.asarray(a).dtype.kind == "f") > 300
    return gradcheck(fn, [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays],
                     directional=directional, n_directions=6, **kw)


def torch_agrees(ours, theirs, arrays, atol=1e-9, rtol=1e-7, upstream_seed=7):
    """Forward and all input gradients equal PyTorch's in float64."""
    if torch is None:
        return
    xs = [Tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    ts = [torch.tensor(np.array(a, dtype=np.float64), requires_grad=True) for a in arrays]
    y, ty = ours(*xs), theirs(*ts)
    assert tuple(y.shape) == tuple(ty.shape), f"shape {tuple(y.shape)} vs torch {tuple(ty.shape)}"
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward")
    u = np.random.default_rng(upstream_seed).standard_normal(tuple(y.shape))
    if y.requires_grad:
        y.backward(Tensor(u))
    if ty.requires_grad:
        ty.backward(torch.tensor(u))
    for i, (x, t) in enumerate(zip(xs, ts)):
        g = x.grad.numpy() if x.grad is not None else np.zeros(x.shape)
        tg = t.grad.numpy() if t.grad is not None else np.zeros(tuple(t.shape))
        np.testing.assert_allclose(g, tg, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}")


def assert_clear_error(fn, *names):
    """fn raises ValueError/TypeError whose message names one of ``names`` and no NumPy internals.

    An IndexError or any other type is deliberately *not* caught, so the test fails with its traceback.
    """
    with pytest.raises((ValueError, TypeError)) as info:
        fn()
    msg = str(info.value)
    assert any(n in msg for n in names), f"message does not name any of {names}: {msg!r}"
    assert not any(bad in msg for bad in INTERNAL if bad not in " ".join(names)), \
        f"message looks like an internal NumPy/Python error: {msg!r}"
    return msg


def conv_out(size, k, s, p_total, d):
    return (size + p_total - d * (k - 1) - 1) // s + 1


# ---- elementwise ops and activations ---------------------------------------------------------------------------
# name -> (ours(x, prm), torch(x, prm), kinks(prm), value range, params strategy)
_UNARY = {
    "relu": (lambda x, p: F.relu(x), lambda x, p: TF.relu(x), lambda p: [0.0], (-3, 3), st.none()),
    "relu6": (lambda x, p: F.relu6(x), lambda x, p: TF.relu6(x), lambda p: [0.0, 6.0], (-2, 8), st.none()),
    "leaky_relu": (lambda x, p: F.leaky_relu(x, p), lambda x, p: TF.leaky_relu(x, p), lambda p: [0.0], (-3, 3),
                   st.floats(-1.0, 1.0)),
    "elu": (lambda x, p: F.elu(x, p), lambda x, p: TF.elu(x, p), lambda p: [0.0], (-4, 3), st.floats(0.1, 2.0)),
    "hardtanh": (lambda x, p: F.hardtanh(x, p[0], p[1]), lambda x, p: TF.hardtanh(x, p[0], p[1]),
                 lambda p: list(p), (-3, 3),
                 st.tuples(st.floats(-2, 0), st.floats(0.01, 2)).map(lambda t: (t[0], t[0] + t[1]))),
    "sigmoid": (lambda x, p: F.sigmoid(x), lambda x, p: torch.sigmoid(x), lambda p: [], (-30, 30), st.none()),
    "tanh": (lambda x, p: F.tanh(x), lambda x, p: torch.tanh(x), lambda p: [], (-5, 5), st.none()),
    "hardsigmoid": (lambda x, p: F.hardsigmoid(x), lambda x, p: TF.hardsigmoid(x), lambda p: [-3.0, 3.0], (-5, 5),
                    st.none()),
    "hardswish": (lambda x, p: F.hardswish(x), lambda x, p: TF.hardswish(x), lambda p: [-3.0, 3.0], (-5, 5),
                  st.none()),
    "silu": (lambda x, p: F.silu(x), lambda x, p: TF.silu(x), lambda p: [], (-6, 6), st.none()),
    "exp": (lambda x, p: tc.exp(x), lambda x, p: torch.exp(x), lambda p: [], (-5, 5), st.none()),
    "log": (lambda x, p: tc.log(x), lambda x, p: torch.log(x), lambda p: [], (0.05, 5), st.none()),
    "sqrt": (lambda x, p: tc.sqrt(x), lambda x, p: torch.sqrt(x), lambda p: [], (0.05, 5), st.none()),
    "abs": (lambda x, p: tc.abs(x), lambda x, p: torch.abs(x), lambda p: [0.0], (-3, 3), st.none()),
    "neg": (lambda x, p: -x, lambda x, p: -x, lambda p: [], (-3, 3), st.none()),
    "clamp": (lambda x, p: tc.clamp(x, p[0], p[1]), lambda x, p: torch.clamp(x, p[0], p[1]), lambda p: list(p),
              (-3, 3), st.tuples(st.floats(-2, 0), st.floats(0.01, 2)).map(lambda t: (t[0], t[0] + t[1]))),
    "pow_scalar": (lambda x, p: x ** p, lambda x, p: x ** p, lambda p: [], (0.1, 3),
                   st.sampled_from([-1.5, 0.5, 2, 3])),
}


@FUZZ
@given(name=st.sampled_from(sorted(_UNARY)), shape=small_shapes, seed=seeds, data=st.data())
def test_unary_ops(name, shape, seed, data):
    ours, theirs, kinks, (lo, hi), params = _UNARY[name]
    p = data.draw(params, label="param")
    x = away_from(rand(seed, shape, lo, hi), kinks(p))
    y = ours(Tensor(x), p)
    assert tuple(y.shape) == shape  # elementwise: the shape is kept
    y32 = ours(Tensor(x.astype(np.float32), requires_grad=True), p)
    assert y32.dtype == np.float32, f"{name} turned float32 into {y32.dtype}"
    check_grad(lambda t: ours(t, p), [x])
    if torch is not None:
        torch_agrees(lambda t: ours(t, p), lambda t: theirs(t, p), [x])


@FUZZ
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple), seed=seeds, data=st.data(),
       scale=st.sampled_from([1.0, 30.0, 1e4]), log=st.booleans())
def test_softmax_family(shape, seed, data, scale, log):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1), label="dim")
    x = rand(seed, shape) * scale
    fn = F.log_softmax if log else F.softmax
    y = fn(Tensor(x), dim=dim)
    assert tuple(y.shape) == shape and np.isfinite(y.numpy()).all()
    if not log:
        np.testing.assert_allclose(y.numpy().sum(axis=dim), 1.0, rtol=1e-12)
    if scale < 100:  # at 1e4 the softmax is one-hot: the gradient is ~0 and finite differences meaningless
        check_grad(lambda t: fn(t, dim=dim), [x])
    if torch is not None:
        torch_agrees(lambda t: fn(t, dim=dim), lambda t: (TF.log_softmax if log else TF.softmax)(t, dim=dim), [x])
    bad = data.draw(st.sampled_from([len(shape), -len(shape) - 1, len(shape) + 3]), label="bad dim")
    assert_clear_error(lambda: fn(Tensor(x), dim=bad), "dim")


# ---- broadcasting arithmetic, matmul ---------------------------------------------------------------------------
@st.composite
def broadcast_pair(draw):
    """Two broadcast-compatible shapes: b drops some leading dims of a and sets some of its dims to 1
    (and a may have 1s where b is bigger)."""
    base = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4))
    a = [draw(st.sampled_from([n, 1])) for n in base]
    b = [draw(st.sampled_from([n, 1])) for n in base]
    b = b[draw(st.integers(0, len(b) - 1)):]
    if draw(st.booleans()):
        a, b = b, a
    return tuple(a), tuple(b)


_BINARY = {"add": (lambda a, b: a + b, tc.add), "sub": (lambda a, b: a - b, tc.sub),
           "mul": (lambda a, b: a * b, tc.mul), "div": (lambda a, b: a / b, tc.div),
           "pow": (lambda a, b: a ** b, tc.pow), "maximum": (None, tc.maximum), "minimum": (None, tc.minimum)}


@FUZZ
@given(shapes=broadcast_pair(), name=st.sampled_from(sorted(_BINARY)), seed=seeds)
def test_broadcast_binary(shapes, name, seed):
    (sa, sb), (operator, function) = shapes, _BINARY[name]
    a = rand(seed, sa)
    b = rand(seed + 1, sb)
    if name == "div":
        b = away_from(b, [0.0], 0.3)
    if name == "pow":
        a = np.abs(a) + 0.2
    fn = function if operator is None else operator
    y = fn(Tensor(a), Tensor(b))
    assert tuple(y.shape) == np.broadcast_shapes(sa, sb)
    check_grad(fn, [a, b])
    if torch is not None:
        tfn = {"maximum": torch.maximum, "minimum": torch.minimum}.get(name, fn)
        torch_agrees(fn, tfn, [a, b])


@FEW
@given(sa=st.lists(st.integers(2, 4), min_size=1, max_size=3).map(tuple), seed=seeds, data=st.data())
def test_broadcast_mismatch_is_clear(sa, seed, data):
    axis = data.draw(st.integers(0, len(sa) - 1))
    sb = list(sa)
    sb[axis] += data.draw(st.integers(1, 3))
    for name, fn in (("add", tc.add), ("mul", tc.mul), ("sub", tc.sub), ("div", tc.div)):
        assert_clear_error(lambda: fn(Tensor(rand(seed, sa)), Tensor(rand(seed, tuple(sb)))), name)


@FUZZ
@given(n=st.integers(1, 4), k=st.integers(1, 4), m=st.integers(1, 4), seed=seeds,
       batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), kind=st.sampled_from(["mm", "mv", "vm", "bmm"]))
def test_matmul(n, k, m, seed, batch, kind):
    sa, sb = {"mm": ((n, k), (k, m)), "mv": ((n, k), (k,)), "vm": ((k,), (k, m)),
              "bmm": (batch + (n, k), (k, m))}[kind]
    a, b = rand(seed, sa), rand(seed + 1, sb)
    y = Tensor(a) @ Tensor(b)
    assert tuple(y.shape) == np.matmul(a, b).shape
    check_grad(lambda x, w: x @ w, [a, b])
    if torch is not None:
        torch_agrees(lambda x, w: x @ w, lambda x, w: x @ w, [a, b])
    bad = sb[:-2] + (k + 1,) + sb[-1:] if len(sb) > 1 else (k + 1,)
    assert_clear_error(lambda: Tensor(a) @ Tensor(rand(seed, bad)), "matmul")


# ---- reductions ------------------------------------------------------------------------------------------------
@FUZZ
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), seed=seeds, data=st.data(),
       keepdim=st.booleans(), op=st.sampled_from(["sum", "mean", "var", "std", "amax", "amin", "max_dim"]))
def test_reductions(shape, seed, data, keepdim, op):
    nd = len(shape)
    x = rand(seed, shape)
    if op == "max_dim":
        dim = data.draw(st.integers(-nd, nd - 1), label="dim")
        fn = lambda t: tc.max(t, dim, keepdim=keepdim).values
        tfn = lambda t: torch.max(t, dim, keepdim=keepdim).values
        expected = np.max(x, axis=dim, keepdims=keepdim).shape
    else:
        dims = tuple(data.draw(st.sets(st.integers(0, nd - 1), min_size=1), label="dims"))
        if op in ("var", "std"):
            if np.prod([shape[d] for d in dims]) < 2:
                dims = tuple(range(nd))
                if x.size < 2:
                    x = rand(seed, shape + (2,))
                    dims, nd = tuple(range(x.ndim)), x.ndim
            fn = lambda t: getattr(tc, op)(t, dims, keepdim=keepdim)
            tfn = lambda t: getattr(torch, op)(t, dims, keepdim=keepdim)
        else:
            fn = lambda t: getattr(tc, op)(t, dims, keepdim=keepdim)
            tfn = lambda t: getattr(torch, op)(t, dims, keepdim=keepdim)
        expected = np.sum(x, axis=dims, keepdims=keepdim).shape
    y = fn(Tensor(x))
    assert tuple(y.shape) == expected
    check_grad(fn, [x])
    if torch is not None:
        torch_agrees(fn, tfn, [x])
    bad = data.draw(st.sampled_from([nd, -nd - 1, nd + 2]), label="bad dim")
    name = "max" if op == "max_dim" else op
    assert_clear_error(lambda: getattr(tc, name)(Tensor(x), bad), "dim")


# ---- shape ops -------------------------------------------------------------------------------------------------
@FUZZ
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple), seed=seeds, data=st.data(),
       op=st.sampled_from(["reshape", "permute", "transpose", "flatten", "unsqueeze", "squeeze", "expand",
                           "getitem", "split", "pad"]))
def test_shape_ops(shape, seed, data, op):
    nd = len(shape)
    x = rand(seed, shape)
    skip_torch = False
    d = data.draw(st.integers(-nd, nd - 1), label="dim")
    if op == "reshape":
        new = (-1,) + tuple(reversed(shape[1:]))
        fn = lambda t: t.reshape(*new)
        bad = lambda: Tensor(x).reshape(x.size + 1)
    elif op == "permute":
        perm = tuple(data.draw(st.permutations(range(nd)), label="perm"))
        fn = lambda t: t.permute(*perm)
        bad = lambda: Tensor(x).permute(*(perm + (0,)))
    elif op == "transpose":
        d2 = data.draw(st.integers(-nd, nd - 1), label="dim1")
        fn = lambda t: t.transpose(d, d2)
        bad = lambda: Tensor(x).transpose(d, nd + 1)
    elif op == "flatten":
        a, b = sorted((d % nd, data.draw(st.integers(0, nd - 1), label="end")))
        fn = lambda t: tc.flatten(t, a, b)
        bad = lambda: tc.flatten(Tensor(x), 0, nd + 1)
    elif op == "unsqueeze":
        u = data.draw(st.integers(-nd - 1, nd), label="udim")
        fn = lambda t: t.unsqueeze(u)
        bad = lambda: Tensor(x).unsqueeze(nd + 2)
    elif op == "squeeze":
        x = x.reshape(shape[:1] + (1,) + shape[1:])
        fn = lambda t: t.squeeze(1)
        bad = lambda: Tensor(x).squeeze(nd + 3)
    elif op == "expand":
        x = rand(seed, shape[:-1] + (1,))
        target = (2,) + shape
        fn = lambda t: t.expand(*target)
        bad = lambda: Tensor(rand(seed, (2, 3))).expand(4, 3)
    elif op == "getitem":
        idx = tuple(slice(data.draw(st.integers(0, n - 1)), None, data.draw(st.integers(1, 2))) for n in shape)
        fn = lambda t: t[idx]
        bad = lambda: Tensor(x).reshape(*(shape + (1,))).permute(0)
    elif op == "split":
        size = data.draw(st.integers(1, max(1, shape[d])), label="size")
        fn = lambda t: tc.cat([p * (i + 1) for i, p in enumerate(tc.split(t, size, d))], d)
        bad = lambda: tc.split(Tensor(x), 0, d)
    else:  # pad
        mode = data.draw(st.sampled_from(["constant", "reflect", "replicate", "circular"]), label="mode")
        k = data.draw(st.integers(1, min(nd, 3)), label="padded dims")
        limit = {"reflect": lambda n: n - 1, "circular": lambda n: n}.get(mode, lambda n: 3)
        widths = []
        for n in reversed(shape[nd - k:]):
            widths += [data.draw(st.integers(0, min(2, limit(n)))), data.draw(st.integers(0, min(2, limit(n))))]
        fn = lambda t: tc.pad(t, widths, mode=mode)
        bad = lambda: tc.pad(Tensor(x), [1] * (2 * nd + 2), mode=mode)
        # torch implements the non-constant modes only on (N, C, *spatial) with 1-3 padded dims
        skip_torch = mode != "constant" and not (k + 1 <= nd <= k + 2)
    y = fn(Tensor(x))
    assert y.numel() == y.numpy().size
    check_grad(fn, [x])
    if torch is not None and not skip_torch:
        if op == "flatten":
            tfn = lambda t: torch.flatten(t, a, b)
        elif op == "split":
            tfn = lambda t: torch.cat([p * (i + 1) for i, p in enumerate(torch.split(t, size, d))], d)
        elif op == "pad":
            tfn = lambda t: TF.pad(t, widths, mode=mode)
        elif op == "getitem":
            tfn = lambda t: t[idx]
        else:
            tfn = fn
        torch_agrees(fn, tfn, [x])
    assert_clear_error(bad, op, "dim", "pad", "shape", "split", "permute", "expand")


@FUZZ
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), seed=seeds, data=st.data(),
       count=st.integers(1, 3), stack=st.booleans())
def test_cat_stack(shape, seed, data, count, stack):
    nd = len(shape)
    d = data.draw(st.integers(-nd - stack, nd - 1 + stack), label="dim")
    shapes = [shape] * count
    if not stack:
        sizes = data.draw(st.lists(st.integers(1, 3), min_size=count, max_size=count), label="sizes")
        shapes = [tuple(s if i != d % nd else n for i, s in enumerate(shape)) for n in sizes]
    arrays = [rand(seed + i, s) for i, s in enumerate(shapes)]
    fn = (lambda *ts: tc.stack(list(ts), d)) if stack else (lambda *ts: tc.cat(list(ts), d))
    y = fn(*[Tensor(a) for a in arrays])
    expected = (np.stack if stack else np.concatenate)(arrays, axis=d).shape
    assert tuple(y.shape) == expected
    check_grad(fn, arrays)
    if torch is not None:
        torch_agrees(fn, (lambda *ts: torch.stack(ts, d)) if stack else (lambda *ts: torch.cat(ts, d)), arrays)
    other = Tensor(rand(seed, tuple(s + 1 for s in arrays[0].shape)))
    # stack: shapes differ; cat along 0: the other dims differ (or, for 1-D tensors, dim 5 does not exist)
    assert_clear_error(lambda: (tc.stack if stack else tc.cat)([Tensor(arrays[0]), other],
                                                                0 if stack or nd > 1 else 5),
                       "stack" if stack else "cat")


# ---- linear ----------------------------------------------------------------------------------------------------
@FUZZ
@given(batch=st.lists(st.integers(1, 3), max_size=2).map(tuple), fin=st.integers(1, 5), fout=st.integers(1, 5),
       bias=st.booleans(), seed=seeds)
def test_linear(batch, fin, fout, bias, seed):
    arrays = [rand(seed, batch + (fin,)), rand(seed + 1, (fout, fin))] + ([rand(seed + 2, (fout,))] if bias else [])
    y = F.linear(*[Tensor(a) for a in arrays])
    assert tuple(y.shape) == batch + (fout,)
    check_grad(F.linear, arrays)
    if torch is not None:
        torch_agrees(F.linear, TF.linear, arrays)
    assert_clear_error(lambda: F.linear(Tensor(rand(seed, batch + (fin + 1,))), Tensor(arrays[1])), "features")
    assert_clear_error(lambda: F.linear(Tensor(arrays[0]), Tensor(arrays[1]), Tensor(rand(seed, (fout + 1,)))),
                       "bias")


# ---- convolution -------------------------------------------------------------------------------------------------
@st.composite
def conv_case(draw):
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = draw(st.sampled_from(["int", "pair", "valid", "same"] if stride == (1, 1) else ["int", "pair"]))
    if padding == "int":
        padding = draw(st.integers(0, 2))
    elif padding == "pair":
        padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    p = (padding, padding) if isinstance(padding, int) else padding if isinstance(padding, tuple) else None
    ekh, ekw = dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1
    min_h = max(1, ekh - 2 * p[0]) if p else ekh
    min_w = max(1, ekw - 2 * p[1]) if p else ekw
    h, w = min_h + draw(st.integers(0, 4)), min_w + draw(st.integers(0, 4))
    n = draw(st.integers(1, 2))
    return dict(n=n, cin=cin, cout=cout, k=(kh, kw), stride=stride, padding=padding, dilation=dil,
                groups=groups, hw=(h, w), bias=draw(st.booleans()))


def _conv_expected_hw(c):
    (h, w), (kh, kw), (sh, sw), (dh, dw) = c["hw"], c["k"], c["stride"], c["dilation"]
    if c["padding"] == "same":
        return h, w
    p = (0, 0) if c["padding"] == "valid" else (c["padding"],) * 2 if isinstance(c["padding"], int) else c["padding"]
    return conv_out(h, kh, sh, 2 * p[0], dh), conv_out(w, kw, sw, 2 * p[1], dw)


@FUZZ
@given(c=conv_case(), seed=seeds)
def test_conv2d(c, seed):
    x = rand(seed, (c["n"], c["cin"]) + c["hw"])
    wt = rand(seed + 1, (c["cout"], c["cin"] // c["groups"]) + c["k"])
    arrays = [x, wt] + ([rand(seed + 2, (c["cout"],))] if c["bias"] else [])
    kw = {k: c[k] for k in ("stride", "padding", "dilation", "groups")}
    fn = lambda *ts: F_conv2d(*ts, **kw)
    y = fn(*[Tensor(a) for a in arrays])
    assert tuple(y.shape) == (c["n"], c["cout"]) + _conv_expected_hw(c)
    check_grad(fn, arrays, directional=True)
    # the two input-gradient formulations (textbook rot180 and col2im) agree on every case
    grads = {}
    for mode in ("rot180", "col2im"):
        with tc.config(conv_backward=mode):
            xt = Tensor(x, requires_grad=True)
            fn(xt, *[Tensor(a) for a in arrays[1:]]).sum().backward()
            grads[mode] = xt.grad.numpy()
    np.testing.assert_allclose(grads["rot180"], grads["col2im"], atol=1e-12)
    if torch is not None:
        torch_agrees(fn, lambda *ts: TF.conv2d(*ts, **kw), arrays)


def F_conv2d(*args, **kw):
    """F.conv2d once the conv/pool layers land in nn.functional; the op itself until then."""
    return getattr(F, "conv2d", conv_ops.conv2d)(*args, **kw)


@FUZZ
@given(c=conv_case(), seed=seeds, data=st.data())
def test_conv2d_invalid_arguments(c, seed, data):
    x = Tensor(rand(seed, (c["n"], c["cin"]) + c["hw"]))
    w = Tensor(rand(seed + 1, (c["cout"], c["cin"] // c["groups"]) + c["k"]))
    kw = {k: c[k] for k in ("stride", "padding", "dilation", "groups")}
    fault = data.draw(st.sampled_from(["channels", "ndim", "kernel", "stride", "padding", "dilation", "groups",
                                       "bias", "dtype", "padding_str", "stride_type"]), label="fault")
    if fault == "channels":
        call = lambda: F_conv2d(Tensor(rand(seed, (c["n"], c["cin"] + 1) + c["hw"])), w, **kw)
        names = ("input channels",)
    elif fault == "ndim":
        call = lambda: F_conv2d(Tensor(rand(seed, (c["cin"],) + c["hw"])), w, **kw)
        names = ("4-D",)
    elif fault == "kernel":
        big = tuple(s + 2 * 3 + 1 for s in c["hw"])
        call = lambda: F_conv2d(x, Tensor(rand(seed, (c["cout"], c["cin"] // c["groups"]) + big)),
                                **{**kw, "padding": 0})
        names = ("larger than the padded input",)
    elif fault in ("stride", "dilation"):
        value = data.draw(st.sampled_from([0, -1, (1, 0), (-2, 1)]), label="value")
        call = lambda: F_conv2d(x, w, **{**kw, fault: value, "padding": 0})
        names = (fault,)
    elif fault == "padding":
        call = lambda: F_conv2d(x, w, **{**kw, "padding": data.draw(st.sampled_from([-1, (0, -2)]))})
        names = ("padding",)
    elif fault == "padding_str":
        call = lambda: F_conv2d(x, w, **{**kw, "padding": "full"})
        names = ("padding",)
    elif fault == "stride_type":
        call = lambda: F_conv2d(x, w, **{**kw, "stride": 1.5})
        names = ("stride",)
    elif fault == "groups":
        call = lambda: F_conv2d(x, w, **{**kw, "groups": data.draw(st.sampled_from([0, -1, c["cout"] + 1]))})
        names = ("groups", "input channels")
    elif fault == "bias":
        call = lambda: F_conv2d(x, w, Tensor(rand(seed, (c["cout"] + 1,))), **kw)
        names = ("bias",)
    else:
        call = lambda: F_conv2d(x.float(), w.double(), **kw)
        names = ("float",)
    assert_clear_error(call, *names)


@FEW
@given(n=st.integers(1, 2), c=st.integers(1, 3), extra=st.tuples(st.integers(0, 4), st.integers(0, 4)),
       k=st.tuples(st.integers(1, 2), st.integers(1, 2)), s=st.integers(1, 2), p=st.integers(0, 1),
       d=st.integers(1, 2), seed=seeds)
def test_unfold_fold(n, c, extra, k, s, p, d, seed):
    hw = tuple(max(1, d * (k[i] - 1) + 1 - 2 * p) + extra[i] for i in range(2))  # the dilated kernel fits
    x = rand(seed, (n, c) + hw)
    oh, ow = conv_out(hw[0], k[0], s, 2 * p, d), conv_out(hw[1], k[1], s, 2 * p, d)
    kw = dict(kernel_size=k, dilation=d, padding=p, stride=s)
    unfold = getattr(F, "unfold", conv_ops.unfold)
    fold = getattr(F, "fold", conv_ops.fold)
    y = unfold(Tensor(x), **kw)
    assert tuple(y.shape) == (n, c * k[0] * k[1], oh * ow)
    check_grad(lambda t: unfold(t, **kw), [x])
    cols = rand(seed + 1, (n, c * k[0] * k[1], oh * ow))
    check_grad(lambda t: fold(t, hw, **kw), [cols])
    if torch is not None:
        torch_agrees(lambda t: unfold(t, **kw), lambda t: TF.unfold(t, **kw), [x])
        torch_agrees(lambda t: fold(t, hw, **kw), lambda t: TF.fold(t, hw, **kw), [cols])
    assert_clear_error(lambda: fold(Tensor(rand(seed, (n, c * k[0] * k[1], oh * ow + 1))), hw, **kw), "fold")
    assert_clear_error(lambda: fold(Tensor(rand(seed, (n, 0, oh * ow))), hw, **kw), "fold")


# ---- pooling (lands with the conv/pool helper; skipped until then) -----------------------------------------------
def _pool_fns():
    names = ("max_pool2d", "avg_pool2d")
    if not all(hasattr(F, n) for n in names):
        pytest.skip("pooling ops not in tinycnn.nn.functional yet")
    return F.max_pool2d, F.avg_pool2d


@st.composite
def pool_case(draw):
    k = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    hw = (k[0] + draw(st.integers(0, 4)), k[1] + draw(st.integers(0, 4)))
    return dict(k=k, s=s, p=p, hw=hw, n=draw(st.integers(1, 2)), c=draw(st.integers(1, 3)),
                ceil=draw(st.booleans()), kind=draw(st.sampled_from(["max", "avg"])),
                include_pad=draw(st.booleans()))


def _pool_size(size, k, s, p, ceil):
    num = size + 2 * p - (k - 1) - 1
    out = (-(-num // s) if ceil else num // s) + 1
    if ceil and (out - 1) * s >= size + p:
        out -= 1
    return out


@FUZZ
@given(c=pool_case(), seed=seeds)
def test_pool2d(c, seed):
    max_pool2d, avg_pool2d = _pool_fns()
    x = rand(seed, (c["n"], c["c"]) + c["hw"])
    if c["kind"] == "max":
        kw = dict(kernel_size=c["k"], stride=c["s"], padding=c["p"], ceil_mode=c["ceil"])
        fn, tfn = (lambda t: max_pool2d(t, **kw)), (lambda t: TF.max_pool2d(t, **kw))
    else:
        kw = dict(kernel_size=c["k"], stride=c["s"], padding=c["p"], ceil_mode=c["ceil"],
                  count_include_pad=c["include_pad"])
        fn, tfn = (lambda t: avg_pool2d(t, **kw)), (lambda t: TF.avg_pool2d(t, **kw))
    y = fn(Tensor(x))
    expected = tuple(_pool_size(c["hw"][i], c["k"][i], c["s"][i], c["p"][i], c["ceil"]) for i in range(2))
    assert tuple(y.shape) == (c["n"], c["c"]) + expected
    check_grad(fn, [x])
    if torch is not None:
        torch_agrees(fn, tfn, [x])


@FUZZ
@given(c=pool_case(), seed=seeds, data=st.data())
def test_pool2d_invalid_arguments(c, seed, data):
    max_pool2d, avg_pool2d = _pool_fns()
    pool = max_pool2d if c["kind"] == "max" else avg_pool2d
    x = Tensor(rand(seed, (c["n"], c["c"]) + c["hw"]))
    fault = data.draw(st.sampled_from(["kernel0", "stride0", "pad_big", "pad_neg", "ndim", "too_small"]))
    kw = dict(kernel_size=c["k"], stride=c["s"], padding=c["p"])
    if fault == "kernel0":
        kw["kernel_size"], names = 0, ("kernel_size",)
    elif fault == "stride0":
        kw["stride"], names = (1, 0), ("stride",)
    elif fault == "pad_big":
        kw["padding"], names = c["k"][0] // 2 + 1, ("pad",)
    elif fault == "pad_neg":
        kw["padding"], names = -1, ("pad",)
    elif fault == "ndim":
        x, names = Tensor(rand(seed, c["hw"])), ("3-D", "4-D", "input")
    else:
        kw.update(kernel_size=tuple(s + 2 * p + 1 for s, p in zip(c["hw"], c["p"]))), kw.update(padding=0)
        names = ("kernel", "input", "size")
    assert_clear_error(lambda: pool(x, **kw), *names)


@FEW
@given(n=st.integers(1, 2), c=st.integers(1, 3), hw=st.tuples(st.integers(1, 7), st.integers(1, 7)),
       out=st.tuples(st.integers(1, 4), st.integers(1, 4)), kind=st.sampled_from(["max", "avg"]), seed=seeds)
def test_adaptive_pool2d(n, c, hw, out, kind, seed):
    name = f"adaptive_{kind}_pool2d"
    if not hasattr(F, name):
        pytest.skip(f"{name} not in tinycnn.nn.functional yet")
    x = rand(seed, (n, c) + hw)
    fn = lambda t: getattr(F, name)(t, out)
    y = fn(Tensor(x))
    y = y[0] if isinstance(y, tuple) else y
    assert tuple(y.shape) == (n, c) + out
    check_grad(lambda t: (lambda r: r[0] if isinstance(r, tuple) else r)(fn(t)), [x])
    if torch is not None:
        torch_agrees(lambda t: (lambda r: r[0] if isinstance(r, tuple) else r)(fn(t)),
                     lambda t: getattr(TF, name)(t, out), [x])


# ---- normalisation, dropout, channel shuffle ------------------------------------------------------------------
@FUZZ
@given(n=st.integers(1, 4), c=st.integers(1, 3), spatial=st.lists(st.integers(1, 3), max_size=2).map(tuple),
       affine=st.booleans(), training=st.booleans(), momentum=st.floats(0.0, 1.0), seed=seeds)
def test_batch_norm(n, c, spatial, affine, training, momentum, seed):
    shape = (n, c) + spatial
    if training and np.prod((n,) + spatial) < 2:
        shape = (2, c) + spatial
    x = rand(seed, shape)
    rm, rv = rand(seed + 1, (c,)), rand(seed + 2, (c,), 0.5, 2.0)
    wb = [rand(seed + 3, (c,)), rand(seed + 4, (c,))] if affine else []

    def ours(t, *p):
        return F.batch_norm(t, Tensor(rm.copy()), Tensor(rv.copy()), *p, training=training, momentum=momentum)

    assert tuple(ours(Tensor(x), *[Tensor(a) for a in wb]).shape) == shape
    check_grad(ours, [x] + wb)
    if torch is not None:
        torch_agrees(ours, lambda t, *p: TF.batch_norm(t, torch.tensor(rm), torch.tensor(rv), *p,
                                                       training=training, momentum=momentum), [x] + wb)
        r_ours, r_torch = [Tensor(rm.copy()), Tensor(rv.copy())], [torch.tensor(rm), torch.tensor(rv)]
        F.batch_norm(Tensor(x), *r_ours, training=training, momentum=momentum)
        TF.batch_norm(torch.tensor(x), *r_torch, training=training, momentum=momentum)
        for a, b in zip(r_ours, r_torch):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, err_msg="running statistics")
    assert_clear_error(lambda: F.batch_norm(Tensor(x), Tensor(rm[:-1] if c > 1 else np.zeros(2)), Tensor(rv),
                                            training=training), "running_mean")


@FEW
@given(n=st.integers(1, 2), c=st.integers(1, 6), hw=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       size=st.integers(1, 5), alpha=st.floats(1e-4, 1.0), beta=st.floats(0.1, 1.0), k=st.floats(0.5, 2.0),
       seed=seeds)
def test_local_response_norm(n, c, hw, size, alpha, beta, k, seed):
    x = rand(seed, (n, c) + hw)
    fn = lambda t: F.local_response_norm(t, size, alpha, beta, k)
    assert tuple(fn(Tensor(x)).shape) == x.shape
    check_grad(fn, [x])
    if torch is not None:
        torch_agrees(fn, lambda t: TF.local_response_norm(t, size, alpha, beta, k), [x])
    assert_clear_error(lambda: F.local_response_norm(Tensor(x), 0), "size")


@FEW
@given(n=st.integers(1, 3), groups=st.integers(1, 3), per=st.integers(1, 3), hw=st.integers(1, 3), seed=seeds)
def test_channel_shuffle(n, groups, per, hw, seed):
    c = groups * per
    x = rand(seed, (n, c, hw, hw))
    y = F.channel_shuffle(Tensor(x), groups)
    expected = x.reshape(n, groups, per, hw, hw).transpose(0, 2, 1, 3, 4).reshape(x.shape)
    np.testing.assert_array_equal(y.numpy(), expected)
    check_grad(lambda t: F.channel_shuffle(t, groups), [x])
    if c > 1:
        bad = next(g for g in range(2, c + 2) if c % g)
        assert_clear_error(lambda: F.channel_shuffle(Tensor(x), bad), "divisible", "groups")


@FEW
@given(shape=st.lists(st.integers(1, 4), min_size=3, max_size=4).map(tuple), p=st.floats(0.0, 0.95),
       feature=st.booleans(), seed=seeds)
def test_dropout(shape, p, feature, seed):
    """Random masks defeat finite differences, so check the defining identities: y = x * m / (1-p) with m in
    {0, 1} (constant per channel for dropout2d) and dL/dx = u * m / (1-p) for the same mask."""
    x = away_from(rand(seed, shape), [0.0], 0.1)
    xt = Tensor(x, requires_grad=True)
    y = (F.dropout2d if feature else F.dropout)(xt, p=p, training=True)
    mask = y.numpy() * (1 - p) / x
    assert np.all((np.abs(mask) < 1e-9) | (np.abs(mask - 1) < 1e-9))
    if feature:
        flat = np.round(mask).reshape(shape[0], shape[1], -1)
        assert np.all(flat == flat[:, :, :1])
    u = rand(seed + 1, shape)
    y.backward(Tensor(u))
    np.testing.assert_allclose(xt.grad.numpy(), u * np.round(mask) / (1 - p), atol=1e-12)
    np.testing.assert_array_equal(F.dropout(Tensor(x), p=p, training=False).numpy(), x)
    assert_clear_error(lambda: F.dropout(Tensor(x), p=1.5), "p")


# ---- losses ------------------------------------------------------------------------------------------------------
@FUZZ
@given(n=st.integers(1, 4), c=st.integers(2, 5), extra=st.lists(st.integers(1, 3), max_size=1).map(tuple),
       weighted=st.booleans(), ignore=st.booleans(), smoothing=st.sampled_from([0.0, 0.1, 0.5]),
       reduction=st.sampled_from(["mean", "sum", "none"]), nll=st.booleans(), seed=seeds)
def test_class_losses(n, c, extra, weighted, ignore, smoothing, reduction, nll, seed):
    rng = np.random.default_rng(seed)
    x = rand(seed, (n, c) + extra)
    target = rng.integers(0, c, size=(n,) + extra)
    kw = dict(reduction=reduction)
    if ignore:
        target.reshape(-1)[0] = -100 if rng.random() < 0.5 else 1
        kw["ignore_index"] = int(target.reshape(-1)[0])
        if (target != kw["ignore_index"]).sum() == 0 and reduction == "mean":
            kw["reduction"] = "sum"   # mean over zero samples is nan in both libraries
    w = rand(seed + 1, (c,), 0.2, 2.0) if weighted else None
    if nll:
        x = np.log(np.exp(x) / np.exp(x).sum(axis=1, keepdims=True))
        ours = lambda t: F.nll_loss(t, Tensor(target), weight=None if w is None else Tensor(w), **kw)
        theirs = lambda t: TF.nll_loss(t, torch.tensor(target), weight=None if w is None else torch.tensor(w),
                                       **kw)
    else:
        kw["label_smoothing"] = smoothing
        ours = lambda t: F.cross_entropy(t, Tensor(target), weight=None if w is None else Tensor(w), **kw)
        theirs = lambda t: TF.cross_entropy(t, torch.tensor(target),
                                            weight=None if w is None else torch.tensor(w), **kw)
    y = ours(Tensor(x))
    assert tuple(y.shape) == (() if kw["reduction"] != "none" else (n,) + extra)
    check_grad(ours, [x])
    if torch is not None:
        torch_agrees(ours, theirs, [x])
    name = "nll_loss" if nll else "cross_entropy"
    bad_target = target.copy()
    bad_target.reshape(-1)[-1] = c + rng.integers(0, 3)
    assert_clear_error(lambda: (F.nll_loss if nll else F.cross_entropy)(Tensor(x), Tensor(bad_target)), name)
    assert_clear_error(lambda: (F.nll_loss if nll else F.cross_entropy)(Tensor(x), Tensor(target[:0])), name)


@FUZZ
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=seeds,
       kind=st.sampled_from(["mse", "l1", "bce", "bce_logits"]), weighted=st.booleans(),
       reduction=st.sampled_from(["mean", "sum", "none"]))
def test_elementwise_losses(shape, seed, kind, weighted, reduction):
    x, target = rand(seed, shape), rand(seed + 1, shape, 0.0, 1.0)
    kw = dict(reduction=reduction)
    if kind in ("bce", "bce_logits") and weighted:
        kw["weight"] = rand(seed + 2, shape[-1:], 0.2, 2.0)
    if kind == "bce":
        x = rand(seed, shape, 0.05, 0.95)
    if kind == "l1":
        x = np.where(np.abs(x - target) < 1e-3, x + 0.01, x)
    fn = {"mse": F.mse_loss, "l1": F.l1_loss, "bce": F.binary_cross_entropy,
          "bce_logits": F.binary_cross_entropy_with_logits}[kind]
    tfn = {"mse": TF.mse_loss, "l1": TF.l1_loss, "bce": TF.binary_cross_entropy,
           "bce_logits": TF.binary_cross_entropy_with_logits}[kind] if torch is not None else None
    if kind == "bce_logits" and weighted:
        kw["pos_weight"] = rand(seed + 3, shape[-1:], 0.2, 3.0)
    ours_kw = {k: Tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    ours = lambda t, y: fn(t, y, **ours_kw)
    out = ours(Tensor(x), Tensor(target))
    assert tuple(out.shape) == (shape if reduction == "none" else ())
    check_grad(lambda t: ours(t, Tensor(target)), [x])
    if torch is not None:
        torch_kw = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        torch_agrees(ours, lambda t, y: tfn(t, y, **torch_kw), [x, target])
    name = {"mse": "mse_loss", "l1": "l1_loss", "bce": "binary_cross_entropy",
            "bce_logits": "binary_cross_entropy_with_logits"}[kind]
    assert_clear_error(lambda: fn(Tensor(x), Tensor(rand(seed, shape + (2,)))), name)
    assert_clear_error(lambda: fn(Tensor(x), Tensor(target), reduction="avg"), "reduction")


# ---- every op in the gradcheck registry, with fuzzed values -----------------------------------------------------
def _registry():
    from tinycnn.utils.gradcheck_registry import REGISTRY
    return REGISTRY


@FUZZ
@given(data=st.data(), seed=seeds)
def test_every_registered_op_with_random_values(data, seed):
    """Whatever ops the other modules register (pooling, normalisation...) get gradchecked here on fresh
    random values each example, so a new op is fuzzed the moment it is registered."""
    registry = _registry()
    name = data.draw(st.sampled_from(sorted(registry)), label="op")
    op = registry[name]
    inputs = op.make_inputs(np.random.default_rng(seed))
    ok = check_grad(op.fn, inputs, directional=sum(np.size(a) for a in inputs) > 200)
    assert ok
