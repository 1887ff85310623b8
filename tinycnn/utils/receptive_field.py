"""Receptive field, jump and start of every conv/pool layer of a model.

The receptive field, computed from the top down, one layer at a time::

    F(i) = (F(i+1) - 1) * S_i + K_i          F(top) = 1

    e.g. three stacked 3x3 convs, stride 1:  F = (1-1)*1+3 = 3,  (3-1)*1+3 = 5,  (5-1)*1+3 = 7

so three 3x3 layers see a 7x7 window, like one 7x7 conv, with 27 C^2 instead of 49 C^2 weights (VGG's
argument). ``stack_receptive_field`` is exactly that recursion.

For a whole network it is handier to walk bottom-up and keep, per layer, three numbers in input pixels:

    jump   j_out = j_in * S                            distance between neighbouring outputs
    rf     r_out = r_in + (K_eff - 1) * j_in           width of the window one output sees
    start  s_out = s_in + ((K_eff - 1) / 2 - P) * j_in centre of the first output's window (pixel index,
                                                        may be negative: the window reaches into padding)

with the dilated kernel ``K_eff = D * (K - 1) + 1`` and ``r_0 = 1, j_0 = 1, s_0 = 0``. Unrolling the
top-down recursion gives the same ``r`` (both sum ``(K_i - 1) * prod_{l<i} S_l``).

Layers without a window (BatchNorm, activations, Linear...) pass the numbers through. Which state a layer
starts from is looked up by its input tensor. A tensor made by a functional op (``x + y``, ``cat``) is not
a module output; for it the widest receptive field seen so far is used. Receptive fields only grow with
depth, so that is the latest layer for a chain, and the widest branch for a residual add or a
concatenation (whose output sees the union of its branches' windows; the start is that branch's).
Adaptive pooling from ``I`` to ``O`` cells is treated as kernel ``I - (O-1) * floor(I/O)``, stride
``floor(I/O)`` (exact when ``O`` divides ``I``; global pooling ``O = 1`` covers the whole map).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..autograd import Tensor, no_grad
from ..ops._sizes import _pair
from .summary import eval_mode, is_kind, random_input, trace_leaf_calls

_WINDOW_LAYERS = ("Conv2d", "MaxPool2d", "AvgPool2d")
_ADAPTIVE_LAYERS = ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d")


def stack_receptive_field(layers) -> int:
    """The top-down recursion ``F(i) = (F(i+1) - 1) * S + K`` for ``layers = [(K, S), ...]``,
    listed bottom (input side) first.

    >>> stack_receptive_field([(3, 1), (3, 1), (3, 1)])
    7
    >>> stack_receptive_field([(11, 4), (3, 2)])   # AlexNet conv1 + pool1
    19
    """
    rf = 1
    for kernel, stride in reversed(list(layers)):
        rf = (rf - 1) * stride + kernel
    return rf


def layer_window(module, in_hw=None):
    """(kernel_eff, stride, padding) pairs for a conv/pool module with an input of ``in_hw`` (needed by
    adaptive pooling), or None for a pass-through layer."""
    if any(is_kind(module, k) for k in _WINDOW_LAYERS):
        kernel = _pair(module.kernel_size, "kernel_size")
        stride = _pair(module.stride if module.stride is not None else module.kernel_size, "stride")
        dilation = _pair(getattr(module, "dilation", 1), "dilation")
        eff = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))
        padding = getattr(module, "padding", 0)
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same":
            padding = tuple((e - 1) // 2 for e in eff)  # PyTorch puts the odd extra pixel on the right
        return eff, stride, _pair(padding, "padding", allow_zero=True)
    if any(is_kind(module, k) for k in _ADAPTIVE_LAYERS) and in_hw is not None:
        out = module.output_size
        out = in_hw if out is None else (out, out) if isinstance(out, int) else tuple(out)  # entries may be None
        out = tuple(i if o is None else o for o, i in zip(out, in_hw))
        stride = tuple(max(i // o, 1) for i, o in zip(in_hw, out))
        kernel = tuple(i - (o - 1) * s for i, o, s in zip(in_hw, out, stride))
        return kernel, stride, (0, 0)
    return None


START = ((1, 1), (1, 1), (0.0, 0.0))      # (rf, jump, start) of the input pixels themselves


def advance(state, window):
    """The (rf, jump, start) after a layer with ``window`` = (effective kernel, stride, padding) pairs, from
    the state before it: the bottom-up recursion of the module docstring."""
    (rf, jump, start), (kernel, stride, padding) = state, window
    return (tuple(r + (k - 1) * j for r, k, j in zip(rf, kernel, jump)),
            tuple(j * s for j, s in zip(jump, stride)),
            tuple(s0 + ((k - 1) / 2 - p) * j for s0, k, p, j in zip(start, kernel, padding, jump)))


@dataclass
class RFRow:
    name: str
    type: str
    kernel: tuple          # effective (dilated) kernel (h, w)
    stride: tuple
    padding: tuple
    output_size: tuple     # (h, w) of the feature map
    receptive_field: tuple  # (h, w) in input pixels
    jump: tuple
    start: tuple           # centre of the first output's window, input pixel index


class ReceptiveField:
    """Result of ``receptive_field``: ``rows`` (one per conv/pool call) and a printable table."""

    def __init__(self, rows, input_size):
        self.rows = rows
        self.input_size = input_size

    @property
    def final(self):
        """Receptive field (h, w) of the last conv/pool layer."""
        return self.rows[-1].receptive_field if self.rows else (1, 1)

    def __getitem__(self, name):
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no conv/pool layer named {name!r}; layers: {[r.name for r in self.rows]}")

    def __str__(self):
        def c(v):
            return str(v[0]) if v[0] == v[1] else f"{v[0]}x{v[1]}"
        head = ("Layer (type)", "kernel", "stride", "pad", "out", "RF", "jump", "start")
        body = [(f"{r.name} ({r.type})", c(r.kernel), c(r.stride), c(r.padding), c(r.output_size),
                 c(r.receptive_field), c(r.jump), c(tuple(f"{s:g}" for s in r.start))) for r in self.rows]
        widths = [max(len(line[i]) for line in [head] + body) + 2 for i in range(len(head))]

        def fmt(line):
            return line[0].ljust(widths[0]) + "".join(x.rjust(w) for x, w in zip(line[1:], widths[1:]))
        return "\n".join([fmt(head), "-" * sum(widths), *map(fmt, body)])

    __repr__ = __str__


def receptive_field(model, input_size) -> ReceptiveField:
    """Receptive field, jump and start of every conv/pool layer of ``model`` for an input of shape
    ``input_size`` (C, H, W), traced with one eval-mode forward pass."""
    x = random_input(model, input_size)
    start_state = START
    states = {id(x): start_state}
    keep = [x]            # keep traced tensors alive so their ids are not reused
    widest = [start_state]  # fallback for tensors made by functional ops (see the module docstring)
    rows = []

    def record(name, module, inputs, output):
        inp = inputs[0] if inputs else None
        state = states.get(id(inp), widest[0])
        in_hw = tuple(inp.shape[-2:]) if isinstance(inp, Tensor) and inp.ndim == 4 else None
        window = layer_window(module, in_hw)
        if window is not None:
            state = advance(state, window)
            kernel, stride, padding = window
            out_hw = tuple(output.shape[-2:]) if isinstance(output, Tensor) else None
            rows.append(RFRow(name, type(module).__name__, kernel, stride, padding, out_hw, *state))
        if isinstance(output, Tensor):
            states[id(output)] = state
            keep.append(output)
        if state[0][0] * state[0][1] >= widest[0][0][0] * widest[0][0][1]:
            widest[0] = state

    with eval_mode(model), no_grad(), trace_leaf_calls(model, record):
        model(x)
    return ReceptiveField(rows, tuple(input_size))
