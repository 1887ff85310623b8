"""Kernel dispatcher: which implementation of im2col/col2im/pooling runs for a given array.

``get_kernels(array)`` returns a module with the functions ``im2col, col2im, max_pool2d_forward,
max_pool2d_backward, avg_pool2d_forward, avg_pool2d_backward`` (same signatures in every module):

* CuPy arrays -> ``numpy_kernels`` (written with ``get_array_module``, so it runs on the GPU unchanged);
* NumPy arrays -> ``numba_kernels`` when Numba is installed, else ``numpy_kernels``.

The choice is the ``kernels`` setting of ``tinycnn.config`` ("auto", "numpy" or "numba"; its process
default is the environment variable ``TINYCNN_KERNELS``, read once at import: ``tinycnn/config.py``).
Numba is imported when the Numba kernels are the ones in use (``load_backend`` at ``import tinycnn``, or the
first time they are asked for), so the NumPy path works without it.
"""
from __future__ import annotations

import importlib.util
import os

from ..backend import _is_cupy_array
from ..accel.threads import prepare_numba_threads
from ..config import get_config
from . import numpy_kernels

COMPILE_WORKER_ENV = "TINYCNN_COMPILE_WORKER"     # set in the background compile worker (numba_launch.py)
_numba_kernels = None
_numba_installed = importlib.util.find_spec("numba") is not None   # looked up once, not per call


def load_numba():
    """The Numba kernel module, imported on first use (ImportError naming the fix when Numba is absent)."""
    global _numba_kernels
    if _numba_kernels is None:
        if not _numba_installed:
            raise ImportError("tinycnn kernels 'numba' requested but numba is not installed "
                              "(pip install numba, or use kernels='numpy')")
        from . import numba_kernels  # noqa: PLC0415  (optional dependency, imported on first use)
        _numba_kernels = numba_kernels
    return _numba_kernels


def get_kernels_name() -> str:
    """The name of the kernel set NumPy arrays get now in this thread ("numpy" or "numba")."""
    name = get_config().kernels
    if name == "auto":
        return "numba" if _numba_installed else "numpy"
    if name not in ("numpy", "numba"):      # only the environment variable can bring another value
        raise ValueError(f"TINYCNN_KERNELS must be 'numpy' or 'numba', got {name!r}")
    return name


def get_kernels(array=None):
    """The kernel module for ``array`` (see the module docstring for the rule)."""
    if array is not None and _is_cupy_array(array):
        return numpy_kernels
    if get_kernels_name() != "numba":
        return numpy_kernels
    prepare_numba_threads()          # once: how Numba's threads wait (tinycnn/accel/threads.py)
    return load_numba()


def _launcher():
    """``numba_launch`` with the direct-convolution kernels registered (imports Numba)."""
    load_numba()
    from . import numba_direct  # noqa: PLC0415  (registers the direct-convolution kernels)
    from . import numba_launch  # noqa: PLC0415
    return numba_launch


def prepare(dtype="float32") -> None:
    """When the Numba kernels are in use, start compiling the ones the disk cache lacks for ``dtype`` in
    background processes and return at once (``numba_launch.prepare``); a no-op otherwise."""
    if get_kernels_name() == "numba":
        _launcher().prepare(dtype)


def load_backend(dtype="float32") -> None:
    """At ``import tinycnn``, as ``import torch`` loads its kernels: when the Numba kernels are in use, import
    Numba, start its type system and load the direct-convolution kernels the disk cache holds for ``dtype``
    (never compiling anything: a fresh install compiles on first use). About 0.4 s that the first batch no
    longer pays. Runs in the calling thread: a background thread that imported Numba while the program
    imported it too deadlocked. Errors are left to the first real use."""
    if os.environ.get(COMPILE_WORKER_ENV):
        return
    try:
        if get_kernels_name() == "numba":
            _launcher().load_cached(dtype)
    except Exception:   # noqa: BLE001  (a bad TINYCNN_KERNELS, a broken cache: the first real use reports it)
        pass


__all__ = ["get_kernels", "get_kernels_name", "load_numba", "numpy_kernels", "prepare", "load_backend"]
