"""Tensor storage in shared memory, for processes that train one model together (Hogwild).

``Tensor.share_memory_()`` moves a tensor's array into a block of ``multiprocessing.shared_memory``:
every process that has the tensor then reads and writes the same memory. A child started with ``fork``
inherits the mapping; one started with ``spawn`` or ``forkserver`` receives the tensor pickled by
multiprocessing, and the reducer registered here sends the block's name instead of the values, so the child
maps the same block. The process that created a block removes it when it ends.

This module uses only NumPy and the standard library; it registers its reducer the first time a tensor is
shared (a call the user makes), never on import.
"""
from __future__ import annotations

import atexit
import copyreg
import os
from multiprocessing import shared_memory
from multiprocessing.reduction import ForkingPickler

import numpy as np

_blocks: dict[str, shared_memory.SharedMemory] = {}    # name -> block mapped by this process
_created: dict[str, int] = {}                           # the blocks made here -> the pid that unlinks them
_registered: set[type] = set()


def _address(array: np.ndarray) -> int:
    return array.__array_interface__["data"][0]


def _block_of(array) -> tuple[str, int] | None:
    """(block name, byte offset) of the shared block holding ``array``'s data, or None."""
    if not isinstance(array, np.ndarray):
        return None
    start = _address(array)
    for name, block in _blocks.items():
        base = _address(np.frombuffer(block.buf, dtype=np.uint8))
        if base <= start and start + array.nbytes <= base + block.size:
            return name, start - base
    return None


def is_shared(array) -> bool:
    return _block_of(array) is not None


def to_shared(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` in a new shared block (``array`` itself when it is in one already)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"share_memory_: only tensors in host memory can be shared, got a "
                        f"{type(array).__module__}.{type(array).__name__} (move it to the CPU first)")
    if is_shared(array):
        return array
    block = shared_memory.SharedMemory(create=True, size=max(array.nbytes, 1))
    _blocks[block.name] = block
    _created[block.name] = os.getpid()
    shared = np.ndarray(array.shape, dtype=array.dtype, buffer=block.buf)
    shared[...] = array
    return shared


def register(cls: type) -> None:
    """Make multiprocessing pickle ``cls`` instances held in shared memory by reference."""
    if cls not in _registered:
        ForkingPickler.register(cls, _reduce)
        _registered.add(cls)


def _reduce(tensor):
    where = _block_of(tensor.array)
    if where is None:                                  # an ordinary tensor: its values, as pickle has them
        return copyreg.__reduce_ex__(tensor, 2)
    name, offset = where
    a = tensor.array
    return _rebuild, (type(tensor), name, offset, a.shape, a.strides, a.dtype.str, tensor.requires_grad)


def _rebuild(cls, name, offset, shape, strides, dtype, requires_grad):
    block = _blocks.get(name)
    if block is None:
        block = _blocks[name] = shared_memory.SharedMemory(name=name)
    array = np.ndarray(shape, dtype=np.dtype(dtype), buffer=block.buf, offset=offset, strides=strides)
    register(cls)                                      # so that this process passes it on by reference too
    return cls(array, requires_grad=requires_grad)


@atexit.register
def _release() -> None:
    for name in list(_blocks):
        block = _blocks.pop(name)
        try:
            block.close()
        except BufferError:    # an array still points into it: the mapping goes with the process
            pass
        if _created.get(name) == os.getpid():      # not in a forked child that inherited the table
            try:
                block.unlink()
            except FileNotFoundError:
                pass
