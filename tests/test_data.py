"""Tests of tinycnn.data: IDX parsing and verification, MNIST facts, downloads, DataLoader, transforms."""
from __future__ import annotations

import functools
import gzip
import http.server
import re
import shutil
import threading
import urllib.error
from pathlib import Path

import numpy as np
import pytest

import tinycnn
from tinycnn.data import (MNIST, DataFileError, DataLoader, DownloadError, FashionMNIST, Subset,
                          TensorDataset, idx, mnist as mnist_mod, transforms as T)

PKG_MNIST = Path(mnist_mod.__file__).resolve().parent / "mnist"
TEST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


@pytest.fixture(scope="module")
def mnist_train():
    return MNIST(train=True)


@pytest.fixture(scope="module")
def mnist_test():
    return MNIST(train=False)


def copy_test_split(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in TEST_FILES:
        shutil.copyfile(PKG_MNIST / f, dst / f)
    return dst


# ---- the shipped MNIST against its known facts -------------------------------------------------------------
def test_mnist_train_facts(mnist_train):
    assert mnist_train.data.shape == (60000, 28, 28) and mnist_train.data.dtype == np.uint8
    assert mnist_train.targets.shape == (60000,) and mnist_train.targets.dtype == np.int64
    assert np.bincount(mnist_train.targets).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265,
                                                         5851, 5949]
    assert mnist_train.data.mean() == pytest.approx(33.318, abs=1e-3)
    hist = np.bincount(mnist_train.data.ravel(), minlength=256)  # mean/std from the histogram: no float copy
    levels = np.arange(256) / 255.0
    mean = (hist * levels).sum() / hist.sum()
    std = np.sqrt((hist * (levels - mean) ** 2).sum() / hist.sum())
    assert mean == pytest.approx(0.1307, abs=1e-4) and std == pytest.approx(0.3081, abs=1e-4)
    assert len(mnist_train) == 60000 and len(mnist_train.classes) == 10
    assert mnist_train.root == PKG_MNIST  # the shipped copy is the default


def test_mnist_test_facts(mnist_test):
    assert mnist_test.data.shape == (10000, 28, 28)
    assert np.bincount(mnist_test.targets).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_readme_checksums_match_the_class():
    text = (PKG_MNIST / "README.md").read_text()
    table = dict(re.findall(r"\|\s*(\S+\.gz)\s*\|\s*([0-9a-f]{64})\s*\|", text))
    assert table == MNIST.sha256


def test_getitem_and_get_batch(mnist_test):
    image, label = mnist_test[7]
    assert image.shape == (1, 28, 28) and image.dtype == np.float32 and isinstance(label, int)
    assert 0.0 <= image.min() and image.max() <= 1.0
    np.testing.assert_array_equal(image[0], mnist_test.data[7] / np.float32(255))
    images, labels = mnist_test.get_batch([7, 3, -1])
    assert images.shape == (3, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(images[0], image)
    assert labels.tolist() == [label, mnist_test[3][1], mnist_test[9999][1]]
    with pytest.raises(IndexError, match="10000"):
        mnist_test[10000]


def test_second_load_uses_the_cache(monkeypatch, tmp_path):
    root = copy_test_split(tmp_path / "m")
    calls = []
    real = idx.sha256_hex
    monkeypatch.setattr(idx, "sha256_hex", lambda raw: calls.append(1) or real(raw))
    MNIST(root=root, train=False)
    assert len(calls) == 2
    MNIST(root=root, train=False)
    assert len(calls) == 2  # nothing hashed again
    import os
    st = (root / TEST_FILES[1]).stat()
    os.utime(root / TEST_FILES[1], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    MNIST(root=root, train=False)
    assert len(calls) == 3  # a touched file is verified again


# ---- corrupted copies: every failure names the file and the defect -----------------------------------------
def test_missing_file(tmp_path):
    root = copy_test_split(tmp_path)
    (root / TEST_FILES[0]).unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\.gz.*download=True"):
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
    root = copy_test_split(tmp_path)
    path = root / TEST_FILES[1]
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[100] = (raw[100] + 1) % 10  # a valid label, a valid archive: only the checksum can tell
    path.write_bytes(gzip.compress(bytes(raw)))
    expected = MNIST.sha256[TEST_FILES[1]]
    got = idx.sha256_hex(bytes(raw))
    with pytest.raises(DataFileError, match=rf"t10k-labels-idx1-ubyte\.gz: checksum mismatch.*"
                                            rf"expected {expected}, got {got}"):
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
    out = idx.load_idx_gz(tmp_path / "a.gz", sha)
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.int32 and not out.flags.writeable

    class Tiny(MNIST):  # MNIST's loader on files without known checksums: structure checks still apply
        sha256 = {}
        sizes = {True: 5, False: 5}
    idx.write_idx_gz(tmp_path / TEST_FILES[0], np.zeros((5, 28, 27), np.uint8))
    idx.write_idx_gz(tmp_path / TEST_FILES[1], np.zeros(5, np.uint8))
    with pytest.raises(DataFileError, match=r"t10k-images-idx3-ubyte\.gz: expected uint8 images of shape"):
        Tiny(root=tmp_path, train=False)


# ---- downloads from mirrors (a local HTTP server on 127.0.0.1) ---------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/srv: good/ holds the real test split, bad/ a corrupted copy, empty/ nothing."""
    srv = tmp_path / "srv"
    copy_test_split(srv / "good")
    copy_test_split(srv / "bad")
    (srv / "bad" / TEST_FILES[0]).write_bytes(b"\x1f\x8b garbage")
    (srv / "empty").mkdir()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_QuietHandler, directory=str(srv)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_download_falls_back_to_second_mirror(server, tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", (f"{server}/empty/", f"{server}/good/"))  # 404, then ok
    root = tmp_path / "dl"
    ds = MNIST(root=root, train=False, download=True)
    assert len(ds) == 10000 and sorted(p.name for p in root.iterdir()) == sorted(TEST_FILES)  # no .part left
    for f in TEST_FILES:
        assert (root / f).read_bytes() == (PKG_MNIST / f).read_bytes()


def test_download_rejects_corrupt_mirror(server, tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", (f"{server}/bad/", f"{server}/good/"))
    ds = MNIST(root=tmp_path / "dl", train=False, download=True)
    np.testing.assert_array_equal(ds.data, MNIST(train=False).data)


def test_download_all_mirrors_fail(server, tmp_path, monkeypatch):
    monkeypatch.setattr(MNIST, "mirrors", (f"{server}/empty/", f"{server}/bad/"))
    root = tmp_path / "dl"
    with pytest.raises(DownloadError) as err:
        MNIST(root=root, train=False, download=True)
    msg = str(err.value)
    assert "t10k-images-idx3-ubyte.gz" in msg and "/empty/" in msg and "/bad/" in msg and "404" in msg
    assert not (root / TEST_FILES[0]).exists() and not list(root.glob(".*part"))


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

    monkeypatch.setattr(mnist_mod, "_urlopen", fake_open)
    dest = mnist_mod.download_file(TEST_FILES[1], tmp_path, ["https://one/", "https://two/", "https://three"],
                                   MNIST.sha256[TEST_FILES[1]], progress=False)
    assert seen == [f"https://{m}/{TEST_FILES[1]}" for m in ("one", "two", "three")]
    assert dest.read_bytes() == payload and [p.name for p in tmp_path.iterdir()] == [TEST_FILES[1]]


def test_cache_dir_env(monkeypatch, tmp_path):
    monkeypatch.setenv("TINYCNN_DATA", str(tmp_path))
    assert mnist_mod.cache_dir() == tmp_path
    monkeypatch.delenv("TINYCNN_DATA")
    assert mnist_mod.cache_dir() == Path("~/.cache/tinycnn").expanduser()


# ---- argument errors ---------------------------------------------------------------------------------------
def test_argument_errors(tmp_path):
    data = TensorDataset(np.arange(4))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            DataLoader(data, batch_size=bad)
    with pytest.raises(ValueError, match="unknown split train='val'"):
        MNIST(train="val")
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\.gz.*download=True"):
        MNIST(root=tmp_path, train=False)
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))
    with pytest.raises(ValueError, match="Subset: indices"):
        Subset(data, [0, 4])


# ---- DataLoader --------------------------------------------------------------------------------------------
def test_batching_sizes_and_drop_last():
    x = np.arange(10, dtype=np.float32)[:, None] * np.ones((1, 3), np.float32)
    y = np.arange(10)
    loader = DataLoader(TensorDataset(x, y), batch_size=4)
    batches = list(loader)
    assert len(loader) == 3 and [b[0].shape[0] for b in batches] == [4, 4, 2]
    assert isinstance(batches[0][0], tinycnn.Tensor) and batches[0][0].dtype == np.float32
    assert batches[0][1].dtype == np.int64
    assert np.concatenate([b[1].numpy() for b in batches]).tolist() == list(range(10))
    dropped = DataLoader(TensorDataset(x, y), batch_size=4, drop_last=True)
    assert len(dropped) == 2 and [b[1].shape[0] for b in dropped] == [4, 4]
    assert len(DataLoader(TensorDataset(y), batch_size=5, drop_last=True)) == 2
    assert len(DataLoader(TensorDataset(y), batch_size=11, drop_last=True)) == 0


def test_mnist_loader_batches(mnist_test):
    loader = DataLoader(mnist_test, batch_size=256)
    batches = list(loader)
    assert len(loader) == len(batches) == 40
    images, labels = batches[0]
    assert images.shape == (256, 1, 28, 28) and images.dtype == np.float32 and labels.dtype == np.int64
    assert batches[-1][0].shape == (10000 - 39 * 256, 1, 28, 28)
    np.testing.assert_array_equal(images.numpy()[5], mnist_test[5][0])


class _CountingMNIST(MNIST):
    calls = 0

    def __getitem__(self, i):
        type(self).calls += 1
        return super().__getitem__(i)


def test_batched_path_never_calls_getitem():
    ds = _CountingMNIST(train=False, transform=T.Normalize(0.1307, 0.3081))
    for _ in DataLoader(ds, batch_size=500, shuffle=True, seed=1):
        pass
    for _ in DataLoader(Subset(ds, np.arange(0, 10000, 7)), batch_size=100, shuffle=True, seed=1):
        pass
    assert _CountingMNIST.calls == 0


def test_generic_path_matches_batched(mnist_test):
    class Plain:  # only __len__/__getitem__: the loader must stack samples
        def __len__(self):
            return 50

        def __getitem__(self, i):
            return mnist_test[i]
    generic = list(DataLoader(Plain(), batch_size=16, tensors=False))
    batched = list(DataLoader(Subset(mnist_test, range(50)), batch_size=16, tensors=False))
    assert len(generic) == len(batched) == 4
    for (gx, gy), (bx, by) in zip(generic, batched):
        assert gx.dtype == np.float32 and gy.dtype == np.int64
        np.testing.assert_array_equal(gx, bx)
        np.testing.assert_array_equal(gy, by)


def test_subset_batched_and_attributes(mnist_test):
    sub = Subset(mnist_test, [5, 2, 9999])
    x, y = sub.get_batch([2, 0])
    ref_x, ref_y = mnist_test.get_batch([9999, 5])
    np.testing.assert_array_equal(x, ref_x)
    np.testing.assert_array_equal(y, ref_y)
    assert len(sub) == 3 and sub.classes == mnist_test.classes and sub[1][1] == mnist_test[2][1]


def _epoch(loader):
    return np.concatenate([b[0] for b in loader]).tolist()


def test_shuffle_is_permutation_reproducible_and_changes_per_epoch():
    data = TensorDataset(np.arange(100))
    loader = DataLoader(data, batch_size=7, shuffle=True, seed=5, tensors=False)
    e1, e2 = _epoch(loader), _epoch(loader)
    assert sorted(e1) == list(range(100)) and sorted(e2) == list(range(100))
    assert e1 != list(range(100)) and e1 != e2
    again = DataLoader(data, batch_size=7, shuffle=True, seed=5, tensors=False)
    assert _epoch(again) == e1 and _epoch(again) == e2
    assert _epoch(DataLoader(data, batch_size=7, shuffle=True, seed=6, tensors=False)) != e1
    # seed=None: seeded from tinycnn's global generator
    tinycnn.manual_seed(123)
    a = _epoch(DataLoader(data, batch_size=10, shuffle=True, tensors=False))
    tinycnn.manual_seed(123)
    b = _epoch(DataLoader(data, batch_size=10, shuffle=True, tensors=False))
    assert a == b
    state = tinycnn.get_rng_state()
    DataLoader(data, batch_size=10)  # a sequential loader leaves the global generator alone
    assert tinycnn.get_rng_state() == state


def test_state_dict_resumes_bit_for_bit():
    images = np.random.default_rng(0).random((20, 1, 6, 6), dtype=np.float32)

    class Images(TensorDataset):
        def __init__(self, transform):
            super().__init__(images, np.arange(20))
            self.transform = transform

        def get_batch(self, indices):
            x, y = super().get_batch(indices)
            return self.transform(x), y

    def make(seed):
        tf = T.Compose([T.RandomCrop(4, padding=1, seed=seed), T.RandomHorizontalFlip(seed=seed + 1)])
        return DataLoader(Subset(Images(tf), range(2, 18)), batch_size=5, shuffle=True, seed=seed,
                          tensors=False)
    first = make(1)
    list(first)
    state = first.state_dict()
    expected = [b[0] for b in first]
    resumed = make(99)
    resumed.load_state_dict(state)
    got = [b[0] for b in resumed]
    assert len(state["transforms"]) == 2 and resumed.epoch == 2
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)
    with pytest.raises(ValueError, match="random transform"):
        DataLoader(TensorDataset(images), seed=0).load_state_dict(state)


# ---- transforms --------------------------------------------------------------------------------------------
def test_normalize():
    x = np.random.default_rng(1).random((4, 3, 5, 5), dtype=np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    out = T.Normalize(mean, std)(x)
    assert out.dtype == np.float32 and out.shape == x.shape
    for c in range(3):
        np.testing.assert_allclose(out[:, c], (x[:, c] - mean[c]) / std[c], rtol=1e-6)
    np.testing.assert_allclose(T.Normalize(0.1307, 0.3081)(x[0]), (x[0] - 0.1307) / 0.3081, rtol=1e-5)
    with pytest.raises(ValueError, match="3 channels"):
        T.Normalize([0.1, 0.2], [1, 1])(x)
    with pytest.raises(ValueError, match="std"):
        T.Normalize(0, 0)


def test_pad():
    x = np.ones((2, 1, 28, 28), np.float32)
    assert T.Pad(2)(x).shape == (2, 1, 32, 32)
    assert T.Pad((1, 3))(x[0]).shape == (1, 34, 30)
    out = T.Pad((1, 2, 3, 4), fill=0.5)(x)
    assert out.shape == (2, 1, 34, 32) and out.dtype == np.float32
    assert out[0, 0, 0, 0] == 0.5 and out[0, 0, 2, 1] == 1.0 and out[0, 0, 2, 0] == 0.5
    assert out[0, 0, 2:30, 1:29].min() == 1.0 and out.sum() == 2 * (28 * 28 + 0.5 * (34 * 32 - 28 * 28))
    with pytest.raises(ValueError, match="padding"):
        T.Pad((1, 2, 3))


def test_random_crop():
    x = np.random.default_rng(2).random((16, 2, 10, 10), dtype=np.float32)
    a = T.RandomCrop(8, padding=2, seed=7)(x)
    b = T.RandomCrop(8, padding=2, seed=7)(x)
    assert a.shape == (16, 2, 8, 8)
    np.testing.assert_array_equal(a, b)
    padded = np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2)))
    offsets = set()
    for k in range(16):  # each crop is a window of its own padded image
        hits = [(i, j) for i in range(7) for j in range(7)
                if np.array_equal(padded[k, :, i:i + 8, j:j + 8], a[k])]
        assert hits
        offsets.add(hits[0])
    assert len(offsets) > 1  # positions are drawn per image
    assert T.RandomCrop((3, 5), seed=0)(x[0]).shape == (2, 3, 5)
    with pytest.raises(ValueError, match="larger than"):
        T.RandomCrop(11, seed=0)(x)


def test_random_horizontal_flip():
    x = np.random.default_rng(3).random((64, 1, 4, 5), dtype=np.float32)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0, seed=0)(x), x[..., ::-1])
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0, seed=0)(x), x)
    out = T.RandomHorizontalFlip(seed=4)(x)
    flipped = np.array([np.array_equal(o, xi[..., ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped | kept) and 10 < flipped.sum() < 54
    np.testing.assert_array_equal(out, T.RandomHorizontalFlip(seed=4)(x))


def test_resize_matches_torch_bilinear():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(5)
    for shape, size, expect in [((2, 1, 28, 28), 224, (224, 224)), ((3, 2, 7, 9), (12, 5), (12, 5)),
                                ((2, 3, 10, 6), (4, 4), (4, 4)), ((1, 1, 5, 8), 10, (10, 16))]:
        x = rng.random(shape, dtype=np.float32)
        out = T.Resize(size)(x)
        ref = F.interpolate(torch.from_numpy(x), size=expect, mode="bilinear", align_corners=False,
                            antialias=False).numpy()
        assert out.shape == ref.shape and out.dtype == np.float32
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(T.Resize(size)(x[0]), out[0], rtol=0, atol=0)


def test_mnist_with_transform_pipeline(mnist_test):
    tf = T.Compose([T.Resize(32), T.Normalize(0.1307, 0.3081)])
    ds = MNIST(train=False, transform=tf)
    images, labels = next(iter(DataLoader(ds, batch_size=8, tensors=False)))
    assert images.shape == (8, 1, 32, 32) and images.dtype == np.float32
    np.testing.assert_allclose(images[3], ds[3][0])


# ---- Fashion-MNIST (Debian package dataset-fashion-mnist) --------------------------------------------------
@pytest.mark.skipif(not (FashionMNIST.system_dir / TEST_FILES[0]).is_file(),
                    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
def test_fashion_mnist():
    ds = FashionMNIST(train=False)
    assert ds.data.shape == (10000, 28, 28) and np.bincount(ds.targets).tolist() == [1000] * 10
    assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10
    image, label = ds[0]
    assert image.shape == (1, 28, 28) and label == ds.targets[0]
