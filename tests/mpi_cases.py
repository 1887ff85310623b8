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
from tinycnn import nn, optim
from tinycnn.nn import functional as F
from tinycnn.nn.parallel import DistributedDataParallel, SyncBatchNorm, SyncBatchNormFunction
from tinycnn.utils.data import DataLoader, DistributedSampler, TensorDataset


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


# ---- DistributedDataParallel ----------------------------------------------------------------------------------
def _net(batchnorm: bool = False, seed: int = 0):
    tinycnn.manual_seed(seed)
    layers = [nn.Conv2d(1, 4, 3, padding=1)]
    layers += [nn.BatchNorm2d(4)] if batchnorm else []
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 16), nn.ReLU(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def _data(n=48):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
    return TensorDataset(tinycnn.tensor(x), tinycnn.tensor(rng.integers(0, 3, n)))


def _train(model, loader, steps):
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    done = 0
    while done < steps:
        for images, labels in loader:
            opt.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            opt.step()
            done += 1
            if done == steps:
                break


def _state(module):
    return {k: v.numpy().astype(np.float64) for k, v in module.state_dict().items()}


def ddp_matches_one_process(batchnorm, steps):
    """N ranks with a batch of B each against one process with a batch of N*B, same initial weights."""
    batchnorm, steps = batchnorm == "syncbn", int(steps)
    rank, size, local_batch = dist.get_rank(), dist.get_world_size(), 4
    data = _data()
    model = _net(batchnorm, seed=rank)                       # different weights: DDP gives all rank 0's
    if batchnorm:
        model = SyncBatchNorm.convert_sync_batchnorm(model)
        assert isinstance(model[1], SyncBatchNorm)
    ddp = DistributedDataParallel(model)
    sampler = DistributedSampler(data, shuffle=False)
    _train(ddp, DataLoader(data, batch_size=local_batch, sampler=sampler), steps)
    ours = _state(model)
    reference = [ours]
    dist.broadcast_object_list(reference, src=0)
    for k, v in ours.items():                                # every rank holds the same model
        np.testing.assert_array_equal(v, reference[0][k], err_msg=k)
    if rank == 0:
        single = _net(batchnorm, seed=0)
        _train(single, DataLoader(data, batch_size=local_batch * size), steps)
        worst = 0.0
        for k, v in _state(single).items():
            np.testing.assert_allclose(ours[k], v, rtol=1e-4, atol=1e-5, err_msg=k)
            worst = max(worst, float(np.max(np.abs(ours[k] - v), initial=0)))
        print(f"largest difference from one process: {worst:.2e}", flush=True)


def ddp_buckets():
    rank = dist.get_rank()
    data = _data(8)
    images, labels = data.tensors[0][rank * 4:rank * 4 + 4], data.tensors[1][rank * 4:rank * 4 + 4]

    def grads(model):
        F.cross_entropy(model(images), labels).backward()
        return [None if p.grad is None else p.grad.numpy().copy() for p in model.parameters()]

    plain = _net()
    expected = grads(plain)
    for g in expected:                                        # one allreduce per parameter, by hand
        dist.all_reduce(g, dist.ReduceOp.AVG)
    one = DistributedDataParallel(_net(), bucket_cap_mb=100)
    many = DistributedDataParallel(_net(), bucket_cap_mb=1e-6)
    assert len(one.bucket_sizes) == 1 and len(many.bucket_sizes) == len(expected), (one, many)
    assert many.bucket_sizes[0] == 3                          # the last layer's bias first: its grad is ready first
    assert DistributedDataParallel(_net(), bucket_cap_mb=(3 + 48) * 4 / 2 ** 20).bucket_sizes == [3 + 48, 16 + 1024,
                                                                                                   4 + 36]
    for ddp in (one, many):
        for g, e in zip(grads(ddp), expected):
            np.testing.assert_array_equal(g, e)

    # no_sync: local sums first; the next synchronised backward averages the accumulated gradient
    acc = DistributedDataParallel(_net())
    with acc.no_sync():
        local = grads(acc)
    summed = grads(acc)
    for g, lo, e in zip(summed, local, expected):
        mine = lo.copy()
        dist.all_reduce(mine, dist.ReduceOp.AVG)
        np.testing.assert_allclose(g, mine + e, rtol=1e-6, atol=1e-7)

    # a parameter outside the graph: named by the next forward, or marked ready with find_unused_parameters
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.spare = _net(), nn.Linear(3, 3)

        def forward(self, x):
            return self.body(x)
    strict = DistributedDataParallel(TwoHeads())
    grads(strict)
    try:
        strict(images)
    except RuntimeError as exc:
        assert "spare.weight" in str(exc) and "find_unused_parameters=True" in str(exc), exc
    else:
        raise AssertionError("an unfinished reduction went unnoticed")
    loose = DistributedDataParallel(TwoHeads(), find_unused_parameters=True)
    for _ in range(2):                                       # and again: the reduction of the first finished
        got = grads(loose)
        for g, e in zip(got, expected):
            np.testing.assert_array_equal(g, e)
        assert got[len(expected):] == [None, None]
        loose.module.zero_grad()


def ddp_batchnorm_buffers():
    """Plain BatchNorm under DDP: each rank normalises with its own batch's statistics (as PyTorch), and rank 0's
    running statistics are copied to every rank before each forward (broadcast_buffers)."""
    rank = dist.get_rank()
    model = _net(batchnorm=True)
    ddp = DistributedDataParallel(model)
    bn = model[1]
    seen = []
    bn.register_forward_pre_hook(lambda module, args: seen.append(module.running_mean.numpy().copy()))
    x = tinycnn.tensor(np.random.default_rng(rank).standard_normal((4, 1, 8, 8)).astype(np.float32) + rank)
    for _ in range(2):
        F.cross_entropy(ddp(x), tinycnn.tensor(np.arange(4) % 3)).backward()
    after = [bn.running_mean.numpy().copy()]
    dist.broadcast_object_list(after, src=0)
    if rank:
        assert not np.allclose(bn.running_mean.numpy(), after[0])   # this step's statistics: this rank's batch
    firsts = [seen[1]]
    dist.broadcast_object_list(firsts, src=0)
    np.testing.assert_array_equal(seen[1], firsts[0])                # before the forward: rank 0's, everywhere


# ---- SyncBatchNorm ---------------------------------------------------------------------------------------------
def syncbn():
    """The forward and backward on each rank's part of the batch against BatchNorm on the whole batch, and a
    finite-difference check of the gradient of the summed loss across the ranks (float64)."""
    rank, size = dist.get_rank(), dist.get_world_size()
    rng = np.random.default_rng(3)
    n, c = 3, 2
    x = rng.standard_normal((n * size, c, 2, 3))
    u = rng.standard_normal(x.shape)                          # upstream gradient of the whole batch
    w, b = rng.standard_normal(c), rng.standard_normal(c)
    mine = slice(rank * n, rank * n + n)

    whole = nn.BatchNorm2d(c).double()
    sync = SyncBatchNorm(c).double()
    for layer in (whole, sync):
        layer.weight.data = tinycnn.tensor(w.copy())
        layer.bias.data = tinycnn.tensor(b.copy())
    xw = tinycnn.tensor(x, requires_grad=True)
    (whole(xw) * tinycnn.tensor(u)).sum().backward()
    xs = tinycnn.tensor(x[mine].copy(), requires_grad=True)
    ys = sync(xs)
    (ys * tinycnn.tensor(u[mine])).sum().backward()
    with tinycnn.no_grad():
        whole_y = nn.functional.batch_norm(tinycnn.tensor(x), None, None, tinycnn.tensor(w), tinycnn.tensor(b),
                                           training=True).numpy()
    np.testing.assert_allclose(ys.numpy(), whole_y[mine], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(xs.grad.numpy(), xw.grad.numpy()[mine], rtol=1e-10, atol=1e-12)
    for mine_p, whole_p in ((sync.weight, whole.weight), (sync.bias, whole.bias)):
        total = mine_p.grad.numpy().copy()
        dist.all_reduce(total)
        np.testing.assert_allclose(total, whole_p.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name in ("running_mean", "running_var"):
        np.testing.assert_allclose(getattr(sync, name).numpy(), getattr(whole, name).numpy(), rtol=1e-12)

    def total_loss(x_local, w_, b_):
        with tinycnn.no_grad():
            y = SyncBatchNormFunction.apply(tinycnn.tensor(x_local), tinycnn.tensor(w_), tinycnn.tensor(b_),
                                            eps=1e-5)
        loss = np.array([float((y.numpy() * u[mine]).sum())])
        dist.all_reduce(loss)
        return loss[0]

    xl, wl, bl = x[mine].copy(), w.copy(), b.copy()
    xt = tinycnn.tensor(xl.copy(), requires_grad=True)
    wt, bt = tinycnn.tensor(wl.copy(), requires_grad=True), tinycnn.tensor(bl.copy(), requires_grad=True)
    (SyncBatchNormFunction.apply(xt, wt, bt, eps=1e-5) * tinycnn.tensor(u[mine])).sum().backward()
    eps = 1e-6
    for owner in range(size):                                 # every rank runs every perturbation together
        for k in range(xl.size):
            diffs = []
            for sign in (1, -1):
                xp = xl.copy()
                if rank == owner:
                    xp.reshape(-1)[k] += sign * eps
                diffs.append(total_loss(xp, wl, bl))
            if rank == owner:
                numeric = (diffs[0] - diffs[1]) / (2 * eps)
                assert abs(numeric - xt.grad.numpy().reshape(-1)[k]) < 1e-6, (k, numeric)
    for arr, grad in ((wl, wt.grad.numpy()), (bl, bt.grad.numpy())):
        total = grad.copy()
        dist.all_reduce(total)                                # the summed loss's gradient: the ranks' sum
        for k in range(arr.size):
            diffs = []
            for sign in (1, -1):
                arr[k] += sign * eps
                diffs.append(total_loss(xl, wl, bl))
                arr[k] -= sign * eps
            assert abs((diffs[0] - diffs[1]) / (2 * eps) - total[k]) < 1e-6


CASES = {"collectives": collectives, "stuck_rank": stuck_rank, "ddp_matches_one_process": ddp_matches_one_process,
         "ddp_buckets": ddp_buckets, "ddp_batchnorm_buffers": ddp_batchnorm_buffers,
         "syncbn": syncbn}

if __name__ == "__main__":
    case, args = sys.argv[1], sys.argv[2:]
    timeout = float(os.environ.get("TEST_DIST_TIMEOUT", "60"))
    dist.init_process_group(timeout=timeout)
    CASES[case](*args)
    dist.barrier()
    if dist.get_rank() == 0:
        print(f"ok {case}", flush=True)
    dist.destroy_process_group()
