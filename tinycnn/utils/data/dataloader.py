"""``DataLoader``: batches of a dataset, in the main process or in worker processes (``torch.utils.data``).

Each ``iter()`` is one pass (an epoch). The order comes from the sampler (``shuffle=True`` builds a
:class:`RandomSampler`), a :class:`BatchSampler` groups it into batches, and each batch is fetched and
collated (see ``fetch.py``): by the dataset's ``get_batch`` in one step when it has one and the default
collate function is used, otherwise sample by sample. The order of a pass is drawn when ``iter()`` is called,
so each ``iter()`` advances the shuffling generator exactly once.

Beyond PyTorch's arguments: ``seed=`` is a shorthand for ``generator=tinycnn.Generator().manual_seed(seed)``,
``device="cuda"`` moves every batch to the GPU, and ``state_dict()`` / ``load_state_dict()`` save and restore
the shuffling generator and the pass count, so a run resumed between epochs sees the batches it would have.
``pin_memory`` is accepted and does nothing (NumPy memory needs no pinning; ``device=`` does the copy).
"""
from __future__ import annotations

import math

import numpy as np

from ... import backend
from ...autograd import Tensor
from ._random import Generator, check_generator, draw_seed, generator_state, restore_generator_state
from .collate import default_collate, default_convert
from .dataset import IterableDataset
from .fetch import make_fetcher
from .sampler import BatchSampler, RandomSampler, SequentialSampler
from .workers import MultiProcessIterator, WorkerPool


def _non_negative(value, message: str):
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or value < 0:
        raise ValueError(message)
    return value


class DataLoader:
    """Iterate over ``dataset`` in batches; the arguments are PyTorch's (see this module's docstring)."""

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None, sampler=None,
                 batch_sampler=None, num_workers: int = 0, collate_fn=None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None, multiprocessing_context=None,
                 generator=None, *, prefetch_factor: int | None = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True, seed: int | None = None,
                 device: str = "cpu"):
        self._is_iterable = isinstance(dataset, IterableDataset)
        if not self._is_iterable and not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __getitem__ (map-style) or be an IterableDataset, "
                            f"got {type(dataset).__name__}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             f"multiprocessing (got num_workers={num_workers!r})")
        _non_negative(timeout, f"timeout option should be non-negative, got timeout={timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing: let "
                             "num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        if prefetch_factor is not None and (isinstance(prefetch_factor, bool) or
                                            not isinstance(prefetch_factor, (int, np.integer)) or
                                            prefetch_factor < 1):
            raise ValueError(f"prefetch_factor option should be a positive integer, got {prefetch_factor!r}")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, (int, np.integer)) or batch_size <= 0):
            raise ValueError(f"batch_size should be a positive integer value or None, but got "
                             f"batch_size={batch_size!r}")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {type(collate_fn).__name__}")
        if seed is not None:
            if generator is not None:
                raise ValueError("DataLoader: give seed= or generator=, not both")
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed!r}")
            generator = Generator().manual_seed(int(seed))
        check_generator(generator, "DataLoader")

        if self._is_iterable:
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} option, "
                                     f"but got {name}={value!r}")
        else:
            if sampler is not None and shuffle:
                raise ValueError("sampler option is mutually exclusive with shuffle")
            if batch_sampler is not None:
                if batch_size != 1 or shuffle or sampler is not None or drop_last:
                    raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                     "sampler, and drop_last")
                batch_size, drop_last = None, False
            elif batch_size is None and drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with "
                                 "drop_last")
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))

        self.dataset = dataset
        self.batch_size = None if batch_size is None else int(batch_size)
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.num_workers = int(num_workers)
        self.prefetch_factor = None if prefetch_factor is None else int(prefetch_factor)
        self.pin_memory = bool(pin_memory)
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.persistent_workers = bool(persistent_workers)
        self.in_order = bool(in_order)
        self.seed = None if seed is None else int(seed)
        self.device = backend.normalize_device(device)
        self._auto_collation = self.batch_sampler is not None if not self._is_iterable else batch_size is not None
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.epoch = 0  # passes started so far
        self._pool: WorkerPool | None = None

    # ---- one pass ---------------------------------------------------------------------------------------------
    def _tasks(self):
        """What each fetch gets: a batch's indices, a single index (batch_size=None), or None (streams)."""
        if self._is_iterable:
            return iter(int, 1)  # endless: the stream decides when the pass ends
        if self._auto_collation:
            if hasattr(self.batch_sampler, "epoch_batches") and hasattr(self.batch_sampler.sampler, "epoch_indices"):
                return self.batch_sampler.epoch_batches()   # the order is drawn now
            return iter(self.batch_sampler)
        if hasattr(self.sampler, "epoch_indices"):
            return self.sampler.epoch_indices()
        return iter(self.sampler)

    def __iter__(self):
        self.epoch += 1
        tasks = self._tasks()
        if self.num_workers == 0:
            return self._single_process(tasks)
        if self.persistent_workers:
            if self._pool is None or not self._pool.alive:
                self._pool = WorkerPool(self, draw_seed(self.generator))
            return self._moved(MultiProcessIterator(self, self._pool, False, self.epoch, tasks))
        pool = WorkerPool(self, draw_seed(self.generator))
        return self._moved(MultiProcessIterator(self, pool, True, self.epoch, tasks))

    def _single_process(self, tasks):
        fetcher = make_fetcher(self.dataset, self._is_iterable, self._auto_collation, self.collate_fn,
                               self.drop_last, self.batch_size)
        for index in tasks:
            try:
                batch = fetcher.fetch(index)
            except StopIteration:
                return
            yield self._to_device(batch)

    def _moved(self, batches):
        if self.device == "cpu":
            return batches
        return (self._to_device(b) for b in batches)

    def _to_device(self, batch):
        if self.device == "cpu":
            return batch
        if isinstance(batch, Tensor):
            return batch.to(self.device)
        if isinstance(batch, dict):
            return {k: self._to_device(v) for k, v in batch.items()}
        if isinstance(batch, (list, tuple)):
            moved = [self._to_device(v) for v in batch]
            return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
        return batch

    def __len__(self) -> int:
        if self._is_iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        return len(self.batch_sampler if self._auto_collation else self.sampler)

    # ---- checkpointing ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The pass count and the state of the loader's generator (None when it uses the global one)."""
        return {"seed": self.seed, "epoch": self.epoch, "generator": generator_state(self.generator)}

    def load_state_dict(self, state: dict) -> None:
        """Restore :meth:`state_dict`'s result: the next ``iter()`` continues that sequence exactly."""
        self.epoch = int(state["epoch"])
        saved = state.get("generator")
        if saved is not None and "bit_generator" in saved and isinstance(saved["bit_generator"], str):
            saved = {"seed": state.get("seed") or 0, "bit_generator": saved}  # a NumPy state saved on its own
        if saved is not None and self.generator is None:
            raise ValueError("DataLoader.load_state_dict: the state holds a generator but this loader has none "
                             "(build it with seed= or generator=)")
        restore_generator_state(self.generator, saved)

    def __repr__(self) -> str:
        size = len(self.dataset) if hasattr(self.dataset, "__len__") else "?"
        return (f"DataLoader({type(self.dataset).__name__} of {size}, batch_size={self.batch_size}, "
                f"shuffle={isinstance(self.sampler, RandomSampler)}, num_workers={self.num_workers}, "
                f"drop_last={self.drop_last})")
