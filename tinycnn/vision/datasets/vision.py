"""Base classes of the image datasets: ``VisionDataset`` (torchvision's) and the array-backed kind.

An array-backed dataset (MNIST, CIFAR) holds all its images as one uint8 array. ``dataset[i]`` wraps image i
in a PIL image and passes it through ``transform``, as torchvision does. ``get_batch(indices)`` makes the same
batch that the DataLoader would collate from those samples, in one step when the transform pipeline can be
applied to the whole uint8 batch at once (``transforms.apply_batched``): one fancy-indexing and a few array
operations per batch instead of one PIL round trip per image.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ...autograd import Tensor
from ...utils.data import Dataset, default_collate
from ..transforms import apply_batched


class StandardTransform:
    """``transforms`` made of a ``transform`` of the input and a ``target_transform`` of the target."""

    def __init__(self, transform=None, target_transform=None):
        self.transform, self.target_transform = transform, target_transform

    def __call__(self, sample, target):
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target

    def __repr__(self) -> str:
        lines = [type(self).__name__]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}".replace("\n", "\n           "))
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}".replace("\n", "\n                  "))
        return "\n".join(lines)


class VisionDataset(Dataset):
    """``root`` (where the files are), ``transform`` (of the image), ``target_transform`` (of the label), or a
    joint ``transforms(image, target)``."""

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        self.root = root
        for name, fn in (("transforms", transforms), ("transform", transform), ("target_transform", target_transform)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{type(self).__name__}: {name} must be callable, got {type(fn).__name__}")
        if transforms is not None and (transform is not None or target_transform is not None):
            raise ValueError(f"{type(self).__name__}: only transforms or transform/target_transform can be passed "
                             f"as argument")
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = transforms if transforms is not None else StandardTransform(transform, target_transform)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}"]
        if self.root is not None:
            lines.append(f"    Root location: {self.root}")
        lines += ["    " + line for line in self.extra_repr().splitlines()]
        if self.transforms is not None and (not isinstance(self.transforms, StandardTransform) or
                                            self.transform is not None or self.target_transform is not None):
            lines += ["    " + line for line in repr(self.transforms).splitlines()]
        return "\n".join(lines)


def _numpy(x) -> np.ndarray:
    return x.numpy() if isinstance(x, Tensor) else np.asarray(x)


class ArrayImageDataset(VisionDataset):
    """Images in ``self.data`` (uint8, N x H x W grey or N x H x W x 3 colour) and integer ``self.targets``.

    Subclasses may keep ``data`` / ``targets`` as Tensors, arrays or lists (as torchvision's datasets do);
    users may replace them (``ds.data = ds.data[:1000]``) and every access reads the current ones.
    """

    def __len__(self) -> int:
        return len(self.data)

    def _sample(self, index):
        targets = self.targets
        target = targets[index] if isinstance(targets, list) else _numpy(targets)[index]
        return Image.fromarray(_numpy(self.data)[index]), int(target)

    def __getitem__(self, index):
        img, target = self._sample(int(index))
        if self.transforms is not None and not isinstance(self.transforms, StandardTransform):
            return self.transforms(img, target)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices):
        """``default_collate([self[i] for i in indices])``, made in one step when the transform allows it."""
        indices = np.asarray(indices, dtype=np.int64)
        joint = not isinstance(self.transforms, StandardTransform)
        images = None if joint else apply_batched(self.transform, _numpy(self.data)[indices])
        if images is None:
            return default_collate([self[int(i)] for i in indices])
        targets = self.targets
        labels = [int(targets[int(i)]) for i in indices] if isinstance(targets, list) else \
            _numpy(targets)[indices].astype(np.int64)
        if self.target_transform is not None:
            return [Tensor(np.ascontiguousarray(images)),
                    default_collate([self.target_transform(int(t)) for t in labels])]
        return [Tensor(np.ascontiguousarray(images)), Tensor(np.asarray(labels, dtype=np.int64))]
