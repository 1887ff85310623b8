"""What a fresh install pays before training runs at speed: tinycnn's first training steps on an empty Numba
cache, per workload of ``workloads.py``.

    python benchmarks/cold_start.py [--only lenet5 resnet18_32 ...] [--rounds 1] [--steps 3] [--warm]
                                    [--compiles] [--prepare SECONDS] [--json results.json]

Each run is its own process with ``NUMBA_CACHE_DIR`` pointed at a new, empty temporary folder (the
background compile workers of ``accel/numba_launch.py`` inherit the variable, so they fill the same cache),
removed afterwards. The process imports tinycnn, builds and fuses the model as ``tinycnn train`` does, and
times ``--steps`` SGD-with-momentum training steps on random float32 data of the workload's shape (no MAC
count, no eval forward first: that would compile the forward kernels before the clock starts). Reported per
workload, the median over ``--rounds``: the first step (compilation included), the first ``--steps`` steps
together, the last step (the warm speed), and the CPU time this process spent in them (its own compiles, but
not the workers': on a busy machine, where the workers find no spare core, wall times mislead). ``--warm``
adds a second process on the same, now filled, cache: the first step of an installation that has compiled
before (kernels loaded from disk).
``--compiles`` lists what the first cold run compiled in its own process (the rest was compiled by the
background workers, or loaded). ``--prepare S`` calls ``kernels.prepare("float32", model)`` after building
and then idles S seconds before the steps, as ``tinycnn train`` overlaps the compile workers with loading
its data (the idle time is not counted).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from workloads import WORKLOADS, _build, _positive, _train_step, machine_info, machine_line, write_json


def run_worker(name, steps, compiles=False, prepare=None):
    """Import, build, fuse; the seconds of each of ``steps`` training steps (and, with ``compiles``, of each
    function Numba compiled or loaded in this process, nested compiles counted in their caller's too)."""
    events = []
    if compiles:
        from numba.core import event
        listener = _compile_listener(events)
        event.register("numba:compile", listener)
        _time_cfuncs(listener)
    start = time.perf_counter()
    import tinycnn
    from tinycnn import accel, models, nn
    imported = time.perf_counter() - start
    _, batch, shape, classes = WORKLOADS[name]
    rng = np.random.default_rng(0)
    tinycnn.manual_seed(0)
    x = tinycnn.tensor(rng.standard_normal((batch, *shape), dtype=np.float32))
    y = tinycnn.tensor(rng.integers(0, classes, batch))
    model = _build(nn, models, name)
    accel.fuse(model)
    if prepare is not None:            # as `tinycnn train` does before it loads its data
        from tinycnn import kernels
        kernels.prepare("float32", model)
        time.sleep(prepare)
    model.train()
    step = _train_step("tinycnn", model, x, y)
    times = []
    cpu = time.process_time()
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    cpu = time.process_time() - cpu
    return {"import": imported, "times": times, "cpu": cpu, "compiles": events}


def _time_cfuncs(listener):
    """Numba broadcasts no compile event for a ``cfunc`` (numba_launch.py's item kernels): time those too."""
    from numba.core.ccallback import CFunc
    uncached = CFunc._compile_uncached

    def timed(self):
        listener.open.append(time.perf_counter())
        try:
            return uncached(self)
        finally:
            began = listener.open.pop()
            listener.events.append((f"cfunc {self._pyfunc.__qualname__}", time.perf_counter() - began,
                                    len(listener.open)))
    CFunc._compile_uncached = timed


def _compile_listener(events):
    """A Numba event listener that collects (function, seconds, nesting depth) of each compile."""
    from numba.core import event

    class Listener(event.Listener):
        def __init__(self):
            self.events, self.open = events, []

        def on_start(self, ev):
            self.open.append(time.perf_counter())

        def on_end(self, ev):
            began = self.open.pop()
            fn = getattr(ev.data.get("dispatcher"), "py_func", None)
            self.events.append((getattr(fn, "__module__", "?") + "." + getattr(fn, "__qualname__", "?"),
                                time.perf_counter() - began, len(self.open)))
    return Listener()


def _spawn(name, steps, cache, compiles=False, prepare=None):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--only", name, "--steps", str(steps)]
    if compiles:
        cmd.append("--compiles")
    if prepare is not None:
        cmd += ["--prepare", str(prepare)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env,
                          cwd=os.path.dirname(os.path.abspath(__file__)))
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")


def _median(runs, key):
    return statistics.median(key(r) for r in runs)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="*", choices=list(WORKLOADS))
    parser.add_argument("--rounds", type=_positive, default=1)
    parser.add_argument("--steps", type=_positive, default=3)
    parser.add_argument("--warm", action="store_true", help="also the first step on the filled cache")
    parser.add_argument("--compiles", action="store_true",
                        help="list the functions the first cold run compiled in its own process, longest first")
    parser.add_argument("--prepare", type=float, metavar="SECONDS",
                        help="call kernels.prepare(model) after building, then idle this long (a stand-in for "
                             "the data loading `tinycnn train` overlaps with compilation) before the steps")
    parser.add_argument("--json", metavar="PATH", help="write every result and the machine here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    names = args.only or list(WORKLOADS)
    if args.worker:
        print("RESULT " + json.dumps(run_worker(names[0], args.steps, args.compiles, args.prepare)))
        return
    info = machine_info()
    print(machine_line(info))
    print(f"\n| workload | cold 1st step s | cold first {args.steps} steps s | warm step s | this process's CPU s |"
          + (" warm-cache 1st step s |" if args.warm else "")
          + "\n|---|---|---|---|---|" + ("---|" if args.warm else ""), flush=True)
    results = {}
    for name in names:
        cold, warm = [], []
        for _ in range(args.rounds):
            with tempfile.TemporaryDirectory(prefix="tinycnn-cold-") as cache:
                cold.append(_spawn(name, args.steps, cache, args.compiles and not cold, args.prepare))
                if args.warm:
                    warm.append(_spawn(name, 1, cache))
        entry = {"first_step_s": _median(cold, lambda r: r["times"][0]),
                 "first_steps_s": _median(cold, lambda r: sum(r["times"])),
                 "last_step_s": _median(cold, lambda r: r["times"][-1]),
                 "import_s": _median(cold, lambda r: r["import"]),
                 "process_cpu_s": _median(cold, lambda r: r["cpu"]), "runs": cold}
        if warm:
            entry["warm_cache_first_step_s"] = _median(warm, lambda r: r["times"][0])
            entry["warm_runs"] = warm
        results[name] = entry
        cells = [name, f"{entry['first_step_s']:.2f}", f"{entry['first_steps_s']:.2f}", f"{entry['last_step_s']:.3f}",
                 f"{entry['process_cpu_s']:.2f}"]
        if warm:
            cells.append(f"{entry['warm_cache_first_step_s']:.2f}")
        print("| " + " | ".join(cells) + " |", flush=True)
        if args.compiles:
            top = sorted((e for e in cold[0]["compiles"] if e[2] == 0), key=lambda e: -e[1])
            print("    compiled here (s, outermost): " + ", ".join(f"{f.split('.')[-1]} {t:.2f}" for f, t, _ in top
                                                               if t >= 0.05), flush=True)
    if args.json:
        write_json(args.json, {"machine": machine_line(info), "settings": vars(args), "workloads": results})
        print(f"\nresults written to {args.json}")


if __name__ == "__main__":
    main()
