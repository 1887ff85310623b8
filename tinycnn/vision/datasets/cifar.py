"""CIFAR-10 and CIFAR-100 (A. Krizhevsky, 2009) in their official archive formats, read safely and verified.

``CIFAR10(root, train=True, transform=None, target_transform=None, download=False)``, as torchvision:
``.data`` is a uint8 array (N, 32, 32, 3), ``.targets`` a list of ints, ``.classes`` the names from the
archive's meta file, ``dataset[i]`` a ``(PIL RGB image, int)`` passed through the transforms.

What is read, in order (``root`` defaults to ``cache_dir()``):

1. ``root/cifar-10-batches-py/`` (``cifar-100-python/``): the "python version", pickled dicts of arrays,
   read by ``safe_pickle`` (no code from the file runs); each file is checked against the MD5 that
   torchvision's code lists for it;
2. ``root/cifar-10-batches-bin/`` (``cifar-100-binary/``): the "binary version", fixed-size records of
   (label byte(s), 3,072 pixel bytes), checked for size and label range;
3. ``root/cifar-10-python.tar.gz`` (placed there by hand, or fetched with ``download=True`` from the
   dataset's page): verified by SHA-256, then unpacked into ``root`` as in 1.

The archives' SHA-256 sums are those in torchvision's code (its prototype dataset definitions
``_SHA256``) and Keras's ``cifar10.load_data`` / ``cifar100.load_data`` (``file_hash``); the MD5 sums are
torchvision's ``tgz_md5`` and ``train_list`` / ``test_list``, which agree with the dataset's page.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from . import safe_pickle
from .utils import DataFileError, cache_dir, check_digest, download_file, extract_tar
from .vision import ArrayImageDataset

_VERIFIED: dict[tuple, str] = {}  # (real path, size, mtime_ns) -> md5: files already checked in this process


def _md5(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _VERIFIED:
        h = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                h.update(block)
        _VERIFIED[key] = h.hexdigest()
    return _VERIFIED[key]


class CIFAR10(ArrayImageDataset):
    """CIFAR-10: 50,000 training and 10,000 test colour images of 32 x 32 in 10 classes."""

    base_folder = "cifar-10-batches-py"
    binary_folder = "cifar-10-batches-bin"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    mirrors = ["https://www.cs.toronto.edu/~kriz/"]
    filename = "cifar-10-python.tar.gz"
    archive_sha256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [["data_batch_1", "c99cafc152244af753f735de768cd75f"],
                  ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
                  ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
                  ["data_batch_4", "634d18415352ddfa80567beed471001a"],
                  ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"]]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {"filename": "batches.meta", "key": "label_names", "md5": "5ff9c542aee3614f3951f8cda6e48888"}
    label_key = "labels"
    binary_files = {True: [f"data_batch_{i}.bin" for i in range(1, 6)], False: ["test_batch.bin"]}
    binary_meta = "batches.meta.txt"
    binary_label_bytes = 1       # CIFAR-100's records hold (coarse, fine)
    num_classes = 10
    sizes = {True: 50000, False: 10000}

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None, download: bool = False):
        if not isinstance(train, (bool, np.bool_)):
            raise ValueError(f"{type(self).__name__}: unknown split train={train!r}; use train=True or train=False")
        root = cache_dir() if root is None else Path(root).expanduser()
        super().__init__(str(root), transform=transform, target_transform=target_transform)
        self.train = bool(train)
        if download:
            self.download()
        python_dir, binary_dir = root / self.base_folder, root / self.binary_folder
        if not python_dir.is_dir() and not binary_dir.is_dir() and (root / self.filename).is_file():
            self._unpack(root / self.filename)
        if python_dir.is_dir():
            self.data, self.targets, self.classes = self._load_python(python_dir)
        elif binary_dir.is_dir():
            self.data, self.targets, self.classes = self._load_binary(binary_dir)
        else:
            raise FileNotFoundError(
                f"{type(self).__name__}: found neither {python_dir}/, {binary_dir}/ nor the archive "
                f"{root / self.filename}; pass download=True to fetch it from {self.url}, or place "
                f"{self.filename} (or its unpacked {self.base_folder}/ folder) in {root}")
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        expected = self.sizes[self.train]
        if len(self.data) != expected:
            raise DataFileError(f"{type(self).__name__}: expected {expected} {'training' if train else 'test'} "
                                f"images in {root}, got {len(self.data)}")

    # ---- the archive ---------------------------------------------------------------------------------------
    def download(self) -> None:
        """Fetch and unpack the archive unless its content is already in ``root``."""
        root = Path(self.root)
        if (root / self.base_folder).is_dir() or (root / self.binary_folder).is_dir():
            return
        archive = root / self.filename
        if not archive.is_file():
            download_file(self.filename, root, self.mirrors, lambda tmp: check_digest(tmp, self.archive_sha256))
        self._unpack(archive)

    def _unpack(self, archive: Path) -> None:
        check_digest(archive, self.archive_sha256)
        extract_tar(archive, archive.parent, self.base_folder)

    # ---- the python version --------------------------------------------------------------------------------
    def _read_pickle(self, path: Path, md5: str | None) -> dict:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: file is missing (expected the files of the official {self.filename})")
        if md5 is not None and _md5(path) != md5:
            raise DataFileError(f"{path}: checksum mismatch (MD5 of the file): expected {md5}, got {_md5(path)}; the "
                                f"file is truncated or altered: delete {path.parent} and unpack or download it again")
        obj = safe_pickle.load(path.read_bytes(), str(path))
        if not isinstance(obj, dict):
            raise DataFileError(f"{path}: expected a pickled dict, got {type(obj).__name__}")
        return obj

    def _load_python(self, folder: Path):
        images, labels = [], []
        for name, md5 in (self.train_list if self.train else self.test_list):
            path = folder / name
            batch = self._read_pickle(path, md5)
            data, target = batch.get("data"), batch.get(self.label_key)
            if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
                raise DataFileError(f"{path}: expected 'data' to be a uint8 array of shape (N, 3072), got "
                                    f"{getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')}")
            if not isinstance(target, list) or len(target) != len(data):
                raise DataFileError(f"{path}: expected a list of {len(data)} {self.label_key!r}")
            images.append(data)
            labels.extend(int(t) for t in target)
        meta = self._read_pickle(folder / self.meta["filename"], self.meta["md5"])
        classes = meta.get(self.meta["key"])
        if not isinstance(classes, list) or len(classes) != self.num_classes:
            raise DataFileError(f"{folder / self.meta['filename']}: expected {self.num_classes} names under "
                                f"{self.meta['key']!r}")
        return self._finish(np.concatenate(images), labels, [str(c) for c in classes], folder)

    # ---- the binary version --------------------------------------------------------------------------------
    def _load_binary(self, folder: Path):
        record = self.binary_label_bytes + 3072
        images, labels = [], []
        for name in self.binary_files[self.train]:
            path = folder / name
            if not path.is_file():
                raise FileNotFoundError(f"{path}: file is missing (expected the files of the binary CIFAR archive)")
            raw = np.fromfile(path, dtype=np.uint8)
            if raw.size == 0 or raw.size % record:
                raise DataFileError(f"{path}: {raw.size} bytes is not a whole number of {record}-byte records; the "
                                    f"file is truncated or not a CIFAR batch")
            rows = raw.reshape(-1, record)
            images.append(rows[:, self.binary_label_bytes:])
            labels.extend(rows[:, self.binary_label_bytes - 1].astype(int).tolist())
        names_file = folder / self.binary_meta
        classes = [line.strip() for line in names_file.read_text().splitlines() if line.strip()] \
            if names_file.is_file() else []
        if len(classes) != self.num_classes:
            raise DataFileError(f"{names_file}: expected {self.num_classes} class names, one per line")
        return self._finish(np.concatenate(images), labels, classes, folder)

    def _finish(self, flat: np.ndarray, labels: list, classes: list, folder: Path):
        if labels and not 0 <= min(labels) <= max(labels) < self.num_classes:
            raise DataFileError(f"{folder}: label {max(labels)} out of range 0..{self.num_classes - 1}")
        # stored as N x 3 x 32 x 32 (channel planes); torchvision's .data is N x 32 x 32 x 3 (HWC)
        return np.ascontiguousarray(flat.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), labels, classes

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: the same images format, 100 fine classes (``targets``) grouped in 20 coarse ones."""

    base_folder = "cifar-100-python"
    binary_folder = "cifar-100-binary"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    archive_sha256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": "7973b15100ade9c7d40fb424638fde48"}
    label_key = "fine_labels"
    binary_files = {True: ["train.bin"], False: ["test.bin"]}
    binary_meta = "fine_label_names.txt"
    binary_label_bytes = 2
    num_classes = 100
