"""``torchvision.datasets`` for tinycnn: MNIST, FashionMNIST, CIFAR10, CIFAR100, ImageFolder, DatasetFolder.

    from tinycnn.vision import datasets, transforms
    train = datasets.CIFAR10("data", train=True, download=True, transform=transforms.ToTensor())

Every file is verified before use (SHA-256 or MD5 from a published source), downloads are atomic, archives
are unpacked safely and pickles read without running code; a damaged or missing file raises an error naming
it. MNIST ships with tinycnn: ``datasets.MNIST()`` (or any ``root``) works offline.
"""
from .cifar import CIFAR10, CIFAR100
from .folder import (IMG_EXTENSIONS, DatasetFolder, ImageFileError, ImageFolder, default_loader, find_classes,
                     has_file_allowed_extension, is_image_file, make_dataset, pil_loader)
from .mnist import MNIST, FashionMNIST
from .utils import DataFileError, DownloadError, cache_dir, download_file
from .vision import ArrayImageDataset, StandardTransform, VisionDataset

__all__ = ["MNIST", "FashionMNIST", "CIFAR10", "CIFAR100", "ImageFolder", "DatasetFolder", "VisionDataset",
           "ArrayImageDataset", "StandardTransform", "IMG_EXTENSIONS", "default_loader", "pil_loader",
           "find_classes", "make_dataset", "has_file_allowed_extension", "is_image_file", "DataFileError",
           "ImageFileError", "DownloadError", "cache_dir", "download_file"]
