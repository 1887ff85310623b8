"""Running a test's code in N MPI processes: ``run_ranks("case", n=2)`` starts
``mpiexec -n 2 python tests/mpi_cases.py case`` and returns the completed process (text output). A test
that uses it skips where mpi4py or mpiexec is missing."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cli_runs import env

HERE = os.path.dirname(os.path.abspath(__file__))


def need_mpi() -> str:
    """The mpiexec to use; skips the calling test where mpi4py or mpiexec is absent."""
    pytest.importorskip("mpi4py")
    from tinycnn.distributed.launch import find_mpiexec
    mpiexec = find_mpiexec()
    if mpiexec is None:
        pytest.skip("mpiexec not found")
    return mpiexec


def run_ranks(case: str, *args, n: int = 2, timeout: float = 120, check: bool = True, extra_env=None):
    mpiexec = need_mpi()
    cmd = [mpiexec, "-n", str(n), sys.executable, os.path.join(HERE, "mpi_cases.py"), case, *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=env(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", NUMBA_NUM_THREADS="1",
                                  **(extra_env or {})))
    if check:
        assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc
