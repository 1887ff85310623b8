"""``import tinycnn`` changes nothing in the host process: no environment variable, no Numba setting, no
other library's thread pool, no thread, no child process. The thread tuning happens inside tinycnn's own
calls, and even then the environment and ``numba.config`` are put back as they were."""
from __future__ import annotations

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SNAPSHOT = r'''
import json, os, sys, threading
try:
    import threadpoolctl          # it sets KMP_DUPLICATE_LIB_OK when imported: before the first snapshot
except ImportError:
    pass

def children():
    try:
        import psutil
        return sorted(p.pid for p in psutil.Process().children(recursive=True))
    except ImportError:
        me, kids = str(os.getpid()), []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().rsplit(")", 1)[1].split()[1] == me:
                        kids.append(int(pid))
            except OSError:
                pass
        return sorted(kids)

def pools():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info())

def numba_state():
    numba = sys.modules.get("numba")
    if numba is None:
        return None
    return [list(numba.config.THREADING_LAYER_PRIORITY), numba.config.THREADING_LAYER]

def snapshot(full=True):
    state = {"env": dict(os.environ), "numba": numba_state()}
    if full:
        state.update(threads=sorted(t.name for t in threading.enumerate()), children=children(), pools=pools())
    return state
'''

IMPORT = SNAPSHOT + r'''
try:
    import numba                  # loaded first, so that its settings can be compared
except ImportError:
    pass
try:
    import scipy.linalg           # a second OpenBLAS in the process (SciPy's), as in a real program
except ImportError:
    pass
before = snapshot()
import tinycnn
after = snapshot()
print(json.dumps([before, after]))
'''

TRAIN = SNAPSHOT + r'''
try:
    import numba
    import scipy.linalg
except ImportError:
    pass
import tinycnn
from tinycnn import nn, optim
from tinycnn.models import lenet5
before = snapshot(full=False)
others = [p for p in (pools() or []) if "numpy" not in p[0]]
model = tinycnn.accel.fuse(lenet5("modern"))
opt = optim.SGD(model.parameters(), lr=0.01)
for _ in range(2):
    loss = nn.functional.cross_entropy(model(tinycnn.randn(64, 1, 28, 28)), tinycnn.randint(0, 10, (64,)))
    opt.zero_grad()
    loss.backward()
    opt.step()
after = snapshot(full=False)
print(json.dumps([before, after, others, [p for p in (pools() or []) if "numpy" not in p[0]]]))
'''


def _run(code):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOMP_SPINCOUNT", "OPENBLAS_THREAD_TIMEOUT", "NUMBA_THREADING_LAYER_PRIORITY",
                        "TINYCNN_KERNELS")}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_import_changes_nothing_in_the_process():
    before, after = _run(IMPORT)
    for key in before:
        assert after[key] == before[key], key


def test_training_puts_the_environment_and_numba_config_back_and_leaves_other_blas_alone():
    before, after, others_before, others_after = _run(TRAIN)
    assert after["env"] == before["env"]
    assert after["numba"] == before["numba"]
    # SciPy's OpenBLAS keeps its threads (libgomp, loaded for the Numba kernels' threads, is new)
    assert {tuple(p) for p in others_before} <= {tuple(p) for p in others_after}
