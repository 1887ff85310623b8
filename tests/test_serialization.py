"""tinycnn.save / tinycnn.load: round trips, atomic writes, refusal of damaged or foreign files."""
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import tinycnn
from tinycnn.utils.serialization import CheckpointError


def test_round_trip_of_a_nested_checkpoint(tmp_path):
    path = tmp_path / "ckpt.npz"
    obj = {"model": OrderedDict(w=tinycnn.randn(3, 2), b=tinycnn.zeros(2, dtype=tinycnn.float64)),
           "optimizer": {"state": {0: {"step": 3, "exp_avg": np.ones(3, np.float32)}},
                         "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1]}]},
           "rng": tinycnn.get_rng_state(), "epoch": 4, "name": "lenet", "none": None,
           "nan": float("nan"), "flags": [True, False]}
    tinycnn.save(obj, path)
    back = tinycnn.load(path)
    assert isinstance(back["model"], OrderedDict) and list(back["model"]) == ["w", "b"]
    np.testing.assert_array_equal(back["model"]["w"].numpy(), obj["model"]["w"].numpy())
    assert back["model"]["b"].dtype == np.float64
    assert back["optimizer"]["state"][0]["step"] == 3
    assert back["optimizer"]["state"][0]["exp_avg"].dtype == np.float32
    assert back["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    assert back["rng"] == obj["rng"] and back["epoch"] == 4 and back["none"] is None
    assert np.isnan(back["nan"]) and back["flags"] == [True, False]
    assert isinstance(tinycnn.load(path, as_tensors=False)["model"]["w"], np.ndarray)


def test_save_replaces_atomically_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "w.npz"
    tinycnn.save({"x": np.zeros(2)}, path)
    tinycnn.save({"x": np.ones(2)}, path)
    assert tinycnn.load(path)["x"].tolist() == [1.0, 1.0]
    assert os.listdir(tmp_path) == ["w.npz"]


def test_failed_save_keeps_the_previous_file(tmp_path):
    path = tmp_path / "w.npz"
    tinycnn.save({"x": np.zeros(2)}, path)
    with pytest.raises(TypeError, match="cannot store"):
        tinycnn.save({"x": object()}, path)
    assert tinycnn.load(path)["x"].tolist() == [0.0, 0.0]
    assert os.listdir(tmp_path) == ["w.npz"]


def test_truncated_altered_missing_and_foreign_files_are_named(tmp_path):
    path = tmp_path / "w.npz"
    tinycnn.save({"x": np.arange(1000.0)}, path)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match=str(path)):
        tinycnn.load(path)
    damaged = bytearray(raw)
    damaged[len(raw) // 3] ^= 0xFF
    path.write_bytes(bytes(damaged))
    with pytest.raises(CheckpointError, match="w.npz"):
        tinycnn.load(path)
    with pytest.raises(CheckpointError, match="no such file"):
        tinycnn.load(tmp_path / "missing.npz")
    np.savez(tmp_path / "plain.npz", x=np.zeros(2))
    with pytest.raises(CheckpointError, match="not a tinycnn file"):
        tinycnn.load(tmp_path / "plain.npz")


def test_consistently_rewritten_member_fails_the_checksum(tmp_path):
    """A member replaced with a valid array (CRC-32 fine) is still caught by the SHA-256."""
    path = tmp_path / "w.npz"
    tinycnn.save({"x": np.zeros(3)}, path)
    with zipfile.ZipFile(path) as zin:
        members = {name: zin.read(name) for name in zin.namelist()}
    fake = tmp_path / "a0.npy"
    np.save(fake, np.ones(3))
    members["a0.npy"] = fake.read_bytes()
    with zipfile.ZipFile(path, "w") as zout:
        for name, data in members.items():
            zout.writestr(name, data)
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        tinycnn.load(path)


def test_pickled_object_arrays_are_never_loaded(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __structure__=np.array([object()], dtype=object))
    with pytest.raises(CheckpointError):
        tinycnn.load(path)
