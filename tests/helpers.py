"""Shared test helpers: finite-difference gradients and the standard checks every op goes through.

``numeric_grad(f, arrays)`` estimates d/dx_i of L = sum(u * f(x_1, ..., x_k)) by central differences, with
``u`` a fixed random upstream gradient (so every output element is weighted differently and a backward
that mixes up positions is caught). ``assert_grads_match`` compares that with what ``backward(u)`` gives.
"""
from __future__ import annotations

import contextlib
import sys

import numpy as np

import tinycnn
from tinycnn import Tensor, no_grad

_CONFIG_SCOPES = contextlib.ExitStack()


def use_config(**settings) -> None:
    """Enter ``tinycnn.config(**settings)`` until the running test ends (conftest.py closes the scopes)."""
    _CONFIG_SCOPES.enter_context(tinycnn.config(**settings))


def close_config_scopes() -> None:
    _CONFIG_SCOPES.close()


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def upstream_for(out, seed: int = 1):
    """A fixed random upstream gradient of ``out``'s shape and dtype."""
    return np.random.default_rng(seed).standard_normal(out.shape).astype(out.dtype)


def numeric_grad(f, arrays, eps: float = 1e-6, upstream=None, seed: int = 1):
    """Central-difference gradients of sum(upstream * f(*arrays)) w.r.t. each float array (None for others)."""
    arrays = [np.array(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in arrays]
    with no_grad():
        out = _first(f(*[Tensor(a) for a in arrays]))
        u = upstream if upstream is not None else upstream_for(out, seed)

        def loss():
            return float(np.sum(_first(f(*[Tensor(a) for a in arrays])).numpy() * u))

        grads = []
        for a in arrays:
            if a.dtype.kind != "f":
                grads.append(None)
                continue
            g = np.zeros_like(a)
            flat, gflat = a.reshape(-1), g.reshape(-1)
            for j in range(flat.size):
                orig = flat[j]
                flat[j] = orig + eps
                plus = loss()
                flat[j] = orig - eps
                minus = loss()
                flat[j] = orig
                gflat[j] = (plus - minus) / (2 * eps)
            grads.append(g)
    return grads


def analytic_grad(f, arrays, upstream=None, seed: int = 1):
    """(output array, [grad of each float input or None]) from one forward and ``backward(upstream)``."""
    tensors = [Tensor(np.array(a), requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    out = _first(f(*tensors))
    u = upstream if upstream is not None else upstream_for(out, seed)
    if out.requires_grad:
        out.backward(Tensor(u))
    grads = [None if not t.requires_grad else
             (t.grad.numpy() if t.grad is not None else np.zeros(t.shape, t.dtype)) for t in tensors]
    return out.numpy(), grads


def assert_grads_match(f, arrays, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-5):
    """The analytic gradient of every float64 input equals the central-difference estimate."""
    arrays = [np.asarray(a, dtype=np.float64) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in arrays]
    _, analytic = analytic_grad(f, arrays)
    numeric = numeric_grad(f, arrays, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        if n is None:
            continue
        np.testing.assert_allclose(a, n, atol=atol, rtol=rtol, err_msg=f"gradient of input {i}")


def lib(x):
    """The library ``x`` belongs to (tinycnn for a Tensor, else torch), so one lambda serves both."""
    return tinycnn if isinstance(x, Tensor) else sys.modules["torch"]


def torch_grad(fn, arrays, upstream):
    """(output, grads) of a torch function on float64 copies of ``arrays`` (the oracle)."""
    import torch
    ts = [torch.tensor(np.array(a), requires_grad=np.asarray(a).dtype.kind == "f") for a in arrays]
    out = _first(fn(*ts))
    if out.requires_grad:
        out.backward(torch.tensor(upstream))
    return out.detach().numpy(), [t.grad.numpy() if t.grad is not None else
                                  (np.zeros(t.shape) if t.requires_grad else None) for t in ts]


def assert_matches_torch(ours, theirs, arrays, atol: float = 1e-10):
    """Forward values and gradients agree with PyTorch (float64)."""
    out, grads = analytic_grad(ours, arrays)
    t_out, t_grads = torch_grad(theirs, arrays, upstream_for(out))
    assert out.shape == t_out.shape, f"output shape {out.shape} vs torch {t_out.shape}"
    np.testing.assert_allclose(out, t_out, atol=atol, rtol=1e-10, err_msg="forward")
    for i, (g, tg) in enumerate(zip(grads, t_grads)):
        if g is None:
            continue
        np.testing.assert_allclose(g, tg, atol=atol, rtol=1e-10, err_msg=f"gradient of input {i}")


def assert_keeps_float32(f, arrays):
    """float32 inputs give a float32 output and float32 gradients."""
    arrays = [np.asarray(a).astype(np.float32) if np.asarray(a).dtype.kind == "f" else np.asarray(a)
              for a in arrays]
    out, grads = analytic_grad(f, arrays)
    assert out.dtype == np.float32, f"output dtype {out.dtype}"
    for i, g in enumerate(grads):
        assert g is None or g.dtype == np.float32, f"gradient {i} has dtype {g.dtype}"


def assert_no_inplace(f, arrays):
    """Neither the inputs nor the incoming gradient are modified by forward or backward."""
    arrays = [np.array(a) for a in arrays]
    before = [a.copy() for a in arrays]
    tensors = [Tensor(a, requires_grad=a.dtype.kind == "f") for a in arrays]  # shares memory with arrays
    out = _first(f(*tensors))
    u = upstream_for(out)
    u_before = u.copy()
    out.backward(Tensor(u))
    for i, (a, b) in enumerate(zip(arrays, before)):
        np.testing.assert_array_equal(a, b, err_msg=f"input {i} was modified")
    np.testing.assert_array_equal(u, u_before, err_msg="the incoming gradient was modified")


def output_and_grads(f, arrays, before_backward=None):
    """Run ``f`` on tensors of ``arrays`` that require grad, backpropagate a fixed linspace weighting of the
    output, and return (the output tensor, [output, grad of each input] as NumPy arrays): for comparing two
    paths of one op bit for bit. ``before_backward(y)`` may look at the graph while it still exists."""
    import tinycnn
    inputs = [tinycnn.tensor(a, requires_grad=True) for a in arrays]
    y = f(*inputs)
    if before_backward is not None:
        before_backward(y)
    weights = np.linspace(-1, 1, y.numel()).reshape(y.shape).astype(y.dtype)
    (y * tinycnn.tensor(weights)).sum().backward()
    return y, [y.numpy()] + [t.grad.numpy() for t in inputs]


def noncontiguous(a):
    """The same values as ``a`` in a strided (non-contiguous) view, to check that ops read strides right."""
    a = np.asarray(a)
    if a.ndim == 0:
        return a
    big = np.zeros(a.shape + (2,), dtype=a.dtype)
    big[..., 0] = a
    return big[..., 0]


def compare_with_torch(ours, theirs, arrays, *, dtype=np.float64, rtol=None, atol=None, strided=False,
                       grads=True, upstream_seed=1):
    """Forward and gradients of ``ours`` (on tinycnn tensors) and ``theirs`` (on torch tensors) agree.

    Float arrays are cast to ``dtype`` and require grad (integer/bool arrays are passed as they are); both
    get the same random upstream gradient. NaN compares equal to NaN and infinities to themselves, so edge
    values (0, inf, NaN) can be compared. ``strided`` hands tinycnn non-contiguous views of the inputs.
    """
    import warnings

    import torch
    arrays = [np.asarray(a).astype(dtype) if np.asarray(a).dtype.kind == "f" else np.asarray(a) for a in arrays]
    if rtol is None:
        rtol = 1e-10 if dtype == np.float64 else 2e-5
    if atol is None:
        atol = 1e-12 if dtype == np.float64 else 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mine = [Tensor(noncontiguous(a) if strided else a.copy(), requires_grad=grads and a.dtype.kind == "f")
                for a in arrays]
        out = _first(ours(*mine))
        ts = [torch.tensor(a, requires_grad=grads and a.dtype.kind == "f") for a in arrays]
        t_out = _first(theirs(*ts))
        u = np.random.default_rng(upstream_seed).standard_normal(tuple(t_out.shape)).astype(
            out.numpy().dtype if out.dtype.kind == "f" else np.float64)
        assert tuple(out.shape) == tuple(t_out.shape), f"output shape {tuple(out.shape)} vs torch {tuple(t_out.shape)}"
        assert str(out.dtype) == str(t_out.dtype).replace("torch.", ""), \
            f"output dtype {out.dtype} vs torch {t_out.dtype}"
        np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
        if not grads or not t_out.requires_grad:
            return
        t_out.backward(torch.tensor(u))
        if out.requires_grad:
            out.backward(Tensor(u))
        for i, (m, t) in enumerate(zip(mine, ts)):
            if not t.requires_grad:
                continue
            expected = t.grad.numpy() if t.grad is not None else np.zeros(t.shape, dtype=arrays[i].dtype)
            got = m.grad.numpy() if m.grad is not None else np.zeros(m.shape, dtype=arrays[i].dtype)
            np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")


def assert_module_matches_torch(ours, theirs, *inputs, train: bool = True, atol: float = 1e-10, rtol: float = 1e-10):
    """A tinycnn module and its PyTorch counterpart, in float64 with the same weights (PyTorch's, loaded into
    ours), agree: the same state-dict keys and shapes, the same output, the same gradients of every float input
    and every parameter, and the same buffers afterwards (running statistics). Returns our output."""
    import torch
    theirs = theirs.double().train(train)
    ours = ours.double().train(train)
    sd = theirs.state_dict()
    assert list(ours.state_dict()) == list(sd), f"state_dict keys {list(ours.state_dict())} vs torch {list(sd)}"
    for key, value in ours.state_dict().items():
        assert tuple(value.shape) == tuple(sd[key].shape), f"{key}: {tuple(value.shape)} vs {tuple(sd[key].shape)}"
    ours.load_state_dict({k: v.detach().numpy() for k, v in sd.items()})
    arrays = [np.array(a) for a in inputs]
    ts = [Tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    tt = [torch.tensor(a.copy(), requires_grad=a.dtype.kind == "f") for a in arrays]
    out, t_out = _first(ours(*ts)), _first(theirs(*tt))
    np.testing.assert_allclose(out.numpy(), t_out.detach().numpy(), atol=atol, rtol=rtol, err_msg="forward")
    u = upstream_for(out)
    if out.requires_grad:
        out.backward(Tensor(u))
        t_out.backward(torch.tensor(u))
    for i, (a, b) in enumerate(zip(ts, tt)):
        if b.grad is not None:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), atol=atol, rtol=rtol,
                                       err_msg=f"gradient of input {i}")
    t_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if t_params[name].grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), t_params[name].grad.numpy(), atol=atol, rtol=rtol,
                                       err_msg=f"gradient of {name}")
    t_buffers = dict(theirs.named_buffers())
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.numpy(), t_buffers[name].numpy(), atol=atol, rtol=rtol, err_msg=f"buffer {name}")
    return out
