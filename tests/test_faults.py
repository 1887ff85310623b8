"""Faults: interrupted saves, damaged or hostile checkpoint files, non-finite losses, kill + resume.

* A save killed with SIGKILL at any point (before writing, mid-write, at fsync, just before the rename) leaves
  the previous checkpoint intact and loadable, and never leaves a half-written file under the target name.
* A truncated or altered checkpoint raises ``CheckpointError`` naming the file (every byte position is tried).
* Loading never executes code: an npz with a pickled object array is refused, and the payload does not run.
* A non-finite loss stops training with a message naming the epoch and step; last.npz stays the last good one.
* ``--resume`` after a kill ends with bit-identical weights to an uninterrupted run with the same seed.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

import tinycnn
from tinycnn import CheckpointError

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _state(value: float, n: int = 50_000):
    """A checkpoint-like dict big enough (~400 kB) that a save takes many write() calls."""
    return {"model": {"w": np.full((n,), value), "b": np.arange(10, dtype=np.float32) * value},
            "epoch": int(value), "note": f"state {value}"}


def _same(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if isinstance(a[k], dict):
            _same(a[k], b[k])
        elif isinstance(a[k], np.ndarray):
            np.testing.assert_array_equal(a[k], b[k])
        else:
            assert a[k] == b[k]


# ---- interrupted saves -----------------------------------------------------------------------------------------
_CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import tinycnn
    path, marker, point = sys.argv[1:4]

    def block(*args, **kwargs):
        open(marker, "w").close()      # tell the parent we are at the kill point
        time.sleep(600)

    if point == "savez":               # before a single byte of the archive is written
        np.savez = block
    elif point == "write":             # in the middle of writing the archive
        real_fdopen = os.fdopen

        class SlowFile:
            def __init__(self, f):
                self.f, self.n = f, 0
            def write(self, b):
                if self.n > 100_000:
                    block()
                self.n += len(b)
                return self.f.write(b)
            def __getattr__(self, name):
                return getattr(self.f, name)
            def __enter__(self):
                return self
            def __exit__(self, *exc):
                return self.f.__exit__(*exc)

        os.fdopen = lambda fd, mode="r", *a, **k: SlowFile(real_fdopen(fd, mode, *a, **k))
    elif point == "fsync":             # written, not yet flushed to disk
        os.fsync = block
    elif point == "replace":           # complete temporary file, not yet renamed over the target
        os.replace = block
    w = np.full((50_000,), 2.0)
    tinycnn.save({"model": {"w": w, "b": np.arange(10, dtype=np.float32) * 2.0}, "epoch": 2,
                  "note": "state 2.0"}, path)
    print("save finished without blocking", flush=True)
""")


@pytest.mark.parametrize("had_previous", [True, False], ids=["previous", "first-save"])
@pytest.mark.parametrize("point", ["savez", "write", "fsync", "replace"])
def test_save_killed_midway_keeps_previous_checkpoint(tmp_path, point, had_previous):
    path, marker = tmp_path / "last.npz", tmp_path / "at-kill-point"
    if had_previous:
        tinycnn.save(_state(1.0), path)
        before = path.read_bytes()
    script = tmp_path / "child.py"
    script.write_text(_CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(path), str(marker), point], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, f"child ended before the kill point: {child.stdout.read().decode()}"
            assert time.monotonic() < deadline, "child never reached the kill point"
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    if had_previous:
        assert path.read_bytes() == before, "the previous checkpoint was modified"
        _same(tinycnn.load(path, as_tensors=False), _state(1.0))
    else:
        assert not path.exists(), "a half-written checkpoint appeared under the target name"
    # what a kill leaves behind is only a temporary file, which is never mistaken for a checkpoint
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("last.npz", "child.py", "at-kill-point")]
    assert all(name.startswith(".tmp-") for name in leftovers), leftovers
    tinycnn.save(_state(3.0), path)   # and the next save works normally
    _same(tinycnn.load(path, as_tensors=False), _state(3.0))


# ---- damaged files ---------------------------------------------------------------------------------------------
@pytest.fixture
def small_checkpoint(tmp_path):
    path = tmp_path / "ck.npz"
    state = {"model": {"w": np.linspace(-1, 1, 24).reshape(4, 6), "b": np.arange(3, dtype=np.float32)},
             "epoch": 3, "history": [{"loss": 0.5}], "name": "lenet5"}
    tinycnn.save(state, path)
    return path, state


@pytest.mark.parametrize("keep", [0, 1, 4, 22, 100, 0.25, 0.5, 0.9, -22, -1])
def test_truncated_checkpoint_names_the_file(small_checkpoint, keep):
    path, _ = small_checkpoint
    raw = path.read_bytes()
    n = int(len(raw) * keep) if isinstance(keep, float) else keep % len(raw) if keep < 0 else keep
    path.write_bytes(raw[:n])
    with pytest.raises(CheckpointError, match=str(path).replace("\\", "\\\\")):
        tinycnn.load(path)


def test_every_single_byte_alteration_is_detected_or_harmless(small_checkpoint):
    """Flip each byte of the file in turn: load either raises CheckpointError naming the file or (for bytes no
    reader looks at, such as zip timestamps) returns exactly the saved content -- never other errors or
    silently different values."""
    path, state = small_checkpoint
    raw = path.read_bytes()
    detected = harmless = 0
    for i in range(len(raw)):
        damaged = bytearray(raw)
        damaged[i] ^= 0xFF
        path.write_bytes(bytes(damaged))
        try:
            loaded = tinycnn.load(path, as_tensors=False)
        except CheckpointError as exc:
            assert str(path) in str(exc)
            detected += 1
            continue
        except Exception as exc:  # noqa: BLE001  (the point of the test: name what escaped)
            pytest.fail(f"flipping byte {i} of {len(raw)} raised {type(exc).__name__}: {exc}")
        _same(loaded, state)
        harmless += 1
    assert detected > len(raw) // 2, (detected, harmless)


def test_rewritten_archive_fails_the_checksum(small_checkpoint):
    """A valid npz whose values were changed (zip CRCs recomputed) is caught by the SHA-256 of the content."""
    path, _ = small_checkpoint
    with np.load(path, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    key = next(k for k in members if not k.startswith("__"))
    members[key] = members[key] + 1
    np.savez(path, **members)
    with pytest.raises(CheckpointError, match="checksum mismatch") as info:
        tinycnn.load(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", ["empty", "text", "npy", "foreign_npz", "directory", "missing"])
def test_files_that_are_not_checkpoints(tmp_path, content):
    path = tmp_path / "x.npz"
    if content == "empty":
        path.write_bytes(b"")
    elif content == "text":
        path.write_text("not a checkpoint\n")
    elif content == "npy":
        np.save(tmp_path / "x.npy", np.zeros(3))
        os.replace(tmp_path / "x.npy", path)
    elif content == "foreign_npz":
        np.savez(path, weights=np.zeros(3))
    elif content == "directory":
        path.mkdir()
    with pytest.raises(CheckpointError) as info:
        tinycnn.load(path)
    assert str(path) in str(info.value)


# ---- hostile files: no code execution ------------------------------------------------------------------------
class _Payload:
    """Unpickling this creates a file: proof that code from the checkpoint ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_array_is_refused_and_never_runs(tmp_path, small_checkpoint):
    path, _ = small_checkpoint
    marker = tmp_path / "pwned"
    with np.load(path, allow_pickle=False) as npz:
        members = {k: npz[k] for k in npz.files}
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(str(marker))
    key = next(k for k in members if not k.startswith("__"))
    members[key] = evil                         # the structure still points at this member
    np.savez(path, **members)                   # np.savez pickles object arrays
    with pytest.raises(CheckpointError) as info:
        tinycnn.load(path)
    assert str(path) in str(info.value)
    assert not marker.exists(), "loading the checkpoint executed code from it"
    # the payload is real: NumPy with allow_pickle=True would have run it
    with np.load(path, allow_pickle=True) as npz:
        npz[key]
    assert marker.exists()


def test_pickled_structure_member_and_torch_pickle_are_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = np.empty(1, dtype=object)
    evil[0] = _Payload(str(marker))
    path = tmp_path / "structure.npz"
    np.savez(path, __structure__=evil, __header__=evil)
    with pytest.raises(CheckpointError):
        tinycnn.load(path)
    # a PyTorch-style zip holding a pickle is not a tinycnn file either
    pth = tmp_path / "model.npz"
    with zipfile.ZipFile(pth, "w") as z:
        import pickle
        z.writestr("archive/data.pkl", pickle.dumps(_Payload(str(marker))))
    with pytest.raises(CheckpointError):
        tinycnn.load(pth)
    assert not marker.exists()


def test_save_refuses_object_arrays(tmp_path):
    with pytest.raises(TypeError, match="object arrays"):
        tinycnn.save({"x": np.array([{"a": 1}], dtype=object)}, tmp_path / "o.npz")
    assert not (tmp_path / "o.npz").exists()


# ---- training faults -----------------------------------------------------------------------------------------
def _config(out, **kw):
    from tinycnn.train import TrainConfig
    base = dict(model="lenet5", epochs=1, batch_size=64, train_limit=256, test_limit=64, progress=False,
                out=str(out), seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_absurd_learning_rate_stops_with_epoch_and_step(tmp_path, capsys):
    from tinycnn.train import Trainer, TrainingError
    with np.errstate(all="ignore"), pytest.raises(TrainingError, match=r"non-finite loss .* at epoch 1, step \d+"):
        Trainer(_config(tmp_path, optimizer="sgd", lr=1e30)).fit()


def test_nan_in_the_data_keeps_the_last_good_checkpoint(tmp_path, capsys):
    from tinycnn.utils.data import DataLoader
    from tinycnn.train import Trainer, TrainingError
    trainer = Trainer(_config(tmp_path, scheduler="none"))
    trainer.fit()                                              # epoch 1 is fine and saved
    good = (tmp_path / "last.npz").read_bytes()
    weights = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}

    class Poisoned:
        def __init__(self, base):
            self.base = base

        def __len__(self):
            return len(self.base)

        def __getitem__(self, i):
            image, label = self.base[i]
            if i == 100:
                image = np.full_like(np.asarray(image), np.nan)
            return image, label

    trainer.train_loader = DataLoader(Poisoned(trainer.train_set), batch_size=64, shuffle=False)
    trainer.config.epochs = 2
    with pytest.raises(TrainingError, match=r"at epoch 2, step 2\b") as info:
        trainer.fit()
    assert "last.npz" in str(info.value)
    assert (tmp_path / "last.npz").read_bytes() == good
    saved = tinycnn.load(tmp_path / "last.npz", as_tensors=False)
    assert saved["epoch"] == 1
    for k, v in weights.items():
        np.testing.assert_array_equal(saved["model"][k], v)
        assert np.isfinite(saved["model"][k]).all()


def test_cli_reports_non_finite_loss(tmp_path):
    cmd = [sys.executable, "-m", "tinycnn", "train", "lenet5", "--epochs", "1", "--train-limit", "256",
           "--test-limit", "64", "--batch-size", "64", "--optimizer", "sgd", "--lr", "1e30", "--no-progress",
           "--out", str(tmp_path / "run")]
    proc = subprocess.run(cmd, env=_env(), cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "non-finite loss" in proc.stderr and "epoch 1, step" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# ---- kill and resume: bit-identical weights -----------------------------------------------------------------
_TRAIN = ["-m", "tinycnn", "train", "lenet5", "--train-limit", "2000", "--test-limit", "500", "--no-progress",
          "--seed", "3"]


def _train(out, *extra, timeout=300):
    proc = subprocess.run([sys.executable, *_TRAIN, "--out", str(out), *extra], env=_env(), cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _weights(out):
    return tinycnn.load(os.path.join(out, "last.npz"), as_tensors=False)


def _assert_bitwise_equal(a, b):
    assert a["epoch"] == b["epoch"]
    assert a["model"].keys() == b["model"].keys()
    for k in a["model"]:
        assert np.array_equal(a["model"][k], b["model"][k]), f"{k} differs after resume"


@pytest.fixture(scope="module")
def straight_run(tmp_path_factory):
    """The reference: 2 uninterrupted epochs (default cosine schedule), shared by the resume tests."""
    out = tmp_path_factory.mktemp("straight")
    _train(out, "--epochs", "2")
    return _weights(out)


def test_resume_after_kill_is_bitwise_identical(tmp_path, straight_run):
    """Uninterrupted 2 epochs == (killed with SIGKILL during epoch 2) + --resume, on the CPU path."""
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, *_TRAIN, "--out", str(killed), "--epochs", "2"], env=_env(),
                            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:   # metrics.json is written after last.npz: one row means epoch 1 is safely on disk
            try:
                rows = json.loads((killed / "metrics.json").read_text())["epochs"]
            except (OSError, ValueError, KeyError):
                rows = []
            if rows:
                break
            assert proc.poll() is None and time.monotonic() < deadline, "training ended before epoch 1 was saved"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert len(rows) == 1, "the kill came too late to interrupt epoch 2"
    assert _weights(killed)["epoch"] == 1
    out = _train(killed, "--epochs", "2", "--resume")
    assert f"resumed {killed} from {killed}/last.npz after epoch 1" in out
    _assert_bitwise_equal(straight_run, _weights(killed))


def test_resume_with_more_epochs_is_bitwise_identical(tmp_path, straight_run):
    """`--epochs 1`, then `--epochs 2 --resume` == `--epochs 2`: an extended run ends where the longer run ends."""
    _train(tmp_path / "split", "--epochs", "1")
    _train(tmp_path / "split", "--epochs", "2", "--resume")
    _assert_bitwise_equal(straight_run, _weights(tmp_path / "split"))
