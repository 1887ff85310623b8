"""Gradient clipping with PyTorch's rules: ``clip_grad_norm_`` and ``clip_grad_value_`` change ``p.grad`` in place.

The total norm of gradients g_1..g_k is the norm of the vector of their norms, ||(||g_1||_p, ..., ||g_k||_p)||_p,
which is the p-norm of all gradient entries together (the max of |entries| for p = inf). Clipping multiplies
every gradient by min(1, max_norm / (total + 1e-6)): the direction is kept and the length is at most
``max_norm`` (the 1e-6 keeps a zero gradient at zero).
"""
from __future__ import annotations

import math

from ...autograd import Tensor
from ...backend import get_array_module


def _params(parameters):
    return [parameters] if isinstance(parameters, Tensor) else list(parameters)


def _grads(parameters):
    return [p.grad.array for p in _params(parameters) if p.grad is not None]


def _norm(array, p: float):
    xp = get_array_module(array)
    a = xp.abs(array).reshape(-1)
    if p == math.inf:
        return a.max() if a.size else xp.zeros((), dtype=array.dtype)
    if p == 2:
        return xp.sqrt((a * a).sum())
    return (a ** p).sum() ** (1.0 / p)


def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The ``norm_type``-norm of all the given tensors (e.g. the gradients) taken together, as a 0-d tensor."""
    arrays = [t.array if isinstance(t, Tensor) else t for t in ([tensors] if isinstance(tensors, Tensor)
                                                                 else tensors)]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor(get_array_module().zeros((), dtype="float32"))
    xp = get_array_module(arrays[0])
    norms = xp.stack([_norm(a, norm_type).astype(arrays[0].dtype) for a in arrays])
    total = _norm(norms, norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
                           f"so it cannot be clipped. To disable this error and scale the gradients by the "
                           f"non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor(total)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    """Scale the gradients of ``parameters`` (a tensor or an iterable of them) in place so that their total
    ``norm_type``-norm is at most ``max_norm``; returns the total norm before clipping (a 0-d tensor)."""
    params = _params(parameters)
    grads = _grads(params)
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    if not grads:
        return total
    t = total.array
    xp = get_array_module(t)
    coef = xp.minimum(xp.asarray(float(max_norm), dtype=t.dtype) / (t + t.dtype.type(1e-6)), 1.0)
    for g in grads:
        g *= coef.astype(g.dtype)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient entry of ``parameters`` to [-clip_value, clip_value], in place."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        get_array_module(g).clip(g, -clip_value, clip_value, out=g)
