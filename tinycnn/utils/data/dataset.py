"""Datasets as ``torch.utils.data`` has them: index -> sample maps, streams, and ways to combine them.

A map-style dataset defines ``__len__`` and ``__getitem__(i) -> sample``. It may also define
``get_batch(indices) -> batch``: the batch that ``default_collate([dataset[i] for i in indices])`` would give,
made in one step (array-backed datasets index their arrays once with the whole index vector). The DataLoader
uses it when it collates with the default collate function; that is what makes an MNIST epoch a few hundred
fancy-indexings instead of 60,000 Python calls.
"""
from __future__ import annotations

import bisect
import math
import operator
import warnings

import numpy as np

from ...autograd import Tensor
from ._random import check_generator, numpy_generator
from .collate import default_collate


class Dataset:
    """Base class of map-style datasets: subclasses define ``__getitem__`` (and usually ``__len__``)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class of stream datasets: subclasses define ``__iter__``.

    With ``num_workers > 0`` every worker iterates its own copy; split the stream between them with
    :func:`tinycnn.utils.data.get_worker_info` (as in PyTorch), or each sample arrives once per worker.
    """

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __add__(self, other: "IterableDataset") -> "ChainDataset":
        return ChainDataset([self, other])


def _as_tensor(x, who: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"{who}: expected tensors (or NumPy arrays), got {type(x).__name__}")


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors: ``dataset[i] == (a[i], b[i], ...)`` (``.tensors``)."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self.tensors = tuple(_as_tensor(t, "TensorDataset") for t in tensors)
        if any(t.ndim == 0 for t in self.tensors) or len({t.shape[0] for t in self.tensors}) != 1:
            raise ValueError(f"TensorDataset: size mismatch between tensors: all need the same first dimension, "
                             f"got shapes {[tuple(t.shape) for t in self.tensors]}")

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def get_batch(self, indices):
        """``[a[indices], b[indices], ...]``: what default_collate makes of the rows, in one indexing each."""
        idx = np.asarray(indices, dtype=np.int64)
        return [Tensor(t.array[idx]) for t in self.tensors]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order (``.dataset``, ``.indices``).

    ``classes`` and ``class_to_idx`` are read through from the wrapped dataset; other attributes (``data``,
    ``targets``) are the full dataset's and are reached as ``subset.dataset.data``.
    """

    _READ_THROUGH = ("classes", "class_to_idx")

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices
        self._index_source = None
        self._index_array = None
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if hasattr(dataset, "__len__") and idx.size:
            n = len(dataset)
            if idx.min() < -n or idx.max() >= n:
                raise ValueError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples, got "
                                 f"indices from {idx.min()} to {idx.max()}")

    def _indices(self) -> np.ndarray:
        # Cached while ``self.indices`` is the same object: converting a 60,000-long list costs milliseconds.
        if self._index_source is not self.indices:
            arr = np.asarray(self.indices, dtype=np.int64).reshape(-1)
            if hasattr(self.dataset, "__len__") and len(self.dataset):
                arr = arr % len(self.dataset)  # negative indices count from the end, as in Python
            self._index_array, self._index_source = arr, self.indices
        return self._index_array

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):
            return [self.dataset[int(self._indices()[i])] for i in index]
        return self.dataset[int(self._indices()[operator.index(index)])]

    def get_batch(self, indices):
        inner = self._indices()[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(inner)
        return default_collate([self.dataset[int(j)] for j in inner])

    def __getattr__(self, name):
        if name in Subset._READ_THROUGH and "dataset" in self.__dict__:
            return getattr(self.__dict__["dataset"], name)
        raise AttributeError(f"'Subset' object has no attribute {name!r}")


class ConcatDataset(Dataset):
    """Several map-style datasets one after another (``.datasets``, ``.cumulative_sizes``)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset (use ChainDataset)")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = operator.index(index)
        if index < 0:
            if -index > len(self):
                raise ValueError(f"ConcatDataset: index {index} is out of range for {len(self)} samples")
            index += len(self)
        if index >= len(self):
            raise IndexError(f"ConcatDataset: index {index} is out of range for {len(self)} samples")
        d = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[d - 1] if d else 0
        return self.datasets[d][index - start]


class ChainDataset(IterableDataset):
    """Several stream datasets one after another."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")

    def __iter__(self):
        for d in self.datasets:
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


def random_split(dataset, lengths, generator=None) -> list[Subset]:
    """Split ``dataset`` into non-overlapping random :class:`Subset` s of the given ``lengths``.

    ``lengths`` are counts summing to ``len(dataset)``, or fractions summing to 1: each gets
    ``floor(fraction * N)`` samples and the remainder is dealt one by one, round-robin, as PyTorch does.
    The permutation is drawn from ``generator`` (None: the global generator, see ``tinycnn.manual_seed``).
    """
    check_generator(generator, "random_split")
    n = len(dataset)
    lengths = list(lengths)
    if lengths and math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if frac < 0 or frac > 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, got {frac}")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        for i, c in enumerate(counts):
            if c == 0:
                warnings.warn(f"random_split: length of split at index {i} is 0; this split is empty", stacklevel=2)
        lengths = counts
    if any(isinstance(c, bool) or not isinstance(c, (int, np.integer)) or c < 0 for c in lengths):
        raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, "
                         f"got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"random_split: the lengths {lengths} sum to {sum(lengths)}, but the dataset has {n} "
                         f"samples")
    order = numpy_generator(generator, "random_split").permutation(n)
    splits, offset = [], 0
    for c in lengths:
        splits.append(Subset(dataset, order[offset:offset + c].tolist()))
        offset += c
    return splits
