"""Finding a layer of a model by name, and running the model up to it.

A layer is named as ``model.named_modules()`` names it (``"features.3"``, ``"3"`` in a flat ``Sequential``)
or by its place among the convolutions: ``"conv1"`` is the first ``Conv2d`` the model registers, ``"conv2"``
the second, and so on (Zeiler & Fergus number their layers by their convolutions). A module whose own name
is ``convK`` (ResNet's ``conv1``) is found by that name first.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import backend
from ...autograd import Tensor
from ..summary import is_kind, leaf_modules, trace_leaf_calls, wrap_forwards


def conv_aliases(model) -> dict:
    """``{"conv1": name of the first Conv2d, "conv2": ...}`` in registration order."""
    convs = [name for name, m in leaf_modules(model) if is_kind(m, "Conv2d")]
    return {f"conv{i}": name for i, name in enumerate(convs, 1)}


def layer_names(model) -> list[str]:
    """Every name ``find_layer`` accepts: the conv aliases, then each leaf module's own name."""
    return list(dict.fromkeys([*conv_aliases(model), *(name for name, _ in leaf_modules(model))]))


def find_layer(model, layer: str, caller: str):
    """``(name, module)`` of ``layer`` (a module name or ``convK``), or a one-line ``ValueError`` that lists
    the names the model has."""
    leaves = dict(leaf_modules(model))
    name = layer if layer in leaves else conv_aliases(model).get(layer, layer)   # a real name wins
    if name in leaves:
        return name, leaves[name]
    raise ValueError(f"{caller}: {type(model).__name__} has no layer {layer!r}; its layers are "
                     f"{', '.join(layer_names(model))}")


def as_batch(image, model) -> Tensor:
    """``image`` (C, H, W) or (N, C, H, W), a Tensor or an array, as an (N, C, H, W) tensor of the model's
    dtype on its device, cut from any graph."""
    array = image.array if isinstance(image, Tensor) else np.asarray(image)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"expected an image (C, H, W) or a batch (N, C, H, W), got shape {tuple(array.shape)}")
    params = list(model.parameters())
    dtype = backend.to_device(params[0].array[:0], "cpu").dtype if params else np.dtype(np.float32)
    array = array.astype(dtype, copy=False)
    device = params[0].device if params else "cpu"
    return Tensor(backend.to_device(array, str(device)))


class _Reached(Exception):
    """Raised inside the forward pass once the wanted layer has run, so the rest of the model is skipped."""


def forward_to(model, x: Tensor, name: str, module) -> Tensor:
    """The output of ``module``'s first call when ``model(x)`` runs; the layers after it do not run."""
    seen = []

    def around(_name, _module, forward, args, kwargs):
        seen.append(forward(*args, **kwargs))
        raise _Reached

    try:
        with wrap_forwards([(name, module)], around):
            model(x)
    except _Reached:
        return seen[0]
    raise ValueError(f"{type(model).__name__}'s forward never calls its layer {name!r}")


@dataclass
class Call:
    """One leaf module's call: its name, the module, its input and its output."""
    name: str
    module: object
    input: Tensor
    output: Tensor


def chain_to(model, x: Tensor, name: str, caller: str) -> list[Call]:
    """The leaf calls of ``model(x)`` from the input to layer ``name``, each taking the previous one's output
    (a ``Sequential``-like stack); a one-line ``ValueError`` where a call takes anything else (a residual
    add, a concatenation of branches, a functional op between layers)."""
    calls: list[Call] = []

    def record(leaf_name, module, inputs, output):
        previous = calls[-1].output if calls else x
        if not inputs or inputs[0] is not previous:
            after = f"the output of {calls[-1].name!r}" if calls else "the image"
            raise ValueError(f"{caller}: {type(model).__name__} is not a plain stack of layers up to {name!r}: "
                             f"layer {leaf_name!r} does not take {after} (a branch, skip connection or functional "
                             f"op is in between); {caller} inverts Sequential-like conv nets (LeNet, AlexNet, "
                             f"ZFNet, VGG)")
        calls.append(Call(leaf_name, module, inputs[0], output))
        if leaf_name == name:
            raise _Reached

    try:
        with trace_leaf_calls(model, record):
            model(x)
    except _Reached:
        pass
    if not calls or calls[-1].name != name:
        raise ValueError(f"{caller}: {type(model).__name__}'s forward never calls its layer {name!r}")
    return calls


def feature_map(output, name: str, caller: str) -> Tensor:
    """``output`` if it is a (N, C, H, W) feature map, else a one-line ``ValueError``."""
    if not isinstance(output, Tensor) or output.ndim != 4:
        shape = tuple(output.shape) if isinstance(output, Tensor) else type(output).__name__
        raise ValueError(f"{caller}: layer {name!r} gives {shape}, not a feature map (N, C, H, W); choose a "
                         f"convolution, activation or pooling layer")
    return output


def strongest(maps: np.ndarray, channel: int | None, top: int):
    """The activations to look at in ``maps`` (N, C, H, W): with ``channel`` None, the ``top`` channels
    whose largest activation (over the batch and the positions) is largest; with ``channel`` K, the ``top``
    images whose largest activation of channel K is largest. Each pick is the single strongest position.
    Returns arrays ``(images, channels, rows, cols, values)``, strongest first."""
    n, c, h, w = maps.shape
    if channel is not None:
        if not 0 <= channel < c:
            raise ValueError(f"channel must be in 0..{c - 1} (the layer has {c} channels), got {channel}")
        flat = maps[:, channel].reshape(n, -1)
        best = flat.argmax(axis=1)
        order = np.argsort(-flat[np.arange(n), best], kind="stable")[:top]
        images, channels, positions = order, np.full(len(order), channel), best[order]
    else:
        per_channel = maps.transpose(1, 0, 2, 3).reshape(c, -1)      # (C, N*H*W)
        best = per_channel.argmax(axis=1)
        channels = np.argsort(-per_channel[np.arange(c), best], kind="stable")[:top]
        images, positions = np.divmod(best[channels], h * w)
    rows, cols = np.divmod(positions, w)
    values = maps[images, channels, rows, cols]
    return images, channels, rows, cols, values


def check_top(top) -> int:
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    return int(top)
