"""Datasets from folders of files, one subfolder per class: ``ImageFolder`` and ``DatasetFolder``.

    root/cat/001.png, root/cat/xyz.jpg, root/dog/123.png ...  ->  classes ['cat', 'dog'], targets 0, 0, 1 ...

Classes are the subfolders of ``root`` in sorted order; samples are the files under each (recursively,
following links, sorted) whose names end in one of ``extensions`` (or that ``is_valid_file`` accepts), as
torchvision finds them. Images are opened with Pillow and converted to RGB; a file that is not an image, a
truncated image, a folder without class subfolders and a class folder without a single usable file each
raise a one-line error that names the path.
"""
from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .utils import DataFileError
from .vision import VisionDataset

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class ImageFileError(DataFileError, OSError):
    """A file that should be an image cannot be read as one (an OSError, as Pillow's own errors are)."""


def has_file_allowed_extension(filename: str, extensions) -> bool:
    return filename.lower().endswith(extensions if isinstance(extensions, str) else tuple(extensions))


def is_image_file(filename: str) -> bool:
    return has_file_allowed_extension(filename, IMG_EXTENSIONS)


def find_classes(directory) -> tuple[list[str], dict[str, int]]:
    """The sorted class subfolders of ``directory`` and their indices."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: no such folder (expected a folder with one subfolder per class)")
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"{directory}: no class folders found (expected one subfolder per class, such as "
                                f"{directory}/cat/001.png and {directory}/dog/002.png)")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory, class_to_idx: dict[str, int] | None = None, extensions=None, is_valid_file=None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """(path, class index) of every accepted file, class by class, files sorted within each."""
    directory = Path(directory).expanduser()
    if class_to_idx is None:
        _, class_to_idx = find_classes(directory)
    elif not class_to_idx:
        raise ValueError("make_dataset: 'class_to_idx' must have at least one entry to collect any samples")
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("make_dataset: give exactly one of extensions and is_valid_file")
    accept = is_valid_file if is_valid_file is not None else \
        (lambda path: has_file_allowed_extension(path, extensions))
    samples, empty = [], []
    for name in sorted(class_to_idx):
        folder = directory / name
        if not folder.is_dir():
            continue
        found = 0
        for dirpath, _, filenames in sorted(os.walk(folder, followlinks=True)):
            for fname in sorted(filenames):
                path = os.path.join(dirpath, fname)
                if accept(path):
                    samples.append((path, class_to_idx[name]))
                    found += 1
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        kinds = f"files ending in {', '.join(extensions if not isinstance(extensions, str) else [extensions])}" \
            if extensions is not None else "files that is_valid_file accepts"
        raise FileNotFoundError(f"{directory}: found no valid file for the classes {', '.join(sorted(empty))} "
                                f"(expected {kinds})")
    return samples


def pil_loader(path) -> Image.Image:
    """Open ``path`` with Pillow, decode it fully and convert to RGB; a one-line error naming it otherwise."""
    try:
        with open(path, "rb") as f:
            img = Image.open(f)
            return img.convert("RGB")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file is missing") from None
    except UnidentifiedImageError:
        raise ImageFileError(f"{path}: not an image file Pillow can read (expected PNG, JPEG or another format "
                             f"Pillow decodes)") from None
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or damaged pixel data
        raise ImageFileError(f"{path}: damaged or truncated image ({exc})") from None


def default_loader(path) -> Image.Image:
    return pil_loader(path)


class DatasetFolder(VisionDataset):
    """Samples from ``root/<class>/...`` files read by ``loader``; ``classes``, ``class_to_idx``, ``samples``
    ((path, index) pairs) and ``targets`` as torchvision has them."""

    def __init__(self, root, loader, extensions=None, transform=None, target_transform=None, is_valid_file=None,
                 allow_empty: bool = False):
        super().__init__(str(Path(root).expanduser()), transform=transform, target_transform=target_transform)
        if not callable(loader):
            raise TypeError(f"{type(self).__name__}: loader must be callable, got {type(loader).__name__}")
        classes, class_to_idx = self.find_classes(self.root)
        self.samples = self.make_dataset(self.root, class_to_idx, extensions, is_valid_file, allow_empty)
        self.loader = loader
        self.extensions = extensions
        self.classes = classes
        self.class_to_idx = class_to_idx
        self.targets = [s[1] for s in self.samples]

    @staticmethod
    def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty: bool = False):
        return make_dataset(directory, class_to_idx, extensions, is_valid_file, allow_empty)

    def find_classes(self, directory):
        return find_classes(directory)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index):
        path, target = self.samples[index]
        sample = self.loader(path)
        if self.transform is not None:
            sample = self.transform(sample)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return sample, target


class ImageFolder(DatasetFolder):
    """Images (PNG, JPEG, ... via Pillow) in ``root/<class>/`` folders; ``imgs`` is ``samples``."""

    def __init__(self, root, transform=None, target_transform=None, loader=default_loader, is_valid_file=None,
                 allow_empty: bool = False):
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None, transform=transform,
                         target_transform=target_transform, is_valid_file=is_valid_file, allow_empty=allow_empty)
        self.imgs = self.samples
