"""Vector norms, distances and similarities along an axis, and the embedding losses built on them.

``normalize``, ``cosine_similarity`` and ``pairwise_distance`` with PyTorch's eps rules, then
``cosine_embedding_loss`` and ``triplet_margin_loss`` composed from them (and ``margin_ranking_loss``), so
their gradients come from the ops they are made of.
"""
from __future__ import annotations

import math
import numbers

import numpy as np

from ..autograd import Function, Tensor
from ..backend import get_array_module, to_device
from ._sizes import shape_str
from .arithmetic import as_operand, check_broadcast, unbroadcast
from .elementwise import clamp, minimum, where


class VectorNorm(Function):
    r"""n = ||x||_p = (sum_i |x_i|^p)^(1/p) along ``dim`` (max |x_i| for p = inf).

    dn/dx_i = sign(x_i) |x_i|^(p-1) / n^(p-1)   (x_i / n for p = 2; sign(x_i) for p = 1),
    and for p = inf the derivative of a max: sign(x_i) [|x_i| = n] / (number of ties). Where n = 0, or
    x_i = 0 with p < 1, the gradient is 0 (PyTorch's choice of subgradient).
    """

    def forward(self, x, *, p, dim, keepdim):
        xp = get_array_module(x)
        a = xp.abs(x)
        if p == math.inf:
            n = a.max(axis=dim, keepdims=True)
        elif p == 2:
            n = xp.sqrt((x * x).sum(axis=dim, keepdims=True))
        elif p == 1:
            n = a.sum(axis=dim, keepdims=True)
        else:
            n = (a ** p).sum(axis=dim, keepdims=True) ** (1.0 / p)
        self.x, self.n, self.p, self.dim, self.keepdim = x, n, p, dim, keepdim
        return n if keepdim else n.squeeze(axis=dim)

    def backward(self, gy):
        xp = get_array_module(gy)
        x, n, p = self.x, self.n, self.p
        g = gy if self.keepdim else xp.expand_dims(gy, self.dim)
        safe = xp.where(n == 0, 1, n)
        if p == math.inf:
            tie = xp.abs(x) == n
            slope = xp.sign(x) * tie / tie.sum(axis=self.dim, keepdims=True)
        elif p == 2:
            slope = x / safe
        elif p == 1:
            slope = xp.sign(x)
        else:     # p < 1: |x_i|^(p-1) is infinite at x_i = 0, where PyTorch (and we) take 0
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = xp.where(x == 0, 0, xp.sign(x) * (xp.abs(x) / safe) ** (p - 1))
        return g * xp.where(n == 0, 0, slope)


def _check(t, name, what="input"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: expected {what} to be a Tensor, got {type(t).__name__}")
    if t.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point {what}, got dtype {t.dtype}")


def _axis(dim, ndim, name):
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool) or not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"{name}: dim {dim!r} is out of range for a tensor with {ndim} dimensions")
    return int(dim) % max(ndim, 1)


def vector_norm(input, p: float = 2.0, dim: int = -1, keepdim: bool = False):
    """||input||_p along ``dim`` (p > 0 or inf)."""
    _check(input, "vector_norm")
    if not (p == math.inf or (isinstance(p, numbers.Real) and p > 0)):
        raise ValueError(f"vector_norm: p must be a positive number or inf, got {p!r}")
    return VectorNorm.apply(input, p=float(p), dim=_axis(dim, input.ndim, "vector_norm"), keepdim=keepdim)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """PyTorch's ``F.normalize``: input / max(||input||_p, eps) along ``dim`` (composed: norm, clamp, divide;
    where the norm is below eps the divisor is the constant eps)."""
    _check(input, "normalize")
    if out is not None:
        raise ValueError("normalize: out= is not supported (tinycnn never writes into a given tensor)")
    if input.ndim == 0:
        raise ValueError("normalize: expected a tensor with at least 1 dimension, got a 0-d tensor")
    n = vector_norm(input, p, dim, keepdim=True)
    return input / clamp(n, min=eps)


class CosineSimilarity(Function):
    r"""y = sum_i u1_i u2_i along ``dim``, u_k = x_k / c_k, c_k = max(||x_k||, eps) (PyTorch's form).

    With n_k = ||x_k||, d c_k/dx_k = x_k / n_k where n_k > eps and 0 where clamped; PyTorch differentiates
    the norm even where it is clamped, so for both cases (and as it does)
        dy/dx1 = (u2 - y * x1 / n1) / c1,   dy/dx2 = (u1 - y * x2 / n2) / c2
    (x / n taken as 0 where n = 0); above eps this is the familiar (u2 - y u1) / ||x1||. Each gradient is
    then summed over the axes its input was broadcast along.
    """

    def forward(self, x1, x2, *, dim, eps):
        xp = get_array_module(x1, x2)
        shape = np.broadcast_shapes(x1.shape, x2.shape)
        a, b = xp.broadcast_to(x1, shape), xp.broadcast_to(x2, shape)
        n1 = xp.sqrt((a * a).sum(axis=dim, keepdims=True))
        n2 = xp.sqrt((b * b).sum(axis=dim, keepdims=True))
        c1, c2 = xp.maximum(n1, eps), xp.maximum(n2, eps)
        u1, u2 = a / c1, b / c2
        y = (u1 * u2).sum(axis=dim, keepdims=True)
        self.saved = a, b, n1, n2, c1, c2, u1, u2, y
        self.shapes, self.dim = (x1.shape, x2.shape), dim
        return y.squeeze(axis=dim)

    def backward(self, gy):
        xp = get_array_module(gy)
        a, b, n1, n2, c1, c2, u1, u2, y = self.saved
        g = xp.expand_dims(gy, self.dim)
        g1 = g2 = None
        if self.needs_input_grad[0]:
            dir1 = xp.where(n1 == 0, 0, a / xp.where(n1 == 0, 1, n1))
            g1 = unbroadcast(g * (u2 - y * dir1) / c1, self.shapes[0])
        if self.needs_input_grad[1]:
            dir2 = xp.where(n2 == 0, 0, b / xp.where(n2 == 0, 1, n2))
            g2 = unbroadcast(g * (u1 - y * dir2) / c2, self.shapes[1])
        return g1, g2


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    """PyTorch's ``F.cosine_similarity``: x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim``."""
    _check(x1, "cosine_similarity", "x1")
    _check(x2, "cosine_similarity", "x2")
    check_broadcast(x1.array, x2.array, "cosine_similarity")
    ndim = max(x1.ndim, x2.ndim)
    return CosineSimilarity.apply(x1, x2, dim=_axis(dim, ndim, "cosine_similarity"), eps=float(eps))


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    """PyTorch's ``F.pairwise_distance``: ||x1 - x2 + eps||_p over the last axis (eps keeps the norm's
    gradient finite when x1 = x2)."""
    _check(x1, "pairwise_distance", "x1")
    _check(x2, "pairwise_distance", "x2")
    check_broadcast(x1.array, x2.array, "pairwise_distance")
    diff = x1 - x2 + eps
    if diff.ndim == 0:
        diff = diff.reshape(1)
    return vector_norm(diff, p, -1, keepdim)


# ---- embedding losses ------------------------------------------------------------------------------------------
def _reduce(loss, reduction, name):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{name}: reduction must be one of ('none', 'mean', 'sum'), got {reduction!r}")


def _target(target, like, name):
    """The +-1 labels as a tensor on ``like``'s device (a list, array or tensor; no gradient flows to them)."""
    t = as_operand(target)
    if not isinstance(t, Tensor):
        t = Tensor(get_array_module(like.array).asarray(t))
    return t if t.device == like.device else Tensor(to_device(t.array, like.device))


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                        reduction: str = "mean"):
    """PyTorch's ``F.margin_ranking_loss``: max(0, -y (x1 - x2) + margin) with y = 1 (x1 should rank higher)
    or -1; composed, so the gradient is -y (and +y for x2) where the hinge is active, else 0."""
    name = "margin_ranking_loss"
    _check(input1, name, "input1")
    _check(input2, name, "input2")
    y = _target(target, input1, name)
    if not (input1.shape == input2.shape == y.shape):
        raise ValueError(f"{name}: expected input1, input2 and target of the same shape, got "
                         f"{shape_str(input1.shape)}, {shape_str(input2.shape)} and {shape_str(y.shape)}")
    loss = clamp(-y.to(dtype=input1.dtype) * (input1 - input2) + margin, min=0.0)
    return _reduce(loss, reduction, name)


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None, reduce=None,
                          reduction: str = "mean"):
    """PyTorch's ``F.cosine_embedding_loss``: 1 - cos(x1, x2) where y = 1, max(0, cos - margin) where y = -1.

    cos = x1 . x2 / sqrt((|x1|^2 + 1e-12)(|x2|^2 + 1e-12)) along the last axis of (N, D) (or (D,)), PyTorch's
    formula, composed from the tensor ops.
    """
    name = "cosine_embedding_loss"
    _check(input1, name, "input1")
    _check(input2, name, "input2")
    if input1.shape != input2.shape or input1.ndim not in (1, 2):
        raise ValueError(f"{name}: expected input1 and input2 of the same shape (N, D) or (D,), got "
                         f"{shape_str(input1.shape)} and {shape_str(input2.shape)}")
    y = _target(target, input1, name)
    expected = tuple(input1.shape[:-1])
    if tuple(y.shape) != expected:
        raise ValueError(f"{name}: expected target of shape {shape_str(expected)}, got {shape_str(y.shape)}")
    d = input1.ndim - 1
    prod = (input1 * input2).sum(dim=d)
    m1 = (input1 * input1).sum(dim=d) + 1e-12
    m2 = (input2 * input2).sum(dim=d) + 1e-12
    cos = prod / (m1 * m2).sqrt()
    zero = cos * 0.0
    yy = y.array
    loss = where(yy == 1, 1 - cos, zero) + where(yy == -1, clamp(cos - margin, min=0.0), zero)
    return _reduce(loss, reduction, name)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average=None, reduce=None, reduction: str = "mean"):
    """PyTorch's ``F.triplet_margin_loss``: max(0, margin + d(a, p) - d(a, n)), d = ``pairwise_distance``;
    ``swap`` uses min(d(a, n), d(p, n)) as the negative distance (Balntas et al., 2016)."""
    name = "triplet_margin_loss"
    for what, t in (("anchor", anchor), ("positive", positive), ("negative", negative)):
        _check(t, name, what)
    if not (anchor.ndim == positive.ndim == negative.ndim) or anchor.ndim not in (1, 2):
        raise ValueError(f"{name}: expected anchor, positive and negative of the same number of dimensions "
                         f"(1 or 2), got {shape_str(anchor.shape)}, {shape_str(positive.shape)} and "
                         f"{shape_str(negative.shape)}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    loss = clamp(d_pos - d_neg + margin, min=0.0)
    return _reduce(loss, reduction, name)
