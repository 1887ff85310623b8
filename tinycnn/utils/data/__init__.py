"""``torch.utils.data`` for tinycnn: datasets, samplers, ``default_collate`` and a DataLoader with workers.

    from tinycnn.utils.data import DataLoader, TensorDataset, random_split
    train, val = random_split(TensorDataset(x, y), [0.8, 0.2], generator=tinycnn.Generator().manual_seed(0))
    for images, labels in DataLoader(train, batch_size=64, shuffle=True, num_workers=2):
        ...

This layer imports only tinycnn's backend and autograd core.
"""
from ._random import Generator
from .collate import default_collate, default_convert
from .dataloader import DataLoader
from .distributed import DistributedSampler
from .dataset import ChainDataset, ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset, random_split
from .sampler import (BatchSampler, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                      WeightedRandomSampler)
from .workers import WorkerInfo, get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset", "ChainDataset",
           "random_split", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "WeightedRandomSampler", "BatchSampler", "DistributedSampler", "DataLoader", "default_collate",
           "default_convert", "get_worker_info", "WorkerInfo", "Generator"]
