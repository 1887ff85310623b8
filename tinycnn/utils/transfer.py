"""Reusing trained weights: VGG's init-from-a-shallower-net and three transfer-learning modes.

A *layer* here is a weight layer (a module owning a parameter or buffer with two or more dimensions: a conv,
a linear) together with the normalisation layers that follow it (modules whose entries are all 1-D, such as
BatchNorm): ``features.0`` (conv) and ``features.1`` (its BatchNorm) of a ``vgg11_bn`` are one layer named
``features.0``. Layers are taken in state-dict order, which is the order the modules were registered (the
forward order for every model of the zoo, except that GoogLeNet registers its auxiliary heads after 5b).

**Initialising a deeper net from a shallower one** (Simonyan & Zisserman 2014, Section 3.1: train VGG-11,
then start the deeper configurations from its layers). ``init_from(model, source)`` aligns the two layer
sequences by position and shape: it copies the largest set of layers that appear in both, in the same order,
with identical entry shapes (a longest common subsequence; ties go to the earliest target layers), and
leaves every other layer of ``model`` as initialised. The returned ``InitReport`` names each copied pair,
the layers kept and the source layers not used. From ``vgg11`` to ``vgg13`` that copies 8 of the 10 convs
and the 3 fully connected layers; the two convs VGG-13 adds (64->64 and 128->128) keep their fresh init.

**Transfer learning** (the three usual ways, after loading weights with ``load_pretrained``):

1. train all layers from the loaded weights: ``load_pretrained(model, weights, num_classes)``, which
   replaces the last Linear when the class count differs (``replace_head``);
2. train only the last N layers, or named ones: then ``freeze(model, train_last=N)`` or
   ``freeze(model, train_only=["layer4", "fc"])``;
3. keep the whole network, outputs included, and add a new layer on top that alone is trained:
   ``add_head(model, num_classes)`` returns a ``HeadOnTop`` whose ``backbone`` is frozen and stays in eval
   mode.

Frozen BatchNorm layers must also stop updating their running statistics, which ``model.train()`` would
turn back on: call ``freeze_norm_stats(model)`` after each ``model.train()``. Give the optimizer
``trainable_parameters(model)``. ``apply_transfer`` does all of it from command-line-style options.
"""
from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from .. import nn
from ..autograd import Tensor


# ---- layers -------------------------------------------------------------------------------------------------
@dataclass
class Layer:
    """A weight layer and the normalisation layers attached to it: its name (the weight layer's module path),
    the state-dict keys of all of them, and their shapes."""
    name: str
    keys: list = field(default_factory=list)
    shapes: list = field(default_factory=list)
    prefixes: list = field(default_factory=list)

    @property
    def signature(self) -> tuple:
        """What must agree for two layers to match: each entry's own name and shape, in order."""
        return tuple((key.rsplit(".", 1)[-1], shape) for key, shape in zip(self.keys, self.shapes))

    def shape_str(self) -> str:
        return "x".join(str(d) for d in self.shapes[0]) if self.shapes else "-"


def _as_state(source) -> "OrderedDict[str, object]":
    if isinstance(source, nn.Module):
        return source.state_dict()
    if isinstance(source, (str, os.PathLike)):
        return load_weights(source)
    if hasattr(source, "items"):
        return OrderedDict(source.items())
    raise TypeError(f"expected a Module, a state dict or a weights file, got {type(source).__name__}")


def _shape(value) -> tuple:
    return tuple(value.shape) if hasattr(value, "shape") else tuple(np.shape(value))


def layers_of(source) -> list:
    """The layers (see the module docstring) of a model, a state dict or a weights file, in order."""
    state = _as_state(source)
    modules: list = []   # (prefix, [(key, shape)]) runs of consecutive keys of one module
    for key, value in state.items():
        prefix = key.rsplit(".", 1)[0] if "." in key else ""
        if not modules or modules[-1][0] != prefix:
            modules.append((prefix, []))
        modules[-1][1].append((key, _shape(value)))
    layers: list = []
    for prefix, entries in modules:
        weighty = any(len(shape) >= 2 for _, shape in entries)
        if weighty or not layers:
            layers.append(Layer(prefix))
        layer = layers[-1]
        layer.prefixes.append(prefix)
        for key, shape in entries:
            layer.keys.append(key)
            layer.shapes.append(shape)
    return layers


# ---- weights files ------------------------------------------------------------------------------------------
def load_weights(path) -> "OrderedDict[str, np.ndarray]":
    """A state dict from a weights file: ``tinycnn.save``'s ``.npz`` (a state dict, or a training checkpoint
    whose ``"model"`` entry is one), a ``torch.save(model.state_dict())`` ``.pth``/``.pt`` (read without
    torch), or a run folder of ``tinycnn train`` (its ``best.npz``, else ``last.npz``)."""
    from .serialization import CheckpointError, load  # noqa: PLC0415  (only this entry point reads files)
    from .torch_loader import load_torch_state_dict  # noqa: PLC0415
    path = os.fspath(path)
    if os.path.isdir(path):
        for name in ("best.npz", "last.npz"):
            if os.path.exists(os.path.join(path, name)):
                return load_weights(os.path.join(path, name))
        raise CheckpointError(f"{path}: a run folder without best.npz or last.npz (no weights to load)")
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    if path.endswith((".pth", ".pt")):
        return OrderedDict(load_torch_state_dict(path))
    state = load(path, as_tensors=False)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
        raise ValueError(f"load_weights: {path!r} holds no state dict (expected names mapped to arrays)")
    return OrderedDict(state)


# ---- init from a shallower network --------------------------------------------------------------------------
@dataclass
class InitReport:
    """What ``init_from`` did: ``copied`` (target, source, first entry's shape), ``kept`` (target layers left
    as initialised) and ``unused`` (source layers not copied anywhere)."""
    copied: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    unused: list = field(default_factory=list)

    def __str__(self) -> str:
        width = max([len(t) for t, _, _ in self.copied] + [len(k) for k in self.kept] + [6])
        lines = [f"init_from: {len(self.copied)} layers copied, {len(self.kept)} kept, "
                 f"{len(self.unused)} source layers unused"]
        lines += [f"  {t:<{width}} <- {s} ({shape})" for t, s, shape in self.copied]
        lines += [f"  {k:<{width}}    kept (no source layer of this shape at this position)" for k in self.kept]
        lines += [f"  unused source layer {u}" for u in self.unused]
        return "\n".join(lines)


def _align(target: list, source: list, eligible) -> list:
    """Index pairs of a longest common subsequence of the two signature lists (earliest targets first)."""
    n, m = len(target), len(source)
    best = np.zeros((n + 1, m + 1), dtype=np.int64)
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            if eligible[i] and target[i] == source[j]:
                best[i, j] = best[i + 1, j + 1] + 1
            else:
                best[i, j] = max(best[i + 1, j], best[i, j + 1])
    pairs, i, j = [], 0, 0
    while i < n and j < m:
        if eligible[i] and target[i] == source[j] and best[i, j] == best[i + 1, j + 1] + 1:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif best[i + 1, j] >= best[i, j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def init_from(model: nn.Module, source, layers=None) -> InitReport:
    """Copy into ``model`` the layers of ``source`` (a model, a state dict, a weights file or a run folder)
    that match by position and shape (see the module docstring); ``layers`` limits the target layers that may
    be filled (names as in ``layers_of(model)``). Returns the report; ``print(report)`` lists it by name."""
    target_layers = layers_of(model)
    state = _as_state(source)
    source_layers = layers_of(state)
    names = [layer.name for layer in target_layers]
    if layers is not None:
        wanted = set(layers)
        unknown = sorted(wanted - set(names))
        if unknown:
            raise ValueError(f"init_from: no layer named {', '.join(unknown)} in {type(model).__name__}; layers: "
                             f"{', '.join(names)}")
        eligible = [name in wanted for name in names]
    else:
        eligible = [True] * len(names)
    pairs = _align([t.signature for t in target_layers], [s.signature for s in source_layers], eligible)
    update = OrderedDict()
    report = InitReport()
    for i, j in pairs:
        t, s = target_layers[i], source_layers[j]
        for t_key, s_key in zip(t.keys, s.keys):
            value = state[s_key]
            update[t_key] = value.array if isinstance(value, Tensor) else np.asarray(value)
        report.copied.append((t.name, s.name, t.shape_str()))
    used_t, used_s = {i for i, _ in pairs}, {j for _, j in pairs}
    report.kept = [t.name for i, t in enumerate(target_layers) if i not in used_t]
    report.unused = [s.name for j, s in enumerate(source_layers) if j not in used_s]
    model.load_state_dict(update, strict=False)
    return report


# ---- transfer learning --------------------------------------------------------------------------------------
def last_linear(model: nn.Module):
    """(name, module) of the model's last Linear in registration order, or None."""
    last = None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            last = (name, m)
    return last


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    *parents, attr = path.split(".")
    parent = model
    for part in parents:
        parent = getattr(parent, part)
    setattr(parent, attr, module)  # Sequential and ModuleList children are attributes named "0", "1", ...


def aux_heads(model: nn.Module) -> list:
    """(name, Linear) of the last Linear of each auxiliary classifier (GoogLeNet's ``aux1``/``aux2``,
    Inception v3's ``AuxLogits``): the other layers whose width is the class count."""
    heads = []
    for child_name, child in model.named_children():
        if child_name.lower().startswith("aux") and child is not None:
            found = last_linear(child)
            if found is not None:
                heads.append((f"{child_name}.{found[0]}", found[1]))
    return heads


def replace_head(model: nn.Module, num_classes: int) -> str:
    """Swap the model's last ``Linear`` for a fresh ``Linear(in_features, num_classes)`` (same dtype and
    device), and likewise the last Linear of each auxiliary classifier; returns the main head's name."""
    found = last_linear(model)
    if found is None:
        raise ValueError(f"replace_head: {type(model).__name__} has no Linear layer to replace")
    for name, old in [found, *aux_heads(model)]:
        head = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
        head.to(device=old.weight.device, dtype=old.weight.array.dtype)
        _set_submodule(model, name, head)
    return found[0]


def load_pretrained(model: nn.Module, weights, num_classes: int | None = None) -> nn.Module:
    """Mode 1's start: load every weight of ``weights`` (a state dict, a weights file or a run folder) into
    ``model`` (strictly: names and shapes must all agree), then give it a fresh head when ``num_classes``
    differs from the loaded one. Every parameter stays trainable."""
    model.load_state_dict(_as_state(weights))
    if num_classes is not None:
        found = last_linear(model)
        if found is None:
            raise ValueError(f"load_pretrained: {type(model).__name__} has no Linear head for {num_classes} classes")
        if found[1].out_features != num_classes:
            replace_head(model, num_classes)
    return model


def _parameter_layers(model: nn.Module) -> list:
    params = dict(model.named_parameters())
    return [layer for layer in layers_of(model) if any(k in params for k in layer.keys)]


def freeze(model: nn.Module, train_last: int | None = None, train_only=None) -> list:
    """Mode 2: only the last ``train_last`` layers, or only the layers and modules named in ``train_only``,
    stay trainable; every other parameter gets ``requires_grad=False``. A name in ``train_only`` is a layer of
    ``layers_of(model)`` (``"features.0"``: the conv and its BatchNorm) or any module (``"layer4"``, ``"fc"``:
    every parameter under it). Returns the names of the trainable layers."""
    if (train_last is None) == (train_only is None):
        raise ValueError("freeze: give exactly one of train_last (a number of layers) and train_only (names)")
    params = dict(model.named_parameters())
    if train_last is not None:
        layers = _parameter_layers(model)
        if not isinstance(train_last, int) or not 1 <= train_last <= len(layers):
            raise ValueError(f"freeze: train_last must be an integer from 1 to {len(layers)} (the layers of "
                             f"{type(model).__name__}), got {train_last!r}")
        chosen = layers[-train_last:]
        trainable = {k for layer in chosen for k in layer.keys if k in params}
        names = [layer.name for layer in chosen]
    else:
        wanted = [train_only] if isinstance(train_only, str) else list(train_only)
        if not wanted:
            raise ValueError("freeze: train_only must name at least one layer")
        layers = {layer.name: layer for layer in layers_of(model)}
        module_names = {name for name, _ in model.named_modules() if name}
        unknown = [w for w in wanted if w not in layers and w not in module_names and w not in params]
        if unknown:
            known = (f"its layers: {', '.join(layers)}" if len(layers) <= 12 else
                     f"its top-level modules: {', '.join(name for name, _ in model.named_children())}")
            raise ValueError(f"freeze: {type(model).__name__} has no layer named {', '.join(unknown)} ({known})")
        # a layer's name selects its normalisation layers too; any other module path selects what is under it
        prefixes = [p for w in wanted for p in (layers[w].prefixes if w in layers else [w])]
        trainable = {k for k in params if any(k == p or k.startswith(p + ".") for p in prefixes)}
        names = wanted
    for key, p in params.items():
        p.requires_grad_(key in trainable)
    return names


def trainable_parameters(model: nn.Module) -> list:
    """The parameters an optimizer should update (those with ``requires_grad``)."""
    return [p for p in model.parameters() if p.requires_grad]


def freeze_norm_stats(model: nn.Module) -> int:
    """Put every normalisation layer that keeps running statistics and belongs to a frozen layer (no trainable
    parameter) into eval mode, so it normalises with, and no longer updates, its loaded statistics. Call after
    ``model.train()``; returns how many layers were switched."""
    params = dict(model.named_parameters())
    modules = dict(model.named_modules())
    switched = 0
    for layer in layers_of(model):
        if any(params[k].requires_grad for k in layer.keys if k in params):
            continue
        for prefix in layer.prefixes:
            m = modules.get(prefix)
            if m is not None and getattr(m, "running_mean", None) is not None and m.training:
                m.eval()
                switched += 1
    return switched


class HeadOnTop(nn.Module):
    """Mode 3: ``head(backbone(x))`` with the backbone frozen and always in eval mode (dropout off, BatchNorm on
    its loaded statistics), so only ``head`` learns. A backbone that returns auxiliary outputs in training
    (GoogLeNet, Inception v3) is never in training mode here, so it returns its logits."""

    def __init__(self, backbone: nn.Module, head: nn.Module):
        super().__init__()
        self.backbone = backbone
        self.head = head
        backbone.requires_grad_(False)
        backbone.eval()

    def train(self, mode: bool = True) -> "HeadOnTop":
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, x):
        return self.head(self.backbone(x))


def add_head(model: nn.Module, num_classes: int, in_features: int | None = None) -> HeadOnTop:
    """Mode 3: keep ``model`` whole (its classifier too) and put ``Linear(in_features, num_classes)`` on top;
    ``in_features`` defaults to the model's output width (its last Linear's ``out_features``)."""
    if in_features is None:
        found = last_linear(model)
        if found is None:
            raise ValueError(f"add_head: cannot tell {type(model).__name__}'s output width; pass in_features")
        in_features = found[1].out_features
        dtype, device = found[1].weight.array.dtype, found[1].weight.device
    else:
        first = next(iter(model.parameters()), None)
        dtype = first.array.dtype if first is not None else np.float32
        device = first.device if first is not None else "cpu"
    head = nn.Linear(in_features, num_classes)
    head.to(device=device, dtype=dtype)
    return HeadOnTop(model, head)


def apply_transfer(model: nn.Module, *, pretrained=None, init_from_source=None, num_classes: int | None = None,
                   train_last: int | None = None, train_only=None, add_new_head: bool = False):
    """A training run's reuse options in one call: ``init_from_source`` (VGG's trick) or ``pretrained`` with a
    new head for ``num_classes`` (mode 1); then ``train_last`` / ``train_only`` (mode 2), or ``add_new_head``
    (mode 3, which needs ``pretrained`` and ``num_classes``). Returns ``(model, messages)``: the model to train
    (a ``HeadOnTop`` in mode 3) and lines saying what was done, for the run's log."""
    if pretrained is not None and init_from_source is not None:
        raise ValueError("apply_transfer: pretrained (load every layer) and init_from (copy the matching "
                         "layers) exclude each other")
    if add_new_head:
        if pretrained is None or num_classes is None:
            raise ValueError("apply_transfer: add_new_head keeps a pretrained network: give pretrained and "
                             "num_classes")
        if train_last is not None or train_only is not None:
            raise ValueError("apply_transfer: add_new_head trains only the new layer; train_last and "
                             "train_only do not apply")
    messages = []
    if init_from_source is not None:
        messages.append(str(init_from(model, init_from_source)))
    if pretrained is not None:
        if add_new_head:
            load_pretrained(model, pretrained)
            model = add_head(model, num_classes)
            messages.append(f"loaded every layer; training only a new Linear({model.head.in_features}, "
                            f"{model.head.out_features}) on top")
            return model, messages
        old = last_linear(model)
        load_pretrained(model, pretrained, num_classes)
        new = last_linear(model)
        replaced = old is not None and new[1] is not old[1]
        messages.append("loaded every layer" + (f"; new head {new[0]} for {num_classes} classes" if replaced else ""))
    if train_last is not None or train_only is not None:
        names = freeze(model, train_last=train_last, train_only=train_only)
        messages.append(f"training only {', '.join(names)}; every other layer is frozen")
    return model, messages
