"""Forward+backward time of convolution and pooling on the layer shapes of LeNet, AlexNet, VGG and ResNet.

    python benchmarks/conv_bench.py [--repeat 5] [--dtype float32] [--only lenet]

For every layer: tinycnn with the NumPy kernels, with the Numba kernels as they run by default (direct or
Winograd convolution where a layer takes one), with the Numba kernels on the im2col path (Winograd off;
input gradient by col2im, the default, and by the rot180 full convolution), and PyTorch CPU when installed;
a table with the ratios.
Batch sizes are small (spatial sizes reduced for the big nets) so the whole run takes about a minute or two.
Times are the best of ``--repeat`` runs (the machine is shared; the minimum is the least noisy estimate).
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import Tensor

try:
    import torch
except ImportError:  # PyTorch is optional: the table then has no torch column
    torch = None

# (net, layer, op, N, C, H, W, params): conv params (Cout, k, stride, padding); pool params (k, stride, pad)
LAYERS = [
    ("lenet", "conv1 1->6 k5 p2", "conv", 128, 1, 28, 28, (6, 5, 1, 2)),
    ("lenet", "pool1 2/2", "max", 128, 6, 28, 28, (2, 2, 0)),
    ("lenet", "conv2 6->16 k5", "conv", 128, 6, 14, 14, (16, 5, 1, 0)),
    ("lenet", "pool2 2/2", "max", 128, 16, 10, 10, (2, 2, 0)),
    ("alexnet", "conv1 3->64 k11 s4 p2", "conv", 4, 3, 227, 227, (64, 11, 4, 2)),
    ("alexnet", "maxpool 3/2", "max", 4, 64, 55, 55, (3, 2, 0)),
    ("alexnet", "conv2 64->192 k5 p2", "conv", 4, 64, 27, 27, (192, 5, 1, 2)),
    ("alexnet", "conv3 192->384 k3 p1", "conv", 4, 192, 13, 13, (384, 3, 1, 1)),
    ("vgg", "conv 64->64 k3 p1 @112", "conv", 2, 64, 112, 112, (64, 3, 1, 1)),
    ("vgg", "maxpool 2/2 @112", "max", 2, 64, 112, 112, (2, 2, 0)),
    ("vgg", "conv 256->256 k3 p1 @28", "conv", 2, 256, 28, 28, (256, 3, 1, 1)),
    ("resnet", "conv1 3->64 k7 s2 p3 @112", "conv", 4, 3, 112, 112, (64, 7, 2, 3)),
    ("resnet", "maxpool 3/2 p1", "max", 4, 64, 56, 56, (3, 2, 1)),
    ("resnet", "block 64->64 k3 p1 @28", "conv", 4, 64, 28, 28, (64, 3, 1, 1)),
    ("resnet", "block 64->64 k3 p1 @56 N16", "conv", 16, 64, 56, 56, (64, 3, 1, 1)),
    ("resnet", "block 512->512 k3 p1 @7 N16", "conv", 16, 512, 7, 7, (512, 3, 1, 1)),
    ("resnet", "down 128->256 k3 s2 p1", "conv", 4, 128, 28, 28, (256, 3, 2, 1)),
    ("resnet", "avgpool 2/2 @28", "avg", 4, 64, 28, 28, (2, 2, 0)),
    ("resnet", "global avgpool", "adaptive", 4, 512, 7, 7, (1,)),
]


def best_of(fn, repeat):
    fn()                                   # warm-up (Numba compilation, caches, allocator)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def tinycnn_step(op, x, params, rng):
    xt = Tensor(x, requires_grad=True)
    if op == "conv":
        cout, k, s, p = params
        w = Tensor((rng.standard_normal((cout, x.shape[1], k, k)) * 0.1).astype(x.dtype), requires_grad=True)
        b = Tensor(np.zeros(cout, x.dtype), requires_grad=True)

        def run():
            xt.grad = w.grad = b.grad = None
            y = F.conv2d(xt, w, b, stride=s, padding=p)
            y.backward(Tensor(np.ones(y.shape, x.dtype)))
    else:
        def run():
            xt.grad = None
            if op == "max":
                y = F.max_pool2d(xt, params[0], params[1], params[2])
            elif op == "avg":
                y = F.avg_pool2d(xt, params[0], params[1], params[2])
            else:
                y = F.adaptive_avg_pool2d(xt, params[0])
            y.backward(Tensor(np.ones(y.shape, x.dtype)))
    return run


def torch_step(op, x, params, rng):
    xt = torch.tensor(x, requires_grad=True)
    if op == "conv":
        cout, k, s, p = params
        w = torch.tensor((rng.standard_normal((cout, x.shape[1], k, k)) * 0.1).astype(x.dtype), requires_grad=True)
        b = torch.zeros(cout, dtype=w.dtype, requires_grad=True)

        def run():
            xt.grad = w.grad = b.grad = None
            y = torch.nn.functional.conv2d(xt, w, b, stride=s, padding=p)
            y.backward(torch.ones_like(y))
    else:
        def run():
            xt.grad = None
            if op == "max":
                y = torch.nn.functional.max_pool2d(xt, params[0], params[1], params[2])
            elif op == "avg":
                y = torch.nn.functional.avg_pool2d(xt, params[0], params[1], params[2])
            else:
                y = torch.nn.functional.adaptive_avg_pool2d(xt, params[0])
            y.backward(torch.ones_like(y))
    return run


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--only", default=None, help="one net: lenet, alexnet, vgg, resnet")
    args = ap.parse_args(argv)
    dtype = np.dtype(args.dtype)
    configs = {"numpy": {"kernels": "numpy"}, "numba": {"kernels": "numba"},
               "nb-i2c": {"kernels": "numba", "conv_winograd": False},
               "nb-rot": {"kernels": "numba", "conv_winograd": False, "conv_backward": "rot180"}}
    head = f"{'net':8s} {'layer':28s} {'numpy':>8s} {'numba':>8s} {'nb-i2c':>8s} {'nb-rot':>8s}"
    head += f" {'torch':>8s} {'numba/torch':>11s}" if torch else ""
    head += f" {'numpy/numba':>11s}"
    print(f"forward+backward, ms (best of {args.repeat}), {args.dtype}; numba kernels threading: "
          f"{tinycnn.kernels.get_kernels_name()} default; 'nb-i2c' = numba on the im2col path (no Winograd), "
          f"'nb-rot' = that with conv_backward='rot180'")
    print(head)
    print("-" * len(head))
    totals = {}
    for net, name, op, n, c, h, w, params in LAYERS:
        if args.only and net != args.only:
            continue
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, c, h, w)).astype(dtype)
        row = {}
        for label, settings in configs.items():
            if op != "conv" and label in ("nb-i2c", "nb-rot"):
                row[label] = float("nan")
                continue
            with tinycnn.config(**settings):
                row[label] = best_of(tinycnn_step(op, x, params, rng), args.repeat)
        t_torch = best_of(torch_step(op, x, params, rng), args.repeat) if torch else None
        line = f"{net:8s} {name:28s} " + " ".join(f"{row[label]:8.2f}" for label in configs)
        if torch:
            line += f" {t_torch:8.2f} {row['numba'] / t_torch:11.2f}"
        line += f" {row['numpy'] / row['numba']:11.2f}"
        print(line, flush=True)
        tot = totals.setdefault(net, [0.0, 0.0, 0.0])
        tot[0] += row["numpy"]
        tot[1] += row["numba"]
        tot[2] += t_torch or 0.0
    print("-" * len(head))
    for net, (t_np, t_nb, t_t) in totals.items():
        msg = f"{net:8s} total: numpy {t_np:.1f} ms, numba {t_nb:.1f} ms"
        msg += f", torch {t_t:.1f} ms -> numba/torch {t_nb / t_t:.2f}" if torch else ""
        print(msg)


if __name__ == "__main__":
    main()
