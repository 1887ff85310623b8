"""Winograd F(2x2, 3x3) vs F(4x4, 3x3) vs im2col on VGG-CIFAR and ResNet-18 layers, forward and backward.

    NUMBA_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/winograd_bench.py [--repeat 3]

Each layer is a 3x3, padding-1 convolution of C -> C channels, float32. The three variants are called
directly (``accel/winograd.py``, ``accel/winograd_f4.py``, and the im2col GEMM and col2im of
``accel/numba_kernels.py``), alternating within each repeat so that load on a shared machine hits all
three alike; times are the best of ``--repeat``. Backward is both gradients (input and weight). The table's
ratios are F(4x4) / F(2x2) and F(4x4) / im2col; ``winograd_f4.f4_applies``'s rule is set from them.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from tinycnn.accel import numba_kernels as nk
from tinycnn.accel import winograd as f2
from tinycnn.accel import winograd_f4 as f4
from tinycnn.accel.blas import matmul

LAYERS = [  # (name, N, C, H=W)
    ("vgg 64 @32", 64, 64, 32), ("vgg 128 @16", 64, 128, 16), ("vgg 256 @8", 64, 256, 8),
    ("r18 64 @56", 16, 64, 56), ("r18 128 @28", 16, 128, 28), ("r18 256 @14", 16, 256, 14),
    ("r18 512 @7", 16, 512, 7),
]
PAD = (1, 1, 1, 1)


def _im2col(x, w, gy):
    cout = w.shape[0]
    w2 = w.reshape(cout, -1)
    cols = nk.im2col(x, (3, 3), (1, 1), PAD, (1, 1))
    y = matmul(w2, cols)
    if gy is None:
        return y
    g = gy.transpose(1, 0, 2, 3).reshape(cout, -1)
    return nk.col2im(matmul(w2.T, g), x.shape, (3, 3), (1, 1), PAD, (1, 1)), matmul(g, cols.T)


def _forced(x, w):
    saved = f4.MIN_F4_OUTPUT, f4.MAX_MULTIPLIES, f4.ENABLED
    f4.MIN_F4_OUTPUT, f4.MAX_MULTIPLIES, f4.ENABLED = 1, 10.0, True      # F(4x4) whatever the rule says
    try:
        return f4.winograd_forward(x, w, None, PAD)
    finally:
        f4.MIN_F4_OUTPUT, f4.MAX_MULTIPLIES, f4.ENABLED = saved


def _time(fn, results, key):
    t = time.perf_counter()
    fn()
    results[key] = min(results.get(key, np.inf), time.perf_counter() - t)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", nargs="*", help="layer names containing any of these words")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'layer':14s} {'f2 fwd':>8s} {'f4 fwd':>8s} {'i2c fwd':>8s} {'f2 bwd':>8s} {'f4 bwd':>8s} "
          f"{'i2c bwd':>8s}  f4/f2 fwd  f4/f2 bwd  f4/i2c f+b (ms)")
    for name, n, c, hw in LAYERS:
        if args.only and not any(word in name for word in args.only):
            continue
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = (rng.standard_normal((c, c, 3, 3)) / (3 * np.sqrt(c))).astype(np.float32)
        gy = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        f2.winograd_backward(gy, f2.winograd_forward(x, w, None, PAD)[1], x, w.shape, PAD)   # compile, warm
        f4.winograd_backward(gy, _forced(x, w)[1], x, w.shape, PAD)
        _im2col(x, w, gy)
        r = {}
        for _ in range(args.repeat):
            _time(lambda: f2.winograd_forward(x, w, None, PAD), r, "f2f")
            u2 = f2.winograd_forward(x, w, None, PAD)[1]
            _time(lambda: f2.winograd_backward(gy, u2, x, w.shape, PAD), r, "f2b")
            _time(lambda: _forced(x, w), r, "f4f")
            u4 = _forced(x, w)[1]
            _time(lambda: f4.winograd_backward(gy, u4, x, w.shape, PAD), r, "f4b")
            _time(lambda: _im2col(x, w, None), r, "if")
            _time(lambda: _im2col(x, w, gy), r, "ib")
        r["ib"] -= r["if"]                      # its backward call also ran the forward's im2col and GEMM
        ms = {k: 1e3 * v for k, v in r.items()}
        print(f"{name:14s} {ms['f2f']:8.1f} {ms['f4f']:8.1f} {ms['if']:8.1f} {ms['f2b']:8.1f} {ms['f4b']:8.1f} "
              f"{ms['ib']:8.1f}  {r['f4f'] / r['f2f']:9.2f}  {r['f4b'] / r['f2b']:9.2f}  "
              f"{(r['f4f'] + r['f4b']) / (r['if'] + r['ib']):10.2f}", flush=True)


if __name__ == "__main__":
    main()
