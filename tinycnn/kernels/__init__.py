"""Kernel dispatcher: which kernel set computes im2col/col2im/pooling (and the fast paths) for an array.

``get_kernels(array)`` returns a kernel set: a module implementing the interface declared in
``interface.py`` (the required functions, with the same signatures in every set, plus the fast paths the
set lists in its ``PROVIDES``):

* CuPy arrays -> ``numpy_kernels`` (written with ``get_array_module``, so it runs on the GPU unchanged);
* NumPy arrays -> the Numba set (``tinycnn/accel/numba_kernels.py``) when Numba is installed, else
  ``numpy_kernels``.

The choice is the ``kernels`` setting of ``tinycnn.config`` ("auto", "numpy" or "numba"; its process
default is the environment variable ``TINYCNN_KERNELS``, read once at import: ``tinycnn/config.py``).
Numba is imported when the Numba kernels are the ones in use (``load_backend`` at ``import tinycnn``, or the
first time they are asked for), so the NumPy path works without it. The fast kernels live in the speed
layer, ``tinycnn/accel/``; this package holds the textbook kernels and the interface they share.
"""
from __future__ import annotations

import os

from ..accel import COMPILE_WORKER_ENV
from ..accel.threads import prepare_numba_threads
from ..backend import _is_cupy_array
from ..config import NO_NUMBA, get_config, numba_installed
from . import interface, numpy_kernels

interface.check(numpy_kernels)
_numba_kernels = None


def load_numba():
    """The Numba kernel set, imported and checked against the interface on first use (ImportError naming
    the fix when Numba is absent)."""
    global _numba_kernels
    if _numba_kernels is None:
        if not numba_installed():
            raise ImportError(NO_NUMBA)
        from ..accel import numba_kernels  # noqa: PLC0415  (optional dependency, imported on first use)
        _numba_kernels = interface.check(numba_kernels, reference=numpy_kernels)
    return _numba_kernels


def get_kernels_name() -> str:
    """The name of the kernel set NumPy arrays get now in this thread ("numpy" or "numba")."""
    name = get_config().kernels
    if name == "auto":
        return "numba" if numba_installed() else "numpy"
    if name not in ("numpy", "numba"):      # only the environment variable can bring another value
        raise ValueError(f"TINYCNN_KERNELS must be 'numpy' or 'numba', got {name!r}")
    return name


def get_kernels(array=None):
    """The kernel set for ``array`` (see the module docstring for the rule)."""
    if array is not None and _is_cupy_array(array):
        return numpy_kernels
    if get_kernels_name() != "numba":
        return numpy_kernels
    prepare_numba_threads()          # once: how Numba's threads wait (tinycnn/accel/threads.py)
    return load_numba()


def fast_path(array, capability: str, min_size: str):
    """The kernel set for ``array`` when it provides ``capability`` and the fast path can gain: a float32 or
    float64 array of at least the set's ``min_size`` (an attribute name such as "RELU_MIN_SIZE") elements.
    None otherwise, and the op runs its NumPy code."""
    kern = get_kernels(array)
    if capability not in kern.PROVIDES or array.dtype.name not in ("float32", "float64"):
        return None
    return kern if array.size >= getattr(kern, min_size) else None


def _launcher():
    """``accel.numba_launch`` with the direct-convolution kernels registered (imports Numba)."""
    load_numba()                     # imports accel.numba_direct, which registers its kernels
    from ..accel import numba_launch  # noqa: PLC0415  (optional dependency, imported on first use)
    return numba_launch


def prepare(dtype="float32", model=None) -> None:
    """When the Numba kernels are in use, start compiling the ones the disk cache lacks for ``dtype`` in
    background processes and return at once (``numba_launch.prepare``): those of the kernel families that
    training ``model`` will use, or without a model the direct convolution's; a no-op otherwise."""
    if get_kernels_name() == "numba":
        launcher = _launcher()
        if model is None:
            launcher.prepare(dtype)
        else:
            launcher.prepare(dtype, load_numba().cold_start_families(model))


def load_backend(dtype="float32") -> None:
    """At ``import tinycnn``, as ``import torch`` loads its kernels: when the Numba kernels are in use, import
    Numba, start its type system and load the direct-convolution kernels the disk cache holds for ``dtype``
    (never compiling anything, never starting a thread or process: a fresh install compiles on first use).
    About 0.4 s that the first batch no longer pays. Runs in the calling thread: a background thread that
    imported Numba while the program imported it too deadlocked. Errors are left to the first real use."""
    if os.environ.get(COMPILE_WORKER_ENV):
        return
    try:
        if get_kernels_name() == "numba":
            _launcher().load_cached(dtype)
    except Exception:   # noqa: BLE001  (a bad TINYCNN_KERNELS, a broken cache: the first real use reports it)
        pass


__all__ = ["get_kernels", "get_kernels_name", "fast_path", "load_numba", "numpy_kernels", "interface", "prepare",
           "load_backend"]
