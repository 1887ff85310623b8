"""Pictures made from the gradient of one output with respect to the input pixels.

* ``saliency``: Simonyan, Vedaldi & Zisserman (2014), "Deep Inside Convolutional Networks: Visualising Image
  Classification Models and Saliency Maps", ICLR workshop, Section 3.1. The class score S_c (the
  unnormalised output, before the softmax) is linearised around the image I0, S_c(I) ~ w^T I + b with
  w = dS_c/dI at I0, and the map is M_ij = max_c |w_(c,i,j)|: the largest magnitude over the colour channels.
* ``guided_backprop``: Springenberg, Dosovitskiy, Brox & Riedmiller (2015), "Striving for Simplicity: The All
  Convolutional Net", ICLR workshop, Section 3.4. The gradient of the chosen output with respect to the
  image, except that each ReLU passes back only what is positive both in its forward input and in the
  gradient arriving from above: R_l = (f_l > 0) * (R_(l+1) > 0) * R_(l+1), where plain backpropagation has
  (f_l > 0) * R_(l+1) and the deconvnet (R_(l+1) > 0) * R_(l+1).
"""
from __future__ import annotations

import contextlib

import numpy as np

from ...autograd import Tensor
from ...ops.elementwise import clamp
from ..summary import eval_mode, is_kind
from .layers import as_batch, feature_map, find_layer, forward_to, strongest


@contextlib.contextmanager
def _frozen(model):
    """Within the block no parameter requires grad, so a backward pass leaves every ``.grad`` as it was."""
    flags = [(p, p.requires_grad) for p in model.parameters()]
    for p, _ in flags:
        p.requires_grad = False
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad = flag


def _guided_relu(module, grad_input, grad_output):
    return tuple(None if g is None else clamp(g, min=0) for g in grad_input)


@contextlib.contextmanager
def _guided(model, skip):
    relus = [m for m in model.modules() if is_kind(m, "ReLU") and m is not skip]
    if not relus and not is_kind(skip, "ReLU"):
        raise ValueError(f"guided_backprop: {type(model).__name__} has no ReLU layer (nn.ReLU modules) to guide")
    handles = [m.register_full_backward_hook(_guided_relu) for m in relus]
    try:
        yield
    finally:
        for h in handles:
            h.remove()


def _one_image(image, model, caller: str) -> Tensor:
    x = as_batch(image, model)
    if x.shape[0] != 1:
        raise ValueError(f"{caller}: expected one image (C, H, W) or a batch of one, got a batch of {x.shape[0]}")
    return x.requires_grad_()


def _class_score(model, x: Tensor, target, caller: str) -> Tensor:
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out           # GoogLeNet/Inception in train mode
    if not isinstance(out, Tensor) or out.ndim != 2:
        raise ValueError(f"{caller}: expected the model to give class scores (1, classes), got "
                         f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}")
    classes = out.shape[1]
    target = int(np.argmax(out.numpy()[0])) if target is None else target
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)) or not 0 <= target < classes:
        raise ValueError(f"{caller}: target must be a class in 0..{classes - 1}, got {target!r}")
    return out[0, int(target)]


def _input_gradient(x: Tensor, score: Tensor) -> np.ndarray:
    score.backward()
    return x.grad.numpy()[0] if isinstance(x.grad, Tensor) else np.asarray(x.grad)[0]


def saliency(model, image, target: int | None = None) -> np.ndarray:
    """Simonyan et al.'s class saliency map (2014, Section 3.1; the module docstring gives the rule): for one
    image (C, H, W), the (H, W) map max over channels of |d score_target / d pixel|. ``target`` is a class
    index (default: the class the model predicts). The model runs in eval mode; its gradients are untouched.
    """
    x = _one_image(image, model, "saliency")
    with eval_mode(model), _frozen(model):
        grad = _input_gradient(x, _class_score(model, x, target, "saliency"))
    return np.abs(grad).max(axis=0)


def guided_backprop(model, image, target: int | None = None, *, layer: str | None = None,
                    channel: int | None = None) -> np.ndarray:
    """Springenberg et al.'s guided backpropagation (2015, Section 3.4; the module docstring gives the rule):
    the (C, H, W) gradient of one output with respect to the image (C, H, W), each ReLU passing back only
    positive signal.

    Without ``layer``, the output is the score of class ``target`` (default: the predicted class). With
    ``layer`` (a module name or ``"convK"``), it is the strongest activation of ``channel`` in that layer
    (default: the channel whose strongest activation is largest), the activation ``deconvnet`` projects.
    The model runs in eval mode (and only up to ``layer``); its gradients are untouched. Every ``nn.ReLU``
    module is guided; a ReLU applied as a function in a model's ``forward`` is not.
    """
    x = _one_image(image, model, "guided_backprop")
    if layer is None:
        if channel is not None:
            raise ValueError("guided_backprop: channel needs a layer")
        with eval_mode(model), _frozen(model), _guided(model, None):
            return _input_gradient(x, _class_score(model, x, target, "guided_backprop"))
    if target is not None:
        raise ValueError("guided_backprop: give a class target or a layer, not both")
    name, module = find_layer(model, layer, "guided_backprop")
    # The chosen layer's own ReLU is not hooked: the forward stops inside it, and the single positive
    # activation it sends back passes a ReLU unchanged either way.
    with eval_mode(model), _frozen(model), _guided(model, module):
        maps = feature_map(forward_to(model, x, name, module), name, "guided_backprop")
        _, channels, rows, cols, _ = strongest(maps.numpy(), channel, 1)
        return _input_gradient(x, maps[0, int(channels[0]), int(rows[0]), int(cols[0])])
