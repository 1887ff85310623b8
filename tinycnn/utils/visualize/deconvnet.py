"""Zeiler & Fergus's deconvnet: a feature map of a conv net projected back to pixel space.

Zeiler, M. D. & Fergus, R. (2014), "Visualizing and Understanding Convolutional Networks", ECCV, Section 2.1.
To see what excites one activation, every other activation of its layer is set to zero and the result is
passed down through a "deconvnet" attached to the layers below, which undoes each layer in turn:

* max pooling -> unpooling: each value goes back to the position the pooling took its maximum from (the
  "switches" recorded on the forward pass), every other position of the window gets 0 (values of
  overlapping windows that share a maximum add up, which makes unpooling the transpose of pooling);
* ReLU -> ReLU: the reconstruction is rectified, so that it stays a valid (non-negative) feature map;
* convolution -> transposed convolution with the same filters (flipped, as the gradient with respect to the
  input applies them), without the bias.

The paper's contrast normalisation is passed through unchanged, as in its reconstructions; so are the other
layers that only rescale a feature map in eval mode (local response norm, batch norm, dropout, identity).
Anything else (average pooling, a sigmoid, a residual add) has no deconvnet counterpart and is refused.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ... import backend
from ...autograd import Tensor, no_grad
from ...ops.activation import relu
from ...ops.conv_transpose import conv_transpose2d
from ...ops._sizes import _pair, conv_transpose_output_size
from ...ops.pooling import max_pool2d
from ..receptive_field import START, advance, layer_window
from ..summary import eval_mode, is_kind
from .layers import as_batch, chain_to, check_top, feature_map, find_layer, strongest

INVERTED = ("Conv2d", "ReLU", "MaxPool2d")
PASSED = ("LocalResponseNorm", "BatchNorm2d", "Dropout", "Dropout2d", "Identity")


@dataclass
class Projections:
    """What ``deconvnet`` returns, one entry per projected activation, strongest first.

    ``images`` (k, C, H, W): the projections in pixel space (same shape as the input images);
    ``indices``: which input image each activation is in; ``channels``; ``positions`` (k, 2): its (row,
    column) in the feature map; ``activations``: its value; ``boxes`` (k, 4): the input window it sees
    (its receptive field) as (top, left, bottom, right), bottom and right exclusive, clipped to the image.
    """
    layer: str
    images: np.ndarray
    indices: np.ndarray
    channels: np.ndarray
    positions: np.ndarray
    activations: np.ndarray
    boxes: np.ndarray

    def __len__(self) -> int:
        return len(self.images)


def _conv_padding(conv):
    padding = conv.padding
    if padding == "valid":
        return (0, 0)
    if padding == "same":
        kernel, dilation = _pair(conv.kernel_size, "kernel_size"), _pair(conv.dilation, "dilation")
        k = [d * (size - 1) for size, d in zip(kernel, dilation)]
        if any(e % 2 for e in k):
            raise ValueError("deconvnet: cannot undo a padding='same' convolution with an even kernel "
                             "(its padding is not symmetric)")
        return tuple(e // 2 for e in k)
    return _pair(padding, "padding", allow_zero=True)


def _check_invertible(calls, layer: str) -> None:
    for call in calls:
        kind = type(call.module).__name__
        if any(is_kind(call.module, k) for k in INVERTED + PASSED):
            if is_kind(call.module, "Conv2d") and getattr(call.module, "padding_mode", "zeros") != "zeros":
                raise ValueError(f"deconvnet: cannot undo layer {call.name!r} ({kind} with padding_mode="
                                 f"{call.module.padding_mode!r}); only zero padding")
            continue
        raise ValueError(f"deconvnet: cannot undo layer {call.name!r} ({kind}) on the way down from {layer!r}; "
                         f"the deconvnet undoes {', '.join(INVERTED)} and passes {', '.join(PASSED)}")


def _unpool(signal: Tensor, switches: Tensor, size: tuple) -> Tensor:
    """Each value of ``signal`` (N, C, h, w) added at its switch in an (N, C, *size) map of zeros. Where
    overlapping windows (ZFNet's and AlexNet's 3x3 stride-2 pooling) share a maximum, their values add up,
    as in max pooling's gradient (``F.max_unpool2d`` would keep only one of them)."""
    values, where = signal.numpy(), switches.numpy()
    n, c = values.shape[:2]
    out = np.zeros((n, c, size[0] * size[1]), dtype=values.dtype)
    planes = np.arange(n * c).reshape(n, c, 1, 1)
    np.add.at(out.reshape(n * c, -1), (np.broadcast_to(planes, where.shape), where), values)
    return Tensor(backend.to_device(out.reshape(n, c, *size), str(signal.device)))


def _undo(call, signal: Tensor, images: np.ndarray) -> Tensor:
    """One layer of the deconvnet: ``signal`` has the shape of ``call``'s output (for the chosen images)."""
    m, size = call.module, tuple(call.input.shape[-2:])
    if is_kind(m, "MaxPool2d"):
        x = Tensor(call.input.array[images])
        _, switches = max_pool2d(x, m.kernel_size, m.stride, m.padding, m.dilation, m.ceil_mode,
                                 return_indices=True)
        return _unpool(signal, switches, size)
    if is_kind(m, "ReLU"):
        return relu(signal)
    if is_kind(m, "Conv2d"):
        stride, dilation, padding = _pair(m.stride, "stride"), _pair(m.dilation, "dilation"), _conv_padding(m)
        kernel = tuple(m.weight.shape[-2:])
        natural = [conv_transpose_output_size(o, k, s, p, d)
                   for o, s, p, d, k in zip(signal.shape[-2:], stride, padding, dilation, kernel)]
        extra = tuple(want - got for want, got in zip(size, natural))
        return conv_transpose2d(signal, m.weight.detach(), None, stride, padding, extra, m.groups, dilation)
    return signal          # a layer that only rescales in eval mode (PASSED)


def _boxes(calls, input_hw, rows, cols) -> np.ndarray:
    """The receptive field of each picked position, in input pixels (``utils.receptive_field``'s recursion
    along the recorded layers)."""
    rf, jump, start = START
    for call in calls:
        window = layer_window(call.module, tuple(call.input.shape[-2:]))
        if window is not None:
            rf, jump, start = advance((rf, jump, start), window)
    height, width = input_hw
    top = np.floor(start[0] + rows * jump[0] - (rf[0] - 1) / 2).astype(int)
    left = np.floor(start[1] + cols * jump[1] - (rf[1] - 1) / 2).astype(int)
    return np.stack([np.clip(top, 0, height), np.clip(left, 0, width),
                     np.clip(top + rf[0], 0, height), np.clip(left + rf[1], 0, width)], axis=1)


def deconvnet(model, image, layer: str, channel: int | None = None, top: int = 9) -> Projections:
    """Project the strongest activations of ``layer`` back to pixel space with Zeiler & Fergus's deconvnet
    (2014, Section 2.1; the module docstring gives the rule).

    ``image``: one image (C, H, W) or a batch (N, C, H, W), preprocessed as the model expects. ``layer``:
    a module name (``"features.0"``) or ``"convK"``, the K-th convolution. With ``channel`` None, the
    ``top`` channels whose strongest activation is largest are projected, each from that one activation;
    with ``channel`` K, the strongest activation of channel K in each image, for the ``top`` images where
    it is largest (the paper's Figure 2 shows the top 9 over the validation set). Each projection starts
    from a feature map holding that single activation and zeros. The model runs in eval mode and only up
    to ``layer``; its weights and gradients are untouched.
    """
    top = check_top(top)
    name, _ = find_layer(model, layer, "deconvnet")
    x = as_batch(image, model)
    with eval_mode(model), no_grad():
        calls = chain_to(model, x, name, "deconvnet")
        maps = backend.to_device(feature_map(calls[-1].output, name, "deconvnet").array, "cpu")
        _check_invertible(calls, layer if layer == name else f"{layer} ({name})")
        images, channels, rows, cols, values = strongest(maps, channel, top)
        xp = backend.get_array_module(calls[-1].output.array)
        seed = xp.zeros((len(images), *maps.shape[1:]), dtype=maps.dtype)
        seed[tuple(xp.asarray(i) for i in (np.arange(len(images)), channels, rows, cols))] = xp.asarray(values)
        signal = Tensor(seed)
        for call in reversed(calls):
            signal = _undo(call, signal, images)
    return Projections(layer=name, images=signal.numpy(), indices=images, channels=channels,
                       positions=np.stack([rows, cols], axis=1), activations=values,
                       boxes=_boxes(calls, tuple(x.shape[-2:]), rows, cols))
