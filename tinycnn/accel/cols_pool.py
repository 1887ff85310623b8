"""Reuse of large im2col and Winograd buffers (the Numba kernels'), so that a training step does not map fresh
memory for each convolution.

Why: a fresh 100 MB array (ResNet-18's layer1 cols at batch 16) is mapped by the OS page by page on first
write: measured 18 ms for an im2col that takes 10 ms into memory already mapped. ``Conv2dFunction`` and the
Winograd transforms hand a buffer back through ``release_cols`` once nothing references it any more, and the
next ``take`` of any shape and dtype that fits in it gets it: the smallest pooled buffer of at least the bytes
asked for, viewed with the shape asked for. Buffers are pooled by size, not by shape, so the layers of a
network share them: what stays resident is about the most the step ever has in use at once, not one buffer
per layer shape (measured on a VGG-style CIFAR net: 255 MiB pooled by shape, 135 MiB by size).
Only buffers of at least ``MIN_BYTES`` are kept (smaller ones come from malloc's heap, already mapped), at
most ``MAX_BUFFERS`` and ``MAX_BYTES`` in all (the smallest go first); ``clear_cols_pool()`` gives them back
to the OS. A lock makes it safe to use from several threads. The NumPy kernels do not use it: their im2col
is a strided view copied into a new array.
"""
from __future__ import annotations

import threading

import numpy as np

MIN_BYTES = 4 << 20
MAX_BYTES = 1 << 30
MAX_BUFFERS = 8

_free: list = []                   # C-contiguous arrays that own their memory and that nothing references
_lock = threading.Lock()


def take(shape, dtype):
    """A pooled C-contiguous array of this shape and dtype (old contents of some buffer), or None."""
    dtype = np.dtype(dtype)
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    with _lock:
        fits = [i for i, b in enumerate(_free) if b.nbytes >= need]
        if not fits:
            return None
        buf = _free.pop(min(fits, key=lambda i: _free[i].nbytes))
    return buf.reshape(-1).view(np.uint8)[:need].view(dtype).reshape(shape)


def release_cols(cols) -> None:
    """Hand back a buffer from ``take`` or from im2col that nothing references any more (module docstring):
    the array that owns its memory goes back to the pool."""
    owner = cols
    while isinstance(owner.base, np.ndarray):
        owner = owner.base
    if owner.nbytes < MIN_BYTES or not owner.flags.c_contiguous or not owner.flags.writeable:
        return
    with _lock:
        if any(b is owner for b in _free):
            return
        _free.append(owner)
        _free.sort(key=lambda b: b.nbytes, reverse=True)
        while len(_free) > MAX_BUFFERS or sum(b.nbytes for b in _free) > MAX_BYTES:
            _free.pop()                    # the smallest: it saves the fewest page faults


def clear_cols_pool() -> None:
    with _lock:
        _free.clear()


def pooled_bytes() -> int:
    with _lock:
        return sum(b.nbytes for b in _free)
