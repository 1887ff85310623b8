"""The cold start of the plain Numba kernels (numba_launch.NjitKernel): the signature a compile worker
compiles is the one the kernel set's callers use, the families a model needs are the ones ``tinycnn train``
prepares, and a family's kernels are shared between this process and a worker. No timings here."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

NL = pytest.importorskip("tinycnn.accel.numba_launch")
NK = pytest.importorskip("tinycnn.accel.numba_kernels")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLAIN = [k for k in NL._REGISTRY if isinstance(k, NL.NjitKernel)]


def _every_plain_kernel(dtype):
    """Call every registered plain kernel through the kernel set's functions, as the ops do."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 8, 8)).astype(dtype)
    cols = NK.im2col(x, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1))
    NK.col2im(cols, x.shape, (3, 3), (2, 2), (1, 1, 1, 1), (1, 1))
    for window, out in ((((3, 3), (2, 2), (1, 1), (1, 1)), (4, 4)), (((2, 2), (2, 2), (0, 0), (1, 1)), (4, 4))):
        y, idx = NK.max_pool2d_forward(x, *window, out, "int32")      # as ops/pooling.py asks
        NK.max_pool2d_backward(np.ones_like(y), idx, x.shape, window)
    y, mask = NK.relu_forward(x)
    NK.relu_backward(y, mask)
    NK.hardtanh_forward(x, 0.0, 6.0)
    x3 = x.reshape(2, 4, 64)
    w = np.ones(4, dtype)
    _, mean, _, s = NK.batch_norm_forward(x3, w, np.zeros(4, dtype), 1e-5)
    NK.batch_norm_backward(x3, x3, mean, s, w)
    wd = rng.standard_normal((4, 1, 3, 3)).astype(dtype)
    yd = NK.depthwise_conv2d_forward(x, wd, None, (2, 2), (1, 1, 1, 1), (1, 1))
    NK.depthwise_conv2d_backward(yd, x, wd, (2, 2), (1, 1, 1, 1), (1, 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_plain_kernels_are_called_with_the_signature_a_worker_compiles(dtype):
    """A worker compiles ``signature(dtype)``; a caller passing other types would compile again."""
    dtype = np.dtype(dtype)
    _every_plain_kernel(dtype)
    assert len(PLAIN) >= 14
    for kernel in PLAIN:
        assert dtype in kernel._compiled, kernel.name
        examples = {kernel.signature(np.float32), kernel.signature(np.float64)}
        assert kernel.signature(dtype) in kernel.dispatcher.signatures, kernel.name
        assert set(kernel.dispatcher.signatures) <= examples, (kernel.name, kernel.dispatcher.signatures)


def test_the_families_of_the_workload_models():
    from tinycnn import accel, models
    from tinycnn.models import lenet5
    fam = NK.__name__
    lenet = lenet5()
    accel.fuse(lenet)
    assert NK.cold_start_families(lenet) == ["tinycnn.accel.numba_direct", f"{fam}:activations"]
    assert set(NK.cold_start_families(models.resnet18(num_classes=10))) == {
        f"{fam}:im2col", "tinycnn.accel.numba_norm", f"{fam}:activations", f"{fam}:max_pool",
        "tinycnn.accel.winograd", "tinycnn.accel.winograd_f4"}
    mobile = models.mobilenet_v2(num_classes=10)
    assert set(NK.cold_start_families(mobile)) == {
        f"{fam}:im2col", "tinycnn.accel.numba_norm", f"{fam}:activations", "tinycnn.accel.numba_depthwise",
        "tinycnn.accel.numba_direct"}
    assert "tinycnn.accel.numba_norm" not in NK.cold_start_families(mobile, training=False)


def test_a_claim_is_won_once(tmp_path):
    share = NL._Share(np.float32, str(tmp_path))
    kernel = PLAIN[0]
    assert share.claim(kernel) and not share.claim(kernel) and not share.is_done(kernel)
    share.done(kernel)
    assert share.is_done(kernel)


def _run(code, cache_dir, **env):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), **env)
    env.pop(NL.IN_WORKER, None)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    return res.stdout


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="no compile worker on one core")
def test_a_plain_kernel_family_is_shared_with_a_worker(tmp_path):
    code = """
        import time
        import numpy as np
        from tinycnn.accel import numba_launch as NL, numba_kernels as NK
        dt = np.dtype(np.float64)
        y, mask = NK.relu_forward(np.arange(-4.0, 4.0))        # cold: compiled here, the others elsewhere
        share = NL._SHARES[dt]
        deadline = time.monotonic() + 300
        while not share.is_done(NK._relu_bwd) and time.monotonic() < deadline:
            time.sleep(0.1)
        gx = NK.relu_backward(np.ones(8), mask)
        print("relu_bwd from cache", sum(NK._relu_bwd.dispatcher.stats.cache_hits.values()), gx.tolist())
    """
    out = _run(code, tmp_path)
    assert "relu_bwd from cache 1 [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0]" in out


def test_the_cold_start_benchmark_writes_its_fields(tmp_path):
    """benchmarks/cold_start.py as a user runs it, on its smallest workload (each run on a fresh cache)."""
    out = tmp_path / "cold.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    res = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "cold_start.py"), "--only", "lenet5",
                          "--steps", "2", "--warm", "--json", str(out)], capture_output=True, text=True,
                         cwd=tmp_path, env=env, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    import json
    lenet = json.loads(out.read_text())["workloads"]["lenet5"]
    for field in ("first_step_s", "first_steps_s", "last_step_s", "import_s", "process_cpu_s",
                  "warm_cache_first_step_s"):
        assert isinstance(lenet[field], float) and lenet[field] > 0, (field, lenet)
    assert lenet["first_steps_s"] >= lenet["first_step_s"] and len(lenet["runs"][0]["times"]) == 2
