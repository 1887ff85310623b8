"""Does DataLoader(num_workers=N) pay? One epoch of loading with costly per-image transforms, by worker count.

The dataset is an image folder of JPEG photos-to-be (random pixels, 160 x 120, written to a temporary folder),
read with Pillow and augmented the way ImageNet-style training does (RandomResizedCrop, flip, ColorJitter,
ToTensor, Normalize): work done image by image in Python and Pillow, which worker processes share out.
Workers can only share out work that has cores to run on: the "slow storage" rows add 5 ms of waiting to
every file read (a network disk, say), which workers overlap whatever the machine's load. The MNIST rows
show the other case, an array-backed dataset whose pipeline runs on whole batches: there the main process
is already fast, and workers only add the cost of shipping batches between processes. torchvision's own
DataLoader on the same folder is timed too when PyTorch is installed. The load average is printed with the
table: on a shared machine it says how many cores the workers really had.

    python benchmarks/dataloader_workers.py [--images 512] [--runs 3] [--workers 0 1 2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_folder(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for k in range(n):
        folder = root / f"class{k % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(folder / f"{k:05d}.jpg",
                                                                                quality=90)
    return root


def slow_loader(path):
    """Pillow's loader behind 5 ms of latency, as a file on slow storage."""
    from tinycnn.vision.datasets import pil_loader
    time.sleep(0.005)
    return pil_loader(path)


def augmentation(T):
    return T.Compose([T.RandomResizedCrop(96), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4, 0.1),
                      T.ToTensor(), T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def epoch_seconds(loader) -> float:
    start = time.perf_counter()
    n = 0
    for images, labels in loader:
        n += len(labels)
    return time.perf_counter() - start


def time_loader(make, runs: int) -> float:
    return statistics.median(epoch_seconds(make()) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    import tinycnn
    from tinycnn.utils.data import DataLoader
    from tinycnn.vision import datasets, transforms as T

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = make_folder(Path(tmp), args.images)
        folder = datasets.ImageFolder(root, transform=augmentation(T))
        for w in args.workers:
            tinycnn.manual_seed(0)
            s = time_loader(lambda: DataLoader(folder, batch_size=args.batch_size, shuffle=True, num_workers=w),
                            args.runs)
            rows.append((f"tinycnn, image folder + augmentation, num_workers={w}", s, args.images / s))
        slow = datasets.ImageFolder(root, transform=T.Compose([T.Resize(48), T.ToTensor()]), loader=slow_loader)
        for w in args.workers:
            s = time_loader(lambda: DataLoader(slow, batch_size=args.batch_size, num_workers=w), args.runs)
            rows.append((f"tinycnn, slow storage (5 ms per file), num_workers={w}", s, args.images / s))
        try:
            import torch
            import torchvision
        except ImportError:
            torch = None
        if torch is not None:
            torch.set_num_threads(1)
            theirs = torchvision.datasets.ImageFolder(str(root), transform=augmentation(torchvision.transforms))
            for w in args.workers:
                torch.manual_seed(0)
                s = time_loader(lambda: torch.utils.data.DataLoader(theirs, batch_size=args.batch_size,
                                                                    shuffle=True, num_workers=w), args.runs)
                rows.append((f"PyTorch + torchvision, same folder, num_workers={w}", s, args.images / s))
    mnist = datasets.MNIST(train=True, transform=T.Compose([T.RandomCrop(28, padding=2), T.ToTensor(),
                                                            T.Normalize((0.1307,), (0.3081,))]))
    for w in args.workers:
        s = time_loader(lambda: DataLoader(mnist, batch_size=128, shuffle=True, seed=0, num_workers=w), args.runs)
        rows.append((f"tinycnn, MNIST (60,000, batched pipeline), num_workers={w}", s, len(mnist) / s))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\none epoch of loading, medians of {args.runs} runs, batch {args.batch_size} (MNIST: 128); "
          f"{os.cpu_count()} CPUs, load average {load:.1f} at the end\n")
    print("| loader | s/epoch | images/s |\n|---|---|---|")
    for name, s, rate in rows:
        print(f"| {name} | {s:.2f} | {rate:,.0f} |")


if __name__ == "__main__":
    main()
