"""One MNIST training epoch of LeNet-5 (modern: ReLU + max pooling, Adam, batch 128, float32), side by side.

Each library runs in its own process (NumPy's and PyTorch's thread pools fight over the cores when they
share one), runs alternate between libraries, and the table reports medians and the tinycnn/PyTorch ratio:

    python benchmarks/lenet_epoch.py --runs 3            # tinycnn (Numba), tinycnn (NumPy kernels), PyTorch
    python benchmarks/lenet_epoch.py --only tinycnn --runs 1
    python benchmarks/lenet_epoch.py --only tinycnn --runs 3 --cold   # empty Numba cache: a fresh install

Per run: seconds for the training epoch (all 469 batches), the same without its first batch (the epoch's
steady speed: 468 batches scaled to 469), the seconds of that first batch (for tinycnn: importing Numba and
loading its kernels from the cache, or compiling them on a fresh install; for PyTorch: its lazy start-up),
training images/s, inference images/s over the 10,000 test images, test accuracy after the epoch and peak
resident memory. The ratio is given on both epoch times.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

BATCH = 128
MEAN, STD = 0.1307, 0.3081


def load_mnist():
    from tinycnn.vision.datasets import MNIST  # the same arrays feed both libraries
    train, test = MNIST(train=True), MNIST(train=False)
    norm = lambda d: ((d.numpy().astype(np.float32) / 255.0 - MEAN) / STD)[:, None]  # noqa: E731
    return (norm(train.data), train.targets.numpy().astype(np.int64), norm(test.data),
            test.targets.numpy().astype(np.int64))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_tinycnn(seed: int) -> dict:
    import tinycnn
    from tinycnn import optim
    from tinycnn.models import lenet5
    from tinycnn.nn import functional as F

    xtr, ytr, xte, yte = load_mnist()
    tinycnn.manual_seed(seed)
    model = tinycnn.accel.fuse(lenet5("modern"))      # as `tinycnn train` runs it
    opt = optim.Adam(model.parameters(), lr=1e-3)
    order = np.random.default_rng(seed).permutation(len(xtr))
    start = time.perf_counter()
    first_batch = None
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        x, y = tinycnn.Tensor(xtr[idx]), tinycnn.Tensor(ytr[idx])
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if first_batch is None:
            first_batch = time.perf_counter() - start
    train_s = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    correct = 0
    with tinycnn.no_grad():
        for i in range(0, len(xte), 1000):
            correct += int((model(tinycnn.Tensor(xte[i:i + 1000])).array.argmax(1) == yte[i:i + 1000]).sum())
    infer_s = time.perf_counter() - start
    return {"train_s": train_s, "first_batch_s": first_batch, "infer_s": infer_s,
            "accuracy": correct / len(xte), "peak_rss_mb": peak_rss_mb()}


def run_torch(seed: int) -> dict:
    import torch
    from torch import nn

    xtr, ytr, xte, yte = load_mnist()
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = np.random.default_rng(seed).permutation(len(xtr))
    start = time.perf_counter()
    first_batch = None
    for i in range(0, len(order), BATCH):
        idx = order[i:i + BATCH]
        x, y = torch.from_numpy(xtr[idx]), torch.from_numpy(ytr[idx])
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if first_batch is None:
            first_batch = time.perf_counter() - start
    train_s = time.perf_counter() - start
    model.eval()
    start = time.perf_counter()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(xte), 1000):
            pred = model(torch.from_numpy(xte[i:i + 1000])).argmax(1).numpy()
            correct += int((pred == yte[i:i + 1000]).sum())
    infer_s = time.perf_counter() - start
    return {"train_s": train_s, "first_batch_s": first_batch, "infer_s": infer_s,
            "accuracy": correct / len(xte), "peak_rss_mb": peak_rss_mb(),
            "threads": torch.get_num_threads(), "version": torch.__version__}


LIBRARIES = {"tinycnn": {}, "tinycnn-numpy": {"TINYCNN_KERNELS": "numpy"}, "torch": {}}


def worker(name: str, seed: int) -> None:
    result = run_torch(seed) if name == "torch" else run_tinycnn(seed)
    print("RESULT " + json.dumps(result))


def spawn(name: str, seed: int, cold: bool = False) -> dict | None:
    env = dict(os.environ, **LIBRARIES[name])
    with tempfile.TemporaryDirectory() as cache:
        if cold:                           # an empty Numba cache: what a fresh install pays
            env["NUMBA_CACHE_DIR"] = cache
        proc = subprocess.run([sys.executable, __file__, "--worker", name, "--seed", str(seed)],
                              capture_output=True, text=True, env=env)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    print(f"{name} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}", file=sys.stderr)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only", nargs="*", choices=list(LIBRARIES), help="libraries to run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=list(LIBRARIES), help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--cold", action="store_true",
                        help="run tinycnn with an empty Numba cache each time (a fresh install's first epoch)")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.seed)
        return
    names = args.only or list(LIBRARIES)
    if "torch" in names:
        try:
            import torch  # noqa: F401
        except ImportError:
            print("PyTorch is not installed: comparing tinycnn's kernel sets only", file=sys.stderr)
            names.remove("torch")
    results = {n: [] for n in names}
    for run in range(args.runs):  # alternate libraries within each round
        for name in names:
            r = spawn(name, args.seed + run, cold=args.cold and name.startswith("tinycnn"))
            if r:
                results[name].append(r)
                print(f"  run {run + 1} {name:14s} {r['train_s']:6.2f} s/epoch  "
                      f"acc {100 * r['accuracy']:.2f}%  rss {r['peak_rss_mb']:.0f} MB", flush=True)
    batches = -(-60000 // BATCH)
    for rs in results.values():
        for r in rs:
            r["steady_s"] = (r["train_s"] - r["first_batch_s"]) * batches / (batches - 1)
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("train_s", "steady_s", "infer_s", "peak_rss_mb",
                                                                 "first_batch_s", "accuracy")}
           for n, rs in results.items() if rs}
    print(f"\nLeNet-5 (modern), one MNIST epoch, Adam, batch {BATCH}, float32; medians of {args.runs} runs, "
          f"{os.cpu_count()} cores")
    print(f"{'library':16s}{'s/epoch':>9s}{'steady s':>10s}{'1st batch s':>13s}{'train img/s':>13s}"
          f"{'infer img/s':>13s}{'peak RSS MB':>13s}{'vs torch':>10s}{'steady':>8s}")
    for n, m in med.items():
        ratio = f"{m['train_s'] / med['torch']['train_s']:.2f}x" if "torch" in med else "-"
        steady = f"{m['steady_s'] / med['torch']['steady_s']:.2f}x" if "torch" in med else "-"
        print(f"{n:16s}{m['train_s']:9.2f}{m['steady_s']:10.2f}{m['first_batch_s']:13.2f}"
              f"{60000 / m['train_s']:13.0f}{10000 / m['infer_s']:13.0f}{m['peak_rss_mb']:13.0f}{ratio:>10s}"
              f"{steady:>8s}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": results, "medians": med}, f, indent=2)


if __name__ == "__main__":
    main()
