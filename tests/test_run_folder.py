"""Run folders, driven through the command line: a new run never overwrites another, a folder in use is
locked, ``--resume`` refuses a changed run and continues an unchanged one bit for bit, and a run killed
with SIGKILL at a chosen point is resumed (its stale lock and temporary files do not get in the way)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cli_runs import (SMALL, assert_same_weights, checkpoint, copy_run, env, kill_9, snapshot, start_stopped_at,
                      tinycnn_cli, user_error)
from cli_runs import train_ok as train

from tinycnn.cli import main


# ---- a new run never overwrites another -------------------------------------------------------------------------
def test_a_new_run_refuses_a_folder_that_holds_a_run(reference_runs, tmp_path):
    run = copy_run(reference_runs["one"], tmp_path / "run")
    before = snapshot(run)
    message = user_error(tinycnn_cli("train", *SMALL, "--epochs", "1", "--out", run, cwd=tmp_path))
    assert f"--out {run} already holds a run" in message and "--resume" in message
    assert snapshot(run) == before                       # not a byte changed, no lock left behind


def test_a_new_run_refuses_a_folder_with_other_files_and_a_file(tmp_path, capsys):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "holiday.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["train", "--out", str(tmp_path / "photos"), "--no-progress"]) == 2
    assert "is not empty (holiday.jpg)" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "notes.txt"), "--no-progress"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "photos")) == ["holiday.jpg"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_runs_without_out_get_fresh_numbered_folders_even_when_started_at_once(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-m", "tinycnn", "train", *SMALL, "--epochs", "1"], cwd=tmp_path,
                              env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = tmp_path / "runs"
    assert sorted(os.listdir(runs)) == ["lenet5", "lenet5-2"]
    assert sorted(out.strip().splitlines()[-1].split("results in ")[1] for out, _ in outputs) == \
        ["runs/lenet5-2/", "runs/lenet5/"]
    first = snapshot(runs / "lenet5")
    for name in ("lenet5", "lenet5-2"):
        assert checkpoint(runs / name)["epoch"] == 1
        assert not (runs / name / "train.lock").exists()
    third = tinycnn_cli("train", *SMALL, "--epochs", "1", cwd=tmp_path)
    assert third.returncode == 0 and "results in runs/lenet5-3/" in third.stdout, third.stderr
    assert snapshot(runs / "lenet5") == first


def test_two_runs_started_at_once_into_one_folder_one_is_refused(tmp_path):
    out = tmp_path / "run"
    procs = [subprocess.Popen([sys.executable, "-m", "tinycnn", "train", *SMALL, "--epochs", "1", "--out", str(out)],
                              cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 2], outputs
    loser = outputs[codes.index(2)][1].strip()
    assert len(loser.splitlines()) == 1 and "Traceback" not in loser
    assert "is in use by process" in loser or "already holds a run" in loser, loser
    assert checkpoint(out)["epoch"] == 1
    assert len(json.loads((out / "metrics.json").read_text())["epochs"]) == 1


# ---- the lock ----------------------------------------------------------------------------------------------------
def test_a_folder_in_use_is_refused_naming_the_process(tmp_path, capsys):
    out = tmp_path / "run"
    child = start_stopped_at("step:3", "train", *SMALL, "--epochs", "1", "--out", out, cwd=tmp_path, tmp=tmp_path)
    try:
        before = snapshot(out)
        holder = json.loads((out / "train.lock").read_text())
        assert holder["pid"] == child.pid and "train" in holder["command"]
        message = user_error(tinycnn_cli("train", *SMALL, "--epochs", "1", "--out", out, cwd=tmp_path))
        assert f"{out} is in use by process {child.pid}" in message and "--out" in message, message
        assert main(["train", "--out", str(out), "--resume"]) == 2
        assert f"{out} is in use by process {child.pid}" in capsys.readouterr().err
        assert snapshot(out) == before
    finally:
        kill_9(child)


# ---- killed with SIGKILL, then resumed ---------------------------------------------------------------------------
def test_killed_in_the_first_epoch_the_folder_can_be_trained_again(reference_runs, tmp_path):
    """Killed before any epoch finished: only config.json and a stale lock are left; no one is blocked, a new
    run may take the folder (nothing of value was in it), and so may --resume, which starts from epoch 1."""
    for how in ("new run", "--resume"):
        out = tmp_path / how.replace(" ", "-").strip("-")
        kill_9(start_stopped_at("step:3", "train", *SMALL, "--epochs", "1", "--out", out, cwd=tmp_path,
                                tmp=tmp_path))
        assert sorted(os.listdir(out)) == ["config.json", "train.lock"]
        stdout = train(out, "--epochs", "1", *(["--resume"] if how == "--resume" else []), cwd=tmp_path)
        if how == "--resume":
            assert "from the start: no epoch of it had finished" in stdout
        else:
            assert "held a run that never finished an epoch" in stdout
        assert_same_weights(checkpoint(out), checkpoint(reference_runs["one"]))
        assert not (out / "train.lock").exists()


def test_killed_while_saving_then_resumed_cleans_up_and_matches_an_uninterrupted_run(reference_runs, tmp_path):
    """Killed in epoch 2's save, its checkpoint complete under a temporary name: last.npz still holds epoch 1;
    --resume removes the temporary file and ends bit for bit where the uninterrupted run ended."""
    out = tmp_path / "run"
    kill_9(start_stopped_at("replace:last.npz:2", "train", *SMALL, "--epochs", "2", "--out", out, cwd=tmp_path,
                            tmp=tmp_path))
    stale = [n for n in os.listdir(out) if n.startswith(".tmp-")]
    assert stale, os.listdir(out)
    assert checkpoint(out)["epoch"] == 1
    stdout = train(out, "--resume", cwd=tmp_path)
    assert f"removed {len(stale)} unfinished temporary file(s)" in stdout
    assert not [n for n in os.listdir(out) if n.startswith(".tmp-")]
    assert_same_weights(checkpoint(out), checkpoint(reference_runs["two"]))


# ---- resume compares the settings ----------------------------------------------------------------------------------
def test_resume_refuses_changed_settings_listing_each(reference_runs, tmp_path):
    run = copy_run(reference_runs["one"], tmp_path / "run")
    before = snapshot(run)
    message = user_error(tinycnn_cli(
        "train", "--out", run, "--resume", "--epochs", "2", "--dataset", "fashion-mnist", "--optimizer", "sgd",
        "--lr", "0.5", "--batch-size", "32", "--seed", "1", cwd=tmp_path))
    for difference in ("--dataset saved mnist, given fashion-mnist", "--optimizer saved adam, given sgd",
                       "--lr saved 0.002, given 0.5", "--batch-size saved 64, given 32", "--seed saved 3, given 1"):
        assert difference in message, message
    assert "--epochs" not in message.split("(only")[0]     # a setting that may change is not a difference
    assert ("only --data-root, --epochs, --device, --no-progress, --log-grads, --log-grads-every, --tensorboard "
            "may change") in message
    assert snapshot(run) == before


def test_resume_continues_with_the_saved_settings_and_records_what_changed(reference_runs, tmp_path):
    run = copy_run(reference_runs["one"], tmp_path / "run")
    stdout = train(run, "--resume", "--epochs", "2", "--optimizer", "adam", "--lr", "0.002", cwd=tmp_path)
    assert f"resumed {run} from {run}/last.npz after epoch 1; changed: epochs 1 -> 2" in stdout
    assert "kept the saved settings: model=lenet5 variant=modern dataset=mnist batch_size=64 optimizer=adam" \
        in stdout
    assert_same_weights(checkpoint(run), checkpoint(reference_runs["two"]))
    record = json.loads(open(os.path.join(run, "config.json")).read())
    assert record["config"]["epochs"] == 2
    assert record["resumed"][-1]["after_epoch"] == 1 and record["resumed"][-1]["changed"] == {"epochs": [1, 2]}
    metrics = json.loads(open(os.path.join(run, "metrics.json")).read())
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]
    reference_rows = json.loads(open(os.path.join(reference_runs["two"], "metrics.json")).read())["epochs"]
    assert [row["lr"] for row in metrics["epochs"]] == [row["lr"] for row in reference_rows]


def test_resume_without_out_takes_the_latest_run_and_a_finished_run_has_nothing_to_do(reference_runs, tmp_path,
                                                                                      monkeypatch, capsys):
    for name in ("lenet5", "lenet5-2"):
        copy_run(reference_runs["one"], tmp_path / "runs" / name)
    first = snapshot(tmp_path / "runs" / "lenet5")
    proc = tinycnn_cli("train", "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "resuming runs/lenet5-2, the latest run of lenet5 in runs/" in proc.stdout
    assert "nothing to train: the run has done its 1 epoch" in proc.stdout
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--resume", "--epochs", "0"]) == 2
    assert "tinycnn train: --epochs: expected a positive integer, got 0" in capsys.readouterr().err
    assert snapshot(tmp_path / "runs" / "lenet5") == first
    assert main(["train", "--resume", "--out", "nowhere"]) == 2
    assert "--resume: nowhere does not exist" in capsys.readouterr().err
    assert main(["train", "resnet18", "--resume"]) == 2
    assert "no run of resnet18 in runs/ to resume" in capsys.readouterr().err


def test_the_python_api_refuses_a_resume_with_other_settings(reference_runs, tmp_path):
    from tinycnn.run_errors import RunError
    from tinycnn.train import TrainConfig, Trainer
    run = copy_run(reference_runs["one"], tmp_path / "run")
    config = TrainConfig(out=run, epochs=2, train_limit=512, test_limit=64, batch_size=64, seed=3, progress=False,
                         optimizer="sgd")
    with pytest.raises(RunError, match="--optimizer saved adam, given sgd"):
        Trainer(config).fit(resume=True)
    assert not os.path.exists(os.path.join(run, "train.lock"))
