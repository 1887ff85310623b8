"""Depthwise 3x3 convolutions at MobileNetV2's shapes (batch 16, 3x96x96 input), forward and backward apart:
tinycnn's depthwise kernels, tinycnn's im2col path (``conv_direct=False``) and PyTorch CPU, float32.

Each library runs in its own process, in alternation. Per process each op is timed ``--repeat`` times and
the fastest kept (on a shared machine the slower repeats measure the other jobs); the table gives the median
of those over the rounds:

    python benchmarks/depthwise_bench.py [--rounds 3] [--repeat 10] [--threads 1]

``--threads 1`` runs every library on one thread (steadier numbers on a busy machine).
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

# (name, N, C, H, W, stride): the layers of torchvision's MobileNetV2 at 96x96 with these shapes
LAYERS = [("dw 32@48 s1", 16, 32, 48, 48, 1), ("dw 96@48 s2", 16, 96, 48, 48, 2),
          ("dw 144@24 s1", 16, 144, 24, 24, 1), ("dw 576@6 s2", 16, 576, 6, 6, 2)]


def _best_ms(forward, backward, clear, repeat):
    """(forward ms, backward ms), the fastest of ``repeat`` steps each, after one warm-up step (compilation);
    the gradients are cleared before each step, so backward pays no accumulation."""
    fwd, bwd = [], []
    for _ in range(repeat + 1):
        clear()
        start = time.perf_counter()
        y = forward()
        middle = time.perf_counter()
        backward(y)
        fwd.append(middle - start)
        bwd.append(time.perf_counter() - middle)
    return 1e3 * min(fwd[1:]), 1e3 * min(bwd[1:])


def run_tinycnn(mode, repeat):
    import tinycnn
    from tinycnn import Tensor
    from tinycnn.nn import functional as F

    out = {}
    with tinycnn.config(conv_direct=(mode == "tinycnn")):
        for name, n, c, h, w, s in LAYERS:
            rng = np.random.default_rng(0)
            x = Tensor(rng.standard_normal((n, c, h, w), dtype=np.float32), requires_grad=True)
            wt = Tensor(rng.standard_normal((c, 1, 3, 3), dtype=np.float32), requires_grad=True)
            g = Tensor(rng.standard_normal(F.conv2d(x, wt, stride=s, padding=1, groups=c).shape,
                                           dtype=np.float32))

            def clear():
                x.grad = wt.grad = None

            out[name] = _best_ms(lambda: F.conv2d(x, wt, stride=s, padding=1, groups=c),
                                 lambda y: y.backward(g), clear, repeat)
    return out


def run_torch(repeat):
    import torch

    if os.environ.get("OMP_NUM_THREADS"):
        torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
    out = {}
    for name, n, c, h, w, s in LAYERS:
        rng = np.random.default_rng(0)
        x = torch.tensor(rng.standard_normal((n, c, h, w), dtype=np.float32), requires_grad=True)
        wt = torch.tensor(rng.standard_normal((c, 1, 3, 3), dtype=np.float32), requires_grad=True)
        g = torch.tensor(rng.standard_normal(tuple(
            torch.nn.functional.conv2d(x, wt, stride=s, padding=1, groups=c).shape), dtype=np.float32))

        def clear():
            x.grad = wt.grad = None

        out[name] = _best_ms(lambda: torch.nn.functional.conv2d(x, wt, stride=s, padding=1, groups=c),
                             lambda y: y.backward(g), clear, repeat)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--threads", type=int, help="threads per library (default: all cores)")
    parser.add_argument("--worker", choices=("tinycnn", "im2col", "torch"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        result = run_torch(args.repeat) if args.worker == "torch" else run_tinycnn(args.worker, args.repeat)
        print(json.dumps(result))
        return
    libs = ("tinycnn", "im2col", "torch")
    env = dict(os.environ)
    if args.threads:
        env.update(NUMBA_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
                   OPENBLAS_NUM_THREADS=str(args.threads))
    results = {lib: {name: ([], []) for name, *_ in LAYERS} for lib in libs}
    for _ in range(args.rounds):
        for lib in libs:
            proc = subprocess.run([sys.executable, __file__, "--worker", lib, "--repeat", str(args.repeat)],
                                  capture_output=True, text=True, check=True, env=env)
            for name, (fwd, bwd) in json.loads(proc.stdout.splitlines()[-1]).items():
                results[lib][name][0].append(fwd)
                results[lib][name][1].append(bwd)
    print("| layer (batch 16, 3x3, float32) | " + " | ".join(f"{lib} fwd ms | {lib} bwd ms" for lib in libs) + " |")
    print("|---" * (1 + 2 * len(libs)) + "|")
    for name, *_ in LAYERS:
        cells = [f"{statistics.median(results[lib][name][k]):.2f}" for lib in libs for k in (0, 1)]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
