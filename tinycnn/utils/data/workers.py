"""DataLoader worker processes: each fetches whole batches and sends them back through a queue.

The main process hands batch k to worker ``k % num_workers`` (so which worker makes which batch, and hence
which random numbers each batch's augmentation draws, is fixed by the seeds alone) and keeps up to
``prefetch_factor`` batches per worker in flight. Results come back in any order and are yielded in batch
order (or as they arrive, with ``in_order=False``).

Every worker seeds tinycnn's global generator (which random transforms draw from), Python's ``random`` and
NumPy's legacy global generator from ``base_seed + worker_id``, where ``base_seed`` is drawn from the
loader's generator when the workers start, as PyTorch does; so workers never repeat each other's
augmentations, and a seeded run repeats itself. Workers use one BLAS thread each and ignore Ctrl-C (the main
process stops them). A worker that dies, an exception raised in one, and a batch that takes longer than
``timeout`` seconds each raise an error in the main process that names the worker.
"""
from __future__ import annotations

import os
import queue
import random
import signal
import time
import traceback
import weakref
from dataclasses import dataclass

import numpy as np

from ... import backend
from .fetch import make_fetcher

_POLL_SECONDS = 1.0   # how often a waiting main process checks that its workers are alive
_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker knows about itself: ``get_worker_info()`` inside a worker returns one."""
    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info() -> WorkerInfo | None:
    """The current worker's :class:`WorkerInfo`, or None in the main process."""
    return _worker_info


class _RemoteTraceback(Exception):
    """Carries a worker's traceback text as the ``__cause__`` of the error re-raised in the main process."""

    def __str__(self) -> str:
        return self.args[0]


def _seed_worker(seed: int, base_seed: int, worker_id: int) -> None:
    backend.manual_seed(seed % (2**63))
    random.seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed % (2**63), worker_id]).generate_state(4))


def _worker_loop(dataset, is_iterable, auto_collation, collate_fn, drop_last, batch_size, index_queue,
                 result_queue, worker_id, num_workers, base_seed, worker_init_fn, parent_pid):
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from threadpoolctl import threadpool_limits  # noqa: PLC0415  (only worker processes limit BLAS)
        threadpool_limits(1)
    except ImportError:
        pass
    seed = base_seed + worker_id
    _seed_worker(seed, base_seed, worker_id)
    _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
    init_error = None
    if worker_init_fn is not None:
        try:
            worker_init_fn(worker_id)
        except Exception as exc:  # noqa: BLE001  (sent to the main process, which raises it)
            init_error = _error_payload(exc)
    fetcher, fetcher_epoch = None, None
    while True:
        try:
            task = index_queue.get(timeout=5.0)
        except queue.Empty:
            if not _parent_alive(parent_pid):  # the main process is gone: nobody will read our results
                return
            continue
        if task is None:
            return
        epoch, batch_idx, index = task
        if init_error is not None:
            result_queue.put((epoch, batch_idx, "error", init_error))
            continue
        try:
            if fetcher is None or fetcher_epoch != epoch:
                fetcher = make_fetcher(dataset, is_iterable, auto_collation, collate_fn, drop_last, batch_size)
                fetcher_epoch = epoch
            result = ("ok", fetcher.fetch(index))
        except StopIteration:
            result = ("end", None)
        except Exception as exc:  # noqa: BLE001  (sent to the main process, which raises it)
            result = ("error", _error_payload(exc))
        result_queue.put((epoch, batch_idx) + result)


def _parent_alive(parent_pid: int) -> bool:
    import multiprocessing  # noqa: PLC0415  (already loaded in a worker)
    parent = multiprocessing.parent_process()   # the loader's process, whatever the start method
    if parent is not None:
        return parent.is_alive()
    return os.getppid() == parent_pid


def _error_payload(exc: BaseException):
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        import pickle  # noqa: PLC0415  (only a failing worker needs it)
        pickle.dumps(exc)
        return exc, text
    except Exception:  # noqa: BLE001  (an exception that cannot travel is sent as text)
        return RuntimeError(f"{type(exc).__name__}: {exc}"), text


def _reraise(worker_id: int, payload):
    exc, text = payload
    message = f"Caught {type(exc).__name__} in DataLoader worker process {worker_id}: {exc}"
    try:
        new = type(exc)(message)
    except Exception:  # noqa: BLE001  (exception types with other constructors)
        new = RuntimeError(message)
    raise new from _RemoteTraceback(text)


def _stop_processes(processes, queues) -> None:
    for q in queues[1:]:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    deadline = time.monotonic() + 5.0
    for p in processes:
        p.join(timeout=max(deadline - time.monotonic(), 0.0))
        if p.is_alive():
            p.terminate()
            p.join(timeout=1.0)
    for q in queues:
        q.cancel_join_thread()
        q.close()


def _widen_pipe(q) -> None:
    """Give a queue's pipe a 1 MiB buffer (Linux; 64 KiB by default), so that a batch of up to that size
    crosses in one write and one read instead of a ping-pong of 64 KiB pieces, each a context switch: on a
    busy machine those switches, not the copying, were the cost of a batch from a worker."""
    try:
        import fcntl  # noqa: PLC0415  (POSIX only)
        fcntl.fcntl(q._writer.fileno(), fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # other platforms, or a smaller limit: the default buffer works, only slower


def _context(method):
    import multiprocessing  # noqa: PLC0415  (only worker pools need it)
    if method is None:
        # fork where the platform has it: workers start in milliseconds and share the dataset's arrays
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    if method is None or isinstance(method, str):
        return multiprocessing.get_context(method)
    return method


class WorkerPool:
    """``num_workers`` processes with one task queue each and one shared result queue."""

    def __init__(self, loader, base_seed: int):
        ctx = _context(loader.multiprocessing_context)
        self.num_workers = loader.num_workers
        self.result_queue = ctx.Queue()
        _widen_pipe(self.result_queue)
        self.index_queues, self.processes = [], []
        for wid in range(self.num_workers):
            iq = ctx.Queue()
            p = ctx.Process(target=_worker_loop, daemon=True, name=f"tinycnn-DataLoader-worker-{wid}",
                            args=(loader.dataset, loader._is_iterable, loader._auto_collation, loader.collate_fn,
                                  loader.drop_last, loader.batch_size, iq, self.result_queue, wid,
                                  self.num_workers, base_seed, loader.worker_init_fn, os.getpid()))
            p.start()
            self.index_queues.append(iq)
            self.processes.append(p)
        self._finalizer = weakref.finalize(self, _stop_processes, list(self.processes),
                                           [self.result_queue] + self.index_queues)

    def shutdown(self, graceful: bool = True) -> None:
        """Stop the workers: let them finish their current batch (``graceful``) or terminate them now."""
        if not graceful and self._finalizer.alive:
            for p in self.processes:
                if p.is_alive():
                    p.terminate()
        self._finalizer()

    @property
    def alive(self) -> bool:
        return self._finalizer.alive and all(p.is_alive() for p in self.processes)

    def check_alive(self) -> None:
        for wid, p in enumerate(self.processes):
            if not p.is_alive():
                code = p.exitcode
                how = (f"was killed by signal {signal.Signals(-code).name}" if code is not None and code < 0
                       else f"exited unexpectedly with exit code {code}")
                self.shutdown(graceful=False)
                raise RuntimeError(f"DataLoader worker {wid} (pid {p.pid}) {how}")


class MultiProcessIterator:
    """One pass over the loader's batches, made by a :class:`WorkerPool`."""

    def __init__(self, loader, pool: WorkerPool, owns_pool: bool, epoch: int, tasks):
        self._loader = loader
        self._pool = pool
        self._owns_pool = owns_pool
        self._epoch = epoch
        self._tasks = iter(tasks)
        self._tasks_left = True
        self._send_idx = 0
        self._next_worker = 0
        self._next_idx = 0                 # the next batch to yield, in order
        self._pending: dict[int, int] = {}  # sent, not yet yielded: batch index -> worker
        self._ready: dict[int, tuple] = {}
        self._exhausted: set[int] = set()  # workers whose stream has ended (stream datasets)
        for _ in range(loader.prefetch_factor * pool.num_workers):
            self._send()

    def _send(self) -> None:
        if not self._tasks_left:
            return
        n = self._pool.num_workers
        if len(self._exhausted) == n:
            self._tasks_left = False
            return
        worker = self._next_worker
        while worker in self._exhausted:    # stream datasets: skip the workers that have ended
            worker = (worker + 1) % n
        self._next_worker = (worker + 1) % n
        try:
            index = next(self._tasks)
        except StopIteration:
            self._tasks_left = False
            return
        self._pool.index_queues[worker].put((self._epoch, self._send_idx, index))
        self._pending[self._send_idx] = worker
        self._send_idx += 1

    def _receive(self) -> None:
        timeout = self._loader.timeout
        start = time.monotonic()
        while True:
            wait = _POLL_SECONDS if not timeout else max(min(_POLL_SECONDS, timeout - (time.monotonic() - start)),
                                                         0.001)
            try:
                epoch, idx, kind, payload = self._pool.result_queue.get(timeout=wait)
            except queue.Empty:
                self._pool.check_alive()
                if timeout and time.monotonic() - start >= timeout:
                    self._close(graceful=False)
                    raise RuntimeError(f"DataLoader timed out after {timeout} seconds waiting for a batch "
                                       f"from its {self._pool.num_workers} workers") from None
                continue
            if epoch == self._epoch:        # results of an abandoned earlier pass are dropped
                self._ready[idx] = (kind, payload)
                return

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            if not self._pending:
                self._close()
                raise StopIteration
            idx = self._next_idx if self._loader.in_order else next(iter(self._ready), None)
            if idx is None or idx not in self._ready:
                self._receive()
                continue
            kind, payload = self._ready.pop(idx)
            worker = self._pending.pop(idx)
            if self._loader.in_order:
                self._next_idx += 1
            if kind == "end":
                self._exhausted.add(worker)
                self._send()
                continue
            self._send()
            if kind == "error":
                self._close(graceful=False)
                _reraise(worker, payload)
            return payload

    def _close(self, graceful: bool = True) -> None:
        self._pending.clear()
        self._tasks_left = False
        if self._owns_pool:
            self._pool.shutdown(graceful)

    def __del__(self):
        if getattr(self, "_owns_pool", False):
            self._pool.shutdown()
