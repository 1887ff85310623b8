"""Gradient flow: per-layer gradient and activation statistics during training, and the classic figure.

In a stack of layers h_l = f(W_l h_{l-1}) the chain rule multiplies one factor f'(a_l) W_l^T per layer
into dL/dh, so the gradient norm per layer shows at a glance whether the first layers learn: with
sigmoids (f' <= 1/4) it falls layer after layer towards the input (vanishing gradients), with ReLU it
stays level. ``GradientFlow`` collects those numbers from a training loop::

    flow = GradientFlow(model)              # watches every leaf module's output while it is open
    for step, (x, y) in enumerate(loader):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        flow.after_backward(step)          # reads every parameter's .grad (before opt.step)
        opt.step()
    flow.close()
    flow.plot()                             # gradient norm per layer, one line per epoch

Per parameter (recorded steps): the gradient's L2 norm, mean |g| and max |g|, the weight's norm and the
ratio |g| / |w| (the relative size of an SGD step, before the learning rate). Per leaf module (the forward
of a recorded step): the output's mean and standard deviation, the fraction of exact zeros (dead ReLUs)
and, after a Sigmoid or Tanh, the fraction of saturated outputs (where f' < about 0.01). Forwards under
``no_grad`` (evaluation) are not recorded. Watching the outputs wraps each module's ``forward``
(``summary.wrap_forwards``).

A training loop calls ``after_backward(step, epoch=...)`` after each ``backward()`` and
``end_epoch(epoch)`` after each epoch (which saves ``gradflow.json`` and ``gradflow.png`` when ``out`` is set).
"""
from __future__ import annotations

import json
import os
import warnings

import numpy as np

from ..autograd import is_grad_enabled
from .plotting import _save_atomically
from .serialization import write_bytes_atomically
from .summary import is_kind, leaf_modules, wrap_forwards

# Saturation thresholds: sigmoid'(x) = y(1-y) < 0.01 for y outside [0.0101, 0.9899]; tanh' = 1-y^2 < 0.02.
_SATURATED = {"Sigmoid": lambda y: (y < 0.01) | (y > 0.99), "Tanh": lambda y: np.abs(y) > 0.99}


def _norm(a: np.ndarray) -> float:
    return float(np.sqrt(np.square(a, dtype=np.float64).sum()))


def gradient_stats(model) -> dict:
    """``{parameter name: {"norm", "mean_abs", "max_abs", "weight_norm", "ratio"}}`` for every parameter
    of ``model`` that has a gradient now (call it after ``backward()``, before ``optimizer.step()``)."""
    stats = {}
    for name, p in model.named_parameters():
        if p.grad is None:
            continue
        g = np.abs(p.grad.numpy())
        norm, weight_norm = _norm(g), _norm(p.numpy())
        stats[name] = {"norm": norm, "mean_abs": float(g.mean(dtype=np.float64)) if g.size else 0.0,
                       "max_abs": float(g.max()) if g.size else 0.0, "weight_norm": weight_norm,
                       "ratio": norm / weight_norm if weight_norm > 0 else float("nan")}
    return stats


def activation_stats(output, module=None) -> dict:
    """``{"mean", "std", "zero_fraction", "saturated_fraction"}`` of one layer's output (saturation only
    after a Sigmoid or Tanh, else None)."""
    y = output.numpy() if hasattr(output, "numpy") else np.asarray(output)
    y = y.astype(np.float64, copy=False)
    saturated = next((rule for kind, rule in _SATURATED.items() if module is not None and is_kind(module, kind)),
                     None)
    return {"mean": float(y.mean()) if y.size else 0.0, "std": float(y.std()) if y.size else 0.0,
            "zero_fraction": float((y == 0).mean()) if y.size else 0.0,
            "saturated_fraction": float(saturated(y).mean()) if saturated is not None and y.size else None}


class GradientFlow:
    """Gradient and activation statistics of ``model``'s layers over training (module docstring).

    ``every``: record one step in ``every``. ``activations``: also watch the leaf modules' outputs.
    ``out``: a folder where ``end_epoch`` and ``close`` save ``gradflow.json`` and ``gradflow.png``.
    ``start``: the steps trained before (a resumed run), so that the recorded steps keep their places.
    ``records`` is a list of ``{"step", "epoch", "grads": gradient_stats(...), "activations": {...}}``;
    a resumed run puts the saved ones there first (``load_records``).
    """

    def __init__(self, model, every: int = 1, activations: bool = True, out: str | None = None, start: int = 0):
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"GradientFlow: every must be a positive integer, got {every!r}")
        if not isinstance(start, int) or start < 0:
            raise ValueError(f"GradientFlow: start must be an integer >= 0, got {start!r}")
        if not hasattr(model, "named_parameters"):
            raise TypeError(f"GradientFlow: expected an nn.Module, got {type(model).__name__}")
        self.model = model
        self.every = every
        self.out = os.fspath(out) if out is not None else None
        self.records: list[dict] = []
        self.layer_types = {name: type(m).__name__ for name, m in model.named_modules()}
        self._calls = start
        self._pending: dict[str, dict] = {}
        self._wrap = None
        if activations:
            self._wrap = wrap_forwards(leaf_modules(model), self._watch)
            self._wrap.__enter__()

    def _watch(self, name, module, forward, args, kwargs):
        out = forward(*args, **kwargs)
        if is_grad_enabled() and self._calls % self.every == 0 and hasattr(out, "numpy"):
            self._pending[name or type(module).__name__] = activation_stats(out, module)
        return out

    # ---- the calls a training loop makes ----------------------------------------------------------------
    def after_backward(self, step: int | None = None, epoch: int | None = None) -> dict | None:
        """Record this step's statistics (one call in ``every``); returns the record, or None when skipped."""
        record = None
        if self._calls % self.every == 0:
            record = {"step": self._calls if step is None else int(step), "epoch": epoch,
                      "grads": gradient_stats(self.model), "activations": self._pending}
            self.records.append(record)
        self._pending = {}
        self._calls += 1
        return record

    def end_epoch(self, epoch: int, metrics: dict | None = None) -> None:
        """End of an epoch: saves ``gradflow.json`` and ``gradflow.png`` into ``out`` when it is set."""
        if self.out is not None and self.records:
            self.save(self.out)

    def close(self) -> None:
        """Stop watching the modules (restores their ``forward``) and save into ``out`` when it is set."""
        if self._wrap is not None:
            self._wrap.__exit__(None, None, None)
            self._wrap = None
        if self.out is not None and self.records:
            self.save(self.out)

    def __enter__(self) -> "GradientFlow":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False

    # ---- reading ----------------------------------------------------------------------------------------
    def layers(self, include_bias: bool = False) -> list:
        """Parameter names in the model's order: the weights (ndim >= 2), and the biases if asked."""
        return [n for n, p in self.model.named_parameters() if include_bias or p.ndim >= 2]

    def layer_label(self, name: str) -> str:
        """ "features.0.weight" -> "features.0 (Conv2d)" (the ".bias" suffix is kept for biases)."""
        module, _, leaf = name.rpartition(".")
        kind = self.layer_types.get(module, "")
        return (f"{module or name} ({kind})" if leaf == "weight" else f"{name} ({kind})") if kind else name

    def series(self, stat: str = "norm", include_bias: bool = False) -> tuple[list, np.ndarray]:
        """(layer names, array (records, layers)) of one gradient statistic; NaN where a layer had no grad."""
        names = self.layers(include_bias)
        values = np.array([[r["grads"].get(n, {}).get(stat, np.nan) for n in names] for r in self.records],
                          dtype=np.float64).reshape(len(self.records), len(names))
        return names, values

    def to_dict(self) -> dict:
        return {"every": self.every, "layers": self.layers(include_bias=True),
                "layer_labels": {n: self.layer_label(n) for n in self.layers(include_bias=True)},
                "records": self.records}

    def to_json(self) -> bytes:
        """``gradflow.json``'s content: ``to_dict()``, NaN where a ratio has no weight to divide by."""
        return json.dumps(self.to_dict(), allow_nan=True).encode()

    def save(self, folder: str) -> tuple[str, str]:
        """Write ``gradflow.json`` (every record) and ``gradflow.png`` (the figure) into ``folder``, atomically."""
        folder = os.fspath(folder)
        json_path, png_path = os.path.join(folder, "gradflow.json"), os.path.join(folder, "gradflow.png")
        try:
            write_bytes_atomically(json_path, self.to_json())
            fig = self.plot()
            _save_atomically(fig, png_path)
        except OSError as exc:
            raise type(exc)(f"GradientFlow: cannot write into {folder!r}: {exc.strerror or exc}") from None
        return json_path, png_path

    def plot(self, ax=None, stat: str = "norm", include_bias: bool = False, label: str | None = None):
        """The gradient norm per layer (input on the left), log scale: one line per epoch (the mean over its
        recorded steps), or per recorded step when no epochs were given. Returns the matplotlib Figure."""
        return plot_gradient_flow({label: self} if label else self, ax=ax, stat=stat, include_bias=include_bias)


def load_records(path: str) -> list[dict]:
    """The records a ``gradflow.json`` holds (what ``GradientFlow.save`` wrote); ``ValueError`` naming the
    file when it is not one."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        records = json.loads(data)["records"]
        if not isinstance(records, list) or not all(isinstance(r, dict) and "grads" in r for r in records):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise ValueError(f"{path}: not a gradflow.json written by GradientFlow (damaged?)") from None
    return records


def _over_steps(reduce, values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``np.nanmean`` / ``nanmin`` / ``nanmax`` of each layer over the steps, NaN (no point drawn) without a
    warning for a layer that never had a gradient (a frozen one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return reduce(values, axis=axis)


def _figure(ax, width: float = 8.0):
    if ax is not None:
        return ax.figure, ax
    from matplotlib.figure import Figure  # noqa: PLC0415  (plotting is loaded only when a figure is asked for)
    fig = Figure(figsize=(width, 4.2), layout="constrained")
    return fig, fig.add_subplot()


def _lines(flow: GradientFlow, stat: str, include_bias: bool):
    """(label, values per layer) for each line of one flow: per epoch if epochs were given, else per step."""
    names, values = flow.series(stat, include_bias)
    epochs = [r["epoch"] for r in flow.records]
    if values.size == 0:
        return names, []
    if all(e is not None for e in epochs):
        groups = list(dict.fromkeys(epochs))
        return names, [(f"epoch {e}", _over_steps(np.nanmean, values[[i for i, x in enumerate(epochs) if x == e]]))
                       for e in groups]
    picks = sorted({0, len(values) // 2, len(values) - 1})
    return names, [(f"step {flow.records[i]['step']}", values[i]) for i in picks]


def plot_gradient_flow(flows, ax=None, stat: str = "norm", include_bias: bool = False):
    """The classic figure: a gradient statistic (``"norm"``, ``"mean_abs"``, ``"max_abs"``, ``"ratio"``) per
    layer, log scale. ``flows`` is one ``GradientFlow`` (a line per epoch) or ``{label: GradientFlow}`` to
    compare models (a line each: the mean over the recorded steps, with their min-max band)."""
    fig, ax = _figure(ax)
    cmap = None
    if isinstance(flows, GradientFlow):
        names, lines = _lines(flows, stat, include_bias)
        labels = [flows.layer_label(n) for n in names]
        from matplotlib import colormaps  # noqa: PLC0415  (as in _figure)
        cmap = colormaps["viridis"]
        for k, (text, y) in enumerate(lines):
            ax.plot(range(len(names)), y, "o-", ms=4, color=cmap(k / max(len(lines) - 1, 1)), label=text)
    else:
        if not isinstance(flows, dict) or not all(isinstance(f, GradientFlow) for f in flows.values()):
            raise TypeError("plot_gradient_flow: expected a GradientFlow or a dict {label: GradientFlow}")
        labels = []
        for text, flow in flows.items():
            names, values = flow.series(stat, include_bias)
            if not values.size:
                continue
            labels = labels if len(labels) >= len(names) else [flow.layer_label(n) for n in names]
            x = range(len(names))
            line, = ax.plot(x, _over_steps(np.nanmean, values), "o-", ms=4, label=text)
            if len(values) > 1:
                ax.fill_between(x, _over_steps(np.nanmin, values), _over_steps(np.nanmax, values),
                                color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_yscale("log")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right", fontsize=8)
    ax.set_xlabel("layer (input on the left)")
    names = {"norm": r"$\|\partial L/\partial W\|$", "mean_abs": r"mean $|\partial L/\partial W|$",
             "max_abs": r"max $|\partial L/\partial W|$", "ratio": r"$\|\partial L/\partial W\| / \|W\|$"}
    ax.set_ylabel(names.get(stat, stat))
    ax.set_title("gradient flow: " + {"norm": "gradient norm per layer"}.get(stat, f"{stat} per layer"))
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return fig


def plot_activations(flow: GradientFlow, ax=None, stat: str = "std"):
    """An activation statistic (``"mean"``, ``"std"``, ``"zero_fraction"``, ``"saturated_fraction"``) per leaf
    module, one line per epoch (or per recorded step), input on the left."""
    fig, ax = _figure(ax)
    records = [r for r in flow.records if r["activations"]]
    names = list(dict.fromkeys(n for r in records for n, st in r["activations"].items() if st.get(stat) is not None))
    values = np.array([[r["activations"].get(n, {}).get(stat) for n in names] for r in records],
                      dtype=np.float64).reshape(len(records), len(names))     # None -> NaN
    epochs = [r["epoch"] for r in records]
    lines = []
    if values.size and all(e is not None for e in epochs):
        lines = [(f"epoch {e}", _over_steps(np.nanmean, values[[i for i, x in enumerate(epochs) if x == e]]))
                 for e in dict.fromkeys(epochs)]
    elif values.size:
        lines = [(f"step {records[i]['step']}", values[i]) for i in sorted({0, len(records) // 2, len(records) - 1})]
    for text, y in lines:
        ax.plot(range(len(names)), y, "o-", ms=4, label=text)
    ax.set_xticks(range(len(names)), [f"{n} ({flow.layer_types.get(n, '')})" for n in names], rotation=45,
                  ha="right", fontsize=8)
    ax.set_ylabel(stat.replace("_", " "))
    ax.set_title(f"activations: {stat.replace('_', ' ')} of each layer's output")
    ax.grid(alpha=0.3)
    if lines:
        ax.legend(fontsize=8)
    return fig
