"""``tinycnn.multiprocessing``: the standard library's multiprocessing under PyTorch's names, for processes
that share a model (``Module.share_memory()``; Hogwild training, as PyTorch's mnist_hogwild example).

Everything is the standard library's (``Process``, ``Queue``, ``get_context``, ``set_start_method``...);
what tinycnn adds is that a tensor put in shared memory travels to a child by reference, whatever the start
method (``tinycnn/shared_memory.py``). ``spawn(fn, args, nprocs)`` starts ``fn(i, *args)`` in ``nprocs``
processes and waits for them, as ``torch.multiprocessing.spawn`` does.
"""
from __future__ import annotations

import multiprocessing as _mp
from multiprocessing import (Array, Barrier, Condition, Event, JoinableQueue, Lock, Manager, Pipe, Pool, Process,
                             Queue, RLock, Semaphore, SimpleQueue, Value, active_children, cpu_count,
                             current_process, get_all_start_methods, get_context, get_start_method,
                             parent_process, set_start_method)


class ProcessRaisedException(Exception):
    """A process started by ``spawn`` ended with an error (PyTorch's name)."""


def spawn(fn, args: tuple = (), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """Run ``fn(i, *args)`` for i in 0..nprocs-1, each in a new process; with ``join`` wait for all and raise
    ``ProcessRaisedException`` naming the first that failed, else return the processes."""
    if isinstance(nprocs, bool) or not isinstance(nprocs, int) or nprocs < 1:
        raise ValueError(f"spawn: nprocs must be a positive int, got {nprocs!r}")
    ctx = _mp.get_context(start_method)
    procs = [ctx.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in procs:
        p.start()
    if not join:
        return procs
    for p in procs:
        p.join()
    failed = [(i, p.exitcode) for i, p in enumerate(procs) if p.exitcode != 0]
    if failed:
        i, code = failed[0]
        raise ProcessRaisedException(f"spawn: process {i} of {nprocs} ended with exit code {code} (its error is "
                                     f"printed above)")
    return None


__all__ = ["Array", "Barrier", "Condition", "Event", "JoinableQueue", "Lock", "Manager", "Pipe", "Pool", "Process",
           "Queue", "RLock", "Semaphore", "SimpleQueue", "Value", "active_children", "cpu_count",
           "current_process", "get_all_start_methods", "get_context", "get_start_method", "parent_process",
           "set_start_method", "spawn", "ProcessRaisedException"]
