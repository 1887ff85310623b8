"""Where a LeNet-5 training step goes: milliseconds per op (forward and backward apart), batch 128, float32.

    python benchmarks/lenet_profile.py [--steps 40] [--no-direct] [--no-fusion] [--kernels numpy|numba]

Every ``Function`` subclass's forward/backward is wrapped with a timer; the whole step (forward, backward,
Adam) is timed too, so the difference is Python/autograd overhead. Random data of MNIST's shape: the time
per op does not depend on the values. Run it on an idle machine, or compare by ratios.
"""
from __future__ import annotations

import argparse
import collections
import time

import numpy as np

import tinycnn
from tinycnn import autograd, kernels, optim
from tinycnn.models import lenet5
from tinycnn.nn import functional as F

TIMES: dict = collections.defaultdict(float)


def _wrap(cls):
    fwd, bwd = cls.forward, cls.backward

    def forward(self, *a, **k):
        t = time.perf_counter()
        out = fwd(self, *a, **k)
        TIMES[cls.__name__ + " fwd"] += time.perf_counter() - t
        return out

    def backward(self, *a, **k):
        t = time.perf_counter()
        out = bwd(self, *a, **k)
        TIMES[cls.__name__ + " bwd"] += time.perf_counter() - t
        return out

    cls.forward, cls.backward = forward, backward


def _subclasses(c):
    for s in c.__subclasses__():
        yield s
        yield from _subclasses(s)


def instrument_functions():
    """Wrap every ``Function`` subclass's forward and backward with a timer adding into ``TIMES``."""
    for cls in set(_subclasses(autograd.Function)):
        if "forward" in cls.__dict__:
            _wrap(cls)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--no-direct", action="store_true", help="force im2col + GEMM for every conv")
    parser.add_argument("--no-fusion", action="store_true", help="run conv, relu and max pooling as three ops")
    parser.add_argument("--kernels", choices=["numpy", "numba"])
    args = parser.parse_args()
    settings = dict(conv_direct=not args.no_direct, fusion=not args.no_fusion)
    if args.kernels:
        settings["kernels"] = args.kernels
    with tinycnn.config(**settings):
        profile(args.steps)


def profile(steps):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((128 * 20, 1, 28, 28), dtype=np.float32)
    ys = rng.integers(0, 10, 128 * 20)
    tinycnn.manual_seed(0)
    model = tinycnn.accel.fuse(lenet5("modern"))      # as `tinycnn train` runs it
    instrument_functions()                            # after fuse: it loads the fused op's Function
    opt = optim.Adam(model.parameters(), lr=1e-3)

    def step(i):
        i %= 20
        x, y = tinycnn.Tensor(xs[i * 128:(i + 1) * 128]), tinycnn.Tensor(ys[i * 128:(i + 1) * 128])
        t0 = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        t1 = time.perf_counter()
        opt.zero_grad()
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        TIMES["(whole forward)"] += t1 - t0
        TIMES["(whole backward)"] += t2 - t1
        TIMES["(Adam step)"] += t3 - t2

    for i in range(5):   # warm-up: Numba compilation / cache loading, first allocations
        step(i)
    TIMES.clear()
    start = time.perf_counter()
    for i in range(steps):
        step(i)
    total = time.perf_counter() - start
    print(f"LeNet-5 step, batch 128: {1000 * total / steps:.2f} ms/step "
          f"(~{469 * total / steps:.2f} s per 469-step epoch), kernels={kernels.get_kernels_name()}")
    for name, sec in sorted(TIMES.items(), key=lambda kv: -kv[1]):
        print(f"  {name:28s}{1000 * sec / steps:8.3f} ms")


if __name__ == "__main__":
    main()
