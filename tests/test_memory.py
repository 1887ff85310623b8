"""A long run does not grow: 2,000 LeNet-5 training steps keep resident memory flat.

Measured after a warm-up (so that NumPy's and the allocator's pools, Numba's compiled kernels and Adam's
moment buffers already exist): resident set size via /proc/self/statm, and the number of live Python objects
(a retained graph or a growing list shows up there long before it shows in megabytes). Batch 16 of random
28x28 images; about 3-5 s on 2 cores, in a fresh interpreter (see the test's docstring).
"""
from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinycnn.nn.functional as F
from tinycnn import Tensor
from tinycnn.models.lenet import lenet5

STEPS, WARMUP, BATCH = 2000, 200, 16


_CHILD = textwrap.dedent("""
    import gc, json, os, sys
    import numpy as np
    import tinycnn
    import tinycnn.nn.functional as F
    from tinycnn import Tensor, optim
    from tinycnn.models.lenet import lenet5
    STEPS, WARMUP, BATCH = (int(a) for a in sys.argv[1:4])

    def rss_mb():
        with open("/proc/self/statm") as f:
            resident_pages = int(f.read().split()[1])
        return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20

    tinycnn.manual_seed(0)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((64, BATCH, 1, 28, 28)).astype(np.float32)   # a pool of batches
    labels = rng.integers(0, 10, size=(64, BATCH))
    model = lenet5()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    losses = []

    def step(i):
        loss = F.cross_entropy(model(Tensor(images[i % 64])), Tensor(labels[i % 64]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())   # a float, not the tensor: keeping tensors would keep their graphs

    for i in range(WARMUP):
        step(i)
    gc.collect()
    before = rss_mb(), len(gc.get_objects())
    for i in range(WARMUP, STEPS):
        step(i)
    gc.collect()
    after = rss_mb(), len(gc.get_objects())
    print(json.dumps({"rss": [before[0], after[0]], "objects": [before[1], after[1]],
                      "finite": bool(np.isfinite(losses).all())}))
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_two_thousand_training_steps_do_not_grow_memory():
    """Run in a fresh interpreter: its RSS is the training loop's alone, and a big test-session heap (torch,
    hypothesis) would otherwise make every cyclic garbage collection during the loop slow."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "PYTHONPATH": repo + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(STEPS), str(WARMUP), str(BATCH)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    (rss_before, rss_after), (objects_before, objects_after) = result["rss"], result["objects"]
    assert result["finite"]
    assert rss_after - rss_before < 50, f"resident memory grew {rss_after - rss_before:.1f} MB over " \
                                        f"{STEPS - WARMUP} steps ({rss_before:.1f} -> {rss_after:.1f} MB)"
    # gc tracks containers only (not the floats in `losses`): one leaked tensor, dict or list per step adds 1,800
    assert objects_after - objects_before < 500, \
        f"live Python objects grew from {objects_before} to {objects_after}"


def test_graph_is_freed_after_backward():
    """Each step's graph (Functions and their saved arrays) dies with backward: nothing keeps it alive."""
    import weakref
    model = lenet5()
    x = Tensor(np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32))
    loss = F.cross_entropy(model(x), Tensor(np.array([1, 2])))
    fn = weakref.ref(loss.grad_fn)
    loss.backward()
    del loss
    gc.collect()
    assert fn() is None, "the graph outlived backward and the loss tensor"
