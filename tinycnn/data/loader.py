"""Datasets as index -> sample maps, and the DataLoader that cuts them into (shuffled) batches.

Two ways to make a batch:

* **batched** (array-backed datasets: MNIST, FashionMNIST, TensorDataset, and Subset of those): the dataset's
  ``get_batch(indices)`` indexes its arrays once with the whole index vector and applies the transform to the
  N x C x H x W batch. No Python loop per sample: a batch of 256 MNIST images costs one fancy-index.
* **generic** (any object with ``__len__`` and ``__getitem__``): samples are fetched one by one and stacked
  field by field by :func:`default_collate`.

Shuffling draws a permutation of ``range(len(dataset))`` from the loader's own ``numpy.random.Generator``
once per ``iter()``, so every epoch differs while the whole sequence is fixed by ``seed`` (or, with
``seed=None``, by tinycnn's global generator at the time the loader is built: ``tinycnn.manual_seed``).
``state_dict()`` captures that generator and the generators of random transforms in the dataset, so a run
restored from a checkpoint taken between epochs sees exactly the batches it would have seen.
"""
from __future__ import annotations

import copy
import math
import operator

import numpy as np

from .. import backend
from .transforms import random_transforms, seed_from_global_rng


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(i) -> sample`` (maybe ``get_batch``)."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, i):
        raise NotImplementedError


def _as_numpy(x):
    """Array from an ndarray, a tinycnn Tensor (``.numpy()``), or a nested list / scalar."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy") and not isinstance(x, np.generic):
        return x.numpy()
    return np.asarray(x)


class TensorDataset(Dataset):
    """Samples are rows of equally long arrays: ``dataset[i] == (a[i], b[i], ...)``."""

    def __init__(self, *arrays):
        if not arrays:
            raise ValueError("TensorDataset needs at least one array")
        self.arrays = tuple(_as_numpy(a) for a in arrays)
        lengths = [a.shape[0] if a.ndim else None for a in self.arrays]
        if None in lengths or len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset: all arrays must have the same first dimension, got shapes "
                             f"{[a.shape for a in self.arrays]}")

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, i):
        return tuple(a[i] for a in self.arrays)

    def get_batch(self, indices):
        indices = np.asarray(indices, dtype=np.int64)
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices`` (in that order); keeps the batched path when it has one."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise ValueError(f"Subset: indices must lie in [-{n}, {n}) for a dataset of {n} samples, got "
                             f"range [{self.indices.min()}, {self.indices.max()}]")
        self.indices = self.indices % max(n, 1)  # negative indices count from the end, as in Python

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i):
        return self.dataset[int(self.indices[operator.index(i)])]

    def get_batch(self, indices):
        inner = self.indices[np.asarray(indices, dtype=np.int64)]
        if hasattr(self.dataset, "get_batch"):
            return self.dataset.get_batch(inner)
        return default_collate([self.dataset[int(j)] for j in inner])

    def __getattr__(self, name):
        # Reach through for attributes such as ``classes`` or ``transform`` (not for private names).
        if name.startswith("_") or name == "dataset":
            raise AttributeError(name)
        return getattr(self.dataset, name)


def default_collate(samples):
    """Stack a list of samples field by field: tuples of arrays/numbers -> tuple of stacked arrays.

    Python ints (and integer arrays) become int64, Python floats float32; arrays keep their dtype.
    """
    if not samples:
        raise ValueError("default_collate: empty list of samples")
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("default_collate: samples have different numbers of fields")
        return tuple(default_collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, (bool, np.bool_)):
        return np.asarray(samples, dtype=np.bool_)
    if isinstance(first, (int, np.integer)) and not isinstance(first, np.ndarray):
        return np.asarray(samples, dtype=np.int64)
    if isinstance(first, float):
        return np.asarray(samples, dtype=np.float32)
    arrays = [_as_numpy(s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"default_collate: samples of different shapes cannot be stacked: {sorted(shapes)}")
    return np.stack(arrays)


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size``, yielding tuples of tinycnn Tensors.

    ``len(loader)`` is the number of batches: ceil(N / batch_size), or floor with ``drop_last=True`` (which
    drops the last, partial batch). ``shuffle=True`` draws a new permutation at every ``iter()``.
    ``device="cuda"`` moves each batch to the GPU (CuPy). ``tensors=False`` yields NumPy arrays instead.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 seed: int | None = None, *, device: str = "cpu", tensors: bool = True):
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative integer or None, got {seed!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.device = backend.normalize_device(device)
        self.tensors = bool(tensors)
        # Only a shuffling loader draws from the global generator: building a sequential loader (between
        # model init and training, say) must not change what the global generator yields next.
        if seed is None and self.shuffle:
            seed = seed_from_global_rng()
        self.seed = None if seed is None else int(seed)
        self.generator = np.random.default_rng(self.seed if self.seed is not None else 0)
        self.epoch = 0  # number of iter() calls so far

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def _order(self) -> np.ndarray:
        n = len(self.dataset)
        return self.generator.permutation(n) if self.shuffle else np.arange(n)

    def _fetch(self, batch_indices: np.ndarray):
        if hasattr(self.dataset, "get_batch"):
            batch = self.dataset.get_batch(batch_indices)
        else:
            batch = default_collate([self.dataset[int(i)] for i in batch_indices])
        return batch if isinstance(batch, tuple) else (batch,)

    def _wrap(self, array):
        array = np.asarray(array) if not hasattr(array, "shape") else array
        if self.device != "cpu":
            array = backend.to_device(array, self.device)
        if not self.tensors:
            return array
        from ..autograd import Tensor  # noqa: PLC0415  (lazy: the data layer does not need autograd to load)
        return Tensor(array)

    def __iter__(self):
        order = self._order()  # drawn now, so each iter() advances the generator exactly once
        self.epoch += 1
        return self._batches(order)

    def _batches(self, order):
        n_batches = len(self)
        for b in range(n_batches):
            batch_indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield tuple(self._wrap(a) for a in self._fetch(batch_indices))

    # ---- checkpointing ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The shuffling generator's state, the epoch count, and the states of random transforms."""
        return {"seed": self.seed, "epoch": self.epoch,
                "generator": copy.deepcopy(self.generator.bit_generator.state),
                "transforms": [t.state_dict() for t in random_transforms(self.dataset)]}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned: the next ``iter()`` continues that sequence exactly."""
        transforms = random_transforms(self.dataset)
        saved = state.get("transforms", [])
        if len(saved) != len(transforms):
            raise ValueError(f"DataLoader.load_state_dict: the state holds {len(saved)} random transform "
                             f"states but this dataset has {len(transforms)} random transforms")
        self.seed = state["seed"]
        self.epoch = state["epoch"]
        self.generator = np.random.default_rng()
        self.generator.bit_generator.state = copy.deepcopy(state["generator"])
        for t, s in zip(transforms, saved):
            t.load_state_dict(s)

    def __repr__(self) -> str:
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size="
                f"{self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})")
