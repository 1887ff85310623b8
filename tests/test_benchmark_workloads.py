"""benchmarks/workloads.py run as a user types it, on its smallest workload with one round of one step:
the table and the JSON carry every field, with PyTorch as the second library and without it."""
import json
import os
import subprocess
import sys

import pytest

from cli_runs import REPO, env

SMALL = ["--only", "lenet5", "--rounds", "1", "--steps", "1", "--mode", "both"]
QUIET = dict(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
FIELDS = ("seconds_per_step", "images_per_second", "gflops", "gemm_fraction", "first_step_seconds",
          "peak_rss_mib", "step_mib", "built_rss_mib")


def _workloads(tmp_path, *args, pythonpath=None):
    out = tmp_path / "out.json"
    extra = dict(QUIET)
    if pythonpath:
        extra["PYTHONPATH"] = pythonpath + os.pathsep + env()["PYTHONPATH"]
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "workloads.py"), *SMALL, *args,
                           "--json", str(out)], capture_output=True, text=True, cwd=tmp_path, env=env(**extra),
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, json.loads(out.read_text())


def _check_library(entry, flops):
    for field in FIELDS:
        assert isinstance(entry[field], float), (field, entry)
    assert entry["seconds_per_step"] > 0 and entry["images_per_second"] == pytest.approx(
        128 / entry["seconds_per_step"])
    assert entry["gflops"] == pytest.approx(flops / entry["seconds_per_step"] / 1e9)
    assert entry["peak_rss_mib"] >= entry["built_rss_mib"] > 0
    assert entry["peak_rss_mib"] >= entry["built_rss_mib"] + entry["step_mib"] - 1e-9


def _check(data, libraries, measured=None):
    """The JSON's fields: ``libraries`` asked for, ``measured`` (default: all of them) measured."""
    assert data["machine"] and data["blas"] and data["gemm_gflops"] > 0
    assert data["versions"]["tinycnn"] and data["settings"]["libraries"] == libraries
    lenet = data["workloads"]["lenet5"]
    assert lenet["batch"] == 128 and lenet["input"] == [1, 28, 28]
    # LeNet-5: 416,520 multiply-adds per image in its convolutions and linear layers
    assert lenet["train"]["flops_per_step"] == 6 * 128 * 416520
    assert lenet["infer"]["flops_per_step"] == 2 * 128 * 416520
    for mode in ("train", "infer"):
        for lib in measured or libraries:
            _check_library(lenet[mode][lib], lenet[mode]["flops_per_step"])
    return lenet


def test_tinycnn_alone_writes_every_field(tmp_path):
    proc, data = _workloads(tmp_path, "--libraries", "tinycnn", "--profile")
    lenet = _check(data, ["tinycnn"])
    for mode in ("train", "infer"):
        assert "torch" not in lenet[mode]
        assert lenet[mode]["speed_ratio"] is None and lenet[mode]["memory_ratio"] is None
        assert data["profiles"][f"lenet5 {mode}"]             # ms per op of tinycnn's step
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith("| lenet5 |")]
    assert [r.split(" | ")[2] for r in rows] == ["train", "infer"]
    assert "torch" not in data["versions"]


def test_without_pytorch_it_measures_tinycnn_and_says_so(tmp_path):
    # a `torch` that fails to import as an absent one does, ahead of any installed one on the path
    fake = tmp_path / "no_torch"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("raise ImportError(\"No module named 'torch'\")\n")
    proc, data = _workloads(tmp_path, pythonpath=str(fake))
    assert "PyTorch cannot run lenet5: No module named 'torch'; measuring tinycnn alone" in proc.stderr
    lenet = _check(data, ["tinycnn", "torch"], ["tinycnn"])
    assert data["unavailable"] and "torch" not in lenet["train"] and lenet["train"]["speed_ratio"] is None


def test_without_pytorch_asking_for_it_is_an_error(tmp_path):
    fake = tmp_path / "no_torch"
    (fake / "torch").mkdir(parents=True)
    (fake / "torch" / "__init__.py").write_text("raise ImportError(\"No module named 'torch'\")\n")
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "workloads.py"), *SMALL,
                           "--libraries", "torch"], capture_output=True, text=True, cwd=tmp_path,
                          env=env(PYTHONPATH=str(fake) + os.pathsep + env()["PYTHONPATH"], **QUIET), timeout=600)
    assert proc.returncode == 1 and "PyTorch cannot run lenet5: No module named 'torch'" in proc.stderr


def test_with_pytorch_every_ratio_is_there(tmp_path, torch):
    proc, data = _workloads(tmp_path)
    lenet = _check(data, ["tinycnn", "torch"])
    assert data["versions"]["torch"] == torch.__version__
    for mode in ("train", "infer"):
        entry = lenet[mode]
        assert entry["speed_ratio"] == pytest.approx(
            entry["tinycnn"]["images_per_second"] / entry["torch"]["images_per_second"])
        assert entry["peak_rss_ratio"] == pytest.approx(
            entry["tinycnn"]["peak_rss_mib"] / entry["torch"]["peak_rss_mib"])
        assert data["geometric_means"][f"{mode}_speed_ratio"] == pytest.approx(entry["speed_ratio"])
    assert "geometric means, train: speed ratio" in proc.stdout
