"""Run a per-item Numba kernel on every core, compiled so that the first use on a fresh install stays short.

Why not ``@njit(parallel=True)`` around the whole kernel: Numba compiles a ``prange`` body as a separate
function, links every helper it calls into it and optimises the result again, so a kernel of a few hundred
lines took 5-7 s to compile, and LeNet's three such kernels 15 s before the first batch (measured on the
2-core machine of benchmarks/README.md). Here the work of one item (a chunk of images) is a plain function
over raw pointers, compiled once per dtype as a C callback (``numba.cfunc``, cached on disk
like any ``cache=True`` function), and the parallel loop is a tiny cached driver that receives the callback
as a first-class function argument and calls it for each item. The callback's address is only known at run
time, so the driver never inlines or re-optimises the kernel: it compiles in well under a second, once per
dtype for all kernels with the same pointer kinds (all of them: ``numba_direct.py``'s and ``winograd.py``'s).

Cold start. When a kernel is first needed for a dtype and the disk cache does not hold it (a fresh install,
or edited kernels), each other kernel of its family (its module: the direct convolution's, the Winograd
convolution's; a model that needs one kernel of a family needs them all, not necessarily another family)
that the cache lacks is compiled for that dtype at the same time in a background process (``python -m
tinycnn.accel.compile_worker``), which writes it to the same cache while this process compiles the one it
needs now, and then the driver; a kernel given to a worker is loaded from the cache once its worker is done
(if the driver is not compiled yet, this process compiles it while it waits). Compilation is
single-threaded, so on two cores this halves the wait before the first training step. A failed or missing
worker only means this process compiles the kernel itself. A family of small kernels that compile in a
fraction of a second each is registered with ``background=False``: a worker's own start (importing Python,
NumPy and Numba, about 1 s) would cost more than it saves.
``TINYCNN_COMPILE_WORKERS=0`` turns the workers off. ``prepare`` starts the same workers before the first
use, for a program that has other work to do first; ``load_cached`` (at ``import tinycnn``) loads what the
cache holds and compiles nothing.

An item function takes one pointer per array (the ``kinds``: "f" for the floating dtype of the call, "i32",
"i64") and the item number, and indexes the pointers with offsets computed from sizes passed in an int64
array (``numba_direct.py`` says why not views). Arrays are handed over flat and C-contiguous.
"""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
import threading

import numba
import numpy as np
from numba import cfunc, njit, prange, types

from . import COMPILE_WORKER_ENV as IN_WORKER
from .threads import elements, run_parallel

_POINTERS = {"i32": types.CPointer(types.int32), "i64": types.CPointer(types.int64)}
_INDEX_DTYPES = {"i32": np.dtype(np.int32), "i64": np.dtype(np.int64)}
_FLOATS = {np.dtype(np.float32): types.float32, np.dtype(np.float64): types.float64}
_REGISTRY: list = []           # every kernel, so that a cold start can compile the others elsewhere
_WORKERS: dict = {}            # (kernel name, dtype) -> the process compiling it
_CHECKED: set = set()          # (family, dtype) pairs whose cold start was already looked at in this process
_LOCK = threading.Lock()
_WORKER_TIMEOUT_S = 600


class ParallelKernel:
    """``kernel(n_items, *arrays)`` runs ``item(*pointers, i)`` for i in range(n_items) on all threads.

    ``name`` is the kernel's module attribute ("package.module:NAME"), for the compile worker to import."""

    def __init__(self, item, kinds, fastmath=frozenset(), *, name: str, background: bool = True):
        self.item, self.kinds, self.fastmath, self.name = item, tuple(kinds), set(fastmath), name
        self.background = background
        self.family = name.split(":")[0]
        self._compiled: dict = {}
        if len(self.kinds) not in _DRIVERS:
            raise ValueError(f"ParallelKernel {name}: no driver for {len(self.kinds)} arrays")
        _REGISTRY.append(self)

    def signature(self, dtype):
        real = types.CPointer(_FLOATS[dtype])
        return types.void(*[real if k == "f" else _POINTERS[k] for k in self.kinds], types.int64)

    def compiled(self, dtype):
        """The item function compiled for ``dtype``: from this process, the disk cache, or a compile worker."""
        dtype = np.dtype(dtype)
        fn = self._compiled.get(dtype)
        if fn is not None:
            return fn
        if dtype not in _FLOATS:
            raise TypeError(f"{self.item.__name__}: expected float32 or float64 data, got {dtype}")
        with _LOCK:                                 # two user threads may ask at once
            fn = self._compiled.get(dtype)
            if fn is None:
                worker = _WORKERS.pop((self.name, dtype), None)
                if worker is not None:
                    self.compile_driver(dtype)      # it needs only the signature: meanwhile, not after
                    _wait(worker)
                elif (self.family, dtype) not in _CHECKED and not self.is_cached(dtype):   # a cold start
                    _start_cold(dtype, skip=self)           # ... the family's others elsewhere
                _CHECKED.add((self.family, dtype))
                fn = cfunc(self.signature(dtype), cache=True, fastmath=self.fastmath)(self.item)
                self._compiled[dtype] = fn
        return fn

    def is_cached(self, dtype, if_unknown: bool = True) -> bool:
        """Whether the disk cache holds this kernel for ``dtype`` (asks Numba's own cache). When Numba cannot
        tell (no cache directory it may write, an internal API that changed), answers ``if_unknown``: True
        for a cold start (it only means no worker is started), False for ``load_cached`` (nothing compiled)."""
        try:
            from numba.core.caching import FunctionCache  # noqa: PLC0415  (only on a first use)
            from numba.core.compiler_lock import global_compiler_lock  # noqa: PLC0415
            from numba.core.registry import cpu_target  # noqa: PLC0415
            with global_compiler_lock:      # Numba's own compiles hold it: its target context is not thread-safe
                cached = FunctionCache(self.item).load_overload(self.signature(dtype), cpu_target.target_context)
            return cached is not None
        except Exception:   # noqa: BLE001  (see the docstring)
            return if_unknown

    def __call__(self, n_items: int, *arrays) -> None:
        dtype = next(a.dtype for a, k in zip(arrays, self.kinds) if k == "f")
        flat = [_flat(a, np.dtype(dtype) if k == "f" else _INDEX_DTYPES[k]) for a, k in zip(arrays, self.kinds)]
        run_parallel(_DRIVERS[len(flat)], self.compiled(dtype), n_items, *flat, work=elements(flat))

    def compile_driver(self, dtype) -> None:
        """Compile (or load) the parallel driver for this kernel's signature and ``dtype``, without the item."""
        dtype = np.dtype(dtype)
        arrays = [numba.typeof(np.empty(0, dtype if k == "f" else _INDEX_DTYPES[k])) for k in self.kinds]
        _DRIVERS[len(self.kinds)].compile((types.FunctionType(self.signature(dtype)), types.int64, *arrays))


def _flat(a, dtype):
    """a as a flat C-contiguous array of the kind's dtype (a view when it already is one)."""
    if a.dtype != dtype:
        raise TypeError(f"kernel argument of dtype {a.dtype} where {dtype} is expected")
    return np.ascontiguousarray(a).reshape(-1)


def _start_cold(dtype, skip) -> None:
    """Start one background compile worker for each kernel of ``skip``'s family but ``skip`` itself that the
    disk cache lacks for ``dtype`` (call with ``_LOCK`` held)."""
    _CHECKED.add((skip.family, dtype))
    for kernel in _REGISTRY:
        if kernel is not skip and kernel.background and kernel.family == skip.family \
                and (kernel.name, dtype) not in _WORKERS and not kernel.is_cached(dtype):
            _start_worker(kernel, dtype)


def _start_worker(kernel, dtype) -> None:
    """Compile ``kernel``'s item function for ``dtype`` in a background process (see the module docstring)."""
    if os.environ.get(IN_WORKER) or os.environ.get("TINYCNN_COMPILE_WORKERS", "1") == "0" \
            or (os.cpu_count() or 1) < 2:
        return
    env = dict(os.environ, **{IN_WORKER: "1"})
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tinycnn.accel.compile_worker", dtype.name, kernel.name],
                                env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:          # no usable interpreter (a frozen application): compile here, one by one
        return
    _WORKERS[(kernel.name, dtype)] = proc


def _wait(proc) -> None:
    try:
        proc.wait(timeout=_WORKER_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()


DIRECT_FAMILY = "tinycnn.accel.numba_direct"


def prepare(dtype, family: str = DIRECT_FAMILY) -> None:
    """Start compiling, in a background worker each, the kernels of ``family`` (by default the direct
    convolution's: every small model's) the disk cache lacks for ``dtype`` but the first one, and return at
    once; that one is compiled here on its first use, as on any cold start.
    For a program that knows it will train and has other work first (``tinycnn train`` loads its data
    meanwhile). Not one worker per kernel: each costs about 1 s of start-up, and on two cores a third busy
    process only slows the others (measured: the first LeNet epoch of a fresh install took 1-2 s longer)."""
    dtype = np.dtype(dtype)
    with _LOCK:
        if (family, dtype) not in _CHECKED:
            missing = [kernel for kernel in _REGISTRY if kernel.family == family and not kernel.is_cached(dtype)]
            if missing:
                _start_cold(dtype, skip=missing[0])
            else:
                _CHECKED.add((family, dtype))


def load_cached(dtype) -> None:
    """Load every registered kernel that the disk cache holds for ``dtype``; compile nothing, start nothing."""
    dtype = np.dtype(dtype)
    for kernel in list(_REGISTRY):
        if kernel.is_cached(dtype, if_unknown=False):
            kernel.compiled(dtype)


def compile_items(names, dtype) -> None:
    """Compile the item functions of the kernels named "module:ATTR" for ``dtype`` (what a compile worker
    does; the driver, 0.6-0.9 s, is compiled by the process that runs the kernels, while it waits)."""
    for name in names:
        module, attr = name.split(":")
        getattr(importlib.import_module(module), attr).compiled(dtype)


# One driver per arity. Item numbers come out of prange unsigned; the callback's signature wants int64.
@njit(parallel=True, cache=True)
def _drive9(fn, n, a, b, c, d, e, f, g, h, k):
    for i in prange(n):
        fn(a.ctypes, b.ctypes, c.ctypes, d.ctypes, e.ctypes, f.ctypes, g.ctypes, h.ctypes, k.ctypes, np.int64(i))


_DRIVERS = {9: _drive9}
