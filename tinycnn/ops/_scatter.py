"""Unbuffered scatter: ``target[key] (op)= values`` where ``key`` may name one position several times.

``target[key] += values`` writes each repeated position once (the last write wins); the backward of every
gather-like op (indexing with repeated indices, padding, gather, index_select, embedding-style lookups)
needs the repeats to *add up*. NumPy does that with ``ufunc.at``; CuPy with ``cupyx.scatter_add`` /
``scatter_max`` / ``scatter_min``, or its own ``ufunc.at`` where present, and otherwise on the host.
"""
from __future__ import annotations

import numpy as np

from .. import backend

_CUPYX = {"add": "scatter_add", "maximum": "scatter_max", "minimum": "scatter_min"}


def ufunc_at(target, key, values, ufunc: str = "add", xp=None) -> None:
    """``target[key] = ufunc(target[key], values)`` with repeated positions applied one after another."""
    xp = xp or backend.get_array_module(target)
    if xp is np:
        getattr(np, ufunc).at(target, key, values)
        return
    import cupyx  # noqa: PLC0415  (only reached with CuPy arrays)
    if ufunc in _CUPYX:
        getattr(cupyx, _CUPYX[ufunc])(target, key, values)
        return
    host = backend.to_device(target, "cpu").copy()
    host_key = tuple(backend.to_device(k, "cpu") if hasattr(k, "shape") else k for k in key) \
        if isinstance(key, tuple) else (backend.to_device(key, "cpu") if hasattr(key, "shape") else key)
    host_values = backend.to_device(values, "cpu") if hasattr(values, "shape") else values
    getattr(np, ufunc).at(host, host_key, host_values)
    target[...] = xp.asarray(host)


def scatter_add(target, key, values, xp=None) -> None:
    """``target[key] += values``, adding (not overwriting) where ``key`` repeats an index."""
    ufunc_at(target, key, values, "add", xp)
