"""The machinery that runs the direct-convolution kernels: per-item C callbacks, parallel drivers, and the
cold start that compiles the other kernels in a background process. No timings here."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

NL = pytest.importorskip("tinycnn.accel.numba_launch")
ND = pytest.importorskip("tinycnn.accel.numba_direct")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_kernels_refuse_other_dtypes_with_a_clear_error():
    with pytest.raises(TypeError, match="expected float32 or float64 data, got int64"):
        ND._FORWARD.compiled(np.int64)
    x, f32 = np.zeros((1, 1, 4, 4), np.float32), np.zeros(4, np.float32)
    with pytest.raises(TypeError, match="dtype float64 where float32 is expected"):
        ND._FORWARD(1, x, np.zeros(3, np.float64), f32, f32, f32, f32, f32, np.zeros(0, np.int32),
                    np.zeros(ND.D_LEN, np.int64))


def test_every_kernel_is_registered_under_an_importable_name():
    """The compile worker finds a kernel by its name: it must lead back to the very same object."""
    import importlib
    import tinycnn.accel.numba_kernels  # noqa: F401  (registers the plain kernels and the other families)
    assert {ND._FORWARD, ND._BACKWARD} <= set(NL._REGISTRY)
    for kernel in NL._REGISTRY:
        module, attr = kernel.name.split(":")
        assert getattr(importlib.import_module(module), attr) is kernel


def _run(code, cache_dir, **env):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), **env)
    env.pop(NL.IN_WORKER, None)
    res = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr
    return res.stdout


COLD_START = """
    import numpy as np
    from tinycnn.accel import numba_launch as NL, numba_direct as ND
    dt = np.dtype(np.float64)
    ND._FORWARD.compiled(dt)                   # cold: this process compiles it ...
    print("worker", dt in NL._SHARES)
    fn = ND._BACKWARD.compiled(dt)             # ... while a worker compiled this one into the cache
    print("backward from cache", fn.cache_hits)
    print("forward from cache", ND._FORWARD.compiled(dt).cache_hits)
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="no compile worker on one core")
def test_cold_start_compiles_the_other_kernels_in_a_worker(tmp_path):
    out = _run(COLD_START, tmp_path, TINYCNN_COMPILE_WORKERS="1")
    assert "worker True" in out and "backward from cache 1" in out and "forward from cache 0" in out
    out = _run(COLD_START, tmp_path)                       # warm: everything comes from the cache, no worker
    assert "worker False" in out and "backward from cache 1" in out and "forward from cache 1" in out


def test_compile_workers_can_be_turned_off(tmp_path):
    out = _run(COLD_START, tmp_path, TINYCNN_COMPILE_WORKERS="0")
    assert "worker False" in out and "backward from cache 0" in out


IMPORT_ALONE = """
    import sys, threading
    import numpy as np
    import tinycnn
    nl = sys.modules.get("tinycnn.accel.numba_launch")
    loaded = sorted(k.name.split(":")[1] for k in (nl._REGISTRY if nl else []) if np.dtype(np.float32) in k._compiled)
    print("threads", threading.active_count(), "numba imported", "numba" in sys.modules, "loaded", loaded,
          "workers", len(nl._SHARES) if nl else 0)
    import numba                     # a user's own Numba code right after: nothing may be half-imported
    print("numba", numba.__version__ is not None)
"""


def test_import_loads_the_cached_kernels_in_the_calling_thread_and_never_compiles(tmp_path):
    """A background thread that imported Numba while the program imported it too deadlocked one start in
    three (two threads executing Numba's circular imports; the loser died holding LLVM's lock). ``import
    tinycnn`` therefore loads its backend in the calling thread, like ``import torch``: Numba, and the
    kernels the disk cache holds; on an empty cache it compiles nothing and starts no worker."""
    out = _run(IMPORT_ALONE, tmp_path)
    assert "threads 1 numba imported True loaded [] workers 0" in out and "numba True" in out
    assert not list(tmp_path.rglob("*.nbi"))
    _run(COLD_START.replace("float64", "float32"), tmp_path, TINYCNN_COMPILE_WORKERS="0")     # fill the cache
    out = _run(IMPORT_ALONE, tmp_path)
    assert "threads 1 numba imported True loaded ['_BACKWARD', '_FORWARD'] workers 0" in out


def test_import_compiles_nothing_when_the_cache_cannot_answer(tmp_path):
    """No cache directory Numba may use, or a Numba whose cache API changed: the import must still not
    compile (the first real use then compiles, or reports why it cannot)."""
    code = """
    import sys
    import numba.core.caching as caching
    real = caching.FunctionCache.load_overload
    def refuse_to_tinycnn(self, *args, **kwargs):     # Numba's own compiles still use the cache
        if sys._getframe(1).f_code.co_name == "is_cached":
            raise RuntimeError("no locator available")
        return real(self, *args, **kwargs)
    caching.FunctionCache.load_overload = refuse_to_tinycnn
""" + IMPORT_ALONE
    out = _run(code, tmp_path)
    assert "loaded [] workers 0" in out
    assert not list(tmp_path.rglob("*.nbi"))


def test_import_skips_numba_when_the_numpy_kernels_are_chosen(tmp_path):
    out = _run(IMPORT_ALONE, tmp_path, TINYCNN_KERNELS="numpy")
    assert "numba imported False loaded [] workers 0" in out


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="no compile worker on one core")
def test_prepare_hands_every_missing_kernel_to_the_workers(tmp_path):
    """What `tinycnn train` calls before loading its data on a fresh install: the workers get all the
    kernels the cache lacks (this process has other work meanwhile) and fill the cache."""
    code = """
        import time
        import numpy as np
        from tinycnn import kernels
        from tinycnn.accel import numba_launch as NL, numba_direct as ND
        dt = np.dtype(np.float64)
        kernels.prepare(dt)
        share = NL._SHARES[dt]
        deadline = time.monotonic() + 300
        while not all(share.is_done(k) for k in (ND._FORWARD, ND._BACKWARD)) and time.monotonic() < deadline:
            time.sleep(0.1)
        print("from cache", ND._FORWARD.compiled(dt).cache_hits, ND._BACKWARD.compiled(dt).cache_hits)
    """
    out = _run(code, tmp_path)
    assert "from cache 1 1" in out


def test_the_driver_compiled_ahead_is_the_one_the_call_uses():
    """While a worker compiles a kernel, this process compiles the driver from the kernel's signature alone;
    a call must then find it, not compile another specialisation."""
    ND._FORWARD.compile_driver(np.float32)
    before = len(NL._drive9.signatures)
    x = np.random.default_rng(0).standard_normal((4, 1, 8, 8)).astype(np.float32)
    ND.conv2d_direct_forward(x, np.ones((2, 1, 3, 3), np.float32), None, (0, 0, 0, 0))
    ND._BACKWARD.compile_driver(np.float32)
    assert len(NL._drive9.signatures) == before
