"""MNIST and Fashion-MNIST: verified IDX files, shipped or found locally, downloaded from mirrors if asked.

Where the files are looked for (``root=None``), first folder holding the split's two files wins:

* MNIST: the copy shipped inside the package (``tinycnn/data/mnist/``), so everything works offline;
* Fashion-MNIST: ``/usr/share/datasets/fashion-mnist/`` (Debian's package ``dataset-fashion-mnist``);
* then the download cache ``$TINYCNN_DATA/<name>`` or, without that variable, ``~/.cache/tinycnn/<name>``.

With ``download=True`` missing files are fetched into the given ``root`` (or into the cache folder when
``root`` is None) from each mirror in turn until one succeeds: the bytes go to a temporary file in the same
folder, are verified (SHA-256 of the uncompressed content), and only then renamed into place, so an
interrupted or corrupt download never leaves a file that looks complete.
"""
from __future__ import annotations

import http.client
import operator
import os
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from . import idx
from .loader import Dataset

# Looked up at call time (not bound at import) so tests can monkeypatch the opener.
_urlopen = urllib.request.urlopen


class DownloadError(RuntimeError):
    """No mirror delivered a correct copy of a file; the message lists what each mirror did."""


def cache_dir() -> Path:
    """The download cache: ``$TINYCNN_DATA`` if set, else ``~/.cache/tinycnn``."""
    return Path(os.environ.get("TINYCNN_DATA") or "~/.cache/tinycnn").expanduser()


def download_file(filename: str, folder, mirrors, sha256: str | None, *, progress: bool = True,
                  timeout: float = 30.0) -> Path:
    """Fetch ``filename`` from the first mirror that delivers a verified copy; returns its final path.

    Each attempt streams into a temporary file next to the destination (with a tqdm progress bar), checks
    the length against Content-Length, verifies the uncompressed SHA-256 (and the IDX header), and then
    atomically renames it into place. A failing mirror (HTTP error, refused connection, short or corrupt
    file) is recorded and the next one tried; when all fail, :class:`DownloadError` lists every reason.
    """
    from tqdm.auto import tqdm  # noqa: PLC0415  (only downloads need it)

    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / filename
    if not mirrors:
        raise DownloadError(f"cannot download {filename}: no mirrors configured")
    failures = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length") if resp.headers is not None else None
                total = int(length) if length else None
                written = 0
                with tqdm(total=total, unit="B", unit_scale=True, desc=filename, disable=not progress,
                          leave=False) as bar:
                    while chunk := resp.read(1 << 16):
                        out.write(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
            if total is not None and written != total:
                raise idx.DataFileError(f"{url}: got {written} bytes, Content-Length said {total}")
            arr = idx.load_idx_gz(tmp, sha256)  # raises on any defect; the bad temp file is removed below
            os.replace(tmp, dest)
            idx.remember(dest, sha256, arr)
            return dest
        except (OSError, http.client.HTTPException, idx.DataFileError) as exc:
            # URLError/HTTPError/timeouts are OSErrors; IncompleteRead is an HTTPException.
            failures.append(f"  {url}: {type(exc).__name__}: {exc}")
        finally:
            idx.forget(tmp)
            tmp.unlink(missing_ok=True)
    raise DownloadError(f"could not download {filename} into {folder}; every mirror failed:\n"
                        + "\n".join(failures))


class IDXClassification(Dataset):
    """A 28x28 grey-level classification set stored as four gzip IDX files (the MNIST layout).

    Attributes: ``data`` (uint8, N x 28 x 28, read-only: shared with other instances through the cache),
    ``targets`` (int64, N), ``classes`` (names), ``root`` (the folder the files came from).
    ``dataset[i]`` is ``(image, label)``: the image float32 1 x 28 x 28 in [0, 1] (pixel / 255) passed through
    ``transform``, the label a Python int. ``get_batch(indices)`` does the same for many indices at once
    (one fancy-index, one transform call on the N x 1 x 28 x 28 batch); the DataLoader uses it.
    """

    name = "IDX"
    cache_name = "idx"
    files = {True: ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
             False: ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
    sha256: dict[str, str | None] = {}
    sizes = {True: 60000, False: 10000}
    mirrors: tuple[str, ...] = ()
    classes: list[str] = []
    install_hint = ""

    def __init__(self, root=None, train: bool = True, transform=None, download: bool = False):
        if not isinstance(train, (bool, np.bool_)):
            raise ValueError(f"{self.name}: unknown split train={train!r}; use train=True (the "
                             f"{self.sizes[True]:,} training images) or train=False (the "
                             f"{self.sizes[False]:,} test images)")
        if transform is not None and not callable(transform):
            raise TypeError(f"{self.name}: transform must be callable, got {type(transform).__name__}")
        self.train = bool(train)
        self.transform = transform
        self.root = self._find_root(root, download)
        image_file, label_file = self.files[self.train]
        images = idx.load_idx_gz(self.root / image_file, self.sha256.get(image_file))
        labels = idx.load_idx_gz(self.root / label_file, self.sha256.get(label_file))
        self._check_structure(images, labels)
        self.data = images
        self.targets = labels.astype(np.int64)

    # ---- where the files are ------------------------------------------------------------------------------
    @classmethod
    def default_roots(cls) -> list[Path]:
        return [cache_dir() / cls.cache_name]

    def _find_root(self, root, download: bool) -> Path:
        needed = self.files[self.train]
        if root is not None:
            folder = Path(root).expanduser()
            candidates = [folder]
        else:
            candidates = self.default_roots()
            folder = cache_dir() / self.cache_name
        for cand in candidates:
            if all((cand / f).is_file() for f in needed):
                return cand
        if download:
            for f in needed:
                if not (folder / f).is_file():
                    download_file(f, folder, self.mirrors, self.sha256.get(f))
            return folder
        missing = [str(folder / f) for f in needed if not (folder / f).is_file()]
        looked = ", ".join(str(c) for c in candidates)
        raise FileNotFoundError(
            f"{self.name}: missing {', '.join(missing)} (looked in: {looked}). Pass download=True to fetch "
            f"the files from {', '.join(self.mirrors)}, or root=<a folder holding {', '.join(needed)}>"
            + (f"; {self.install_hint}" if self.install_hint else ""))

    def _check_structure(self, images: np.ndarray, labels: np.ndarray) -> None:
        img_f, lab_f = (str(self.root / f) for f in self.files[self.train])
        n = self.sizes[self.train]
        if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
            raise idx.DataFileError(f"{img_f}: expected uint8 images of shape (N, 28, 28), "
                                    f"got {images.dtype} {images.shape}")
        if labels.dtype != np.uint8 or labels.ndim != 1:
            raise idx.DataFileError(f"{lab_f}: expected a 1-d uint8 label array, got {labels.dtype} "
                                    f"{labels.shape}")
        if len(images) != n or len(labels) != n:
            raise idx.DataFileError(f"{self.name}: expected {n} samples, got {len(images)} images in "
                                    f"{img_f} and {len(labels)} labels in {lab_f}")
        if labels.size and int(labels.max()) >= len(self.classes):
            raise idx.DataFileError(f"{lab_f}: label {int(labels.max())} out of range "
                                    f"0..{len(self.classes) - 1}")

    # ---- access -------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, i):
        try:
            i = operator.index(i)
        except TypeError:
            raise TypeError(f"{self.name} index must be an integer, got {type(i).__name__}; "
                            f"use get_batch(indices) for many samples") from None
        if not -len(self) <= i < len(self):
            raise IndexError(f"{self.name} index {i} out of range for {len(self)} samples")
        image = self.data[i].astype(np.float32)[None] / np.float32(255)
        if self.transform is not None:
            image = self.transform(image)
        return image, int(self.targets[i])

    def get_batch(self, indices):
        """Images (float32, N x 1 x 28 x 28, transformed as a batch) and labels (int64, N) for ``indices``."""
        indices = np.asarray(indices, dtype=np.int64)
        images = self.data[indices].astype(np.float32)[:, None] / np.float32(255)
        if self.transform is not None:
            images = self.transform(images)
        return images, self.targets[indices]

    def __repr__(self) -> str:
        lines = [f"Dataset {self.name}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}", f"    Split: {'Train' if self.train else 'Test'}"]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}")
        return "\n".join(lines)


class MNIST(IDXClassification):
    """The MNIST handwritten digits (60,000 train / 10,000 test), shipped with tinycnn.

    Every file is verified against the SHA-256 of its uncompressed content (tinycnn/data/mnist/README.md)
    before use. Mean pixel 0.1307, standard deviation 0.3081 (training set, after /255).
    """

    name = "MNIST"
    cache_name = "mnist"
    sha256 = {
        "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    }
    mirrors = ("https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/")
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    @classmethod
    def default_roots(cls) -> list[Path]:
        return [Path(__file__).resolve().parent / "mnist", cache_dir() / cls.cache_name]


class FashionMNIST(IDXClassification):
    """Fashion-MNIST (Zalando): 10 clothing classes, same layout and loader as MNIST.

    Looked for in /usr/share/datasets/fashion-mnist/ (``apt-get install dataset-fashion-mnist``), then in
    the cache. The SHA-256 sums below (of the uncompressed files) were computed from Debian's package
    dataset-fashion-mnist 0.0~git20200523.55506a9-1, whose label counts (6,000 per class in train, 1,000
    in test) and pixel statistics (mean 0.2860, std 0.3530) agree with the published ones; Debian
    re-compressed the archives, so only the uncompressed content is comparable. The download mirror is
    Zalando's upstream host, which tinycnn's tests could not reach (they run offline).
    """

    name = "FashionMNIST"
    cache_name = "fashion-mnist"
    sha256 = {
        "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    }
    mirrors = ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",)
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
               "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    install_hint = "on Debian/Ubuntu: apt-get install dataset-fashion-mnist"
    system_dir = Path("/usr/share/datasets/fashion-mnist")

    @classmethod
    def default_roots(cls) -> list[Path]:
        return [cls.system_dir, cache_dir() / cls.cache_name]
