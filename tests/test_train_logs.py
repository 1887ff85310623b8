"""``tinycnn train --log-grads`` and ``--tensorboard``, run as a user types them: gradflow.json / gradflow.png
in the run folder, TensorBoard event files read back with TensorBoard's own reader, both continued by
``--resume`` as if the run had not stopped; and their bad inputs as one-line errors."""
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from cli_runs import SMALL, checkpoint, env, kill_9, start_stopped_at, tinycnn_cli, train_ok, user_error
from tinycnn.cli import main

LOGS = ["--log-grads", "--log-grads-every", "3", "--tensorboard"]
STEPS = 8                                     # SMALL: 512 images in batches of 64


def gradflow(folder) -> dict:
    return json.loads(open(os.path.join(folder, "gradflow.json")).read())


def metrics(folder) -> list:
    return json.loads(open(os.path.join(folder, "metrics.json")).read())["epochs"]


def read_events(folder):
    """TensorBoard's own reader over every event file of ``folder``, keeping every event."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    return accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0, "images": 0,
                                                                      "tensors": 0}).Reload()


def scalars(events, tag) -> list:
    return [(e.step, e.value) for e in events.Scalars(tag)]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Two-epoch runs that log: "two" uninterrupted; "resumed" killed (kill -9) while it saved epoch 2's
    checkpoint, when epoch 2's records and events were written but last.npz still held epoch 1, and resumed;
    "classic" and "modern" the sigmoid and the ReLU LeNet for one epoch, every step recorded."""
    pytest.importorskip("tensorboard")
    root = tmp_path_factory.mktemp("logs")
    out = {name: str(root / name) for name in ("two", "resumed", "classic", "modern")}
    train_ok(out["two"], "--epochs", "2", *LOGS, cwd=root)
    child = start_stopped_at("replace:last.npz:2", "train", *SMALL, "--out", out["resumed"], "--epochs", "2", *LOGS,
                             cwd=root, tmp=str(root))
    kill_9(child)
    out["killed"] = gradflow(out["resumed"])
    out["killed_events"] = read_events(os.path.join(out["resumed"], "tensorboard"))
    out["killed_at"] = int(checkpoint(out["resumed"])["epoch"])
    train_ok(out["resumed"], "--resume", cwd=root)
    train_ok(out["classic"], "--epochs", "1", "--variant", "classic", "--log-grads", "--log-grads-every", "1",
             cwd=root)
    train_ok(out["modern"], "--epochs", "1", "--log-grads", "--log-grads-every", "1", cwd=root)
    return out


def test_log_grads_writes_every_kth_steps_statistics_and_the_figure(runs):
    saved = gradflow(runs["two"])
    assert saved["every"] == 3
    assert [(r["step"], r["epoch"]) for r in saved["records"]] == [(s, 1 + s // STEPS) for s in range(0, 16, 3)]
    weights = ["0.weight", "3.weight", "7.weight", "9.weight", "11.weight"]
    assert [n for n in saved["layers"] if n.endswith("weight")] == weights
    for record in saved["records"]:
        for name in weights:
            stats = record["grads"][name]
            assert 0 < stats["mean_abs"] <= stats["max_abs"] and np.isfinite(stats["norm"]) and stats["norm"] > 0
        assert list(record["activations"]) == [str(i) for i in range(12)]       # every layer of the LeNet
        assert 0 < record["activations"]["1"]["zero_fraction"] < 1                # after a ReLU
    with open(os.path.join(runs["two"], "gradflow.png"), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    from PIL import Image
    assert min(Image.open(os.path.join(runs["two"], "gradflow.png")).size) > 200
    assert not [n for n in os.listdir(runs["two"]) if n.startswith(".tmp-")]


def test_resume_keeps_the_earlier_records_and_goes_on_as_an_uninterrupted_run(runs):
    # killed with epoch 2's records saved but not its checkpoint: the resume redoes epoch 2
    assert runs["killed_at"] == 1 and {r["epoch"] for r in runs["killed"]["records"]} == {1, 2}
    resumed, uninterrupted = gradflow(runs["resumed"]), gradflow(runs["two"])
    first = [r for r in runs["killed"]["records"] if r["epoch"] == 1]
    assert [r["step"] for r in first] == [0, 3, 6] and resumed["records"][:3] == first   # kept as they were
    # epoch 2's records once, and the same numbers: the resumed run trains bit for bit as the uninterrupted one
    assert resumed == uninterrupted


def test_sigmoid_lenets_early_gradients_are_far_smaller_than_relus(runs):
    """Each step's gradient norm of the first convolution relative to the last layer's: the sigmoid LeNet's
    largest is still ten times below the ReLU LeNet's smallest."""
    def ratios(folder):
        records = gradflow(folder)["records"]
        assert len(records) == STEPS
        return np.array([r["grads"]["0.weight"]["norm"] / r["grads"]["11.weight"]["norm"] for r in records])
    classic, modern = ratios(runs["classic"]), ratios(runs["modern"])
    assert classic.max() * 10 < modern.min(), (classic, modern)


def test_tensorboard_logs_read_back_with_tensorboards_reader(runs):
    events = read_events(os.path.join(runs["two"], "tensorboard"))
    rows = metrics(runs["two"])
    ends = [e * STEPS - 1 for e in (1, 2)]               # an epoch's events: at its last step
    for key, tag in [("train_loss", "loss/train"), ("train_accuracy", "accuracy/train"),
                     ("test_loss", "loss/test"), ("test_accuracy", "accuracy/test"), ("lr", "epoch/lr")]:
        assert scalars(events, tag) == [(s, pytest.approx(r[key], rel=1e-6)) for s, r in zip(ends, rows)], tag
    assert [s for s, _ in scalars(events, "train/loss")] == [0, 10]
    assert all(0 < v < 5 for _, v in scalars(events, "train/loss"))
    assert [v for _, v in scalars(events, "train/lr")] == pytest.approx([2e-3, rows[1]["lr"]])
    tags = events.Tags()
    for name in ("0.weight", "0.bias", "11.weight"):
        for kind in ("weights", "grads"):
            histograms = events.Histograms(f"{kind}/{name}")
            assert [h.step for h in histograms] == [0, STEPS], (kind, name)   # at each epoch's first step
            assert all(h.histogram_value.num > 0 for h in histograms)
    assert len(tags["histograms"]) == 2 * 10                                    # every parameter of LeNet
    images = events.Images("predictions")
    assert [i.step for i in images] == ends and all(i.width > 100 and i.height > 50 for i in images)
    (config,) = events.Tensors("config/text_summary")
    assert b"log_grads_every: 3" in config.tensor_proto.string_val[0]


def test_resume_continues_the_same_tensorboard_log(runs):
    killed = runs["killed_events"]           # the killed run had logged epoch 2 to the end
    assert [s for s, _ in scalars(killed, "accuracy/test")] == [STEPS - 1, 2 * STEPS - 1]
    folder = os.path.join(runs["resumed"], "tensorboard")
    assert len([n for n in os.listdir(folder) if n.startswith("events.out.tfevents.")]) == 2
    resumed, uninterrupted = read_events(folder), read_events(os.path.join(runs["two"], "tensorboard"))
    # what the killed run logged after its checkpoint is hidden: each step once, as the uninterrupted run has it
    for tag in ("train/loss", "train/lr", "loss/train", "accuracy/test", "epoch/lr"):
        assert scalars(resumed, tag) == scalars(uninterrupted, tag), tag
    for tag in ("weights/0.weight", "grads/11.weight"):
        assert [(h.step, list(h.histogram_value.bucket)) for h in resumed.Histograms(tag)] == \
            [(h.step, list(h.histogram_value.bucket)) for h in uninterrupted.Histograms(tag)]
    assert [i.step for i in resumed.Images("predictions")] == [STEPS - 1, 2 * STEPS - 1]


def test_tensorboard_into_a_folder_of_ones_choice(tmp_path):
    pytest.importorskip("tensorboard")
    train_ok(tmp_path / "run", "--epochs", "1", "--tensorboard", "logs/lenet", cwd=tmp_path)
    events = read_events(tmp_path / "logs" / "lenet")
    assert [s for s, _ in scalars(events, "accuracy/test")] == [STEPS - 1]
    assert not (tmp_path / "run" / "tensorboard").exists()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["config"]["tensorboard"] == "logs/lenet"


# ---- bad input --------------------------------------------------------------------------------------------------
def test_bad_log_settings_are_one_line_errors_before_any_work(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    cases = [
        (["--tensorboard", "file/logs"], "tinycnn train: --tensorboard: expected a folder you can write to, got "
                                         "'file/logs' (file is a file, not a folder)"),
        (["--tensorboard", "resnet18"], "tinycnn train: --tensorboard: got 'resnet18', which is a model's name: "
                                        "give MODEL before --tensorboard (tinycnn train resnet18 --tensorboard), or "
                                        "--tensorboard ./resnet18 for a folder of that name"),
        (["--log-grads", "--log-grads-every", "0"], "tinycnn train: --log-grads-every: expected a positive "
                                                    "integer, got 0"),
    ]
    for args, message in cases:
        assert user_error(tinycnn_cli("train", *SMALL, *args, cwd=tmp_path)) == message
    assert sorted(os.listdir(tmp_path)) == ["file"]            # no run folder, no log folder


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_a_log_folder_without_write_permission_is_named(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        message = user_error(tinycnn_cli("train", *SMALL, "--tensorboard", "locked/tb", cwd=tmp_path))
    finally:
        locked.chmod(0o755)
    assert message == ("tinycnn train: --tensorboard: expected a folder you can write to, got 'locked/tb' "
                       "(no permission to write in locked)")


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # a write past the limit then fails with EFBIG
    import resource
    resource.setrlimit(resource.RLIMIT_FSIZE, (8_000, 8_000))


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
def test_gradient_records_that_cannot_be_written_are_named_and_the_run_resumes(tmp_path):
    """A file size limit smaller than gradflow.json (and larger than config.json): epoch 1 stops with a
    message naming the file, nothing half-written is left, and the resume trains it again."""
    run = str(tmp_path / "run")
    args = [*SMALL, "--out", run, "--epochs", "1", "--log-grads", "--log-grads-every", "1"]
    proc = subprocess.run([sys.executable, "-m", "tinycnn", "train", *args], cwd=tmp_path, env=env(),
                          capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size)
    assert user_error(proc) == (
        f"tinycnn train: {run}/gradflow.json is too large for the file system (or the file size limit): epoch 1 "
        f"could not be saved, and no epoch before it was; free some space, then continue with `tinycnn train "
        f"--out {run} --resume`")
    assert sorted(os.listdir(run)) == ["config.json"]
    train_ok(run, "--resume", cwd=tmp_path)
    assert [(r["step"], r["epoch"]) for r in gradflow(run)["records"]] == [(s, 1) for s in range(STEPS)]


class NoTensorBoard:
    """An import hook that finds no ``tensorboard`` package, as on a machine without it."""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorboard":
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def test_a_missing_tensorboard_package_says_what_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for name in [n for n in sys.modules if n.split(".")[0] == "tensorboard"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [NoTensorBoard(), *sys.meta_path])
    assert main(["train", *SMALL, "--tensorboard"]) == 2
    assert capsys.readouterr().err == (
        "tinycnn train: --tensorboard: writing TensorBoard's event files needs the tensorboard package (No module "
        "named 'tensorboard'): pip install tensorboard (or pip install 'tinycnn[tensorboard]')\n")
    assert os.listdir(tmp_path) == []
