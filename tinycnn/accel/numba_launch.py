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
or edited kernels), the kernels of its family that the cache lacks are shared out between this process and
background processes (``python -m tinycnn.accel.compile_worker``), which write them to the same disk cache.
A family is what one kind of layer needs together (by default a kernel's module: the direct convolution's,
the Winograd convolution's, the depthwise one's, batch norm's; or a name given at registration: im2col with
col2im, ReLU's forward with its backward...), so a model that uses one kernel of a family uses them all.
Besides the ``ParallelKernel`` items, plain ``@njit(parallel=True, cache=True)`` kernels take part as
``NjitKernel``: the registration gives example arguments of the types their callers pass, the signature a
worker compiles.

The workers (one per spare core, at most ``_MAX_WORKERS``; each costs about 1 s to start: importing Python,
NumPy and Numba) are started at this process's first cold start for the dtype and then read each further
family's kernel names on their stdin, so later families pay no start-up again; a worker leaves after
``compile_worker.IDLE_S`` seconds without work. Whoever compiles a kernel first claims it with a file in the
cold start's folder (created exclusively: exactly one process wins each kernel) and marks it done there
once it is in the cache. This process takes the kernels in the order it needs them (a forward before its
backward), the workers from each family's other end (the last registered first), so they meet in the
middle. When this process needs a kernel that a worker is still compiling, it compiles the next unclaimed
one of a family being cold-started meanwhile (its own family's first), then the driver, and only then
waits. Compilation is single-threaded, so on two cores this about halves the wait before the first
training step. A failed or missing worker only means this process compiles its kernels itself (a worker
that died holding a claim is waited for no longer than its process lives).
``TINYCNN_COMPILE_WORKERS=0`` turns the workers off. ``prepare`` starts the cold start of given families
before their first use, for a program that has other work to do first (``tinycnn train`` loads its data
meanwhile): then the workers are given every missing kernel. ``load_cached`` (at ``import tinycnn``) loads
the ParallelKernels the cache holds and compiles nothing.

An item function takes one pointer per array (the ``kinds``: "f" for the floating dtype of the call, "i32",
"i64") and the item number, and indexes the pointers with offsets computed from sizes passed in an int64
array (``numba_direct.py`` says why not views). Arrays are handed over flat and C-contiguous.
"""
from __future__ import annotations

import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numba
import numpy as np
from numba import cfunc, njit, prange, types

from . import COMPILE_WORKER_ENV as IN_WORKER
from .threads import elements, run_parallel

_POINTERS = {"i32": types.CPointer(types.int32), "i64": types.CPointer(types.int64)}
_INDEX_DTYPES = {"i32": np.dtype(np.int32), "i64": np.dtype(np.int64)}
_FLOATS = {np.dtype(np.float32): types.float32, np.dtype(np.float64): types.float64}
_REGISTRY: list = []           # every kernel, so that a cold start can compile the others elsewhere
_SHARES: dict = {}             # dtype -> the _Share of this process's cold starts
_MAX_WORKERS = 4               # compile workers at most (each costs about 1 s of start-up)
_CHECKED: set = set()          # (family, dtype) pairs whose cold start was already looked at in this process
_LOCK = threading.Lock()
_WORKER_TIMEOUT_S = 600
_POLL_S = 0.01                 # how often a wait for a worker's kernel looks at the claims folder


class _Kernel:
    """What the cold start needs of a kernel: its importable ``name`` ("package.module:NAME", for the
    compile worker), its ``family`` (by default its module), ``is_cached(dtype)`` and ``build(dtype)``
    (compile here, or load from the disk cache), and ``_compiled``, the dtypes this process has it for."""

    def __init__(self, name: str, family: str | None, background: bool):
        self.name, self.background = name, background
        self.family = family or name.split(":")[0]
        self._compiled: dict = {}
        _REGISTRY.append(self)

    def _first_use(self, dtype, run):
        """``run()`` (which compiles or loads this kernel for ``dtype``) on this process's first use: a cold
        start of its family when the cache lacks it, and this kernel compiled here or by a worker."""
        with _LOCK:                                 # two user threads may ask at once
            if dtype in self._compiled:
                return run()
            key = (self.family, dtype)
            if key not in _CHECKED and self.background and not self.is_cached(dtype):     # a cold start
                _start_cold(dtype, self.family, first=self)
            _CHECKED.add(key)
            share = _SHARES.get(dtype)
            mine = share is None or not self.background or share.claim(self)
            if not mine:                            # a worker has it
                share.wait_for(self)
            result = run()
            if share is not None and mine:
                share.done(self)
            return result

    def _cache_query(self, query, if_unknown):
        try:
            from numba.core.compiler_lock import global_compiler_lock  # noqa: PLC0415  (only on a first use)
            from numba.core.registry import cpu_target  # noqa: PLC0415
            with global_compiler_lock:      # Numba's own compiles hold it: its target context is not thread-safe
                return query(cpu_target.target_context)
        except Exception:   # noqa: BLE001  (see is_cached)
            return if_unknown


class ParallelKernel(_Kernel):
    """``kernel(n_items, *arrays)`` runs ``item(*pointers, i)`` for i in range(n_items) on all threads."""

    def __init__(self, item, kinds, fastmath=frozenset(), *, name: str, family: str | None = None,
                 background: bool = True):
        if len(kinds) not in _DRIVERS:
            raise ValueError(f"ParallelKernel {name}: no driver for {len(kinds)} arrays")
        self.item, self.kinds, self.fastmath = item, tuple(kinds), set(fastmath)
        super().__init__(name, family, background)

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
        return self._first_use(dtype, lambda: self._compiled.get(dtype) or self.build(dtype))

    def build(self, dtype):
        """Compile the item function for ``dtype`` here, or load it from the disk cache (no cold start)."""
        fn = cfunc(self.signature(dtype), cache=True, fastmath=self.fastmath)(self.item)
        self._compiled[dtype] = fn
        return fn

    def is_cached(self, dtype, if_unknown: bool = True) -> bool:
        """Whether the disk cache holds this kernel for ``dtype`` (asks Numba's own cache). When Numba cannot
        tell (no cache directory it may write, an internal API that changed), answers ``if_unknown``: True
        for a cold start (it only means no worker is started), False for ``load_cached`` (nothing compiled)."""
        from numba.core.caching import FunctionCache  # noqa: PLC0415  (only on a first use)
        return self._cache_query(
            lambda ctx: FunctionCache(self.item).load_overload(self.signature(dtype), ctx) is not None, if_unknown)

    def __call__(self, n_items: int, *arrays) -> None:
        dtype = next(a.dtype for a, k in zip(arrays, self.kinds) if k == "f")
        flat = [_flat(a, np.dtype(dtype) if k == "f" else _INDEX_DTYPES[k]) for a, k in zip(arrays, self.kinds)]
        run_parallel(_DRIVERS[len(flat)], self.compiled(dtype), n_items, *flat, work=elements(flat))

    def compile_driver(self, dtype) -> None:
        """Compile (or load) the parallel driver for this kernel's signature and ``dtype``, without the item."""
        dtype = np.dtype(dtype)
        arrays = [numba.typeof(np.empty(0, dtype if k == "f" else _INDEX_DTYPES[k])) for k in self.kinds]
        _DRIVERS[len(self.kinds)].compile((types.FunctionType(self.signature(dtype)), types.int64, *arrays))


class NjitKernel(_Kernel):
    """A plain ``@njit(cache=True)`` kernel (``parallel=True`` ones too) in a cold start: ``kernel(*args)``
    calls it, and its first call for a dtype takes part in the family's cold start like a ParallelKernel.
    ``example(dtype)`` gives arguments of the very types its callers pass for data of ``dtype`` (a worker
    compiles that signature; a caller passing other types only compiles its own, as without workers);
    the dtype of a call is that of argument ``dtype_arg``."""

    def __init__(self, dispatcher, example, *, name: str, family: str | None = None, background: bool = True,
                 dtype_arg: int = 0):
        self.dispatcher, self.example, self.dtype_arg = dispatcher, example, dtype_arg
        super().__init__(name, family, background)

    def signature(self, dtype):
        return tuple(numba.typeof(a) for a in self.example(np.dtype(dtype)))

    def __call__(self, *args):
        dtype = args[self.dtype_arg].dtype
        if dtype in self._compiled:
            return self.dispatcher(*args)
        return self._first_use(dtype, lambda: self._first_call(dtype, args))

    def _first_call(self, dtype, args):
        result = self.dispatcher(*args)
        self._compiled[dtype] = True
        return result

    def build(self, dtype):
        dtype = np.dtype(dtype)
        self.dispatcher.compile(self.signature(dtype))
        self._compiled[dtype] = True

    def is_cached(self, dtype, if_unknown: bool = True) -> bool:
        """Whether the disk cache's index lists this kernel's signature for ``dtype`` (nothing is loaded)."""
        def query(ctx):
            cache = self.dispatcher._cache
            return cache._index_key(self.signature(dtype), ctx.codegen()) in cache._cache_file._load_index()
        return self._cache_query(query, if_unknown)


def _flat(a, dtype):
    """a as a flat C-contiguous array of the kind's dtype (a view when it already is one)."""
    if a.dtype != dtype:
        raise TypeError(f"kernel argument of dtype {a.dtype} where {dtype} is expected")
    return np.ascontiguousarray(a).reshape(-1)


class _Share:
    """The claims folder of this process's cold starts for one dtype: ``claim`` creates a kernel's claim
    file exclusively (True for the one process that wins it), ``done`` marks it compiled into the disk
    cache. ``procs``: the compile workers, each reading the names of kernels to compile on its stdin."""

    def __init__(self, dtype, folder=None):
        self.dtype = np.dtype(dtype)
        self.folder = folder or tempfile.mkdtemp(prefix="tinycnn-compile-")
        self.procs: list = []
        self.families: list = []        # in the order their cold starts began

    def _path(self, kernel, suffix=""):
        return os.path.join(self.folder, f"{kernel.name.replace(':', '.')}-{self.dtype.name}{suffix}")

    def claim(self, kernel) -> bool:
        try:
            os.close(os.open(self._path(kernel), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            return True
        except FileExistsError:
            return False
        except OSError:          # the folder is gone: the cold start is over (a worker stops; this process
            return not os.environ.get(IN_WORKER)     # compiles it, as without workers)

    def done(self, kernel) -> None:
        try:
            os.close(os.open(self._path(kernel, ".done"), os.O_CREAT | os.O_WRONLY))
        except OSError:
            pass

    def is_done(self, kernel) -> bool:
        return os.path.exists(self._path(kernel, ".done"))

    def send(self, names) -> None:
        """Give the workers a family's kernels to compile (each takes those not claimed yet); a worker that
        has exited (idle too long) is replaced."""
        line = (" ".join(names) + "\n").encode()
        for i, proc in enumerate(self.procs):
            if proc.poll() is not None:
                proc = self.procs[i] = _start_worker(self) or proc
            try:
                proc.stdin.write(line)
                proc.stdin.flush()
            except (OSError, ValueError):
                pass

    def wait_for(self, kernel) -> None:
        """Until a worker has ``kernel`` in the cache: compile the next unclaimed kernel and the driver
        meanwhile, then wait (no longer than the workers live)."""
        driver = not isinstance(kernel, ParallelKernel)
        deadline = time.monotonic() + _WORKER_TIMEOUT_S
        while not self.is_done(kernel):
            other = self._steal(kernel.family)
            if other is not None:
                other.build(self.dtype)
                self.done(other)
            elif not driver:
                kernel.compile_driver(self.dtype)
                driver = True
            elif all(p.poll() is not None for p in self.procs) and not self.is_done(kernel):
                return                     # its worker died: this process compiles it
            elif time.monotonic() > deadline:
                return
            else:
                time.sleep(_POLL_S)

    def _steal(self, family):
        """An unclaimed kernel of a family being cold-started, now claimed by this process: of ``family``
        first (in the order registered, about the order of first use), then of the others; or None."""
        for fam in [family] + [f for f in self.families if f != family]:
            for k in _REGISTRY:
                if k.family == fam and k.background and self.dtype not in k._compiled and self.claim(k):
                    return k
        return None


def _start_cold(dtype, family, first=None, at_least=2) -> None:
    """Share the kernels of ``family`` that the disk cache lacks for ``dtype`` between this process (which
    compiles ``first`` now) and the background compile workers, when at least ``at_least`` are missing (call with
    ``_LOCK`` held; see the module docstring)."""
    _CHECKED.add((family, dtype))
    missing = [k for k in _REGISTRY if k.family == family and k.background and not k.is_cached(dtype)]
    if len(missing) < at_least or os.environ.get(IN_WORKER) or os.environ.get("TINYCNN_COMPILE_WORKERS", "1") == "0" \
            or (os.cpu_count() or 1) < 2:
        return
    share = _SHARES.get(dtype)
    if share is None:
        share = _Share(dtype)
        for _ in range(min(_MAX_WORKERS, (os.cpu_count() or 1) - 1)):
            proc = _start_worker(share)
            if proc is None:
                break
            share.procs.append(proc)
        if not share.procs:
            shutil.rmtree(share.folder, True)
            return
        _SHARES[dtype] = share
        atexit.register(_remove_folder, share.folder, os.getpid())
    share.families.append(family)
    share.send([k.name for k in reversed(missing) if k is not first])   # from the family's other end


def _remove_folder(folder, owner) -> None:
    if os.getpid() == owner:            # not from a forked child (a data-loader process) at its exit
        shutil.rmtree(folder, True)


def _start_worker(share):
    """A background process that compiles the unclaimed kernels named on its stdin (compile_worker.py)."""
    env = dict(os.environ, **{IN_WORKER: "1"})
    try:
        return subprocess.Popen([sys.executable, "-m", "tinycnn.accel.compile_worker", share.dtype.name,
                                 share.folder], env=env, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    except OSError:          # no usable interpreter (a frozen application): compile here, one by one
        return None


DIRECT_FAMILY = "tinycnn.accel.numba_direct"


def prepare(dtype, families=(DIRECT_FAMILY,)) -> None:
    """Start the cold start of each of ``families`` (by default the direct convolution's: every small
    model's) for ``dtype`` whose kernels the disk cache lacks, and return at once: the workers begin
    compiling while this process has other work to do (``tinycnn train`` loads its data meanwhile); the
    first use of each kernel then compiles it here, loads it, or waits for it, as on any cold start."""
    dtype = np.dtype(dtype)
    with _LOCK:
        for family in families:
            if (family, dtype) not in _CHECKED:
                _start_cold(dtype, family, at_least=1)


def load_cached(dtype) -> None:
    """Load every registered ParallelKernel that the disk cache holds for ``dtype`` (an NjitKernel loads
    on its first call); compile nothing, start nothing."""
    dtype = np.dtype(dtype)
    for kernel in list(_REGISTRY):
        if isinstance(kernel, ParallelKernel) and kernel.is_cached(dtype, if_unknown=False):
            kernel.compiled(dtype)


def compile_items(names, dtype, folder) -> None:
    """Compile, for ``dtype``, the kernels named "module:ATTR" that no other process of the cold start whose
    claims are in ``folder`` has claimed (what a compile worker does for each line it reads; the driver,
    0.6-0.9 s, is compiled by the process that runs the kernels)."""
    share = _Share(dtype, folder)
    for name in names:
        module, attr = name.split(":")
        kernel = getattr(importlib.import_module(module), attr)
        if share.claim(kernel):
            kernel.build(dtype)
            share.done(kernel)


# One driver per arity. Item numbers come out of prange unsigned; the callback's signature wants int64.
@njit(parallel=True, cache=True)
def _drive9(fn, n, a, b, c, d, e, f, g, h, k):
    for i in prange(n):
        fn(a.ctypes, b.ctypes, c.ctypes, d.ctypes, e.ctypes, f.ctypes, g.ctypes, h.ctypes, k.ctypes, np.int64(i))


_DRIVERS = {9: _drive9}
