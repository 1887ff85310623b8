"""Common CNN training workloads, tinycnn vs PyTorch CPU: one training step each, median after warm-up.

    python benchmarks/workloads.py [--rounds 3] [--steps 5] [--only lenet5 resnet18_32 ...] [--profile]

Each workload is one SGD-with-momentum step (forward, cross-entropy, backward, update) in float32 on random
data of the workload's shape. Each library runs in its own process; the processes alternate (tinycnn,
PyTorch, tinycnn, ...) for ``--rounds`` rounds, and each reports the median of ``--steps`` steps after one
warm-up step (which includes Numba's compilation on a fresh cache). The table gives the median over rounds,
the ratio tinycnn/PyTorch, and the GFLOP/s each reaches against the float32 GEMM rate NumPy's BLAS measures
on this machine (the ceiling an im2col engine works towards).

FLOPs per step: 2 x MACs of every convolution and linear layer, times 3 for the forward, the input gradient
and the weight gradient (counted with forward hooks; BatchNorm, pooling and elementwise work are not
counted, so the GFLOP/s of either library is a lower bound).

The networks are built by one function per workload that takes the library's ``nn`` module: the same code
builds both models, so the two libraries run the same architecture (ResNet-18 and MobileNetV2 come from each
library's model zoo, whose layouts are torchvision's). ``--profile`` adds tinycnn's milliseconds per op
(forward and backward apart), as ``lenet_profile.py`` measures them.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import numpy as np


def classic_mnist_net(nn):
    """PyTorch's examples/mnist network: conv3x3(32), conv3x3(64), max pool, dropout, fc 9216-128-10."""
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))


def vgg_cifar_net(nn):
    """A VGG-style CIFAR net: 2x(conv64)-pool-2x(conv128)-pool-2x(conv256)-pool, BatchNorm after each conv."""
    layers, cin = [], 3
    for cout in (64, 128, 256):
        for _ in range(2):
            layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(256 * 4 * 4, 10))


def lenet5(nn):
    """LeNet-5 as tinycnn's ``lenet5()`` builds it (ReLU, max pooling, padding 2 on the first conv)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))


# name: (builder or zoo name, batch, input shape, number of classes)
WORKLOADS = {
    "lenet5": (lenet5, 128, (1, 28, 28), 10),
    "mnist_classic": (classic_mnist_net, 64, (1, 28, 28), 10),
    "vgg_cifar": (vgg_cifar_net, 64, (3, 32, 32), 10),
    "resnet18_32": ("resnet18", 64, (3, 32, 32), 10),
    "mobilenet_v2_96": ("mobilenet_v2", 16, (3, 96, 96), 10),
    "resnet18_224": ("resnet18", 16, (3, 224, 224), 10),
}


def _build(library, name):
    builder, _, _, classes = WORKLOADS[name]
    if library == "torch":
        import torch
        import torchvision
        nn, zoo = torch.nn, torchvision.models
    else:
        from tinycnn import models as zoo
        from tinycnn import nn
    return getattr(zoo, builder)(num_classes=classes) if isinstance(builder, str) else builder(nn)


def count_macs(model, forward):
    """Multiply-adds of the convolutions and linear layers in one ``forward()`` of ``model``."""
    total = [0]

    def hook(module, inputs, output):
        weight = module.weight
        if weight is not None and len(weight.shape) in (2, 4):     # Linear: (out, in); Conv2d: (out, in/g, kh, kw)
            total[0] += int(np.prod(output.shape)) * int(np.prod(weight.shape[1:]))

    handles = [m.register_forward_hook(hook) for m in model.modules()
               if type(m).__name__ in ("Conv2d", "Linear")]
    forward()
    for h in handles:
        h.remove()
    return total[0]


def _step_fn(library, model, x, y):
    if library == "torch":
        import torch
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.functional.cross_entropy
    else:
        from tinycnn import optim
        from tinycnn.nn import functional as F
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = F.cross_entropy

    def step():
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()
    return step


def run_worker(library, name, steps, profile):
    """One process: build, warm up, time ``steps`` steps; returns the times and the MAC count."""
    _, batch, shape, classes = WORKLOADS[name]
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((batch, *shape), dtype=np.float32)
    ys = rng.integers(0, classes, batch)
    if library == "torch":
        import torch
        torch.manual_seed(0)
        x, y = torch.from_numpy(xs), torch.from_numpy(ys)
    else:
        import tinycnn
        tinycnn.manual_seed(0)
        x, y = tinycnn.tensor(xs), tinycnn.tensor(ys)
    model = _build(library, name)
    model.train()
    macs = count_macs(model, lambda: model(x))
    if library != "torch":             # as `tinycnn train` runs a model (after counting: fusing hides the convs)
        from tinycnn import accel
        accel.fuse(model)
    step = _step_fn(library, model, x, y)
    start = time.perf_counter()
    step()
    first = time.perf_counter() - start
    if profile and library == "tinycnn":
        from lenet_profile import TIMES, instrument_functions
        instrument_functions()
        TIMES.clear()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    result = {"first": first, "times": times, "macs": macs}
    if profile and library == "tinycnn":
        result["profile"] = {k: v / steps for k, v in TIMES.items()}
    return result


def gemm_rate(n=2048, repeat=5):
    """float32 GFLOP/s of NumPy's matmul on n x n matrices (best of ``repeat``)."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = a.T.copy()
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n ** 3 / best / 1e9


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def machine_line():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    blas = "unknown BLAS"
    try:
        from threadpoolctl import threadpool_info
        info = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if info:
            blas = f"{info[0].get('internal_api')} {info[0].get('version')} ({info[0].get('num_threads')} threads)"
    except ImportError:
        pass
    return f"{os.cpu_count()} CPUs, {cpu}; Python {platform.python_version()}, NumPy {np.__version__}, {blas}"


def _spawn(library, name, steps, profile):
    cmd = [sys.executable, __file__, "--worker", library, "--only", name, "--steps", str(steps)]
    if profile:
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        raise RuntimeError(f"{library} {name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][7:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--only", nargs="*", choices=list(WORKLOADS))
    parser.add_argument("--profile", action="store_true", help="tinycnn's time per op for each workload")
    parser.add_argument("--worker", choices=["tinycnn", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.only or list(WORKLOADS)
    if args.worker:
        print("RESULT " + json.dumps(run_worker(args.worker, names[0], args.steps, args.profile)))
        return
    print(machine_line())
    peak = gemm_rate()
    print(f"float32 GEMM (NumPy, 2048^3): {peak:.0f} GFLOP/s\n")
    print("| workload | batch, input | tinycnn s/step | PyTorch s/step | ratio | tinycnn GFLOP/s | PyTorch GFLOP/s |"
          " tinycnn 1st step s |")
    print("|---|---|---|---|---|---|---|---|")
    ratios = []
    for name in names:
        runs = {"tinycnn": [], "torch": []}
        for _ in range(args.rounds):
            for library in runs:
                runs[library].append(_spawn(library, name, args.steps, args.profile and not runs[library]))
        med = {lib: statistics.median(statistics.median(r["times"]) for r in rs) for lib, rs in runs.items()}
        flops = 6 * runs["tinycnn"][0]["macs"]
        ratio = med["tinycnn"] / med["torch"]
        ratios.append(ratio)
        _, batch, shape, _ = WORKLOADS[name]
        first = statistics.median(r["first"] for r in runs["tinycnn"])
        print(f"| {name} | {batch}, {'x'.join(map(str, shape))} | {med['tinycnn']:.4f} | {med['torch']:.4f} | "
              f"{ratio:.2f} | {flops / med['tinycnn'] / 1e9:.0f} | {flops / med['torch'] / 1e9:.0f} | {first:.2f} |",
              flush=True)
        if args.profile:
            prof = runs["tinycnn"][0]["profile"]
            top = sorted(prof.items(), key=lambda kv: -kv[1])[:8]
            print("|   profile | " + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in top) + " | | | | | | |")
    gmean = float(np.exp(np.mean(np.log(ratios))))
    print(f"\ngeometric mean of the ratios: {gmean:.2f} (GEMM ceiling {peak:.0f} GFLOP/s)")


if __name__ == "__main__":
    main()
