"""Load the Numba kernels in the background while the program does other things (usually: load its data).

A process that trains with the Numba kernels pays, before its first batch, about 0.5 s that have nothing to
do with the batch: importing Numba (0.2-0.3 s), Numba's type system warming up (0.15 s), and loading each
compiled kernel from the disk cache (measured on the 2-core machine of benchmarks/README.md; PyTorch pays
the like when it is imported). ``import tinycnn`` therefore starts one thread that does exactly that, and
nothing else: it never compiles a kernel that is not in the cache (a fresh install compiles on first use,
see ``numba_launch.py``), it never runs one, and it swallows its own errors (the first real use raises
them). Code that needs the kernels before the thread is done simply waits for Numba's compile lock.

The thread is not a daemon: a program that exits at once waits for it (at most those 0.5 s). A fork
waits for it too (``os.register_at_fork``), so no child inherits a lock the thread holds.
``TINYCNN_PRELOAD=0`` turns it off; so does ``TINYCNN_KERNELS=numpy``.
"""
from __future__ import annotations

import os
import threading

_thread: threading.Thread | None = None
_FORK_WAIT_S = 60


def start() -> None:
    """Start the loading thread once, when the Numba kernels are the ones this process will use."""
    global _thread
    from . import COMPILE_WORKER_ENV, _numba_installed, get_kernels_name  # noqa: PLC0415  (the package's state)
    if _thread is not None or not _numba_installed or os.environ.get("TINYCNN_PRELOAD", "1") == "0" \
            or os.environ.get(COMPILE_WORKER_ENV):
        return
    try:
        if get_kernels_name() != "numba":
            return
    except ValueError:       # a bad TINYCNN_KERNELS: the first real use reports it
        return
    _thread = threading.Thread(target=_load, name="tinycnn-preload", daemon=False)
    _thread.start()
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=wait)


def wait(timeout: float = _FORK_WAIT_S) -> None:
    """Block until the loading thread is done (no-op when there is none)."""
    thread = _thread
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout)


def _load() -> None:
    try:
        import numpy as np  # noqa: PLC0415

        from . import _load_numba  # noqa: PLC0415
        _load_numba()                                   # imports Numba and sets its threading variables
        from . import numba_direct  # noqa: F401,PLC0415  (registers the direct-convolution kernels)
        from .numba_launch import preload  # noqa: PLC0415
        preload(np.float32)
    except Exception:   # noqa: BLE001  (best effort only; see the module docstring)
        pass
