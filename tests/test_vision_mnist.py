"""tinycnn.vision.datasets' MNIST and Fashion-MNIST: the shipped copy, torchvision's layout, verified files,
damaged files named, downloads from a local HTTP server."""
from __future__ import annotations

import gzip
import os
import re
import shutil
import urllib.error
from pathlib import Path

import numpy as np
import pytest
from data_files import serve
from PIL import Image

import tinycnn
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.vision import datasets, transforms as T
from tinycnn.vision.datasets import (MNIST, DataFileError, DownloadError, FashionMNIST, idx, mnist as mnist_mod,
                                     utils as data_utils)

PKG_MNIST = mnist_mod.SHIPPED / "MNIST" / "raw"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
TO_TENSOR = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])


@pytest.fixture(scope="module")
def mnist_train():
    return MNIST(train=True)


@pytest.fixture(scope="module")
def mnist_test():
    return MNIST(train=False, transform=TO_TENSOR)


def copy_test_split(dst: Path, uncompressed: bool = False) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in TEST_FILES:
        if uncompressed:
            (dst / f[:-3]).write_bytes(gzip.decompress((PKG_MNIST / f).read_bytes()))
        else:
            shutil.copyfile(PKG_MNIST / f, dst / f)
    return dst


# ---- MNIST: the shipped copy against its known facts -----------------------------------------------------------
def test_mnist_train_facts(mnist_train):
    data = mnist_train.data
    assert isinstance(data, tinycnn.Tensor) and data.shape == (60000, 28, 28) and data.dtype == np.uint8
    assert isinstance(mnist_train.targets, tinycnn.Tensor) and mnist_train.targets.dtype == np.int64
    assert np.bincount(mnist_train.targets.numpy()).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                                                5851, 5949]
    hist = np.bincount(data.numpy().ravel(), minlength=256)
    levels = np.arange(256) / 255.0
    mean = (hist * levels).sum() / hist.sum()
    std = np.sqrt((hist * (levels - mean) ** 2).sum() / hist.sum())
    assert mean == pytest.approx(0.1307, abs=1e-4) and std == pytest.approx(0.3081, abs=1e-4)
    assert len(mnist_train) == 60000 and mnist_train.class_to_idx["3 - three"] == 3
    assert Path(mnist_train.raw_folder) == PKG_MNIST


def test_mnist_test_facts(mnist_test):
    assert mnist_test.data.shape == (10000, 28, 28)
    assert np.bincount(mnist_test.targets.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974,
                                                               1009]
    assert "Split: Test" in repr(mnist_test) and "Normalize" in repr(mnist_test)


def test_readme_checksums_match_the_class():
    text = (PKG_MNIST.parent / "README.md").read_text()
    table = dict(re.findall(r"\|\s*(\S+\.gz)\s*\|\s*([0-9a-f]{64})\s*\|", text))
    assert table == MNIST.sha256


def test_samples_are_pil_images_as_torchvision(mnist_train):
    img, label = mnist_train[7]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28) and isinstance(label, int)
    np.testing.assert_array_equal(np.asarray(img), mnist_train.data.numpy()[7])


def test_samples_match_torchvision_mnist(tmp_path, torchvision):
    root = tmp_path / "data"
    copy_test_split(root / "MNIST" / "raw", uncompressed=True)   # the layout torchvision leaves behind
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):   # torchvision checks every split is there
        (root / "MNIST" / "raw" / f).write_bytes(b"")
    theirs = torchvision.datasets.MNIST(str(root), train=False, transform=torchvision.transforms.ToTensor())
    ours = MNIST(root, train=False, transform=T.ToTensor())
    assert ours.raw_folder == str(root / "MNIST" / "raw")
    np.testing.assert_array_equal(ours.data.numpy(), theirs.data.numpy())
    np.testing.assert_array_equal(ours.targets.numpy(), theirs.targets.numpy())
    for i in (0, 1234, 9999):
        np.testing.assert_array_equal(ours[i][0].numpy(), theirs[i][0].numpy())
        assert ours[i][1] == theirs[i][1]
    assert ours.classes == theirs.classes and ours.class_to_idx == theirs.class_to_idx


def test_root_may_be_a_flat_folder_of_gz_files(tmp_path):
    ds = MNIST(copy_test_split(tmp_path / "flat"), train=False)
    assert len(ds) == 10000 and ds.raw_folder == str(tmp_path / "flat")


def test_get_batch_equals_collated_samples_and_loader_uses_it(mnist_test):
    images, labels = mnist_test.get_batch([7, 3, -1])
    assert images.shape == (3, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64
    for k, i in enumerate([7, 3, 9999]):
        np.testing.assert_array_equal(images.numpy()[k], mnist_test[i][0].numpy())
        assert labels.tolist()[k] == mnist_test[i][1]

    class Counting(MNIST):
        calls = 0

        def __getitem__(self, i):
            type(self).calls += 1
            return super().__getitem__(i)
    ds = Counting(train=False, transform=TO_TENSOR)
    batches = list(DataLoader(ds, batch_size=500, shuffle=True, seed=1))
    list(DataLoader(Subset(ds, np.arange(0, 10000, 7)), batch_size=100, shuffle=True, seed=1))
    assert Counting.calls == 0 and len(batches) == 20 and batches[0][0].shape == (500, 1, 28, 28)
    list(DataLoader(Counting(train=False, transform=T.Compose([T.Lambda(T.ToTensor())])), batch_size=1000))
    assert Counting.calls == 10000   # a Lambda cannot be batched: the samples are transformed one by one


def test_target_transform_and_augmented_batches(mnist_test):
    ds = MNIST(train=False, transform=T.Compose([T.RandomCrop(28, padding=2), T.ToTensor()]),
               target_transform=lambda y: y * 10)
    images, labels = ds.get_batch(np.arange(8))
    assert images.shape == (8, 1, 28, 28) and labels.tolist() == [10 * mnist_test[i][1] for i in range(8)]
    tinycnn.manual_seed(0)
    a = [b[0].numpy() for b in DataLoader(ds, batch_size=64, num_workers=2, seed=3)][:3]
    b = [b[0].numpy() for b in DataLoader(ds, batch_size=64, num_workers=2, seed=3)][:3]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))   # augmented in workers, reproducibly


def test_data_and_targets_may_be_replaced(mnist_train):
    ds = MNIST(train=True, transform=T.ToTensor())
    ds.data, ds.targets = ds.data[:100], ds.targets[:100]
    assert len(ds) == 100 and len(list(DataLoader(ds, batch_size=64))) == 2


def test_second_load_uses_the_cache(monkeypatch, tmp_path):
    root = copy_test_split(tmp_path / "m")
    calls = []
    real = idx.sha256_hex
    monkeypatch.setattr(idx, "sha256_hex", lambda raw: calls.append(1) or real(raw))
    MNIST(root=root, train=False)
    assert len(calls) == 2
    MNIST(root=root, train=False)
    assert len(calls) == 2  # nothing hashed again
    st = (root / TEST_FILES[1]).stat()
    os.utime(root / TEST_FILES[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    MNIST(root=root, train=False)
    assert len(calls) == 3  # a touched file is verified again


# ---- damaged MNIST files: every failure names the file and the defect ---------------------------------------
def test_missing_file(tmp_path):
    root = copy_test_split(tmp_path)
    (root / TEST_FILES[0]).unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\.gz and .* not found.*download=True"):
        MNIST(root=root, train=False)


def test_truncated_file(tmp_path):
    root = copy_test_split(tmp_path)
    path = root / TEST_FILES[0]
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte\.gz: truncated"):
        MNIST(root=root, train=False)


def test_altered_byte_in_archive(tmp_path):
    root = copy_test_split(tmp_path)
    path = root / TEST_FILES[1]
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte\.gz: (not a valid gzip|corrupt gzip)"):
        MNIST(root=root, train=False)


def test_altered_content_checksum_mismatch(tmp_path):
    root = copy_test_split(tmp_path, uncompressed=True)
    path = root / TEST_FILES[1][:-3]
    raw = bytearray(path.read_bytes())
    raw[100] = (raw[100] + 1) % 10  # a valid label in a valid file: only the checksum can tell
    path.write_bytes(bytes(raw))
    expected, got = MNIST.sha256[TEST_FILES[1]], idx.sha256_hex(bytes(raw))
    with pytest.raises(DataFileError, match=rf"t10k-labels-idx1-ubyte: checksum mismatch.*expected {expected}, "
                                            rf"got {got}"):
        MNIST(root=root, train=False)


def test_not_gzip(tmp_path):
    root = copy_test_split(tmp_path)
    (root / TEST_FILES[1]).write_bytes(b"plain text, not gzip" * 10)
    with pytest.raises(DataFileError, match=r"t10k-labels-idx1-ubyte\.gz: not a valid gzip"):
        MNIST(root=root, train=False)


def test_parse_idx_header_errors():
    good = bytes([0, 0, 8, 1]) + (3).to_bytes(4, "big") + bytes([1, 2, 3])
    assert idx.parse_idx(good).tolist() == [1, 2, 3]
    with pytest.raises(DataFileError, match="f.idx: bad IDX magic"):
        idx.parse_idx(b"\x01\x00" + good[2:], "f.idx")
    with pytest.raises(DataFileError, match="f.idx: bad IDX magic"):
        idx.parse_idx(bytes([0, 0, 0x42]) + good[3:], "f.idx")
    with pytest.raises(DataFileError, match="f.idx: IDX data truncated"):
        idx.parse_idx(good[:-1], "f.idx")
    with pytest.raises(DataFileError, match="trailing bytes"):
        idx.parse_idx(good + b"\x00", "f.idx")
    with pytest.raises(DataFileError, match="f.idx: bad IDX header"):
        idx.parse_idx(bytes([0, 0, 8, 3, 0, 0]), "f.idx")


def test_idx_roundtrip_and_structure_check(tmp_path):
    arr = np.arange(24, dtype=np.int32).reshape(2, 3, 4) - 5
    sha = idx.write_idx_gz(tmp_path / "a.gz", arr)
    out = idx.load_idx(tmp_path / "a.gz", sha)
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.int32 and not out.flags.writeable

    class Tiny(MNIST):  # MNIST's loader on files without known checksums: structure checks still apply
        sha256 = {}
        sizes = {True: 5, False: 5}
    idx.write_idx_gz(tmp_path / TEST_FILES[0], np.zeros((5, 28, 27), np.uint8))
    idx.write_idx_gz(tmp_path / TEST_FILES[1], np.zeros(5, np.uint8))
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte\.gz: expected uint8 images of shape"):
        Tiny(root=tmp_path, train=False)


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown split train='val'"):
        MNIST(train="val")
    with pytest.raises(TypeError, match="transform must be callable"):
        MNIST(train=False, transform="ToTensor")
    with pytest.raises(FileNotFoundError, match=r"MNIST/raw.*download=True"):
        MNIST(root=tmp_path, train=False)


# ---- downloads from mirrors (a local HTTP server on 127.0.0.1) ---------------------------------------------
@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/srv over HTTP: good/ the real MNIST test split, bad/ a corrupted copy, empty/ nothing."""
    srv = tmp_path / "srv"
    copy_test_split(srv / "good")
    copy_test_split(srv / "bad")
    (srv / "bad" / TEST_FILES[0]).write_bytes(b"\x1f\x8b garbage")
    (srv / "empty").mkdir()
    with serve(srv) as url:
        yield url, srv


def test_download_falls_back_to_second_mirror_into_torchvision_layout(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setattr(MNIST, "mirrors", [f"{url}/empty/", f"{url}/good/"])  # 404, then ok
    ds = MNIST(root=tmp_path / "dl", train=False, download=True)
    raw = tmp_path / "dl" / "MNIST" / "raw"
    assert len(ds) == 10000 and sorted(p.name for p in raw.iterdir()) == sorted(TEST_FILES)  # no .part left
    for f in TEST_FILES:
        assert (raw / f).read_bytes() == (PKG_MNIST / f).read_bytes()


def test_download_rejects_corrupt_mirror(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setattr(MNIST, "mirrors", [f"{url}/bad/", f"{url}/good/"])
    ds = MNIST(root=tmp_path / "dl", train=False, download=True)
    np.testing.assert_array_equal(ds.data.numpy(), MNIST(train=False).data.numpy())


def test_download_all_mirrors_fail(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setattr(MNIST, "mirrors", [f"{url}/empty/", f"{url}/bad/"])
    root = tmp_path / "dl"
    with pytest.raises(DownloadError) as err:
        MNIST(root=root, train=False, download=True)
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and "/empty/" in msg and "/bad/" in msg and "404" in msg
    raw = root / "MNIST" / "raw"
    assert not (raw / TEST_FILES[0]).exists() and not list(raw.glob(".*part"))


def test_download_with_patched_opener(tmp_path, monkeypatch):
    """The opener is swappable: mirror 1 refuses, mirror 2 delivers a short body (IncompleteRead-like)."""
    payload = (PKG_MNIST / TEST_FILES[1]).read_bytes()
    seen = []

    class Response:
        def __init__(self, body, length):
            self.body, self.headers = body, {"Content-Length": str(length)}

        def read(self, n):
            chunk, self.body = self.body[:n], self.body[n:]
            return chunk

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_open(url, timeout):
        seen.append(url)
        if url.startswith("https://one/"):
            raise urllib.error.URLError("connection refused")
        if url.startswith("https://two/"):
            return Response(payload[:-10], len(payload))
        return Response(payload, len(payload))

    monkeypatch.setattr(data_utils, "_urlopen", fake_open)
    dest = data_utils.download_file(TEST_FILES[1], tmp_path, ["https://one/", "https://two/", "https://three"],
                                    lambda p: data_utils.check_digest(p, None), progress=False)
    assert seen == [f"https://{m}/{TEST_FILES[1]}" for m in ("one", "two", "three")]
    assert dest.read_bytes() == payload and [p.name for p in tmp_path.iterdir()] == [TEST_FILES[1]]


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYCNN_DATA", str(tmp_path))
    assert datasets.cache_dir() == tmp_path
    monkeypatch.delenv("TINYCNN_DATA")
    assert datasets.cache_dir() == Path("~/.cache/tinycnn").expanduser()


@pytest.mark.skipif(not (FashionMNIST.system_dir / TEST_FILES[0]).is_file(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist():
    ds = FashionMNIST(train=False, transform=T.ToTensor())
    assert ds.data.shape == (10000, 28, 28) and np.bincount(ds.targets.numpy()).tolist() == [1000] * 10
    assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and label == int(ds.targets.numpy()[0])
