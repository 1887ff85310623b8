"""``summary(model, input_size)``: a layer table with output shapes, parameters and multiply-adds.

It runs one forward pass on a random input and notes, for every *leaf* module (one without children) in
the order it is called, its output shape, its parameters and its multiply-accumulate count (MACs).
For d2l.ai's LeNet-5 (1x28x28 input, ``padding=2``) it gives::

    layer     output shape     parameters                multiply-adds
    conv1     (1, 6, 28, 28)   5*5*1*6 + 6     = 156     28*28*6 * 1*5*5   = 117,600
    pool1     (1, 6, 14, 14)   0                         -
    conv2     (1, 16, 10, 10)  5*5*6*16 + 16   = 2,416   10*10*16 * 6*5*5 = 240,000
    fc1       (1, 120)         400*120 + 120   = 48,120  120 * 400         = 48,000
    fc2       (1, 84)          120*84 + 84     = 10,164  84 * 120          = 10,080
    fc3       (1, 10)          84*10 + 10      = 850     10 * 84           = 840

MACs are counted as torchvision's reference data counts them (``macs_conv_linear``):

    Conv2d:  MACs = out.numel() * (C_in / groups) * K_h * K_w      (each output element is one dot product)
    Linear:  MACs = out.numel() * in_features

Bias additions, normalisation, activations, pooling and element-wise products are not counted, so the
total is the figure papers quote as "mult-adds" (FLOPs are about twice that).

How the layers are observed: rather than adding hooks to ``Module``, ``trace_leaf_calls`` (through
``wrap_forwards``) temporarily sets an instance attribute ``forward`` on every leaf module that records the
call and defers to the original method (``Module.__call__`` looks up ``self.forward``, so the instance
attribute wins); the attributes are removed afterwards, even if the forward raises. ``receptive_field`` and
the graph drawing (``utils.graph``) use the same mechanism.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass

import numpy as np

from .. import backend
from ..autograd import Tensor, no_grad


def is_kind(module, class_name: str) -> bool:
    """True if ``module``'s class or one of its bases is called ``class_name`` (works for subclasses and
    needs no import of the layer classes, which live in a package this module must not depend on)."""
    return any(cls.__name__ == class_name for cls in type(module).__mro__)


def leaf_modules(model):
    """(name, module) for every module without children, in registration order."""
    return [(name, m) for name, m in model.named_modules() if not any(True for _ in m.children())]


def trace_leaf_calls(model, record):
    """Within the block, every leaf module's call invokes ``record(name, module, inputs, output)``."""
    def around(name, module, forward, args, kwargs):
        out = forward(*args, **kwargs)
        record(name or type(module).__name__, module, args, out)
        return out
    return wrap_forwards(leaf_modules(model), around)


@contextlib.contextmanager
def wrap_forwards(named_modules, around):
    """Within the block, calling a module of ``named_modules`` ((name, module) pairs) runs
    ``around(name, module, forward, args, kwargs)``, which calls the original ``forward`` itself.

    Each module gets an instance attribute ``forward`` (``Module.__call__`` looks up ``self.forward``, so
    the instance attribute wins); the attributes are removed afterwards, even if the block raises.
    """
    patched = []
    for name, module in named_modules:
        previous = module.__dict__.get("forward")
        original = module.forward

        def wrapped(*args, _name=name, _module=module, _original=original, **kwargs):
            return around(_name, _module, _original, args, kwargs)

        object.__setattr__(module, "forward", wrapped)
        patched.append((module, previous))
    try:
        yield
    finally:
        for module, previous in patched:
            if previous is None:
                module.__dict__.pop("forward", None)
            else:
                object.__setattr__(module, "forward", previous)


@contextlib.contextmanager
def eval_mode(model):
    """Puts every module in eval mode and restores each one's own flag afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            object.__setattr__(m, "training", flag)


def random_input(model, input_size, batch_size: int = 1, dtype=np.float32) -> Tensor:
    """A reproducible N(0, 1) batch on the model's device (the global RNG is left untouched)."""
    if isinstance(input_size, int) or not all(isinstance(s, int) and s > 0 for s in input_size):
        raise ValueError(f"input_size must be a tuple of positive ints without the batch dimension, "
                         f"e.g. (3, 224, 224); got {input_size!r}")
    data = np.random.default_rng(0).standard_normal((batch_size, *input_size)).astype(dtype)
    params = list(model.parameters())
    device = params[0].device if params else "cpu"
    return Tensor(backend.to_device(data, device) if device != "cpu" else data)


def _shape(out):
    if isinstance(out, Tensor):
        return tuple(out.shape)
    if isinstance(out, (tuple, list)):
        return tuple(_shape(o) for o in out)
    return None


def layer_macs(module, output) -> int:
    """Multiply-accumulates of one Conv2d or Linear call (0 for every other layer)."""
    if not isinstance(output, Tensor):
        return 0
    if is_kind(module, "Conv2d"):
        kh, kw = (module.kernel_size, module.kernel_size) if isinstance(module.kernel_size, int) \
            else module.kernel_size
        return int(output.numel()) * (module.in_channels // module.groups) * kh * kw
    if is_kind(module, "Linear"):
        return int(output.numel()) * module.in_features
    return 0


@dataclass
class SummaryRow:
    name: str          # dotted name in the model ("features.0.0")
    type: str          # class name ("Conv2d")
    output_shape: tuple
    params: int        # the module's own parameters (0 on a repeated call of a shared module)
    macs: int


class Summary:
    """Result of ``summary``: ``rows``, totals, and a printable table (``str(summary)``)."""

    def __init__(self, rows, total_params, trainable_params, input_shape, dtype):
        self.rows = rows
        self.total_params = total_params
        self.trainable_params = trainable_params
        self.total_macs = sum(r.macs for r in rows)
        self.input_shape = input_shape
        self.dtype = np.dtype(dtype)

    def __str__(self):
        head = ("Layer (type)", "Output Shape", "Param #", "Mult-Adds")
        body = [(f"{r.name} ({r.type})", str(list(r.output_shape)) if r.output_shape is not None else "-",
                 f"{r.params:,}", f"{r.macs:,}" if r.macs else "--") for r in self.rows]
        widths = [max(len(line[i]) for line in [head] + body) + 2 for i in range(4)]

        def fmt(line):
            return line[0].ljust(widths[0]) + "".join(c.rjust(w) for c, w in zip(line[1:], widths[1:]))
        rule = "=" * sum(widths)
        params_mb = self.total_params * self.dtype.itemsize / 2 ** 20
        lines = [rule, fmt(head), rule, *map(fmt, body), rule,
                 f"Input shape: {list(self.input_shape)} ({self.dtype.name})",
                 f"Total params: {self.total_params:,}",
                 f"Trainable params: {self.trainable_params:,}",
                 f"Non-trainable params: {self.total_params - self.trainable_params:,}",
                 f"Total mult-adds (conv + linear): {self.total_macs:,} ({self.total_macs / 1e6:.2f} M)",
                 f"Params size (MB): {params_mb:.2f}", rule]
        return "\n".join(lines)

    __repr__ = __str__


def summary(model, input_size, batch_size: int = 1, dtype=np.float32) -> Summary:
    """Layer-by-layer table of ``model`` for an input of shape ``(batch_size, *input_size)``.

    The forward runs under ``no_grad`` in eval mode (so Dropout/BatchNorm do not change their state), and
    every module's training flag is restored afterwards.
    """
    x = random_input(model, input_size, batch_size, dtype)
    rows, seen = [], set()

    def record(name, module, inputs, output):
        params = 0
        if id(module) not in seen:
            seen.add(id(module))
            params = sum(int(p.numel()) for p in module.parameters())
        rows.append(SummaryRow(name, type(module).__name__, _shape(output), params, layer_macs(module, output)))

    with eval_mode(model), no_grad(), trace_leaf_calls(model, record):
        model(x)
    params = list(model.parameters())
    total = sum(int(p.numel()) for p in params)
    trainable = sum(int(p.numel()) for p in params if p.requires_grad)
    return Summary(rows, total, trainable, tuple(x.shape), dtype)
