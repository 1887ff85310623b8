"""``DistributedSampler``: each of ``num_replicas`` processes visits its own share of a dataset, as
``torch.utils.data.distributed.DistributedSampler`` does.

One pass: the order (``0..n-1``, or a permutation drawn from ``seed + epoch`` when ``shuffle``) is made a
multiple of ``num_replicas`` long -- by repeating its first indices (padding) or, with ``drop_last``, by
cutting its tail -- and rank ``r`` takes every ``num_replicas``-th index starting at ``r``. So every rank
gets ``num_samples`` indices, the ranks' shares are disjoint apart from the padding, and the batches ranks
take at the same step together are the consecutive positions a single process with ``num_replicas`` times
the batch size would take. Call ``set_epoch(epoch)`` before each pass for a new order each epoch; every
rank must be given the same ``seed``.
"""
from __future__ import annotations

import math

import numpy as np

from .sampler import Sampler, _boolean


class DistributedSampler(Sampler):
    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False):
        if num_replicas is None or rank is None:
            from ... import distributed as dist  # noqa: PLC0415  (only when the group must say it)
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank come from the default process "
                                   "group, which is not initialized (call tinycnn.distributed.init_process_group()"
                                   " or pass both)")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"DistributedSampler: {name} must be an int, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank, self.seed = int(num_replicas), int(rank), int(seed)
        self.shuffle, self.drop_last = _boolean(shuffle, "shuffle"), _boolean(drop_last, "drop_last")
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)   # the tail is cut
        else:
            self.num_samples = math.ceil(n / self.num_replicas)                        # the order is padded
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """The pass about to start: with ``shuffle`` it selects the permutation, the same on every rank."""
        self.epoch = int(epoch)

    def epoch_indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n).astype(np.int64)
        else:
            order = np.arange(n, dtype=np.int64)
        if self.drop_last:
            order = order[:self.total_size]
        elif self.total_size > n:
            order = np.resize(order, self.total_size)   # repeats the order from its start, as often as needed
        return order[self.rank:self.total_size:self.num_replicas]

    def __iter__(self):
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples
