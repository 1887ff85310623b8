"""tinycnn.distributed: collectives across 2 MPI processes, the deadline that stops ranks waiting for a
dead one, and what happens without mpi4py."""
import os
import subprocess
import sys
import time

import pytest

from cli_runs import env
from mpi_helpers import run_ranks


def test_all_reduce_broadcast_barrier_give_every_rank_the_combined_values():
    assert "ok collectives" in run_ranks("collectives").stdout


def test_a_rank_that_hangs_makes_the_others_stop_with_a_message_within_the_timeout():
    start = time.monotonic()
    proc = run_ranks("stuck_rank", "hang", check=False, timeout=60, extra_env={"TEST_DIST_TIMEOUT": "3"})
    assert proc.returncode != 0
    assert "all_reduce returned" not in proc.stdout
    assert "rank 0: all_reduce of 3 float64 values did not complete within 3 s" in proc.stderr
    assert "another rank has died or hangs" in proc.stderr
    assert time.monotonic() - start < 40       # the hanging rank would sleep 120 s: the launcher ended it


def test_a_killed_rank_makes_the_others_exit_nonzero():
    proc = run_ranks("stuck_rank", "kill", check=False, timeout=60, extra_env={"TEST_DIST_TIMEOUT": "20"})
    assert proc.returncode != 0
    assert "all_reduce returned" not in proc.stdout
    assert "Killed" in proc.stdout + proc.stderr or "did not complete" in proc.stderr


def test_the_core_does_not_import_mpi4py_and_says_how_to_install_it(tmp_path):
    # a stand-in mpi4py that cannot be imported, as where the extra is not installed
    (tmp_path / "mpi4py").mkdir()
    (tmp_path / "mpi4py" / "__init__.py").write_text("raise ImportError('no MPI here')\n")
    code = ("import sys, tinycnn, tinycnn.nn.parallel, tinycnn.utils.data, tinycnn.distributed as dist\n"
            "assert 'mpi4py.MPI' not in sys.modules\n"
            "try:\n    dist.init_process_group()\nexcept ImportError as e:\n    print(e)\n")
    e = env()
    e["PYTHONPATH"] = str(tmp_path) + os.pathsep + e["PYTHONPATH"]
    proc = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ('tinycnn.distributed needs mpi4py and an MPI library: '
                                   'pip install "tinycnn[distributed]"')


def test_collectives_before_init_and_bad_arguments_raise():
    pytest.importorskip("mpi4py")
    import tinycnn.distributed as dist
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        dist.get_rank()
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="timeout must be a positive"):
        dist.init_process_group(timeout=0)
