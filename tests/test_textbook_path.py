"""Under ``tinycnn.config(kernels="numpy", conv_backward="rot180", fusion=False)`` a LeNet trained by the
training loop runs exactly the textbook code: the NumPy im2col forward, the rot180 input gradient and the NumPy
pooling, and never col2im, the direct or fused kernels, or any Numba kernel. Every kernel is instrumented."""
from __future__ import annotations

import collections
import importlib

import numpy as np
import pytest

import tinycnn
from tinycnn.kernels import interface, numpy_kernels
from tinycnn.ops import conv as conv_ops
from tinycnn.ops import fused as fused_ops
from tinycnn.train import TrainConfig, Trainer

FAST_MODULES = ("tinycnn.accel.numba_kernels", "tinycnn.accel.numba_direct", "tinycnn.accel.numba_depthwise")
# every function an op may call on a kernel set: the required ones and every fast path's
KERNEL_FUNCTIONS = tuple(dict.fromkeys(
    [*interface.REQUIRED, *(fn for fns in interface.CAPABILITIES.values() for fn in fns)]))


def _spy(monkeypatch, calls, owner, name, label):
    original = getattr(owner, name)

    def counted(*args, **kwargs):
        calls[label] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)


@pytest.fixture
def calls(monkeypatch):
    counts = collections.Counter()
    for name in interface.REQUIRED:          # all the NumPy set has
        _spy(monkeypatch, counts, numpy_kernels, name, f"numpy.{name}")
    for module_name in FAST_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:          # Numba absent: nothing fast can run anyway
            continue
        for name in KERNEL_FUNCTIONS:
            if callable(getattr(module, name, None)):
                _spy(monkeypatch, counts, module, name, f"{module_name}.{name}")
    _spy(monkeypatch, counts, conv_ops, "conv_input_grad_rot180", "rot180")
    _spy(monkeypatch, counts, fused_ops.Conv2dReLUMaxPool2dFunction, "forward", "fused")
    return counts


def test_lenet_trains_through_the_textbook_code(tmp_path, calls):
    config = TrainConfig(out=str(tmp_path / "run"), model="lenet5", epochs=1, batch_size=64, train_limit=192,
                         test_limit=64, progress=False)
    with tinycnn.config(kernels="numpy", conv_backward="rot180", fusion=False):
        trainer = Trainer(config)
        history = trainer.fit()
    assert trainer.kernels == "numpy" and np.isfinite(history[0]["train_loss"])
    steps = 192 // 64
    used = {name for name, n in calls.items() if n}
    assert used == {"numpy.im2col", "numpy.max_pool2d_forward", "numpy.max_pool2d_backward", "rot180"}, used
    # two convolutions a step forward, and conv2's input gradient (conv1's input needs none) by rot180,
    # which unfolds the dilated gradient with im2col too
    assert calls["rot180"] >= steps
    assert calls["numpy.im2col"] >= 2 * steps + calls["rot180"]
    assert calls["numpy.max_pool2d_forward"] >= 2 * steps and calls["numpy.max_pool2d_backward"] >= 2 * steps


def test_the_instruments_see_the_fast_path(tmp_path, calls):
    """The same run with the default settings: the spies catch what the textbook run must not call."""
    pytest.importorskip("numba")
    config = TrainConfig(out=str(tmp_path / "run"), model="lenet5", epochs=1, batch_size=64, train_limit=64,
                         test_limit=64, progress=False)
    with tinycnn.config(kernels="numba"):
        Trainer(config).fit()
    assert calls["fused"] or any(n and "direct" in k for k, n in calls.items()), calls
    assert not calls["rot180"] and not calls["numpy.im2col"]
