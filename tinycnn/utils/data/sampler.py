"""Samplers: the order in which a DataLoader visits a dataset's indices (``torch.utils.data`` names).

A sampler is any iterable of indices (with ``__len__`` when the loader's length is asked for). The standard
ones here also expose ``epoch_indices()``: one pass's whole order as an int64 array, drawn exactly as one
``iter()`` would draw it, which lets the loader slice batches without a Python loop over samples.
"""
from __future__ import annotations

import math

import numpy as np

from ._random import check_generator, draw_seed, numpy_generator


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{what} should be a positive integer value, but got {what}={value!r}")
    return int(value)


def _boolean(value, what: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what} should be a boolean value, but got {what}={value!r}")
    return bool(value)


class Sampler:
    """Base class: subclasses define ``__iter__`` (yielding indices) and usually ``__len__``."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def epoch_indices(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each pass (or ``num_samples`` draws with ``replacement=True``).

    Without a ``generator`` each pass seeds a fresh one from the global generator, as PyTorch does, so
    ``tinycnn.manual_seed`` fixes the whole sequence of epochs.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None, generator=None):
        self.data_source = data_source
        self.replacement = _boolean(replacement, "replacement")
        self._num_samples = None if num_samples is None else _positive_int(num_samples, "num_samples")
        self.generator = check_generator(generator, "RandomSampler")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _rng(self) -> np.random.Generator:
        if self.generator is None:
            return np.random.default_rng(draw_seed())
        return numpy_generator(self.generator, "RandomSampler")

    def epoch_indices(self) -> np.ndarray:
        n, rng = len(self.data_source), self._rng()
        if self.replacement:
            return rng.integers(0, n, size=self.num_samples, dtype=np.int64)
        whole, rest = divmod(self.num_samples, n) if n else (0, 0)
        parts = [rng.permutation(n) for _ in range(whole)] + ([rng.permutation(n)[:rest]] if rest else [])
        return np.concatenate(parts).astype(np.int64, copy=False) if parts else np.zeros(0, np.int64)

    def __iter__(self):
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order each pass."""

    def __init__(self, indices, generator=None):
        self.indices = indices
        self.generator = check_generator(generator, "SubsetRandomSampler")

    def epoch_indices(self) -> np.ndarray:
        rng = numpy_generator(self.generator, "SubsetRandomSampler") if self.generator is not None else \
            np.random.default_rng(draw_seed())
        return np.asarray(self.indices, dtype=np.int64)[rng.permutation(len(self.indices))]

    def __iter__(self):
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices drawn with probability proportional to ``weights``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        self.num_samples = _positive_int(num_samples, "num_samples")
        self.replacement = _boolean(replacement, "replacement")
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have "
                             f"shape {tuple(w.shape)}")
        if w.size == 0 or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and not all zero")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise ValueError(f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement "
                             f"from {np.count_nonzero(w)} non-zero weights")
        self.weights = w
        self.generator = check_generator(generator, "WeightedRandomSampler")

    def epoch_indices(self) -> np.ndarray:
        rng = numpy_generator(self.generator, "WeightedRandomSampler") if self.generator is not None else \
            np.random.default_rng(draw_seed())
        return rng.choice(len(self.weights), size=self.num_samples, replace=self.replacement,
                          p=self.weights / self.weights.sum()).astype(np.int64)

    def __iter__(self):
        return iter(self.epoch_indices().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size`` (the last one shorter unless
    ``drop_last``)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.drop_last = _boolean(drop_last, "drop_last")

    def epoch_batches(self) -> list[np.ndarray]:
        """One pass's batches as int64 arrays, sliced from the sampler's ``epoch_indices()``."""
        order = self.sampler.epoch_indices()
        n = len(order)
        stop = n - n % self.batch_size if self.drop_last else n
        return [order[i:i + self.batch_size] for i in range(0, stop, self.batch_size)]

    def __iter__(self):
        if hasattr(self.sampler, "epoch_indices"):
            return (b.tolist() for b in self.epoch_batches())
        return self._chunks()

    def _chunks(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
