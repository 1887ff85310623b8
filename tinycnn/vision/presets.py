"""What each dataset needs by default, in one place: channels, image size, normalisation, class names,
and the standard training / evaluation pipelines built from them.

    info = dataset_info("cifar10")            # DatasetInfo(channels=3, image_size=32, mean=..., std=..., ...)
    train_tf = train_transform("cifar10", augment=True)
    eval_tf = eval_transform("cifar10")
    train, test = load_dataset("cifar10", "data", train=True, transform=train_tf, download=True), ...

A pipeline is made only of named transforms, so ``transforms.describe(eval_tf)`` can be stored with a model
and ``transforms.rebuild`` gives the same preprocessing back when the model is used on new images.

Normalisation constants: MNIST's and Fashion-MNIST's are the mean and standard deviation of all training
pixels after /255 (checked against the shipped and the Debian files by the tests); CIFAR's are the
per-channel mean and standard deviation of the training images as commonly published; image folders use
ImageNet's (torchvision's pretrained models expect them).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..utils.data import Subset
from . import datasets, transforms as T

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class DatasetInfo:
    """Defaults of one dataset. ``image_size`` is the side it is stored at (for folders: the usual crop);
    ``classes`` is None when they come from the data (CIFAR-100's meta file, a folder's subfolders)."""
    name: str
    dataset: str                      # the class in tinycnn.vision.datasets
    channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    classes: tuple[str, ...] | None
    num_classes: int | None
    augment: tuple[str, ...]          # what the standard augmentation does, in words
    grey: bool = False


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo("mnist", "MNIST", 1, 28, (0.1307,), (0.3081,), tuple(datasets.MNIST.classes), 10,
                         ("shift by up to 2 pixels (RandomCrop(28, padding=2))",), grey=True),
    "fashion-mnist": DatasetInfo("fashion-mnist", "FashionMNIST", 1, 28, (0.2860,), (0.3530,),
                                 tuple(datasets.FashionMNIST.classes), 10,
                                 ("shift by up to 2 pixels", "mirror left-right"), grey=True),
    "cifar10": DatasetInfo("cifar10", "CIFAR10", 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616),
                           CIFAR10_CLASSES, 10, ("shift by up to 4 pixels (RandomCrop(32, padding=4))",
                                                 "mirror left-right")),
    "cifar100": DatasetInfo("cifar100", "CIFAR100", 3, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762),
                            None, 100, ("shift by up to 4 pixels", "mirror left-right")),
    "folder": DatasetInfo("folder", "ImageFolder", 3, 224, IMAGENET_MEAN, IMAGENET_STD, None, None,
                          ("random crop of 8-100% of the area, aspect 3/4-4/3, resized (RandomResizedCrop)",
                           "mirror left-right")),
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"dataset_info: unknown dataset {name!r}; expected one of {sorted(DATASETS)}") from None


def _normalisation(info: DatasetInfo, channels: int):
    mean, std = info.mean, info.std
    if channels == len(mean):
        return list(mean), list(std)
    if channels == 3:                       # a grey dataset fed to a colour model: three equal channels
        return [mean[0]] * 3, [std[0]] * 3
    weights = (0.2989, 0.587, 0.114)        # a colour dataset fed to a grey model: the luma of the statistics
    return [float(np.dot(weights, mean))], [float(np.dot(weights, std))]


def _colour_steps(info: DatasetInfo, channels: int | None):
    """(the first steps, the mean and std per output channel) for a model taking ``channels`` channels."""
    channels = info.channels if channels is None else int(channels)
    if channels not in (1, 3):
        raise ValueError(f"{info.name}: channels must be 1 or 3, got {channels}")
    # Grey datasets always pass through Grayscale (a no-op on their own images), so that a colour photo given
    # to a model trained on them is converted the same way.
    steps = [T.Grayscale(channels)] if info.grey or channels != info.channels else []
    return steps, _normalisation(info, channels)


def eval_transform(name: str, input_size: int | None = None, channels: int | None = None) -> T.Compose:
    """The evaluation (and prediction) preprocessing: a fixed resize / centre crop, ToTensor, Normalize."""
    info = dataset_info(name)
    size = info.image_size if input_size is None else int(input_size)
    steps, (mean, std) = _colour_steps(info, channels)
    if info.name == "folder":
        steps += [T.Resize(int(math.floor(size * 256 / 224))), T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)]
        return T.Compose(steps)
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    if size != info.image_size:   # after ToTensor: resampled as a batch, on tensors
        steps.append(T.Resize([size, size]))
    return T.Compose(steps)


def train_transform(name: str, input_size: int | None = None, channels: int | None = None,
                    augment: bool = False) -> T.Compose:
    """The training preprocessing: :func:`eval_transform`, preceded by the standard augmentation when
    ``augment`` (see ``DatasetInfo.augment``)."""
    info = dataset_info(name)
    if not augment:
        return eval_transform(name, input_size, channels)
    size = info.image_size if input_size is None else int(input_size)
    steps, (mean, std) = _colour_steps(info, channels)
    if info.name == "folder":
        steps += [T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)]
        return T.Compose(steps)
    pad = 2 if info.image_size == 28 else 4
    steps.append(T.RandomCrop(info.image_size, padding=pad))
    if info.name != "mnist":     # digits are not mirror-symmetric; clothes and CIFAR's objects are
        steps.append(T.RandomHorizontalFlip())
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    if size != info.image_size:
        steps.append(T.Resize([size, size]))
    return T.Compose(steps)


def load_dataset(name: str, root=None, train: bool = True, transform=None, download: bool = False, *,
                 val_fraction: float = 0.2, seed: int = 0):
    """The training (``train=True``) or test split of a dataset of :data:`DATASETS`.

    For ``"folder"``, ``root`` holds ``train/`` and ``val/`` (or ``test/``) class folders, or class folders
    directly, split by :func:`folder_splits` (``val_fraction`` of each class, fixed by ``seed``).
    """
    info = dataset_info(name)
    if info.name == "folder":
        if root is None:
            raise ValueError("load_dataset('folder'): root (the image folder) is required")
        train_set, val_set = folder_splits(root, transform, transform, val_fraction=val_fraction, seed=seed)
        return train_set if train else val_set
    cls = getattr(datasets, info.dataset)
    return cls(root, train=train, transform=transform, download=download)


_VAL_NAMES = ("val", "valid", "validation", "test")


def folder_layout(root) -> tuple[Path, Path | None]:
    """(the folder of the training class folders, that of the validation ones or None when ``root`` is to be
    split): ``root/train`` and ``root/val`` (or ``valid``, ``validation``, ``test``) when both exist."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder (expected class folders, or train/ and val/ subfolders)")
    val_dir = next((root / n for n in _VAL_NAMES if (root / n).is_dir()), None)
    if (root / "train").is_dir() and val_dir is not None:
        return root / "train", val_dir
    return root, None


def folder_splits(root, train_transform=None, val_transform=None, val_fraction: float = 0.2, seed: int = 0):
    """(train, validation) datasets of an image folder.

    With ``root/train/`` and ``root/val/`` (or ``valid``, ``validation``, ``test``), each is an ImageFolder
    and both must have the same classes. Otherwise ``root`` itself holds the class folders, and each class
    is split on its own: ``ceil(val_fraction * n)`` of its n files, drawn with ``seed``, go to validation
    (at least one, when the class has two or more), so both sides see every class.
    """
    root = Path(root).expanduser()
    train_dir, val_dir = folder_layout(root)
    if val_dir is not None:
        train = datasets.ImageFolder(train_dir, transform=train_transform)
        val = datasets.ImageFolder(val_dir, transform=val_transform)
        if train.classes != val.classes:
            raise ValueError(f"{root}: train/ and {val_dir.name}/ have different class folders: "
                             f"{train.classes} vs {val.classes}")
        return train, val
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"folder_splits: val_fraction must be in (0, 1), got {val_fraction!r}")
    full = datasets.ImageFolder(root, transform=train_transform)
    rng = np.random.default_rng(seed)
    targets = np.asarray(full.targets)
    train_idx, val_idx = [], []
    for c in range(len(full.classes)):
        members = np.flatnonzero(targets == c)
        members = members[rng.permutation(len(members))]
        n_val = min(max(math.ceil(val_fraction * len(members)), 1), len(members) - 1) if len(members) > 1 else 0
        val_idx += members[:n_val].tolist()
        train_idx += members[n_val:].tolist()
    val_view = copy.copy(full)
    val_view.transform = val_transform
    val_view.transforms = datasets.StandardTransform(val_transform, full.target_transform)
    return Subset(full, sorted(train_idx)), Subset(val_view, sorted(val_idx))
