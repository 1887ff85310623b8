"""tinycnn.vision.datasets' CIFAR-10/100 on archives generated in the official formats (python and binary
versions, placed by hand or downloaded from a local HTTP server, damaged or hostile) and image folders, against
torchvision's readers of the same files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from data_files import (CIFAR10_NAMES, png_bytes, py2_pickle, serve, tar_gz, write_cifar_binary, write_cifar_python,
                        write_image_folder)
from PIL import Image

from tinycnn.utils.data import DataLoader
from tinycnn.vision import datasets, transforms as T
from tinycnn.vision.datasets import CIFAR10, CIFAR100, DataFileError, ImageFileError, ImageFolder


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/srv over HTTP: good/, bad/ and empty/ folders, filled by the test."""
    srv = tmp_path / "srv"
    for name in ("good", "bad", "empty"):
        (srv / name).mkdir(parents=True)
    with serve(srv) as url:
        yield url, srv


# ---- CIFAR-10 / CIFAR-100 on generated archives in the official formats ---------------------------------------
def _cifar_class(info, base=CIFAR10, archive_sha=None, per_batch=4, n_test=3):
    md5 = info["md5"]
    five = base is CIFAR10

    class Small(base):
        train_list = [[f"data_batch_{i}", md5[f"data_batch_{i}"]] for i in range(1, 6)] if five else \
            [["train", md5["train"]]]
        test_list = [["test_batch", md5["test_batch"]]] if five else [["test", md5["test"]]]
        meta = dict(base.meta, md5=md5[base.meta["filename"]])
        sizes = {True: 5 * per_batch, False: n_test}
        archive_sha256 = archive_sha
    Small.__name__ = base.__name__
    return Small


def test_cifar10_python_version_reads_like_torchvision(tmp_path, torchvision):
    info = write_cifar_python(tmp_path)
    Small = _cifar_class(info)
    train, test = Small(tmp_path, train=True), Small(tmp_path, train=False, transform=T.ToTensor())
    assert train.data.shape == (20, 32, 32, 3) and train.data.dtype == np.uint8 and isinstance(train.targets, list)
    assert train.classes == CIFAR10_NAMES and train.class_to_idx["cat"] == 3 and len(test) == 3
    first, labels = info["arrays"]["data_batch_1"]
    np.testing.assert_array_equal(train.data[0], first[0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert train.targets[:4] == labels

    class Theirs(torchvision.datasets.CIFAR10):
        train_list, test_list, meta = Small.train_list, Small.test_list, Small.meta
    for split in (True, False):
        ours = Small(tmp_path, train=split, transform=T.ToTensor())
        theirs = Theirs(str(tmp_path), train=split, transform=torchvision.transforms.ToTensor())
        np.testing.assert_array_equal(ours.data, theirs.data)
        assert ours.targets == theirs.targets and ours.classes == theirs.classes
        np.testing.assert_array_equal(ours[1][0].numpy(), theirs[1][0].numpy())
    batch = test.get_batch([2, 0])
    np.testing.assert_array_equal(batch[0].numpy()[0], test[2][0].numpy())


def test_cifar100_python_version(tmp_path, torchvision):
    info = write_cifar_python(tmp_path, cifar100=True)
    Small = _cifar_class(info, CIFAR100)
    ds = Small(tmp_path, train=True)
    assert len(ds) == 20 and len(ds.classes) == 100 and ds.classes[7] == "fine07"
    assert ds.targets == info["arrays"]["train"][1]

    class Theirs(torchvision.datasets.CIFAR100):
        train_list, test_list, meta = Small.train_list, Small.test_list, Small.meta
    theirs = Theirs(str(tmp_path), train=True)
    np.testing.assert_array_equal(ds.data, theirs.data)
    assert ds.targets == theirs.targets


def test_cifar10_binary_version(tmp_path):
    info = write_cifar_binary(tmp_path)

    class Small(CIFAR10):
        sizes = {True: 20, False: 3}
    ds = Small(tmp_path, train=False, transform=T.ToTensor())
    data, labels = info["arrays"]["test_batch.bin"]
    assert ds.targets == labels and ds.classes == CIFAR10_NAMES
    np.testing.assert_array_equal(ds.data[1], data[1].reshape(3, 32, 32).transpose(1, 2, 0))
    path = info["folder"] / "data_batch_3.bin"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataFileError, match=r"data_batch_3\.bin: \d+ bytes is not a whole number of 3073-byte"):
        Small(tmp_path, train=True)


def test_cifar_archive_placed_by_hand_is_verified_and_unpacked(tmp_path):
    work = tmp_path / "work"
    info = write_cifar_python(work)
    root = tmp_path / "root"
    root.mkdir()
    sha = tar_gz(info["folder"], root / CIFAR10.filename)
    Small = _cifar_class(info, archive_sha=sha)
    ds = Small(root, train=False)
    assert len(ds) == 3 and (root / "cifar-10-batches-py" / "test_batch").is_file()
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_cifar_archive_truncated_or_altered(tmp_path):
    info = write_cifar_python(tmp_path / "work")
    good = tmp_path / "good.tar.gz"
    sha = tar_gz(info["folder"], good)
    raw = good.read_bytes()
    Small = _cifar_class(info, archive_sha=sha)
    for name, content in (("truncated", raw[: len(raw) // 2]), ("altered", raw[:100] + bytes([raw[100] ^ 1]) +
                                                                 raw[101:])):
        root = tmp_path / name
        root.mkdir()
        (root / CIFAR10.filename).write_bytes(content)
        with pytest.raises(DataFileError, match=rf"{name}/cifar-10-python\.tar\.gz: checksum mismatch \(SHA256"):
            Small(root)
        assert not (root / "cifar-10-batches-py").exists()


def test_cifar_damaged_batch_and_hostile_pickle(tmp_path):
    info = write_cifar_python(tmp_path)
    Small = _cifar_class(info)
    batch = info["folder"] / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:1000])
    with pytest.raises(DataFileError, match=r"data_batch_2: checksum mismatch \(MD5"):
        Small(tmp_path)

    class Unchecked(Small):
        train_list = [[name, None] for name, _ in Small.train_list]
    with pytest.raises(DataFileError, match=r"data_batch_2: not a readable pickle .*truncated"):
        Unchecked(tmp_path)
    # a pickle that would run code if unpickled: refused before anything is called
    hostile = b"\x80\x02}(U\x04datacposix\nsystem\nU\x0aecho owned\x85Ru."
    batch.write_bytes(hostile)
    with pytest.raises(DataFileError, match=r"refers to posix\.system.*refusing"):
        Unchecked(tmp_path)
    batch.write_bytes(py2_pickle({"data": np.zeros((4, 100), np.uint8), "labels": [0, 1, 2, 3]}))
    with pytest.raises(DataFileError, match=r"data_batch_2: expected 'data' to be a uint8 array of shape \(N, 3072\)"):
        Unchecked(tmp_path)


def test_cifar_missing_everything_says_where_to_put_the_archive(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cifar-10-python\.tar\.gz.*download=True.*place"):
        CIFAR10(tmp_path)


def test_cifar_download_from_a_mirror(server, tmp_path, monkeypatch):
    url, srv = server
    info = write_cifar_python(tmp_path / "work")
    sha = tar_gz(info["folder"], srv / "good" / CIFAR10.filename)
    (srv / "bad" / CIFAR10.filename).write_bytes(b"\x1f\x8b not the archive")
    Small = _cifar_class(info, archive_sha=sha)
    monkeypatch.setattr(Small, "mirrors", [f"{url}/empty/", f"{url}/bad/", f"{url}/good/"])
    root = tmp_path / "root"
    ds = Small(root, train=True, download=True)
    assert len(ds) == 20 and (root / CIFAR10.filename).read_bytes() == (srv / "good" / CIFAR10.filename).read_bytes()
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


# ---- image folders ----------------------------------------------------------------------------------------------
def test_image_folder_matches_torchvision(tmp_path, torchvision):
    write_image_folder(tmp_path, classes=("dog", "cat", "bird"), per_class=3)
    write_image_folder(tmp_path / "cat" / "more", classes=("x",), per_class=1, fmt="jpg", seed=3)
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ours = ImageFolder(tmp_path, transform=T.ToTensor())
    theirs = torchvision.datasets.ImageFolder(str(tmp_path), transform=torchvision.transforms.ToTensor())
    assert ours.classes == theirs.classes == ["bird", "cat", "dog"] and ours.class_to_idx == theirs.class_to_idx
    assert ours.samples == theirs.samples and ours.targets == theirs.targets and ours.imgs == ours.samples
    for i in range(len(ours)):
        np.testing.assert_array_equal(ours[i][0].numpy(), theirs[i][0].numpy())
    batch = next(iter(DataLoader(ImageFolder(tmp_path, transform=T.Compose([T.Resize((8, 8)), T.ToTensor()])),
                                 batch_size=4, num_workers=2)))
    assert batch[0].shape == (4, 3, 8, 8) and batch[1].tolist() == [0, 0, 0, 1]


def test_dataset_folder_with_is_valid_file_and_loader(tmp_path):
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for k in range(2):
            (tmp_path / c / f"{k}.npy").write_bytes(b"")
    ds = datasets.DatasetFolder(tmp_path, loader=lambda p: Path(p).name, is_valid_file=lambda p: p.endswith("1.npy"))
    assert [ds[i] for i in range(len(ds))] == [("1.npy", 0), ("1.npy", 1)]
    ext = datasets.DatasetFolder(tmp_path, loader=lambda p: p, extensions=(".npy",))
    assert len(ext) == 4
    with pytest.raises(ValueError, match="exactly one of extensions and is_valid_file"):
        datasets.DatasetFolder(tmp_path, loader=str)


def test_image_folder_bad_inputs_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere: no such folder"):
        ImageFolder(tmp_path / "nowhere")
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "flat" / "a.png")
    with pytest.raises(FileNotFoundError, match=r"flat: no class folders found \(expected one subfolder per class"):
        ImageFolder(tmp_path / "flat")
    write_image_folder(tmp_path / "some", classes=("cat",), per_class=1)
    (tmp_path / "some" / "dog").mkdir()
    (tmp_path / "some" / "dog" / "readme.txt").write_text("x")
    with pytest.raises(FileNotFoundError, match=r"found no valid file for the classes dog \(expected files ending in"):
        ImageFolder(tmp_path / "some")
    assert len(ImageFolder(tmp_path / "some", allow_empty=True)) == 1
    fake, cut = tmp_path / "bad" / "x" / "fake.png", tmp_path / "bad" / "x" / "cut.png"
    fake.parent.mkdir(parents=True)
    fake.write_bytes(b"this is text, not a PNG")
    cut.write_bytes(png_bytes(np.full((40, 40, 3), 7, np.uint8))[:80])
    ds = ImageFolder(tmp_path / "bad")
    errors = {}
    for i, (path, _) in enumerate(ds.samples):
        with pytest.raises(ImageFileError) as info:
            ds[i]
        errors[Path(path).name] = str(info.value)
    assert errors["fake.png"].endswith("fake.png: not an image file Pillow can read (expected PNG, JPEG or another "
                                       "format Pillow decodes)")
    assert "cut.png: damaged or truncated image" in errors["cut.png"] and "\n" not in errors["cut.png"]
    assert isinstance(info.value, OSError) and isinstance(info.value, DataFileError)
