"""Data: MNIST / Fashion-MNIST (verified IDX files; MNIST ships with tinycnn), DataLoader, transforms.

    from tinycnn.data import MNIST, DataLoader, transforms as T
    train = MNIST(train=True, transform=T.Normalize(0.1307, 0.3081))
    for images, labels in DataLoader(train, batch_size=128, shuffle=True, seed=0):
        ...  # images: float32 Tensor (128, 1, 28, 28); labels: int64 Tensor (128,)

This layer imports only tinycnn.backend (and tinycnn.autograd lazily, to wrap batches in Tensors).
"""
from . import transforms
from .idx import DataFileError, load_idx_gz, parse_idx, write_idx_gz
from .loader import DataLoader, Dataset, Subset, TensorDataset, default_collate
from .mnist import MNIST, DownloadError, FashionMNIST, IDXClassification, cache_dir, download_file

__all__ = ["MNIST", "FashionMNIST", "IDXClassification", "DataLoader", "Dataset", "Subset", "TensorDataset",
           "default_collate", "transforms", "DataFileError", "DownloadError", "load_idx_gz", "parse_idx",
           "write_idx_gz", "download_file", "cache_dir"]
