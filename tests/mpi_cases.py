"""Code the distributed tests run in several processes: ``mpiexec -n N python tests/mpi_cases.py CASE``
(``mpi_helpers.run_ranks``). Each case asserts on its own rank's results; a failed assert exits non-zero,
which mpiexec passes on. Rank 0 prints ``ok CASE`` at the end."""
from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

import tinycnn
import tinycnn.distributed as dist


def collectives():
    rank, size = dist.get_rank(), dist.get_world_size()
    t = tinycnn.tensor([1.0, 2.0, 3.0]) * (rank + 1)
    dist.all_reduce(t)
    expected_sum = sum(r + 1 for r in range(size))
    np.testing.assert_allclose(t.numpy(), np.array([1.0, 2.0, 3.0]) * expected_sum)
    for op, value in ((dist.ReduceOp.MAX, size), (dist.ReduceOp.MIN, 1), (dist.ReduceOp.AVG, expected_sum / size),
                      (dist.ReduceOp.PRODUCT, float(np.prod(np.arange(1, size + 1))))):
        a = np.full(4, rank + 1.0)
        dist.all_reduce(a, op=op)
        np.testing.assert_allclose(a, value)
    strided = np.arange(12.0).reshape(3, 4)[:, ::2] * (rank + 1)   # not contiguous: reduced through a copy
    dist.all_reduce(strided)
    np.testing.assert_allclose(strided, np.arange(12.0).reshape(3, 4)[:, ::2] * expected_sum)
    works = [dist.all_reduce(np.full(3, float(rank)), async_op=True) for _ in range(3)]
    assert all(w.wait() for w in works)
    x = np.arange(5, dtype=np.int64) * (rank + 10)
    dist.broadcast(x, src=size - 1)
    np.testing.assert_array_equal(x, np.arange(5) * (size - 1 + 10))
    items = [rank, {"from": rank}]
    dist.broadcast_object_list(items, src=1)
    assert items == [1, {"from": 1}]
    # the barrier: nobody passes it before the last rank has arrived
    stamp = np.array([time.time() + (0.3 if rank == size - 1 else 0.0)])
    if rank == size - 1:
        time.sleep(0.3)
    dist.barrier()
    after = time.time()
    dist.all_reduce(stamp, op=dist.ReduceOp.MAX)
    assert after >= stamp[0] - 0.05, (after, stamp)


def stuck_rank(mode):
    """Rank 1 dies (mode kill) or hangs (mode hang) while rank 0 waits in an all_reduce."""
    if dist.get_rank() == 1:
        if mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(120)
    dist.all_reduce(np.ones(3))
    print("all_reduce returned", flush=True)


CASES = {"collectives": collectives, "stuck_rank": stuck_rank}

if __name__ == "__main__":
    case, args = sys.argv[1], sys.argv[2:]
    timeout = float(os.environ.get("TEST_DIST_TIMEOUT", "60"))
    dist.init_process_group(timeout=timeout)
    CASES[case](*args)
    dist.barrier()
    if dist.get_rank() == 0:
        print(f"ok {case}", flush=True)
    dist.destroy_process_group()
