"""``tinycnn train --nproc 2`` as a user types it: one run folder written by rank 0, resume with the same
number of processes only, the accuracy of one process, and a killed process that stops the run."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from cli_runs import SMALL, assert_same_weights, checkpoint, env, tinycnn_cli, user_error
from mpi_helpers import need_mpi

MPI_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1"}


def train_nproc(out, *extra, cwd, nproc=2):
    need_mpi()   # a constant learning rate: a run extended by --epochs then trains as one run that long
    return tinycnn_cli("train", *SMALL, "--batch-size", "32", "--scheduler", "none", "--out", out, "--nproc", nproc,
                       *extra, cwd=cwd, extra_env=MPI_ENV)


def test_nproc_2_writes_one_run_folder_resumes_and_refuses_another_process_count(tmp_path):
    proc = train_nproc("run", "--epochs", "2", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("done: final test accuracy") == 1       # the other rank prints nothing
    assert proc.stdout.count("epoch   2/2") == 1
    run = tmp_path / "run"
    assert sorted(os.listdir(run)) == ["best.npz", "config.json", "curves.png", "last.npz", "metrics.json"]
    assert sorted(os.listdir(tmp_path)) == ["run"]                    # nothing else, anywhere
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["world_size"] == 2 and metrics["global_batch_size"] == 64
    assert [row["epoch"] for row in metrics["epochs"]] == [1, 2]
    assert checkpoint(run)["world_size"] == 2

    proc = train_nproc("run", "--epochs", "3", "--resume", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "resumed run from run/last.npz after epoch 2" in proc.stdout
    straight = train_nproc("straight", "--epochs", "3", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    assert_same_weights(checkpoint(run), checkpoint(tmp_path / "straight"))   # resuming changes nothing

    before = (run / "last.npz").read_bytes()
    message = user_error(train_nproc("run", "--epochs", "4", "--resume", cwd=tmp_path, nproc=3))
    assert message == ("tinycnn train: --resume: run was trained by 2 processes, this run has 3: resume it with "
                       "--nproc 2 (the data order and the batches depend on the number of processes)")
    message = user_error(tinycnn_cli("train", "--out", "run", "--epochs", "4", "--resume", cwd=tmp_path))
    assert "this run has 1: resume it with --nproc 2" in message
    assert (run / "last.npz").read_bytes() == before


def test_a_bad_setting_stops_every_process_with_one_message(tmp_path):
    proc = train_nproc("run", "--epochs", "0", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "tinycnn train: --epochs: expected a positive integer, got 0"
    assert not (tmp_path / "run").exists()


def test_two_processes_reach_the_accuracy_of_one_with_the_same_global_batch(tmp_path):
    need_mpi()
    common = ["--train-limit", "6000", "--test-limit", "1000", "--epochs", "2", "--seed", "1", "--no-progress"]
    one = tinycnn_cli("train", *common, "--batch-size", "64", "--out", "one", cwd=tmp_path, extra_env=MPI_ENV)
    two = tinycnn_cli("train", *common, "--batch-size", "32", "--nproc", "2", "--out", "two", cwd=tmp_path,
                      extra_env=MPI_ENV)
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    acc = {name: json.loads((tmp_path / name / "metrics.json").read_text())["epochs"][-1]["test_accuracy"]
           for name in ("one", "two")}
    # the two runs see the images in different random orders, so they agree only up to that noise: on 1000
    # test images one standard error of an accuracy near 93% is 0.8 points; 3 points is about 4 of them
    assert acc["one"] > 0.85 and abs(acc["one"] - acc["two"]) < 0.03, acc


def test_without_mpi4py_distributed_is_a_one_line_error_naming_the_extra(tmp_path):
    (tmp_path / "fake" / "mpi4py").mkdir(parents=True)
    (tmp_path / "fake" / "mpi4py" / "__init__.py").write_text("raise ImportError('no MPI here')\n")
    proc = tinycnn_cli("train", *SMALL, "--distributed", "--out", "run", cwd=tmp_path,
                       extra_env={"PYTHONPATH": str(tmp_path / "fake") + os.pathsep + env()["PYTHONPATH"]})
    assert user_error(proc) == ('tinycnn train: --distributed: tinycnn.distributed needs mpi4py and an MPI library: '
                                'pip install "tinycnn[distributed]"')
    assert not (tmp_path / "run").exists()


def _ranks_of(out: str) -> list[int]:
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args[0] == sys.executable.encode() and b"--distributed" in args and out.encode() in args:
            pids.append(int(pid))
    return pids


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the rank processes through /proc")
def test_a_killed_process_stops_the_run_with_a_message_and_keeps_the_last_epoch(tmp_path):
    need_mpi()
    out = str(tmp_path / "run")
    cmd = [sys.executable, "-m", "tinycnn", "train", "--train-limit", "2048", "--test-limit", "64", "--batch-size",
           "16", "--epochs", "50", "--no-progress", "--out", out, "--nproc", "2"]
    launcher = subprocess.Popen(cmd, cwd=tmp_path, env=env(**MPI_ENV), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(os.path.join(out, "last.npz")):
        assert launcher.poll() is None and time.monotonic() < deadline, launcher.communicate()
        time.sleep(0.05)
    ranks = _ranks_of(out)
    assert len(ranks) == 2, ranks
    os.kill(max(ranks), signal.SIGKILL)
    stdout, stderr = launcher.communicate(timeout=60)
    assert launcher.returncode != 0
    assert "tinycnn train: the 2 training processes ended with exit status" in stderr
    assert "continue with --resume --nproc 2" in stderr
    assert not _ranks_of(out)                                 # no process is left waiting
    state = checkpoint(out)
    assert state["epoch"] >= 1 and all(np.isfinite(v).all() for v in state["model"].values())
