"""Loss functions with PyTorch's exact semantics: cross-entropy (fused with softmax; class indices or class
probabilities as targets), NLL, MSE, L1, BCE.

``reduction`` is "none" (one loss per element/sample), "mean" or "sum" everywhere. For the class losses
"mean" is a *weighted* mean over the samples that are not ignored:

    loss = sum_i l_i / sum_{i: y_i != ignore_index} w_{y_i}      (w = 1 without class weights)

so the gradient of every element carries the same 1/D factor. Class weights and BCE weights are constants
(PyTorch does not differentiate through them either).
"""
from __future__ import annotations

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import IndexOutOfRangeError, ShapeError
from .activation import _stable_sigmoid, log_softmax_array

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction, name):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    total = loss.sum()
    return total / loss.size if reduction == "mean" else total


def _grad_scale(gy, shape, reduction, dtype):
    """The upstream gradient broadcast to every element: gy itself ('none'), gy ('sum'), gy / n ('mean')."""
    xp = get_array_module(gy)
    if reduction == "none":
        return gy
    n = int(np.prod(shape)) if reduction == "mean" else 1
    return xp.broadcast_to(gy / n, shape).astype(dtype, copy=False)


def _softplus(z):
    """log(1 + e^z), overflow-free: max(z, 0) + log1p(e^-|z|)."""
    xp = get_array_module(z)
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


# ---- class-index losses -----------------------------------------------------------------------------------
def _to_rows(x):
    """(N, C, d1, ..., dk) -> (N*d1*...*dk, C) (class axis last, the rest flattened); (C,) -> (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim > 2:
        x = get_array_module(x).moveaxis(x, 1, -1)
    return x.reshape(-1, x.shape[-1])


def _from_rows(g, shape):
    """The inverse of ``_to_rows``: a (M, C) gradient back to the input's shape."""
    if len(shape) <= 2:
        return g.reshape(shape)
    moved = g.reshape((shape[0],) + tuple(shape[2:]) + (shape[1],))
    return get_array_module(g).moveaxis(moved, -1, 1)


class CrossEntropy(Function):
    """Fused log-softmax + negative log-likelihood on logits z and class indices y.

    Shapes: z (N, C) or (N, C, d1, ..., dk) or (C,); it is viewed as M rows of C logits (class axis last),
    y as M indices. With p = softmax(z) per row, label smoothing eps and class weights w, the target
    distribution of row i is
        q_ic = (1 - eps) w_{y_i} [c = y_i] + (eps / C) w_c          (w = 1 without weights)
    and l_i = -sum_c q_ic log p_ic (0 for an ignored row). Since d log p_ik / dz_ic = [k = c] - p_ic,
        dl_i/dz_ic = -sum_k q_ik ([k = c] - p_ic) = p_ic S_i - q_ic,   S_i = sum_k q_ik,
    which without weights (S_i = 1) is the classic p - onehot(y). The reduced loss divides by D (module
    docstring), and so does the gradient. Fusing saves the softmax's C x C Jacobian and is stable:
    log p = z - max z - log sum e^(z - max z) never overflows.
    """

    def forward(self, z, *, target, weight, ignore_index, reduction, label_smoothing, out_shape):
        xp = get_array_module(z)
        z2 = _to_rows(z)
        m, c = z2.shape
        logp = log_softmax_array(z2, 1)
        valid = target != ignore_index
        safe_y = xp.where(valid, target, 0)
        w_y = weight[safe_y] * valid if weight is not None else valid.astype(z.dtype)
        q = xp.zeros_like(z2)
        q[xp.arange(m), safe_y] = (1 - label_smoothing) * w_y
        if label_smoothing:
            wc = weight if weight is not None else xp.ones(c, dtype=z.dtype)
            q += (label_smoothing / c) * wc[None, :] * valid[:, None]
        loss = -(q * logp).sum(axis=1)
        self.logp, self.q, self.reduction, self.shape = logp, q, reduction, z.shape
        return _class_reduce(self, loss, w_y, reduction, out_shape)

    def backward(self, gy):
        xp = get_array_module(gy)
        g = xp.exp(self.logp) * self.q.sum(axis=1, keepdims=True) - self.q
        return _from_rows(g * _class_scale(self, gy), self.shape)


class NLLLoss(Function):
    """l_i = -w_{y_i} x_{i, y_i} on log-probabilities x (rows as in ``CrossEntropy``) and indices y.

    dl_i/dx_ic = -w_{y_i} [c = y_i] (0 for ignored rows); the 'mean' gradient divides by D.
    """

    def forward(self, x, *, target, weight, ignore_index, reduction, out_shape):
        xp = get_array_module(x)
        x2 = _to_rows(x)
        valid = target != ignore_index
        safe_y = xp.where(valid, target, 0)
        rows = xp.arange(x2.shape[0])
        w_y = (weight[safe_y] * valid if weight is not None else valid).astype(x.dtype)
        loss = -x2[rows, safe_y] * w_y
        self.rows2, self.cols, self.w_y = x2.shape, safe_y, w_y
        self.reduction, self.shape = reduction, x.shape
        return _class_reduce(self, loss, w_y, reduction, out_shape)

    def backward(self, gy):
        xp = get_array_module(gy)
        g = xp.zeros(self.rows2, dtype=self.w_y.dtype)
        scale = _class_scale(self, gy)
        g[xp.arange(self.rows2[0]), self.cols] = -self.w_y * (scale[:, 0] if scale.ndim else scale)
        return _from_rows(g, self.shape)


class SoftCrossEntropy(Function):
    r"""Cross-entropy against class probabilities q (soft labels, mixup, distillation): logits z and q of the
    same shape, rows as in ``CrossEntropy``. With label smoothing eps and class weights w (1 without),
        qs_ic = (1 - eps) q_ic + eps / C,     l_i = -sum_c w_c qs_ic log p_ic,     p = softmax(z_i)
    As for index targets, d log p_ik / dz_ic = [k = c] - p_ic, so with r_ic = w_c qs_ic and S_i = sum_c r_ic
        dl_i/dz_ic = p_ic S_i - r_ic,        dl_i/dq_ic = -(1 - eps) w_c log p_ic
    'mean' divides by the number of rows M (not by a weight sum, unlike index targets: PyTorch's rule).
    """

    def forward(self, z, q, *, weight, reduction, label_smoothing, out_shape):
        xp = get_array_module(z)
        z2, q2 = _to_rows(z), _to_rows(q)
        c = z2.shape[1]
        logp = log_softmax_array(z2, 1)
        qs = q2 * (1 - label_smoothing) + label_smoothing / c if label_smoothing else q2
        w = weight[None, :] if weight is not None else xp.ones((1, c), dtype=z.dtype)
        r = w * qs
        loss = -(r * logp).sum(axis=1)
        self.logp, self.r, self.w, self.eps = logp, r, w, label_smoothing
        self.reduction, self.shape, self.m = reduction, z.shape, z2.shape[0]
        if reduction == "none":
            return loss.reshape(out_shape)
        return loss.sum() if reduction == "sum" else (loss.sum() / self.m).astype(loss.dtype)

    def backward(self, gy):
        xp = get_array_module(gy)
        if self.reduction == "none":
            scale = gy.reshape(-1, 1)
        else:
            scale = gy / self.m if self.reduction == "mean" else gy
        gz = gq = None
        if self.needs_input_grad[0]:
            gz = _from_rows((xp.exp(self.logp) * self.r.sum(axis=1, keepdims=True) - self.r) * scale, self.shape)
        if self.needs_input_grad[1]:
            gq = _from_rows(-(1 - self.eps) * self.w * self.logp * scale, self.shape)
        return gz, gq


def _class_reduce(fn, loss, w_y, reduction, out_shape):
    """Reduce per-row losses; 'mean' divides by D = sum of the non-ignored rows' class weights."""
    fn.denominator = w_y.sum()
    if reduction == "none":
        return loss.reshape(out_shape)
    if reduction == "sum":
        return loss.sum()
    with np.errstate(invalid="ignore", divide="ignore"):   # every row ignored: 0/0 = nan, as PyTorch
        return (loss.sum() / fn.denominator).astype(loss.dtype)


def _class_scale(fn, gy):
    """The factor each row's gradient is multiplied by: gy per row ('none', as a column), gy, or gy / D."""
    if fn.reduction == "none":
        return gy.reshape(-1, 1)
    return gy / fn.denominator if fn.reduction == "mean" else gy


def _class_target(input, target, weight, ignore_index, name):
    """Check input, target and weight; return (target as M int64 indices, weight array or None, loss shape).

    Accepted: input (N, C) with target (N,); input (N, C, d1, ..., dk) with target (N, d1, ..., dk); an
    unbatched input (C,) with a 0-d target.
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor as input, got {type(input).__name__}")
    xp = get_array_module(input.array)
    tgt = target.array if isinstance(target, Tensor) else target
    if not hasattr(tgt, "dtype"):
        tgt = np.asarray(tgt)
    if tgt.dtype.kind not in "iu":
        hint = ""
        if tgt.dtype.kind == "f":
            hint = (f" (class probabilities must have the input's shape {tuple(input.shape)}; for 0/1 float "
                    f"targets use binary_cross_entropy_with_logits)" if name == "cross_entropy" else
                    " (for 0/1 float targets use binary_cross_entropy_with_logits)")
        raise ValueError(f"{name}: expected target to hold class indices (an integer tensor such as int64), "
                         f"got a {tgt.dtype} tensor of shape {tuple(tgt.shape)}{hint}")
    shape = tuple(input.shape)
    if input.ndim == 0:
        raise ValueError(f"{name}: expected input of shape (N, C), (N, C, d1, ...) or (C,), got a 0-d tensor")
    expected, c = ((), shape[0]) if input.ndim == 1 else ((shape[0],) + shape[2:], shape[1])
    if tuple(tgt.shape) != expected:
        raise ShapeError(f"{name}: expected target of shape {expected} for input of shape {shape}, "
                         f"got target of shape {tuple(tgt.shape)}")
    tgt = xp.asarray(tgt).astype(np.int64, copy=False).reshape(-1)
    bad = (tgt != ignore_index) & ((tgt < 0) | (tgt >= c))
    if bool(bad.any()):
        raise IndexOutOfRangeError(f"{name}: class index out of range: expected targets in [0, {c - 1}] (or "
                         f"ignore_index={ignore_index}) for input with {c} classes, got {int(tgt[bad][0])}")
    w = None
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else xp.asarray(weight)
        if tuple(w.shape) != (c,):
            raise ValueError(f"{name}: expected weight of shape ({c},) (one per class), got shape "
                             f"{tuple(w.shape)}")
        w = w.astype(input.dtype, copy=False)
    return tgt, w, expected


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0):
    """Softmax + negative log-likelihood on logits ``input`` (N, C) / (N, C, d1...) / (C,) and a ``target``
    of class indices (``CrossEntropy``) or of class probabilities with the input's shape (``SoftCrossEntropy``;
    ``ignore_index`` does not apply to those)."""
    _check_reduction(reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    if (isinstance(target, Tensor) and isinstance(input, Tensor) and target.dtype.kind == "f"
            and tuple(target.shape) == tuple(input.shape) and input.ndim >= 1):
        return _soft_cross_entropy(input, target, weight, reduction, float(label_smoothing))
    tgt, w, out_shape = _class_target(input, target, weight, ignore_index, "cross_entropy")
    return CrossEntropy.apply(input, target=tgt, weight=w, ignore_index=ignore_index, reduction=reduction,
                              label_smoothing=float(label_smoothing), out_shape=out_shape)


def _soft_cross_entropy(input, target, weight, reduction, label_smoothing):
    c = input.shape[0] if input.ndim == 1 else input.shape[1]
    w = None
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else get_array_module(input.array).asarray(weight)
        if tuple(w.shape) != (c,):
            raise ValueError(f"cross_entropy: expected weight of shape ({c},) (one per class), got shape "
                             f"{tuple(w.shape)}")
        w = w.astype(input.dtype, copy=False)
    if target.dtype != input.dtype:
        target = target.to(dtype=input.dtype)
    out_shape = () if input.ndim == 1 else (input.shape[0],) + tuple(input.shape[2:])
    return SoftCrossEntropy.apply(input, target, weight=w, reduction=reduction, label_smoothing=label_smoothing,
                                  out_shape=out_shape)


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
             reduction: str = "mean"):
    """Negative log-likelihood on log-probabilities ``input`` (e.g. from log_softmax); see ``NLLLoss``."""
    _check_reduction(reduction, "nll_loss")
    tgt, w, out_shape = _class_target(input, target, weight, ignore_index, "nll_loss")
    return NLLLoss.apply(input, target=tgt, weight=w, ignore_index=ignore_index, reduction=reduction,
                         out_shape=out_shape)


# ---- elementwise losses -------------------------------------------------------------------------------------
def _check_pair(input, target, name):
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: expected a Tensor as input, got {type(input).__name__}")
    if not isinstance(target, Tensor):
        target = Tensor(get_array_module(input.array).asarray(target, dtype=input.dtype))
    if tuple(target.shape) != tuple(input.shape):
        raise ShapeError(f"{name}: expected target of the input's shape {tuple(input.shape)}, "
                         f"got target of shape {tuple(target.shape)}")
    if target.dtype.kind != "f":
        raise ValueError(f"{name}: expected a floating-point target, got dtype {target.dtype}")
    return target


class MSELoss(Function):
    """l = (x - t)^2.  dl/dx = 2 (x - t), dl/dt = -2 (x - t); times gy (and 1/n for 'mean')."""

    def forward(self, x, t, *, reduction):
        self.diff, self.reduction = x - t, reduction
        return _reduce(self.diff * self.diff, reduction)

    def backward(self, gy):
        g = 2 * self.diff * _grad_scale(gy, self.diff.shape, self.reduction, self.diff.dtype)
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


class L1Loss(Function):
    """l = |x - t|.  dl/dx = sign(x - t) (0 where x = t, like PyTorch), dl/dt = -sign(x - t)."""

    def forward(self, x, t, *, reduction):
        xp = get_array_module(x)
        diff = x - t
        self.sign, self.reduction = xp.sign(diff), reduction
        return _reduce(xp.abs(diff), reduction)

    def backward(self, gy):
        g = self.sign * _grad_scale(gy, self.sign.shape, self.reduction, self.sign.dtype)
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


class BinaryCrossEntropy(Function):
    """l = -w [t log x + (1 - t) log(1 - x)] on probabilities x in [0, 1], each log clamped at -100
    (so x = 0 or 1 gives a finite loss, as in PyTorch).

    dl/dx = w (x - t) / (x (1 - x)), with the denominator clamped at 1e-12 as PyTorch does;
    dl/dt = -w [log x - log(1 - x)] (logs clamped at -100).
    """

    def forward(self, x, t, *, weight, reduction):
        xp = get_array_module(x)
        with np.errstate(divide="ignore"):   # log 0 = -inf, clamped next
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        loss = -(t * log_x + (1 - t) * log_1mx)
        if weight is not None:
            loss = loss * weight
        self.x, self.t, self.w, self.reduction = x, t, weight, reduction
        self.log_x, self.log_1mx = log_x, log_1mx
        return _reduce(loss, reduction)

    def backward(self, gy):
        xp = get_array_module(gy)
        x, t = self.x, self.t
        scale = _grad_scale(gy, x.shape, self.reduction, x.dtype)
        if self.w is not None:
            scale = scale * self.w
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = scale * (x - t) / xp.maximum(x * (1 - x), 1e-12)
        if self.needs_input_grad[1]:
            gt = scale * (self.log_1mx - self.log_x)
        return gx, gt


class BinaryCrossEntropyWithLogits(Function):
    """Sigmoid + BCE on logits z, stable for any |z|: with log s(z) = -softplus(-z) and
    log(1 - s(z)) = -softplus(z),
        l = w [p t softplus(-z) + (1 - t) softplus(z)]      (p = pos_weight, 1 by default)
    dl/dz = w [(1 - t) s(z) - p t (1 - s(z))] = w [(p t + 1 - t) s(z) - p t]   (w (s - t) for p = 1)
    dl/dt = w [p softplus(-z) - softplus(z)]   (= -w z for p = 1).
    """

    def forward(self, z, t, *, weight, pos_weight, reduction):
        sp_neg, sp_pos = _softplus(-z), _softplus(z)
        pt = t * pos_weight if pos_weight is not None else t
        loss = pt * sp_neg + (1 - t) * sp_pos
        if weight is not None:
            loss = loss * weight
        self.z, self.t, self.pt, self.w, self.p = z, t, pt, weight, pos_weight
        self.sp_neg, self.sp_pos, self.reduction = sp_neg, sp_pos, reduction
        return _reduce(loss, reduction)

    def backward(self, gy):
        z, t, pt = self.z, self.t, self.pt
        scale = _grad_scale(gy, z.shape, self.reduction, z.dtype)
        if self.w is not None:
            scale = scale * self.w
        gz = gt = None
        if self.needs_input_grad[0]:
            gz = scale * ((pt + 1 - t) * _stable_sigmoid(z) - pt)
        if self.needs_input_grad[1]:
            p_sp = self.sp_neg * self.p if self.p is not None else self.sp_neg
            gt = scale * (p_sp - self.sp_pos)
        return gz, gt


def _const(value, input, name, what):
    """A weight-like constant as an array of the input's dtype and device (None stays None)."""
    if value is None:
        return None
    arr = value.array if isinstance(value, Tensor) else get_array_module(input.array).asarray(value)
    try:
        np.broadcast_shapes(tuple(arr.shape), tuple(input.shape))
    except ValueError:
        raise ShapeError(f"{name}: {what} of shape {tuple(arr.shape)} cannot be broadcast to the input's "
                         f"shape {tuple(input.shape)}") from None
    return arr.astype(input.dtype, copy=False)


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    _check_reduction(reduction, "mse_loss")
    target = _check_pair(input, target, "mse_loss")
    return MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    _check_reduction(reduction, "l1_loss")
    target = _check_pair(input, target, "l1_loss")
    return L1Loss.apply(input, target, reduction=reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean"):
    _check_reduction(reduction, "binary_cross_entropy")
    target = _check_pair(input, target, "binary_cross_entropy")
    x = input.array
    if x.size and (bool((x < 0).any()) or bool((x > 1).any())):
        raise ValueError(f"binary_cross_entropy: expected input probabilities in [0, 1] (apply sigmoid, or "
                         f"use binary_cross_entropy_with_logits on raw scores), got values in "
                         f"[{float(x.min()):.4g}, {float(x.max()):.4g}]")
    w = _const(weight, input, "binary_cross_entropy", "weight")
    return BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction: str = "mean", pos_weight=None):
    name = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, name)
    target = _check_pair(input, target, name)
    w = _const(weight, input, name, "weight")
    p = _const(pos_weight, input, name, "pos_weight (one per class, the last dimension)")
    return BinaryCrossEntropyWithLogits.apply(input, target, weight=w, pos_weight=p, reduction=reduction)
