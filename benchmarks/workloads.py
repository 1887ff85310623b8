"""Common CNN workloads, tinycnn vs PyTorch CPU: training and inference speed, and the memory a step needs.

    python benchmarks/workloads.py [--mode train|infer|both] [--rounds 3] [--steps 5] [--only lenet5 ...]
                                   [--libraries tinycnn torch] [--profile] [--json results.json]

Training: one SGD-with-momentum step (forward, cross-entropy, backward, update). Inference: the model in
``eval()`` mode, a forward pass under ``no_grad``. Both in float32 on random data of the workload's shape.

Each measurement runs in its own process (one library, one workload, one mode: NumPy's, Numba's and
PyTorch's thread pools fight over the cores when they share one, and a process's peak memory only grows).
The processes alternate (tinycnn, PyTorch, tinycnn, ...) for ``--rounds`` rounds; each times ``--steps``
steps after one warm-up step (which includes Numba's compilation on a fresh cache) and reports their median.
The table gives the median over rounds:

- img/s: batch size over the median step time; speed ratio = tinycnn's img/s over PyTorch's (>= 1: at or
  above PyTorch).
- GFLOP/s and its share of the float32 GEMM rate NumPy's BLAS reaches on this machine (the ceiling an
  im2col engine works towards). FLOPs: 2 x MACs of every convolution and linear layer, times 3 for training
  (forward, input gradient, weight gradient), times 1 for inference (counted with forward hooks; BatchNorm,
  pooling and elementwise work are not counted, so either library's GFLOP/s is a lower bound).
- memory, in MiB: the peak resident set size (RSS) of the whole worker process, and "step", how far the
  peak rises above the RSS the process had after importing the library and building the model and data:
  the memory the warm-up and timed steps need (activations kept for the backward, gradients, optimizer
  state, workspaces). The peak is the kernel's high-water mark (VmHWM in /proc/self/status), reset after
  the build where Linux allows it, so a peak during import does not count; elsewhere it is
  ``getrusage``'s lifetime peak. Memory ratio = tinycnn's step MiB over PyTorch's (<= 1: no more than
  PyTorch), left out where either is under 1 MiB. Limits: RSS counts pages, not bytes in use. The whole
  process's peak includes each library's own code and data (PyTorch's shared libraries are several hundred
  MiB, NumPy's and Numba's less), so compare the step column between libraries. Freed memory that an
  allocator keeps for reuse (glibc's arenas, PyTorch's CPU caching allocator) still counts as resident, so
  the step column is what the process holds at the step's peak, not the sum of live tensors; a workspace
  kept across steps is counted once. Pages the step allocates and never touches do not count.

The networks are built by one function per workload that takes the library's ``nn`` module: the same code
builds both models, so the two libraries run the same architecture (ResNet-18 and MobileNetV2 come from each
library's model zoo, whose layouts are torchvision's). ``--profile`` adds tinycnn's milliseconds per op
(forward and backward apart) in the first round, as ``lenet_profile.py`` measures them. ``--json PATH``
writes every number, with the machine, BLAS and versions. Without PyTorch the script measures tinycnn
alone and says so; ``--libraries tinycnn`` asks for that.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

LIBRARIES = ("tinycnn", "torch")
NAMES = {"tinycnn": "tinycnn", "torch": "PyTorch"}
MIB = 2 ** 20
MIN_STEP_MIB = 1.0          # below this a step's extra memory is within the noise of RSS: no ratio


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


# ---- the worker: one library, one workload, one mode ----------------------------------------------------
def _library(library):
    """(nn, model zoo or None, no_grad, versions) of ``library``; ImportError where it is not installed."""
    if library == "torch":
        import torch
        try:
            import torchvision
        except ImportError:
            torchvision = None
        versions = {"torch": torch.__version__, "torchvision": getattr(torchvision, "__version__", None),
                    "torch_threads": torch.get_num_threads()}
        return torch.nn, getattr(torchvision, "models", None), torch.no_grad, versions
    import tinycnn
    from tinycnn import models, nn
    try:
        import numba
        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    return nn, models, tinycnn.no_grad, {"tinycnn": tinycnn.__version__, "numba": numba_version}


def _build(nn, zoo, name):
    builder, _, _, classes = WORKLOADS[name]
    if not isinstance(builder, str):
        return builder(nn)
    if zoo is None:
        raise ImportError(f"{name} needs torchvision's {builder}, and torchvision is not installed")
    return getattr(zoo, builder)(num_classes=classes)


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


def _train_step(library, model, x, y):
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


def _infer_step(model, x, no_grad):
    def step():
        with no_grad():
            return model(x)
    return step


def _memory():
    """(current RSS, peak RSS) of this process in bytes; the current one is None where it is not known."""
    try:
        with open("/proc/self/status") as f:
            fields = dict(ln.split(":", 1) for ln in f if ":" in ln)
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return None, peak * (1 if sys.platform == "darwin" else 1024)    # bytes on macOS, KiB on Linux


def _reset_peak():
    """Reset the kernel's high-water mark to the current RSS (Linux); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def run_worker(library, name, mode, steps, profile):
    """Build, warm up, time ``steps`` steps of ``mode``; the times, the MAC count per image and the memory."""
    nn, zoo, no_grad, versions = _library(library)
    _, batch, shape, classes = WORKLOADS[name]
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((batch, *shape), dtype=np.float32)
    ys = rng.integers(0, classes, batch)
    if library == "torch":
        import torch
        torch.manual_seed(0)
        x, y, one = torch.from_numpy(xs), torch.from_numpy(ys), torch.from_numpy(xs[:1])
    else:
        import tinycnn
        tinycnn.manual_seed(0)
        x, y, one = tinycnn.tensor(xs), tinycnn.tensor(ys), tinycnn.tensor(xs[:1])
    model = _build(nn, zoo, name)
    model.eval()                       # one image, no graph: counting adds next to nothing to the peak
    with no_grad():
        macs = count_macs(model, lambda: model(one))
    if library == "tinycnn":           # as `tinycnn train` runs a model (after counting: fusing hides the convs)
        from tinycnn import accel
        accel.fuse(model)
    if mode == "train":
        model.train()
        step = _train_step(library, model, x, y)
    else:
        step = _infer_step(model, x, no_grad)
    gc.collect()
    rss_built, peak_built = _memory()
    reset = _reset_peak()
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
    _, peak = _memory()
    result = {"first": first, "times": times, "macs_per_image": macs, "versions": versions,
              "rss_built": rss_built if rss_built is not None else peak_built,
              "peak_rss": max(peak, peak_built), "step_peak": peak, "peak_reset": reset}
    if profile and library == "tinycnn":
        result["profile"] = {k: v / steps for k, v in TIMES.items()}
    return result


# ---- the machine ----------------------------------------------------------------------------------------
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


def machine_info():
    """CPU count and model, Python, NumPy and its BLAS (from threadpoolctl, where installed)."""
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
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version(), "numpy": np.__version__,
            "blas": blas}


def machine_line(info):
    return (f"{info['cpus']} CPUs, {info['cpu']}; Python {info['python']}, NumPy {info['numpy']}, "
            f"{info['blas']}")


# ---- the parent: spawn, alternate, summarise ------------------------------------------------------------
class Unavailable(Exception):
    """A library's worker could not import what it needs."""


def _spawn(library, name, mode, steps, profile):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", library, "--only", name, "--mode", mode,
           "--steps", str(steps)]
    if profile:
        cmd.append("--profile")
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=os.path.dirname(os.path.abspath(__file__)))
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
        if line.startswith("UNAVAILABLE "):
            raise Unavailable(line[12:])
    raise RuntimeError(f"{library} {name} {mode} failed:\n{proc.stderr[-3000:]}")


def summarise(runs, batch, flops, peak_gflops):
    """Medians over rounds of one library's runs of one workload and mode."""
    seconds = statistics.median(statistics.median(r["times"]) for r in runs)
    return {"seconds_per_step": seconds, "images_per_second": batch / seconds,
            "gflops": flops / seconds / 1e9, "gemm_fraction": flops / seconds / 1e9 / peak_gflops,
            "first_step_seconds": statistics.median(r["first"] for r in runs),
            "peak_rss_mib": statistics.median(r["peak_rss"] for r in runs) / MIB,
            "step_mib": statistics.median(r["step_peak"] - r["rss_built"] for r in runs) / MIB,
            "built_rss_mib": statistics.median(r["rss_built"] for r in runs) / MIB,
            "peak_reset": all(r["peak_reset"] for r in runs),
            "step_times_per_round": [statistics.median(r["times"]) for r in runs]}


def _ratios(entry):
    ours, theirs = entry.get("tinycnn"), entry.get("torch")
    if not (ours and theirs):
        return {"speed_ratio": None, "memory_ratio": None, "peak_rss_ratio": None}
    small = min(ours["step_mib"], theirs["step_mib"]) < MIN_STEP_MIB
    return {"speed_ratio": ours["images_per_second"] / theirs["images_per_second"],
            "memory_ratio": None if small else ours["step_mib"] / theirs["step_mib"],
            "peak_rss_ratio": ours["peak_rss_mib"] / theirs["peak_rss_mib"]}


def geomean(values):
    values = [v for v in values if v is not None]
    return float(np.exp(np.mean(np.log(values)))) if values else None


def _fmt(value, spec):
    return "-" if value is None else format(value, spec)


HEADER = ("| workload | batch, input | mode | tinycnn img/s | PyTorch img/s | speed ratio | tinycnn GFLOP/s (GEMM %)"
          " | PyTorch GFLOP/s (GEMM %) | tinycnn MiB peak / step | PyTorch MiB peak / step | memory ratio |"
          " tinycnn 1st step s |\n|---|---|---|---|---|---|---|---|---|---|---|---|")


def table_row(name, mode, entry):
    _, batch, shape, _ = WORKLOADS[name]
    cells = [name, f"{batch}, {'x'.join(map(str, shape))}", mode]
    cells += [_fmt(entry.get(lib, {}).get("images_per_second"), ",.0f") for lib in LIBRARIES]
    cells.append(_fmt(entry["speed_ratio"], ".2f"))
    for lib in LIBRARIES:
        r = entry.get(lib)
        cells.append(f"{r['gflops']:.1f} ({100 * r['gemm_fraction']:.0f}%)" if r else "-")
    for lib in LIBRARIES:
        r = entry.get(lib)
        cells.append(f"{r['peak_rss_mib']:.0f} / {r['step_mib']:.0f}" if r else "-")
    cells.append(_fmt(entry["memory_ratio"], ".2f"))
    cells.append(_fmt(entry.get("tinycnn", {}).get("first_step_seconds"), ".2f"))
    return "| " + " | ".join(cells) + " |"


def write_json(path, data):
    """Write ``data`` to ``path`` whole or not at all (a temporary file in the same folder, then a rename)."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".workloads-", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["train", "infer", "both"], default="both")
    parser.add_argument("--rounds", type=_positive, default=3)
    parser.add_argument("--steps", type=_positive, default=5)
    parser.add_argument("--only", nargs="*", choices=list(WORKLOADS))
    parser.add_argument("--libraries", nargs="+", choices=LIBRARIES,
                        help="default: both (tinycnn alone, with a message, where PyTorch is not installed)")
    parser.add_argument("--profile", action="store_true", help="tinycnn's time per op for each workload")
    parser.add_argument("--json", metavar="PATH", help="write every result, the machine and the versions here")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.only or list(WORKLOADS)
    modes = ["train", "infer"] if args.mode == "both" else [args.mode]
    if args.worker:
        try:
            result = run_worker(args.worker, names[0], modes[0], args.steps, args.profile)
        except ImportError as err:
            print(f"UNAVAILABLE {NAMES[args.worker]} cannot run {names[0]}: {err}")
            return
        print("RESULT " + json.dumps(result))
        return
    if args.json and not os.path.isdir(os.path.dirname(os.path.abspath(args.json))):
        parser.error(f"--json: folder {os.path.dirname(os.path.abspath(args.json))} does not exist")
    libraries = list(args.libraries or LIBRARIES)
    info = machine_info()
    print(machine_line(info))
    peak = gemm_rate()
    print(f"float32 GEMM (NumPy, 2048^3): {peak:.0f} GFLOP/s\n")
    print(HEADER, flush=True)
    results, versions, profiles, missing = {}, {}, {}, []
    for name in names:
        _, batch, shape, _ = WORKLOADS[name]
        runs = {mode: {lib: [] for lib in libraries} for mode in modes}
        skipped = set()
        for _ in range(args.rounds):
            for mode in modes:
                for lib in libraries:
                    if lib in skipped:
                        continue
                    try:
                        runs[mode][lib].append(_spawn(lib, name, mode, args.steps,
                                                      args.profile and not runs[mode][lib]))
                    except Unavailable as why:
                        if args.libraries:               # asked for by name: an error, not a silent skip
                            sys.exit(f"workloads.py: {why}")
                        if str(why) not in missing:
                            print(f"workloads.py: {why}; measuring tinycnn alone there (no ratios)",
                                  file=sys.stderr, flush=True)
                            missing.append(str(why))
                        skipped.add(lib)
        results[name] = {"batch": batch, "input": list(shape)}
        for mode in modes:
            done = {lib: rs for lib, rs in runs[mode].items() if rs and lib not in skipped}
            macs = batch * next(iter(done.values()))[0]["macs_per_image"]
            flops = (6 if mode == "train" else 2) * macs
            entry = {"flops_per_step": flops}
            for lib, rs in done.items():
                entry[lib] = summarise(rs, batch, flops, peak)
                versions.update(rs[0]["versions"])
                if "profile" in rs[0]:
                    profiles[name, mode] = rs[0]["profile"]
            entry.update(_ratios(entry))
            results[name][mode] = entry
            print(table_row(name, mode, entry), flush=True)
    means = {f"{mode}_{kind}": geomean(results[n][mode][kind] for n in names)
             for mode in modes for kind in ("speed_ratio", "memory_ratio", "peak_rss_ratio")}
    print()
    for mode in modes:
        print(f"geometric means, {mode}: speed ratio {_fmt(means[f'{mode}_speed_ratio'], '.2f')}, "
              f"memory ratio {_fmt(means[f'{mode}_memory_ratio'], '.2f')} (GEMM ceiling {peak:.0f} GFLOP/s)")
    for (name, mode), prof in profiles.items():
        top = sorted(prof.items(), key=lambda kv: -kv[1])[:8]
        print(f"\ntinycnn ms per op, {name} {mode}: " + ", ".join(f"{k} {v * 1e3:.1f}" for k, v in top))
    if args.json:
        write_json(args.json, {
            "machine": machine_line(info), "machine_info": info, "blas": info["blas"], "gemm_gflops": peak,
            "versions": versions, "settings": {"mode": args.mode, "rounds": args.rounds, "steps": args.steps,
                                               "libraries": libraries},
            "unavailable": missing, "workloads": results, "geometric_means": means,
            "profiles": {f"{n} {m}": p for (n, m), p in profiles.items()}})
        print(f"\nresults written to {args.json}")


if __name__ == "__main__":
    main()
