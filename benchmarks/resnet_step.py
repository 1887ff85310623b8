"""One ResNet-18 training step (forward, backward, SGD step) at batch 16 on 3x224x224, tinycnn vs PyTorch CPU.

Each library runs in its own process; the first step (warm-up, Numba compilation) is reported apart and
the median of the following steps is compared:

    python benchmarks/resnet_step.py --steps 3 [--batch 16] [--size 224] [--device cpu|cuda]
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


def run_tinycnn(batch, size, steps, device):
    import tinycnn
    from tinycnn import optim
    from tinycnn.models import resnet18
    from tinycnn.nn import functional as F

    tinycnn.manual_seed(0)
    model = resnet18().to(device)
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = tinycnn.tensor(rng.standard_normal((batch, 3, size, size), dtype=np.float32), device=device)
    y = tinycnn.tensor(rng.integers(0, 1000, batch), device=device)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()  # waits for the GPU, if any
        times.append(time.perf_counter() - start)
    return times


def torch_resnet18():
    """torchvision's resnet18() when torchvision is installed, else the same network built from torch.nn
    (BasicBlock x [2, 2, 2, 2], 64-128-256-512 channels, 1x1 stride-2 downsampling shortcuts)."""
    try:
        import torchvision
        return torchvision.models.resnet18()
    except ImportError:
        pass
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + (x if self.down is None else self.down(x)))

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True),
              nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
    return nn.Sequential(*layers)


def run_torch(batch, size, steps, device):
    import torch

    torch.manual_seed(0)
    model = torch_resnet18().to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((batch, 3, size, size), dtype=np.float32)).to(device)
    y = torch.from_numpy(rng.integers(0, 1000, batch)).to(device)
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
        times.append(time.perf_counter() - start)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", nargs="*", choices=["tinycnn", "torch"])
    parser.add_argument("--worker", choices=["tinycnn", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        fn = run_torch if args.worker == "torch" else run_tinycnn
        print("RESULT " + json.dumps(fn(args.batch, args.size, args.steps, args.device)))
        return
    medians = {}
    for name in args.only or ["tinycnn", "torch"]:
        cmd = [sys.executable, __file__, "--worker", name, "--batch", str(args.batch), "--size", str(args.size),
               "--steps", str(args.steps), "--device", args.device]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if not lines:
            print(f"{name} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        times = json.loads(lines[0][7:])
        medians[name] = statistics.median(times[1:])
        print(f"{name:8s} first step {times[0]:7.2f} s   median step {medians[name]:7.3f} s", flush=True)
    if len(medians) == 2:
        print(f"ResNet-18, batch {args.batch}, 3x{args.size}x{args.size}, {args.device}: "
              f"tinycnn/torch = {medians['tinycnn'] / medians['torch']:.2f}x")


if __name__ == "__main__":
    main()
