"""The default process group over MPI, with PyTorch's ``torch.distributed`` names.

Rank and world size come from MPI: start the processes with ``mpiexec -n N python script.py`` (or
``tinycnn train --nproc N``); a script started alone is a group of one. mpi4py is imported here, on first
use, never by the rest of tinycnn.

Every collective is a nonblocking MPI request polled until it completes or the group's ``timeout`` passes.
A blocking MPI call would wait forever for a rank that died or hangs; here the waiting rank raises
``DistTimeoutError`` naming the collective, and when the process then ends it calls ``MPI_Abort``, which
makes the MPI launcher stop every rank (an ``MPI_Finalize`` would wait for the lost rank again).
"""
from __future__ import annotations

import atexit
import enum
import importlib.util
import pickle
import sys
import time
from datetime import timedelta

import numpy as np

INSTALL_HINT = 'pip install "tinycnn[distributed]"'
DEFAULT_TIMEOUT = timedelta(minutes=30)     # PyTorch's default for its process groups


class DistError(RuntimeError):
    """A collective operation failed (PyTorch: ``torch.distributed.DistError``)."""


class DistTimeoutError(DistError):
    """A collective did not complete within the process group's timeout: another rank died or hangs."""


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values (``AVG``: the sum divided by the world size)."""

    SUM = "sum"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


class _Group:
    def __init__(self, comm, timeout: float):
        self.comm, self.timeout = comm, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.broken = False                 # a collective timed out: end with MPI_Abort, not MPI_Finalize


_group: _Group | None = None


def _mpi():
    """mpi4py's MPI module, imported now (initialising MPI), or an ImportError that says how to install it."""
    try:
        from mpi4py import MPI  # noqa: PLC0415  (the optional dependency, only where it is used)
    except ImportError:
        raise ImportError(f"tinycnn.distributed needs mpi4py and an MPI library: {INSTALL_HINT}") from None
    return MPI


def is_available() -> bool:
    """Whether mpi4py is installed (without importing it)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    return _group is not None


def _seconds(timeout) -> float:
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not seconds > 0:
        raise ValueError(f"init_process_group: timeout must be a positive timedelta or number of seconds, "
                         f"got {timeout!r}")
    return float(seconds)


def init_process_group(backend: str | None = "mpi", init_method=None, timeout=None, world_size: int = -1,
                       rank: int = -1) -> None:
    """Join the default process group of all the processes MPI started. ``world_size`` and ``rank``, when
    given, must be what MPI says (they cannot be chosen: the launcher decides). ``timeout`` (a timedelta or
    seconds, default 30 minutes) bounds every collective's wait."""
    global _group
    if backend not in (None, "mpi"):
        raise ValueError(f"init_process_group: backend must be 'mpi' (the only one tinycnn has), got {backend!r}")
    if init_method not in (None, "env://", "mpi://"):
        raise ValueError(f"init_process_group: init_method is not used with MPI (the launcher connects the "
                         f"processes), got {init_method!r}")
    if _group is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    seconds = _seconds(DEFAULT_TIMEOUT if timeout is None else timeout)
    mpi = _mpi()
    group = _Group(mpi.COMM_WORLD.Dup(), seconds)
    for name, given, actual in (("world_size", world_size, group.size), ("rank", rank, group.rank)):
        if given not in (-1, None) and given != actual:
            group.comm.Free()
            raise ValueError(f"init_process_group: {name}={given} given, but MPI started this process with "
                             f"{name}={actual}; leave it out (the launcher's -n sets it)")
    _group = group
    atexit.register(_abort_if_broken, group)


def _abort_if_broken(group: _Group) -> None:
    if group.broken:
        sys.stdout.flush()
        sys.stderr.flush()
        group.comm.Abort(1)


def abort_at_exit() -> None:
    """End this process with ``MPI_Abort`` rather than ``MPI_Finalize``: for a rank that fails alone, so that
    the launcher stops the others at once instead of their waiting for it until the timeout."""
    _current("abort_at_exit").broken = True


def _current(what: str) -> _Group:
    if _group is None:
        raise ValueError(f"{what}: Default process group has not been initialized, please make sure to call "
                         f"init_process_group.")
    return _group


def get_rank(group=None) -> int:
    return _current("get_rank").rank


def get_world_size(group=None) -> int:
    return _current("get_world_size").size


def destroy_process_group(group=None) -> None:
    """Leave the default process group (a group whose collective timed out is left as it is: the process
    will abort when it ends)."""
    global _group
    current = _current("destroy_process_group")
    if not current.broken:
        current.comm.Free()
    _group = None


# ---- waiting with a deadline ---------------------------------------------------------------------------------
class Work:
    """A collective under way (PyTorch's ``Work``): ``wait()`` blocks until it is done or the group's timeout
    passes, then runs what finishes it (copy-back, division for AVG)."""

    def __init__(self, group: _Group, request, what: str, finish=None):
        self._group, self._request, self._what, self._finish = group, request, what, finish
        self._done = False

    def is_completed(self) -> bool:
        """Done? (Asking also lets MPI progress the transfer, which it does only inside MPI calls.)"""
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def _complete(self) -> None:
        self._done = True
        if self._finish is not None:
            self._finish()

    def wait(self, timeout=None) -> bool:
        if self._done:
            return True
        group = self._group
        limit = group.timeout if timeout is None else _seconds(timeout)
        deadline = time.monotonic() + limit
        delay = 0.0
        while not self._request.Test():
            if time.monotonic() > deadline:
                group.broken = True
                raise DistTimeoutError(f"rank {group.rank}: {self._what} did not complete within {limit:g} s: "
                                       f"another rank has died or hangs; stopping (the launcher ends every rank)")
            time.sleep(delay)   # back off to at most 1 ms between polls: the ranks share the cores
            delay = min(2 * delay or 1e-5, 1e-3)
        self._complete()
        return True


def _started(work: Work, async_op: bool) -> Work | None:
    """PyTorch's convention: an ``async_op`` collective returns its Work, a blocking one waits and returns None."""
    if async_op:
        return work
    work.wait()
    return None


def _buffer(tensor, what: str):
    """The NumPy array MPI reads and writes for ``tensor`` (a Tensor or an ndarray), and how to copy the
    result back when that array is a contiguous host copy rather than the storage itself."""
    array = getattr(tensor, "array", tensor)
    if not hasattr(array, "dtype") or not hasattr(array, "shape"):
        raise TypeError(f"{what}: expected a Tensor or an array, got {type(tensor).__name__}")
    if isinstance(array, np.ndarray) and array.flags.c_contiguous:
        return array, None
    host = np.ascontiguousarray(array.get() if hasattr(array, "get") else array)   # CuPy or a strided view

    def copy_back():
        array[...] = host if isinstance(array, np.ndarray) else type(array)(host)
    return host, copy_back


_OPS = {ReduceOp.SUM: "SUM", ReduceOp.PRODUCT: "PROD", ReduceOp.MIN: "MIN", ReduceOp.MAX: "MAX",
        ReduceOp.AVG: "SUM"}


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False):
    """Replace ``tensor`` on every rank by the combination (``op``) of all ranks' values, in place."""
    g = _current("all_reduce")
    if not isinstance(op, ReduceOp):
        raise TypeError(f"all_reduce: op must be a ReduceOp (SUM, PRODUCT, MIN, MAX, AVG), got {op!r}")
    buf, copy_back = _buffer(tensor, "all_reduce")
    if op is ReduceOp.AVG and buf.dtype.kind not in "fc":
        raise TypeError(f"all_reduce: ReduceOp.AVG needs a floating-point tensor, got {buf.dtype}")
    mpi = _mpi()

    def finish():
        if op is ReduceOp.AVG:
            buf[...] /= g.size
        if copy_back is not None:
            copy_back()
    request = g.comm.Iallreduce(mpi.IN_PLACE, buf, op=getattr(mpi, _OPS[op]))
    work = Work(g, request, f"all_reduce of {buf.size} {buf.dtype} values", finish)
    return _started(work, async_op)


def broadcast(tensor, src: int = 0, group=None, async_op: bool = False):
    """Copy ``tensor`` of rank ``src`` into ``tensor`` of every other rank, in place."""
    g = _current("broadcast")
    if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < g.size:
        raise ValueError(f"broadcast: src must be a rank from 0 to {g.size - 1}, got {src!r}")
    buf, copy_back = _buffer(tensor, "broadcast")
    work = Work(g, g.comm.Ibcast(buf, root=src), f"broadcast of {buf.size} {buf.dtype} values from rank {src}",
                copy_back)
    return _started(work, async_op)


def barrier(group=None, async_op: bool = False):
    """Wait until every rank has reached the barrier."""
    g = _current("barrier")
    work = Work(g, g.comm.Ibarrier(), "barrier")
    return _started(work, async_op)


def broadcast_object_list(object_list: list, src: int = 0, group=None) -> None:
    """Replace the items of ``object_list`` on every rank by rank ``src``'s (pickled, so any picklable
    objects), in place, as PyTorch's function of that name."""
    g = _current("broadcast_object_list")
    payload = np.frombuffer(pickle.dumps(list(object_list)), dtype=np.uint8) if g.rank == src else None
    size = np.array([0 if payload is None else payload.size], dtype=np.int64)
    broadcast(size, src)
    data = payload.copy() if payload is not None else np.empty(int(size[0]), dtype=np.uint8)
    broadcast(data, src)
    if g.rank != src:
        received = pickle.loads(data.tobytes())
        if len(received) != len(object_list):
            raise DistError(f"broadcast_object_list: rank {src} sent {len(received)} objects, this rank's list "
                            f"holds {len(object_list)}")
        object_list[:] = received
