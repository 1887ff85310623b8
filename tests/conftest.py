"""Shared test set-up: keep PyTorch's global default dtype from leaking between test modules, and
``TINYCNN_TESTS_HIDE_TORCH=1`` to run the suite as on a machine without PyTorch.

The fuzz modules compare against PyTorch in float64 and want float64 as torch's default; every other
module assumes PyTorch's float32 default. Under pytest-xdist one worker runs modules of both kinds, so
the default is set per test from the module's ``TORCH_DEFAULT_DTYPE`` (float32 when absent).
"""
import importlib.abc
import os
import sys

import pytest


class _HideTorch(importlib.abc.MetaPathFinder):
    """Make ``import torch`` (and torchvision) fail as if they were not installed."""

    hidden = ("torch", "torchvision")

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.hidden:
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by TINYCNN_TESTS_HIDE_TORCH)", name=name)
        return None


if os.environ.get("TINYCNN_TESTS_HIDE_TORCH") == "1":
    sys.meta_path.insert(0, _HideTorch())

# Under pytest-xdist every worker is a process of its own: with BLAS, Numba and PyTorch each starting one
# thread per core, 2 workers on 2 cores oversubscribe the machine, and OpenBLAS's spinning threads then
# turn a 1 ms GEMM into seconds. One thread per worker (inherited by the CLI subprocesses tests start).
if os.environ.get("PYTEST_XDIST_WORKER"):
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_var] = "1"
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)  # for a BLAS already loaded before this file ran
    except ImportError:
        pass


@pytest.fixture(autouse=True)
def _torch_default_dtype(request):
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    wanted = getattr(request.module, "TORCH_DEFAULT_DTYPE", "float32")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, wanted))
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(autouse=True)
def _config_scopes():
    """Every ``helpers.use_config`` scope a test entered ends with the test."""
    yield
    from helpers import close_config_scopes
    close_config_scopes()


@pytest.fixture(scope="session")
def torch():
    """PyTorch, the test oracle: a test that takes this fixture skips where torch is not installed, and the
    module's torch-free tests still run. Session-scoped, so Hypothesis tests may take it too."""
    return pytest.importorskip("torch")


@pytest.fixture
def torchvision():
    """torchvision (the oracle for models and transforms), skipping the test where it is absent."""
    pytest.importorskip("torch")
    return pytest.importorskip("torchvision")


@pytest.fixture(scope="session")
def reference_runs(tmp_path_factory):
    """Uninterrupted ``tinycnn train`` runs of 1 and 2 epochs (tests/cli_runs.py), for resumed runs to match."""
    from cli_runs import train_reference_runs
    return train_reference_runs(tmp_path_factory.mktemp("reference"))
