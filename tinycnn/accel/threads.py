"""How Numba's worker threads wait between tinycnn's parallel kernels, set inside tinycnn's first kernel call.

Why (measured on a 2-vCPU KVM guest, benchmarks/README.md): a parallel loop hands work to threads that sleep
between loops; waking one costs little on bare metal, but 60-200 us in a VM where an idle virtual CPU is
halted (an empty parallel loop takes 3 us back to back, 200 us after a 200 us pause). A training step runs
several parallel loops with Python and BLAS work between them (LeNet: 4 with the fused layers, 13 without), so
sleeping threads cost up to 1-3 ms a step. libgomp lets a thread spin GOMP_SPINCOUNT times before it sleeps:
1000 spins ~ 50 us, 30000 ~ 500 us, 100000 ~ 1.3 ms, 300000 (libgomp's default, what PyTorch runs with)
~ 3 ms. 100000 covers the gaps inside a training step (ms per LeNet step, medians of alternating runs,
unfused: 17.9 at 1000, 12.3 at 100000, the same as 300000), and a thread left without work sleeps after
~1 ms. So tinycnn wants Numba's OpenMP threading layer, whose libgomp reads GOMP_SPINCOUNT once, when it is
loaded, which is when Numba starts its threads.

Nothing of this happens at ``import tinycnn``. ``prepare_numba_threads`` runs once, from the kernel
dispatcher, before the first Numba kernel tinycnn runs: if Numba's threads are not started yet, it sets
GOMP_SPINCOUNT and Numba's threading-layer priority (OpenMP, then TBB, then workqueue), starts the threads
(``numba.get_num_threads()``), and puts the environment and ``numba.config`` back as they were. What stays is
the behaviour of the threads Numba started for tinycnn. A user's OMP_WAIT_POLICY, GOMP_SPINCOUNT,
NUMBA_THREADING_LAYER or NUMBA_THREADING_LAYER_PRIORITY wins, and so do threads the program started itself.
Without OpenMP, Numba falls back to TBB, then workqueue (which must not be entered from two Python threads at
once; tinycnn runs kernels from one thread at a time).
"""
from __future__ import annotations

import os
import sys
import threading

SPINCOUNT = "100000"
LAYER_PRIORITY = ["omp", "tbb", "workqueue"]
_done = False
_lock = threading.Lock()


def _threads_started() -> bool:
    parallel = sys.modules.get("numba.np.ufunc.parallel")
    return bool(getattr(parallel, "_is_initialized", False))


def prepare_numba_threads() -> None:
    """Start Numba's threads with tinycnn's wait policy, once (module docstring); cheap after the first call."""
    global _done
    if _done:
        return
    with _lock:
        if _done:
            return
        _done = True
        import numba  # noqa: PLC0415  (only once the Numba kernels are in use)
        if _threads_started():
            return
        env = os.environ
        set_spin = "OMP_WAIT_POLICY" not in env and "GOMP_SPINCOUNT" not in env
        set_layer = "NUMBA_THREADING_LAYER" not in env and "NUMBA_THREADING_LAYER_PRIORITY" not in env
        priority = numba.config.THREADING_LAYER_PRIORITY
        try:
            if set_spin:
                env["GOMP_SPINCOUNT"] = SPINCOUNT
            if set_layer:
                numba.config.THREADING_LAYER_PRIORITY = list(LAYER_PRIORITY)
            numba.get_num_threads()             # starts the threads: libgomp reads GOMP_SPINCOUNT now
        finally:
            if set_spin:
                env.pop("GOMP_SPINCOUNT", None)
            numba.config.THREADING_LAYER_PRIORITY = priority


# Elementwise and batch-norm kernels move many bytes per flop. On the 2-vCPU machine of benchmarks/README.md,
# while other processes kept it busy, each call on two threads could wait 5-10 ms for a descheduled one
# (ReLU6 on (16, 144, 24, 24): 0.3 ms on one thread, 10 ms on two); on the same machine idle, whole training
# steps were as fast or faster on all threads (MobileNetV2, batch 16 at 96x96: 0.249 s vs 0.275 s on one;
# ResNet-18 at 224: 1.58 vs 1.61 s). So they run on all of Numba's threads; an int here caps them (for a
# machine shared with other busy processes).
MEMORY_BOUND_THREADS = None


# A call that touches fewer elements than this runs on one thread. At about 1 ns an element such a call
# takes tens of microseconds on one thread, while handing work to a second costs 60-200 us in a VM (module
# docstring) and, on a machine shared with busy processes, up to milliseconds: on the 2-vCPU machine of
# benchmarks/README.md under load, a Winograd input transform of (1, 16, 2, 2) took 26 us on one thread and
# 8 ms on two. ResNet-18 at CIFAR size has dozens of such calls a step (batch norm, ReLU and the Winograd
# kernel transforms of its last stages).
SMALL_WORK = 1 << 16


def elements(arrays) -> int:
    """How many elements the arrays among ``arrays`` hold together (the size of a kernel call's work)."""
    return sum(int(getattr(a, "size", 0)) for a in arrays)


def run_parallel(kernel, *args, work: int, cap: int | None = None) -> None:
    """``kernel(*args)`` (a parallel Numba kernel) on one thread when ``work`` < ``SMALL_WORK``, else on at
    most ``cap`` threads (all when None); Numba's thread count of this Python thread is put back afterwards.
    The kernels' results do not depend on the thread count (each item or channel is one task)."""
    limit = 1 if work < SMALL_WORK else cap
    if limit is None:
        kernel(*args)
        return
    import numba  # noqa: PLC0415  (the Numba kernels are in use when this runs)
    before = numba.get_num_threads()
    if before <= limit:
        kernel(*args)
        return
    numba.set_num_threads(limit)
    try:
        kernel(*args)
    finally:
        numba.set_num_threads(before)


def run_memory_bound(kernel, *args) -> None:
    """``kernel(*args)`` (a parallel Numba kernel) on at most ``MEMORY_BOUND_THREADS`` threads (all when it
    is None), on one when it is small (``run_parallel``)."""
    run_parallel(kernel, *args, work=elements(args), cap=MEMORY_BOUND_THREADS)
