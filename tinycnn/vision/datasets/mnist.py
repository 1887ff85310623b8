"""MNIST and Fashion-MNIST, with torchvision's arguments, attributes and folder layout.

``MNIST(root, train=True, transform=None, target_transform=None, download=False)``: ``.data`` is a uint8
Tensor (N, 28, 28), ``.targets`` an int64 Tensor (N,), ``dataset[i]`` is ``(PIL image, int)`` passed through
the transforms. The four IDX files are looked for, first folder holding the split's two files wins:

* with ``root``: ``root/MNIST/raw/`` (torchvision's layout; ``root/FashionMNIST/raw/``), then ``root`` itself;
* without: the MNIST copy shipped inside tinycnn (everything works offline), Debian's
  ``/usr/share/datasets/fashion-mnist/`` for Fashion-MNIST, then the download cache (``cache_dir()``).

Each file may be gzip-compressed (``.gz``, as the mirrors serve them) or not (as torchvision extracts them),
and is verified against the SHA-256 of its uncompressed content. ``download=True`` fetches missing files
into ``root/MNIST/raw/`` (or the cache) from each mirror in turn, atomically (``utils.download_file``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...autograd import Tensor
from . import idx
from .utils import DataFileError, cache_dir, download_file
from .vision import ArrayImageDataset

SHIPPED = Path(__file__).resolve().parent / "shipped"


class MNIST(ArrayImageDataset):
    """The MNIST handwritten digits (60,000 train / 10,000 test; mean 0.1307, std 0.3081 after /255).

    The SHA-256 sums are of the uncompressed IDX content of the shipped copy (shipped/MNIST/README.md gives
    the MD5 sums of the mirrors' archives, which torchvision's code lists, to tie the two together).
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/"]
    files = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    sha256: dict[str, str | None] = {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
    sizes = {True: 60000, False: 10000}
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    install_hint = ""
    folder_name = "MNIST"    # root/MNIST/raw/, as torchvision (subclasses keep their parent's folder)
    legacy_cache = "mnist"   # the flat cache folder of earlier tinycnn versions

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None, download: bool = False):
        name = type(self).__name__
        if not isinstance(train, (bool, np.bool_)):
            raise ValueError(f"{name}: unknown split train={train!r}; use train=True (the {self.sizes[True]:,} "
                             f"training images) or train=False (the {self.sizes[False]:,} test images)")
        super().__init__(None if root is None else str(Path(root).expanduser()), transform=transform,
                         target_transform=target_transform)
        self.train = bool(train)
        self._given_root = root
        if download:
            self.download()
        folder = self._find()
        self.raw_folder = str(folder)
        if self.root is None:
            self.root = str(folder)
        image_file, label_file = (self._path(folder, f) for f in self.files[self.train])
        images = idx.load_idx(image_file, self.sha256.get(self.files[self.train][0]))
        labels = idx.load_idx(label_file, self.sha256.get(self.files[self.train][1]))
        self._check_structure(images, labels, image_file, label_file)
        self.data = Tensor(images)                       # read-only: shared through the verified-file cache
        self.targets = Tensor(labels.astype(np.int64))

    # ---- where the files are --------------------------------------------------------------------------
    @classmethod
    def default_folders(cls) -> list[Path]:
        name = cls.folder_name
        shipped = [SHIPPED / name / "raw"] if (SHIPPED / name / "raw").is_dir() else []
        return shipped + [cache_dir() / name / "raw", cache_dir() / cls.legacy_cache]

    def _candidates(self) -> list[Path]:
        if self._given_root is None:
            return self.default_folders()
        root = Path(self._given_root).expanduser()
        return [root / self.folder_name / "raw", root]

    def _download_folder(self) -> Path:
        base = cache_dir() if self._given_root is None else Path(self._given_root).expanduser()
        return base / self.folder_name / "raw"

    @staticmethod
    def _path(folder: Path, gz_name: str) -> Path:
        """The file in ``folder``: the .gz archive, or the uncompressed copy when only that is there."""
        plain = folder / gz_name[:-3]
        return plain if plain.is_file() and not (folder / gz_name).is_file() else folder / gz_name

    def _has_split(self, folder: Path) -> bool:
        return all(self._path(folder, f).is_file() for f in self.files[self.train])

    def _find(self) -> Path:
        candidates = self._candidates()
        for folder in candidates:
            if self._has_split(folder):
                return folder
        needed = self.files[self.train]
        looked = ", ".join(str(c) for c in candidates)
        hint = f"; {self.install_hint}" if self.install_hint else ""
        raise FileNotFoundError(
            f"{type(self).__name__}: {' and '.join(needed)} not found (looked in: {looked}). Pass download=True to "
            f"fetch them from {', '.join(self.mirrors)}, or root=<a folder holding them, or holding "
            f"{self.folder_name}/raw/ with them>{hint}")

    def download(self) -> None:
        """Fetch the split's missing files (torchvision's method; the constructor calls it with download=True)."""
        if any(self._has_split(folder) for folder in self._candidates()):
            return
        folder = self._download_folder()
        for name in self.files[self.train]:
            if self._path(folder, name).is_file():
                continue
            expected, verified = self.sha256.get(name), {}

            def check(tmp: Path, name=name, expected=expected, verified=verified):
                verified["array"] = _verify_download(tmp, name, expected)

            dest = download_file(name, folder, self.mirrors, check)
            idx.remember(dest, expected, verified["array"])  # the next load need not hash it again

    def _check_structure(self, images, labels, img_f, lab_f) -> None:
        n = self.sizes[self.train]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise DataFileError(f"{img_f}: expected uint8 images of shape (N, 28, 28), got {images.dtype} "
                                f"{images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise DataFileError(f"{lab_f}: expected a 1-d uint8 label array, got {labels.dtype} {labels.shape}")
        if len(images) != n or len(labels) != n:
            raise DataFileError(f"{type(self).__name__}: expected {n} samples, got {len(images)} images in {img_f} "
                                f"and {len(labels)} labels in {lab_f}")
        if labels.size and int(labels.max()) >= len(self.classes):
            raise DataFileError(f"{lab_f}: label {int(labels.max())} out of range 0..{len(self.classes) - 1}")

    # ---- torchvision's attributes ----------------------------------------------------------------------
    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


def _verify_download(tmp: Path, name: str, expected):
    """The verified, parsed content of a download of ``name`` still in its temporary file."""
    raw = idx.read_gzip(tmp) if name.endswith(".gz") else tmp.read_bytes()
    digest = idx.sha256_hex(raw)
    if expected is not None and digest != expected.lower():
        raise DataFileError(f"{name}: checksum mismatch (SHA-256 of the uncompressed content): expected "
                            f"{expected.lower()}, got {digest}")
    arr = idx.parse_idx(raw, name)
    arr.setflags(write=False)
    return arr


class FashionMNIST(MNIST):
    """Fashion-MNIST (Zalando): 10 clothing classes, MNIST's layout (mean 0.2860, std 0.3530 after /255).

    Looked for in /usr/share/datasets/fashion-mnist/ (``apt-get install dataset-fashion-mnist``), then in
    the cache. The SHA-256 sums (of the uncompressed files) were computed from Debian's package
    dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose label counts (6,000 per class in train, 1,000 in
    test) and pixel statistics agree with the published ones; Debian re-compressed the archives, so only
    the uncompressed content is comparable. The mirror is Zalando's, as in torchvision.
    """

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    sha256 = {
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]
    install_hint = "on Debian/Ubuntu: apt-get install dataset-fashion-mnist"
    folder_name = "FashionMNIST"
    system_dir = Path("/usr/share/datasets/fashion-mnist")
    legacy_cache = "fashion-mnist"

    @classmethod
    def default_folders(cls) -> list[Path]:
        return [cls.system_dir] + super().default_folders()
