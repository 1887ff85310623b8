"""Turning the indices of one batch into the batch: the same code runs in the main process and in workers.

Map-style datasets with auto-collation (a batch sampler) take the dataset's ``get_batch(indices)`` when the
loader collates with :func:`default_collate` (it promises the same batch, made in one step); otherwise each
sample is fetched (``__getitems__`` when the dataset has it, as in PyTorch, else ``dataset[i]`` one by one)
and handed to ``collate_fn``. Stream datasets pull ``batch_size`` samples from their iterator.
"""
from __future__ import annotations

import numpy as np

from .collate import default_collate


def _sample_index(i):
    return int(i) if isinstance(i, (np.integer, int)) and not isinstance(i, bool) else i


class MapFetcher:
    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.batched = auto_collation and collate_fn is default_collate and hasattr(dataset, "get_batch")

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[_sample_index(index)])
        if self.batched:
            return self.dataset.get_batch(np.asarray(index, dtype=np.int64))
        keys = [_sample_index(i) for i in index]
        if getattr(self.dataset, "__getitems__", None):
            samples = self.dataset.__getitems__(keys)
        else:
            samples = [self.dataset[k] for k in keys]
        return self.collate_fn(samples)


class IterableFetcher:
    """Pulls from ``iter(dataset)``; raises StopIteration when the stream (or, with drop_last, a full batch)
    runs out."""

    def __init__(self, dataset, auto_collation: bool, collate_fn, drop_last: bool, batch_size: int | None):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.batch_size = batch_size
        self.iterator = iter(dataset)
        self.ended = False

    def fetch(self, index=None):
        if self.ended:
            raise StopIteration
        if not self.auto_collation:
            try:
                return self.collate_fn(next(self.iterator))
            except StopIteration:
                self.ended = True
                raise
        samples = []
        for _ in range(self.batch_size):
            try:
                samples.append(next(self.iterator))
            except StopIteration:
                self.ended = True
                break
        if not samples or (self.drop_last and len(samples) < self.batch_size):
            self.ended = True
            raise StopIteration
        return self.collate_fn(samples)


def make_fetcher(dataset, is_iterable: bool, auto_collation: bool, collate_fn, drop_last: bool,
                 batch_size: int | None):
    if is_iterable:
        return IterableFetcher(dataset, auto_collation, collate_fn, drop_last, batch_size)
    return MapFetcher(dataset, auto_collation, collate_fn, drop_last)
