"""Reuse of large im2col buffers (the Numba kernels' ``im2col``), so that a training step does not map fresh
memory for each convolution.

Why: a fresh 100 MB array (ResNet-18's layer1 cols at batch 16) is mapped by the OS page by page on first
write: measured 18 ms for an im2col that takes 10 ms into memory already mapped. ``Conv2dFunction`` hands its
cols back through ``release_cols`` once its backward has run (the array is then referenced by nothing else),
and the next im2col of that shape and dtype takes it (``take``). Only arrays of at least ``MIN_BYTES`` are
kept (smaller ones come from malloc's heap, already mapped), at most ``PER_SHAPE`` per shape and
``MAX_BYTES`` in all; ``clear_cols_pool()`` gives them back to the OS. A lock makes it safe to use from
several threads. The NumPy kernels do not use it: their im2col is a strided view copied into a new array.
"""
from __future__ import annotations

import threading

MIN_BYTES = 4 << 20
MAX_BYTES = 2 << 30
PER_SHAPE = 8

_free: dict = {}                   # (shape, dtype.str) -> list of arrays nothing references
_lock = threading.Lock()


def take(shape, dtype):
    """A pooled C-contiguous array of this shape and dtype (its old contents), or None."""
    with _lock:
        free = _free.get((tuple(shape), dtype.str))
        return free.pop() if free else None


def release_cols(cols) -> None:
    """Hand back a cols array from im2col that nothing references any more (module docstring)."""
    if cols.nbytes < MIN_BYTES or not cols.flags.c_contiguous:
        return
    with _lock:
        free = _free.setdefault((cols.shape, cols.dtype.str), [])
        pooled = sum(b.nbytes for bufs in _free.values() for b in bufs)
        if len(free) < PER_SHAPE and pooled + cols.nbytes <= MAX_BYTES:
            free.append(cols)


def clear_cols_pool() -> None:
    with _lock:
        _free.clear()


def pooled_bytes() -> int:
    with _lock:
        return sum(b.nbytes for bufs in _free.values() for b in bufs)
