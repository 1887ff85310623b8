"""Matrix products with a thread policy: small products run on one BLAS thread, large ones on all of them.

Why (measured on a 2-core machine, benchmarks/README.md): after a multi-threaded call OpenBLAS keeps its
worker threads spinning for ~0.1 s. Every Numba kernel that follows (parallel over the batch, one thread per
core) then shares a core with a spinning thread, and its half of the work waits for the scheduler: a
0.9 ms LeNet conv kernel took 4.9 ms after a 12 MFLOP linear-layer GEMM, 0.8 ms with OPENBLAS_NUM_THREADS=1.
Skinny products such as the conv weight gradient (6 x 100352) @ (100352 x 25) were measured up to 1000x
slower with 2 threads under load. A small product gains little from a second thread anyway, so:

    flops = 2*m*n*k < SMALL_GEMM_FLOPS  ->  computed with BLAS limited to 1 thread (no worker wakes up)
    otherwise                           ->  BLAS's own thread count (large GEMMs: ResNet/VGG layers)

The limit is set and restored around each call through ``threadpoolctl`` (about 1 us a pair), so the thread
count the user configured is never changed for their own code. Without threadpoolctl, or for CuPy arrays,
``matmul`` is plain ``a @ b``.

Large products (ResNet's convolutions) need both threads, and the spinning after them made every im2col /
col2im that followed ~2-3x slower (ResNet-18 step: 0.32 s of 1.67 s). OpenBLAS reads the spin time from
OPENBLAS_THREAD_TIMEOUT (2**n cycles) only when it starts its threads, normally at import. So, once, in
tinycnn's first matrix product (never at import) and only if the user has not set the variable: for the
OpenBLAS NumPy calls (no other library's), set it to 4 (the minimum: workers sleep almost at once), have
OpenBLAS re-read its environment (``openblas_read_env``), put the environment back as it was, and stop
that OpenBLAS's workers (``blas_thread_shutdown_``, what OpenBLAS itself does before a fork); the next
multi-threaded call restarts them with the short timeout. Measured: a Numba kernel right after a 512x512
GEMM 6.7 ms -> 0.65 ms, the GEMM itself unchanged (1.23 ms). Skipped when either symbol is missing
(another BLAS, an old OpenBLAS), or when NumPy's BLAS cannot be told apart from the others.
(Not thread-safe: it must not run while another thread is inside BLAS; tinycnn computes on one thread.)

Batched products (the Winograd convolution's 16 GEMMs, grouped convolutions): NumPy calls BLAS once per
matrix, and each multi-threaded call wakes, splits and joins BLAS's workers. For products of a few MFLOP
each that synchronisation is most of the time, and on a busy machine it is ruinous (measured on 2 cores
under load: 16 products (64 x 64) @ (64 x 1024) took 256 ms with 2 BLAS threads, 2.7 ms as below). So a
batched product worth more than one thread is split by matrices over as many Python threads as BLAS has
(NumPy releases the GIL inside matmul), each running single-threaded BLAS: one start and one join for the
whole batch. The threads are started on the first such product, never at import.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SMALL_GEMM_FLOPS = 5e7          # ~0.5 ms on one core: below this, a second thread costs more than it saves

_blas = None                    # the controller of the BLAS NumPy calls (threadpoolctl), found on first use
_looked_up = False
_workers = (0, None)            # (thread count, pool) of the split batched products, started on first use
_workers_lock = threading.Lock()


def _numpy_blas(controllers):
    """The controller of the BLAS library NumPy itself uses, out of every BLAS loaded in the process.

    SciPy (which Numba imports when it is installed) brings a second OpenBLAS of its own; the one NumPy
    calls is the one shipped inside NumPy's own folder (``numpy.libs`` for PyPI wheels). With a single
    BLAS loaded (a system or conda build), that one is NumPy's.
    """
    if len(controllers) == 1:
        return controllers[0]
    numpy_dir = os.path.dirname(os.path.realpath(np.__file__))
    mine = [c for c in controllers
            if os.path.realpath(c.filepath).startswith((numpy_dir + os.sep, numpy_dir + ".libs" + os.sep))]
    return mine[0] if len(mine) == 1 else None


def _controller():
    global _blas, _looked_up
    if not _looked_up:
        _looked_up = True
        try:
            from threadpoolctl import ThreadpoolController  # noqa: PLC0415  (optional, looked up once)
            libs = ThreadpoolController().select(user_api="blas").lib_controllers
        except Exception:   # noqa: BLE001  (threadpoolctl missing or unable to inspect: plain matmul)
            libs = []
        _blas = _numpy_blas(libs) if libs else None
        if _blas is not None and _blas.internal_api == "openblas":   # NumPy's only: not SciPy's, torch's
            _shorten_openblas_spin(_blas)
    return _blas


def _shorten_openblas_spin(blas) -> None:
    """Restart OpenBLAS's workers with OPENBLAS_THREAD_TIMEOUT=4 (see the module docstring)."""
    if os.environ.get("OPENBLAS_THREAD_TIMEOUT", "4") != "4":
        return                                    # the user's choice wins
    lib = getattr(blas, "dynlib", None)
    read_env = getattr(lib, "openblas_read_env", None)
    shutdown = getattr(lib, "blas_thread_shutdown_", None)
    if read_env is None or shutdown is None:
        return
    had = "OPENBLAS_THREAD_TIMEOUT" in os.environ
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = "4"
    try:
        read_env()
    finally:
        if not had:
            del os.environ["OPENBLAS_THREAD_TIMEOUT"]
    shutdown()


def matmul(a, b, out=None):
    """a @ b (2-D or batched; into ``out`` when given), on one BLAS thread when the product is small (see
    module docstring)."""
    if out is not None:
        return _with_policy(a, b, lambda: np.matmul(a, b, out=out), out)
    if not isinstance(a, np.ndarray) or a.ndim < 2 or b.ndim < 2:   # CuPy, or a matrix-vector product
        return a @ b
    return _with_policy(a, b, lambda: a @ b)


def _with_policy(a, b, product, out=None):
    m, k = a.shape[-2], a.shape[-1]
    n = b.shape[-1]
    batch = max(a.size // max(m * k, 1), b.size // max(k * n, 1))
    blas = _controller()
    if blas is None:
        return product()
    threads = blas.num_threads
    if threads <= 1:
        return product()
    if 2.0 * batch * m * n * k >= SMALL_GEMM_FLOPS:
        if batch >= 2 and a.ndim <= 3 and b.ndim <= 3 and isinstance(a, np.ndarray) and isinstance(b, np.ndarray):
            return _split_batch(a, b, out, blas, threads)
        return product()
    blas.set_num_threads(1)
    try:
        return product()
    finally:
        blas.set_num_threads(threads)


def _split_batch(a, b, out, blas, threads):
    """a @ b for a batch of matrices, the batch split over ``threads`` threads of single-threaded BLAS."""
    global _workers
    batch = a.shape[0] if a.ndim == 3 else b.shape[0]
    if out is None:
        out = np.empty((batch, a.shape[-2], b.shape[-1]), dtype=np.result_type(a, b))
    with _workers_lock:
        if _workers[0] != threads:
            if _workers[1] is not None:
                _workers[1].shutdown(wait=False)
            _workers = (threads, ThreadPoolExecutor(threads, thread_name_prefix="tinycnn-blas"))
        pool = _workers[1]
    bounds = [batch * i // threads for i in range(threads + 1)]

    def part(lo, hi):
        np.matmul(a[lo:hi] if a.ndim == 3 else a, b[lo:hi] if b.ndim == 3 else b, out=out[lo:hi])

    blas.set_num_threads(1)
    try:
        for job in [pool.submit(part, lo, hi) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]:
            job.result()
    finally:
        blas.set_num_threads(threads)
    return out
