"""More losses of the form sum_i l(x_i, t_i): Smooth L1, Huber and the Kullback-Leibler divergence.

``reduction`` as everywhere ("none", "mean", "sum"; kl_div also "batchmean", PyTorch's mathematically
correct KL: the sum divided by the batch size). The shared helpers live in ``loss.py``.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Function
from ..backend import get_array_module
from .loss import _check_pair, _check_reduction, _grad_scale, _reduce


class SmoothL1Loss(Function):
    r"""d = x - t;  l = d^2 / (2 beta) where |d| < beta, |d| - beta / 2 elsewhere (Girshick, 2015).

    dl/dx = d / beta where |d| < beta, sign(d) elsewhere (continuous at |d| = beta); dl/dt = -dl/dx.
    beta = 0 is the L1 loss.
    """

    def forward(self, x, t, *, beta, reduction):
        xp = get_array_module(x)
        d = x - t
        a = xp.abs(d)
        self.d, self.inner, self.beta, self.reduction = d, a < beta, beta, reduction
        with np.errstate(divide="ignore", invalid="ignore"):     # beta = 0: the quadratic branch is never used
            loss = xp.where(self.inner, 0.5 * d * d / (beta if beta else 1.0), a - 0.5 * beta)
        return _reduce(loss, reduction)

    def backward(self, gy):
        xp = get_array_module(gy)
        d = self.d
        slope = xp.where(self.inner, d / (self.beta if self.beta else 1.0), xp.sign(d))
        g = slope * _grad_scale(gy, d.shape, self.reduction, d.dtype)
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


class HuberLoss(Function):
    r"""d = x - t;  l = d^2 / 2 where |d| < delta, delta (|d| - delta / 2) elsewhere (Huber, 1964).

    dl/dx = d where |d| < delta, delta sign(d) elsewhere; dl/dt = -dl/dx. (Huber = beta * SmoothL1 with
    beta = delta.)
    """

    def forward(self, x, t, *, delta, reduction):
        xp = get_array_module(x)
        d = x - t
        a = xp.abs(d)
        self.d, self.inner, self.delta, self.reduction = d, a < delta, delta, reduction
        return _reduce(xp.where(self.inner, 0.5 * d * d, delta * (a - 0.5 * delta)), reduction)

    def backward(self, gy):
        xp = get_array_module(gy)
        d = self.d
        slope = xp.where(self.inner, d, self.delta * xp.sign(d))
        g = slope * _grad_scale(gy, d.shape, self.reduction, d.dtype)
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


class KLDivLoss(Function):
    r"""l = t (log t - x) on log-probabilities x and probabilities t (0 where t = 0); with ``log_target``
    the target is given as log t: l = e^t (t - x).

    dl/dx = -t  (-e^t);   dl/dt = log t - x + 1  (e^t (t - x + 1) with log_target).
    """

    def forward(self, x, t, *, log_target, reduction):
        xp = get_array_module(x)
        if log_target:
            self.p = xp.exp(t)
            loss = self.p * (t - x)
        else:
            self.p = t
            with np.errstate(divide="ignore", invalid="ignore"):
                log_t = xp.where(t > 0, xp.log(xp.where(t > 0, t, 1)), 0)
            self.log_t = log_t
            loss = xp.where(t > 0, t * (log_t - x), 0 * x)
        self.x, self.t, self.log_target = x, t, log_target
        self.reduction = reduction
        if reduction == "batchmean":
            self.n = x.shape[0] if x.ndim else 1
            return loss.sum() / self.n
        return _reduce(loss, reduction)

    def backward(self, gy):
        xp = get_array_module(gy)
        x, t = self.x, self.t
        if self.reduction == "batchmean":
            scale = xp.broadcast_to(gy / self.n, x.shape).astype(x.dtype, copy=False)
        else:
            scale = _grad_scale(gy, x.shape, self.reduction, x.dtype)
        gx = -self.p * scale if self.needs_input_grad[0] else None
        gt = None
        if self.needs_input_grad[1]:
            gt = (self.p * (t - x + 1) if self.log_target else self.log_t - x + 1) * scale
        return gx, gt


def _non_negative(value, what, name):
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name}: {what} must be a non-negative number, got {value!r}")
    return float(value)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean", beta: float = 1.0):
    _check_reduction(reduction, "smooth_l1_loss")
    target = _check_pair(input, target, "smooth_l1_loss")
    return SmoothL1Loss.apply(input, target, beta=_non_negative(beta, "beta", "smooth_l1_loss"),
                              reduction=reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    _check_reduction(reduction, "huber_loss")
    target = _check_pair(input, target, "huber_loss")
    delta = _non_negative(delta, "delta", "huber_loss")
    if delta == 0:
        raise ValueError("huber_loss: delta must be positive, got 0.0")
    if weight is not None:
        raise ValueError("huber_loss: weight= is not supported")
    return HuberLoss.apply(input, target, delta=delta, reduction=reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean", log_target: bool = False):
    """PyTorch's ``F.kl_div``: input holds log-probabilities (e.g. log_softmax), target probabilities (or
    log-probabilities with ``log_target``). ``reduction="batchmean"`` gives the KL divergence per sample."""
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"kl_div: reduction must be one of ('none', 'batchmean', 'mean', 'sum'), got "
                         f"{reduction!r}")
    target = _check_pair(input, target, "kl_div")
    return KLDivLoss.apply(input, target, log_target=bool(log_target), reduction=reduction)
