"""Normalisation with each sample's own statistics: layer norm, group norm and instance norm.

Batch norm (``normalization.py``) takes its statistics per channel across the batch; these take them
inside each sample, so they behave the same in training and evaluation and work at batch size 1. All three
are one op on a (M, D) view of the input -- normalise every row -- followed by a learnable affine map:

    layer_norm    x (*, D1..Dk), normalized_shape (D1..Dk):  rows = the last k axes   (M = prod(*))
    group_norm    x (N, C, *), G groups:                     rows = (N, G), D = C/G * prod(*)
    instance_norm x (N, C, *):                               rows = (N, C), D = prod(*)

(row-major order makes each of these a plain reshape). The affine map is composed from the broadcasting
ops, whose gradients sum over the broadcast axes: layer norm's weight has the normalised shape, group and
instance norm's have one value per channel.
"""
from __future__ import annotations

import numbers

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ._sizes import shape_str
from .normalization import batch_norm


class RowNorm(Function):
    r"""xhat = (x - mu) * s on each row of the (M, D) view, mu = mean, s = 1/sqrt(var + eps), var biased (1/D).

    Backward, per row (i, j index its D values), the same algebra as batch norm's with the row in place of
    the channel: xhat_i depends on x_j directly and through mu and s, with dmu/dx_j = 1/D and
    ds/dx_j = -s^3 (x_j - mu)/D = -s^2 xhat_j / D, so
        dxhat_i/dx_j = s (delta_ij - 1/D) - s xhat_i xhat_j / D
    and with g = dL/dxhat,
        dL/dx_j = s (g_j - mean_i g_i - xhat_j mean_i (g_i xhat_i))                      (M, D)
    """

    def forward(self, x, *, rows, eps):
        xp = get_array_module(x)
        x2 = x.reshape(rows, -1)
        mean = x2.mean(axis=1, keepdims=True)
        xc = x2 - mean
        var = (xc * xc).mean(axis=1, keepdims=True)
        self.s = 1.0 / xp.sqrt(var + eps)
        self.xhat = xc * self.s
        return self.xhat.reshape(x.shape)

    def backward(self, gy):
        g = gy.reshape(self.xhat.shape)
        xhat = self.xhat
        gx = self.s * (g - g.mean(axis=1, keepdims=True) - xhat * (g * xhat).mean(axis=1, keepdims=True))
        return gx.reshape(gy.shape)


def _check(input, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor as input, got {type(input).__name__}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got dtype {input.dtype}")


def _check_param(t, shape, what, name, input):
    if t is None:
        return
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected {what} of shape {shape_str(shape)}, got {shape_str(t.shape)}")
    if t.dtype != input.dtype:
        raise TypeError(f"{name}: input dtype {input.dtype} differs from the {what}'s {t.dtype} "
                        f"(convert one with .to(dtype) / .float() / .double())")


def _channel_affine(y, weight, bias):
    """y * w[c] + b[c] over the channel axis 1 of (N, C, *)."""
    shape = (1, y.shape[1]) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5, *, _layer=None):
    """PyTorch's ``F.layer_norm``: normalise over the last ``len(normalized_shape)`` axes, then
    y * weight + bias (both of ``normalized_shape``)."""
    name = _layer or "layer_norm"
    _check(input, name)
    shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"{name}: given normalized_shape={list(shape)}, expected input with shape "
                         f"[*, {', '.join(str(s) for s in shape)}], but got input of size {list(input.shape)}")
    _check_param(weight, shape, "weight", name, input)
    _check_param(bias, shape, "bias", name, input)
    rows = 1
    for s in input.shape[:input.ndim - k]:
        rows *= s
    y = RowNorm.apply(input, rows=rows, eps=float(eps))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5, *, _layer=None):
    """PyTorch's ``F.group_norm``: split the C channels of (N, C, *) into ``num_groups`` groups, normalise each
    group of each sample, then y * weight[c] + bias[c]."""
    name = _layer or "group_norm"
    _check(input, name)
    if input.ndim < 2:
        raise ValueError(f"{name}: expected an input of at least 2 dimensions (N, C, *), got input of shape "
                         f"{shape_str(input.shape)}")
    if not isinstance(num_groups, numbers.Integral) or isinstance(num_groups, bool) or num_groups < 1:
        raise ValueError(f"{name}: num_groups must be a positive int, got {num_groups!r}")
    c = input.shape[1]
    if c % num_groups:
        raise ValueError(f"{name}: expected number of channels in input to be divisible by num_groups, but got "
                         f"input of shape {shape_str(input.shape)} and num_groups={num_groups}")
    _check_param(weight, (c,), "weight", name, input)
    _check_param(bias, (c,), "bias", name, input)
    y = RowNorm.apply(input, rows=input.shape[0] * int(num_groups), eps=float(eps))
    return _channel_affine(y, weight, bias)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5, *, _layer=None):
    """PyTorch's ``F.instance_norm``: normalise every channel of every sample of (N, C, *) over its own values.

    With ``use_input_stats`` (training, or no running statistics) each (n, c) plane uses its own mean and
    biased variance; ``running_mean``/``running_var``, when given, then move by ``momentum`` towards the
    batch average of the planes' means and unbiased variances (PyTorch's rule). Without it the running
    statistics are used, as batch norm does in evaluation.
    """
    name = _layer or "instance_norm"
    _check(input, name)
    if input.ndim < 3:
        raise ValueError(f"{name}: expected an input of at least 3 dimensions (N, C, *), got input of shape "
                         f"{shape_str(input.shape)}")
    n, c = input.shape[:2]
    for what, t in (("weight", weight), ("bias", bias)):
        _check_param(t, (c,), what, name, input)
    for what, t in (("running_mean", running_mean), ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (c,):
            raise ValueError(f"{name}: expected {what} of shape ({c},), got {shape_str(t.shape)}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{name}: expected running_mean and running_var to be defined when "
                             f"use_input_stats is False")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps, _layer=name)
    plane = 1
    for s in input.shape[2:]:
        plane *= s
    if plane <= 1:
        raise ValueError(f"{name}: expected more than 1 spatial element when training, got input size "
                         f"{shape_str(input.shape)}")
    if running_mean is not None or running_var is not None:
        _update_running(input.array.reshape(n, c, -1), running_mean, running_var, float(momentum))
    y = RowNorm.apply(input, rows=n * c, eps=float(eps))
    return _channel_affine(y, weight, bias)


def _update_running(x3, running_mean, running_var, momentum):
    """running = (1 - m) running + m * (the planes' statistic averaged over the batch), in place."""
    mean = x3.mean(axis=2)                                   # (N, C)
    if running_mean is not None:
        rm = running_mean.array
        rm *= 1.0 - momentum
        rm += momentum * mean.mean(axis=0).astype(rm.dtype, copy=False)
    if running_var is not None:
        var = x3.var(axis=2, ddof=1)                         # unbiased, per plane
        rv = running_var.array
        rv *= 1.0 - momentum
        rv += momentum * var.mean(axis=0).astype(rv.dtype, copy=False)
