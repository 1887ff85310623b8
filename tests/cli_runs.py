"""Helpers for the tests that drive ``tinycnn`` as a user does: one subprocess per command, a run that can
be stopped with SIGKILL at a chosen point, run folders compared byte for byte."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np

import tinycnn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A run small enough for a test: 8 steps of 64 images per epoch, 64 test images.
SMALL = ["--train-limit", "512", "--test-limit", "64", "--batch-size", "64", "--seed", "3", "--no-progress"]


def env(**extra) -> dict:
    out = dict(os.environ)
    out["PYTHONPATH"] = REPO + os.pathsep + out.get("PYTHONPATH", "")
    out.update(extra)
    return out


def tinycnn_cli(*args, cwd, timeout: float = 300, extra_env: dict | None = None, **popen):
    """``python -m tinycnn ARGS`` in ``cwd``; the completed process, with text output."""
    return subprocess.run([sys.executable, "-m", "tinycnn", *map(str, args)], cwd=cwd, env=env(**(extra_env or {})),
                          capture_output=True, text=True, timeout=timeout, **popen)


def train_ok(out, *extra, cwd) -> str:
    """``tinycnn train SMALL --out OUT EXTRA``, which must succeed; its stdout."""
    proc = tinycnn_cli("train", *SMALL, "--out", out, *extra, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def train_reference_runs(root) -> dict:
    """Uninterrupted runs of 1 and 2 epochs in ``root``: {"one": folder, "two": folder}."""
    runs = {"one": os.path.join(root, "one"), "two": os.path.join(root, "two")}
    train_ok(runs["one"], "--epochs", "1", cwd=root)
    train_ok(runs["two"], "--epochs", "2", cwd=root)
    return runs


def user_error(proc) -> str:
    """The one-line message of a user's error: exit status 2, one line on stderr, no traceback."""
    assert proc.returncode == 2, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("tinycnn "), lines[0]
    return lines[0]


# A child that runs the command line after arranging to stop, and wait to be killed, at one point:
#   step:N      at the N-th training step (mid-epoch: the model has changed, no checkpoint is written yet)
#   replace:NAME:N   at the N-th rename onto NAME (the file is complete under its temporary name)
_CHILD = textwrap.dedent("""
    import os, sys, time
    marker, point = sys.argv[1:3]

    def stop():
        open(marker, "w").close()      # tell the parent we are at the kill point
        time.sleep(600)

    kind, *where = point.split(":")
    if kind == "step":
        from tinycnn import train
        real_loss, calls = train.compute_loss, []

        def compute_loss(*args, **kwargs):
            calls.append(1)
            if len(calls) == int(where[0]):
                stop()
            return real_loss(*args, **kwargs)

        train.compute_loss = compute_loss
    elif kind == "replace":
        real_replace, calls = os.replace, []

        def replace(src, dst):
            if os.fspath(dst).endswith(where[0]):
                calls.append(1)
                if len(calls) == int(where[1]):
                    stop()
            return real_replace(src, dst)

        os.replace = replace
    from tinycnn.cli import main
    sys.exit(main(sys.argv[3:]))
""")


def start_stopped_at(point: str, *args, cwd, tmp) -> subprocess.Popen:
    """Start ``tinycnn ARGS`` that stops at ``point`` (see _CHILD); returns once it is there."""
    script, marker = os.path.join(tmp, "child.py"), os.path.join(tmp, f"at-{os.getpid()}-{time.time_ns()}")
    with open(script, "w") as f:
        f.write(_CHILD)
    child = subprocess.Popen([sys.executable, script, marker, point, *map(str, args)], cwd=cwd, env=env(),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 300
    while not os.path.exists(marker):
        if child.poll() is not None:
            raise AssertionError(f"the child ended before {point}: {child.stdout.read()}")
        assert time.monotonic() < deadline, f"the child never reached {point}"
        time.sleep(0.02)
    return child


def kill_9(child: subprocess.Popen) -> None:
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL


def snapshot(folder) -> dict:
    """name -> bytes of every file in ``folder``."""
    return {name: open(os.path.join(folder, name), "rb").read() for name in sorted(os.listdir(folder))
            if os.path.isfile(os.path.join(folder, name))}


def copy_run(source, target) -> str:
    shutil.copytree(source, target)
    return str(target)


def checkpoint(folder, name: str = "last.npz") -> dict:
    return tinycnn.load(os.path.join(folder, name), as_tensors=False)


def assert_same_weights(a: dict, b: dict) -> None:
    assert a["epoch"] == b["epoch"]
    assert a["model"].keys() == b["model"].keys()
    for key in a["model"]:
        assert np.array_equal(a["model"][key], b["model"][key]), f"{key} differs"
