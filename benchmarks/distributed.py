"""Data-parallel training over MPI on this machine, and what it would do on many (a projection).

    python benchmarks/distributed.py                      # 1 and 2 processes, then the projection
    python benchmarks/distributed.py --steps 10 --json    # shorter; one JSON line at the end

Measured, each in its own ``mpiexec -n N`` job:
- LeNet-5 training steps (DistributedDataParallel, SGD, ``--batch`` images per process, synthetic MNIST-sized
  images): images/s of the whole job, and the step time of one process;
- allreduce (average) of a float32 array of LeNet-5's and of ResNet-18's gradient size, as DDP sends it
  (one flat bucket per 25 MB), and of 8 bytes (the latency): milliseconds per call, median.

Projected (printed under PROJECTION: a model, not a measurement): a ring allreduce over N processes sends
and receives 2 (N-1)/N times the gradient bytes per process, in 2 (N-1) rounds, so per step

    t_comm(N) = 2 (N-1)/N * bytes / bandwidth + 2 (N-1) * latency

and images/s(N) = N * batch / (t_compute + t_comm(N)) when communication does not overlap the backward
(the bound that holds regardless), up to N * batch / max(t_compute, t_comm(N)) when it overlaps fully.
t_compute is the measured one-process step; bandwidth and latency are those of the link between machines
(``--link-gbps``, ``--latency-us``), since this machine's shared-memory numbers say nothing about a network.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
LENET_PARAMS = 61_706            # tinycnn.models.lenet5().parameters(), counted in the worker too
RESNET18_PARAMS = 11_689_512     # torchvision's resnet18, 1000 classes
BUCKET_BYTES = 25 << 20


def worker(args) -> None:
    import tinycnn
    import tinycnn.distributed as dist
    from tinycnn import optim
    from tinycnn.models import lenet5
    from tinycnn.nn import functional as F
    from tinycnn.nn.parallel import DistributedDataParallel
    dist.init_process_group()
    rank, size = dist.get_rank(), dist.get_world_size()
    tinycnn.manual_seed(0)
    model = lenet5()
    assert sum(p.numel() for p in model.parameters()) == LENET_PARAMS
    ddp = DistributedDataParallel(model)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = tinycnn.tensor(rng.standard_normal((args.batch, 1, 28, 28)).astype(np.float32))
    y = tinycnn.tensor(rng.integers(0, 10, args.batch))
    times = []
    for step in range(args.steps + 2):                  # 2 warm-up steps
        dist.barrier()
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
        if step >= 2:
            times.append(time.perf_counter() - start)
    step_s = np.array([statistics.median(times)])
    dist.all_reduce(step_s, dist.ReduceOp.MAX)          # the job goes at its slowest rank's pace

    def allreduce_ms(count: int) -> float:
        chunks = [np.ones(min(BUCKET_BYTES // 4, count - i), np.float32) for i in range(0, count, BUCKET_BYTES // 4)]
        samples = []
        for _ in range(args.allreduce_repeats):
            dist.barrier()
            start = time.perf_counter()
            works = [dist.all_reduce(c, dist.ReduceOp.AVG, async_op=True) for c in chunks]
            for w in works:
                w.wait()
            samples.append(time.perf_counter() - start)
        result = np.array([statistics.median(samples)])
        dist.all_reduce(result, dist.ReduceOp.MAX)
        return 1e3 * float(result[0])

    comm = {"latency_8_bytes": allreduce_ms(2), "lenet5": allreduce_ms(LENET_PARAMS),
            "resnet18": allreduce_ms(RESNET18_PARAMS)}
    if rank == 0:
        print(json.dumps({"processes": size, "batch_per_process": args.batch, "step_ms": 1e3 * float(step_s[0]),
                          "images_per_s": size * args.batch / float(step_s[0]), "allreduce_ms": comm}), flush=True)
    dist.destroy_process_group()


def measure(nproc: int, args) -> dict:
    from tinycnn.distributed.launch import mpiexec_command
    threads = str(max(1, (os.cpu_count() or 1) // nproc))
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, NUMBA_NUM_THREADS=threads)
    cmd = mpiexec_command(nproc, [sys.executable, os.path.abspath(__file__), "--worker", "--steps", str(args.steps),
                                  "--batch", str(args.batch), "--allreduce-repeats", str(args.allreduce_repeats)])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"distributed benchmark: {nproc} processes failed (exit {out.returncode}):\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def ring_ms(n: int, nbytes: float, gbps: float, latency_us: float) -> float:
    """Ring-allreduce time in ms over n processes (see the module docstring)."""
    if n == 1:
        return 0.0
    return 1e3 * (2 * (n - 1) / n * nbytes / (gbps * 1e9 / 8) + 2 * (n - 1) * latency_us * 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch", type=int, default=64, help="images per process per step (default: 64)")
    parser.add_argument("--allreduce-repeats", type=int, default=10)
    parser.add_argument("--link-gbps", type=float, default=10.0, help="projected network bandwidth (default: 10)")
    parser.add_argument("--latency-us", type=float, default=50.0, help="projected per-message latency (default: 50)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    results = [measure(n, args) for n in (1, 2)]
    print("measured on this machine (processes share its cores):")
    print(f"{'processes':>9}  {'step ms':>8}  {'images/s':>9}  {'allreduce ms: 8 B':>17}  {'LeNet-5':>8}  "
          f"{'ResNet-18':>9}")
    for r in results:
        a = r["allreduce_ms"]
        print(f"{r['processes']:>9}  {r['step_ms']:>8.2f}  {r['images_per_s']:>9.0f}  {a['latency_8_bytes']:>17.3f}  "
              f"{a['lenet5']:>8.3f}  {a['resnet18']:>9.2f}")
    compute_ms = results[0]["step_ms"]
    print(f"\nPROJECTION (not measured): N machines, one process each at the measured one-process step of "
          f"{compute_ms:.2f} ms (batch {args.batch}), ring allreduce over a {args.link_gbps:g} Gb/s link with "
          f"{args.latency_us:g} us latency")
    print(f"{'N':>5}  {'LeNet comm ms':>13}  {'LeNet img/s':>21}  {'ResNet-18 comm ms':>17}")
    projection = []
    for n in (1, 2, 4, 8, 16, 64, 256):
        lenet = ring_ms(n, 4 * LENET_PARAMS, args.link_gbps, args.latency_us)
        resnet = ring_ms(n, 4 * RESNET18_PARAMS, args.link_gbps, args.latency_us)
        serial = n * args.batch / ((compute_ms + lenet) / 1e3)
        overlap = n * args.batch / (max(compute_ms, lenet) / 1e3)
        projection.append({"n": n, "lenet_comm_ms": lenet, "lenet_images_per_s": [serial, overlap],
                           "resnet18_comm_ms": resnet})
        print(f"{n:>5}  {lenet:>13.3f}  {serial:>9.0f} - {overlap:>9.0f}  {resnet:>17.1f}")
    if args.json:
        print(json.dumps({"measured": results, "projection": projection}))


if __name__ == "__main__":
    main()
