"""Batch normalisation (training and inference forms) and AlexNet's local response normalisation.

Batch norm layout: input x of shape (N, C, *) -- (N, C) for BatchNorm1d on features, (N, C, L), or
(N, C, H, W) for BatchNorm2d. Statistics are per channel c over the M = N * prod(*) values of that channel;
internally x is viewed as x3 of shape (N, C, L) with L = prod(*) (L = 1 for (N, C)), so every per-channel
reduction is one ``einsum('ncl->c')`` and every per-channel broadcast uses arrays of shape (C, 1).
"""
from __future__ import annotations

import math
import numbers

from ..autograd import Function, Tensor
from ..backend import get_array_module
from ..errors import ShapeError
from ..kernels import fast_path
from ._sizes import shape_str


def _as3(a):
    """(N, C, *) -> (N, C, L) view (a copy only if ``a`` is not contiguous)."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def update_running_stats(running_mean, running_var, mean, var, m: int, momentum: float) -> None:
    """PyTorch's running statistics from one batch of ``m`` values per channel: an exponential moving
    average of the mean and of the unbiased variance ``var * m / (m - 1)``. In place, on the buffers' own
    arrays: no graph, no dtype change of the buffers."""
    if running_mean is not None:
        running_mean *= 1.0 - momentum
        running_mean += momentum * mean
    if running_var is not None:
        running_var *= 1.0 - momentum
        running_var += (momentum * m / (m - 1)) * var


class BatchNormTrain(Function):
    r"""Training-mode batch norm: normalise with the statistics of this batch.

    Forward, per channel c over its M values (x3 of shape (N, C, L), M = N*L):
        mu    = (1/M) sum x                                  (C,)
        var   = (1/M) sum (x - mu)^2      (biased)           (C,)
        s     = 1 / sqrt(var + eps)                          (C,)
        xhat  = (x - mu) * s                                 (N, C, L)
        y     = w * xhat + b                                 (N, C, L)   (w = 1, b = 0 without affine)
    When ``running_mean``/``running_var`` arrays are given they are updated in place, outside any graph,
    with the factor m:  running_mean = (1-m) running_mean + m mu,  running_var = (1-m) running_var +
    m var * M/(M-1)  (the *unbiased* variance, as PyTorch).

    Backward, with gy = dL/dy (N, C, L), all sums per channel over (n, l):
        gb = sum gy,   gw = sum gy * xhat                                             (C,)
        gh = dL/dxhat = gy * w                                                        (N, C, L)
    Within one channel (i, j index its M values) x enters xhat directly and through mu and s. With
    dmu/dx_j = 1/M and ds/dx_j = -s^3 (x_j - mu)/M = -s^2 xhat_j / M (the mean's share of dvar/dx_j
    vanishes since sum (x - mu) = 0):
        dxhat_i/dx_j = s (delta_ij - 1/M) - xhat_i xhat_j s / M
    so   dx_j = sum_i gh_i dxhat_i/dx_j
              = (1/M) * s * (M gh_j - sum_i gh_i - xhat_j sum_i gh_i xhat_i)                   (N, C, L)
    and since sum gh = w gb and sum gh*xhat = w gw, with xc = x - mu (so xhat = xc s):
        dx = (w s) * (gy - gb/M - xc * (s gw / M))
    Only x, mu and s are saved (x is held by the graph anyway): backward recomputes xc in one pass instead
    of keeping an extra (N, C, L) xhat alive between forward and backward.

    Large NumPy arrays with the Numba kernels go through ``batch_norm_forward``/``batch_norm_backward``
    (``tinycnn/accel/numba_norm.py``): these formulas, one channel per task, with the sums accumulated in
    float64 -- equal to this code to rounding (float32: to float32 rounding of the statistics), not bitwise.
    """

    def forward(self, x, w=None, b=None, *, eps, running_mean=None, running_var=None, momentum=0.1):
        xp = get_array_module(x)
        x3 = _as3(x)
        m = x3.shape[0] * x3.shape[2]
        kern = fast_path(x, "batch_norm", "BATCH_NORM_MIN_SIZE")
        self.kern = kern if kern is not None and kern.batch_norm_applies(x3.shape) else None
        if self.kern is not None:
            x3 = xp.ascontiguousarray(x3)                  # once, not again in backward
            y3, mean, var, s = self.kern.batch_norm_forward(x3, w, b, eps)
            self.x3, self.mean, self.s, self.w, self.m = x3, mean, s, w, m
            update_running_stats(running_mean, running_var, mean, var, m, momentum)
            return y3.reshape(x.shape)
        mean = xp.einsum("ncl->c", x3) / m                 # stays in x's dtype
        xc = x3 - mean[:, None]
        var = xp.einsum("ncl,ncl->c", xc, xc) / m          # biased: this is what normalises
        s = 1.0 / xp.sqrt(var + eps)
        self.x3, self.mean, self.s, self.w, self.m = x3, mean, s, w, m
        update_running_stats(running_mean, running_var, mean, var, m, momentum)
        scale = s if w is None else s * w
        xc *= scale[:, None]                               # xc becomes y: no further temporaries
        if b is not None:
            xc += b[:, None]
        return xc.reshape(x.shape)

    def backward(self, gy):
        xp = get_array_module(gy)
        x3, mean, s, w, m = self.x3, self.mean, self.s, self.w, self.m
        gy3 = _as3(gy)
        if self.kern is not None:
            gx3, gw, gb = self.kern.batch_norm_backward(gy3, x3, mean, s, w, self.needs_input_grad[0])
            gx = None if gx3 is None else gx3.reshape(gy.shape)
            return gx, (gw if self.needs_input_grad[1] else None), (gb if self.needs_input_grad[2] else None)
        gb = xp.einsum("ncl->c", gy3)
        xc = x3 - mean[:, None]
        gw = xp.einsum("ncl,ncl->c", gy3, xc) * s          # sum gy * xhat
        gx = None
        if self.needs_input_grad[0]:
            k1 = s if w is None else s * w
            xc *= (-(s * gw) / m)[:, None]                  # -xc s gw / M, in place on our own temporary
            xc += gy3
            xc -= (gb / m)[:, None]
            xc *= k1[:, None]
            gx = xc.reshape(gy.shape)
        return gx, (gw if self.needs_input_grad[1] else None), (gb if self.needs_input_grad[2] else None)


class BatchNormEval(Function):
    r"""Inference-mode batch norm: a fixed per-channel affine map from the running statistics.

    Forward with r = 1/sqrt(running_var + eps) (C,):
        y = w * (x - running_mean) * r + b = x * a + (b - running_mean * a),   a = w r   (C,)
    Backward (running statistics are constants):
        gx = gy * a  (N, C, L),   gw = sum gy * (x - running_mean) * r  (C,),   gb = sum gy  (C,)
    """

    def forward(self, x, w=None, b=None, *, eps, running_mean, running_var):
        xp = get_array_module(x)
        x3 = _as3(x)
        r = 1.0 / xp.sqrt(running_var.astype(x.dtype, copy=False) + eps)
        rm = running_mean.astype(x.dtype, copy=False)
        a = r if w is None else r * w
        shift = -rm * a if b is None else b - rm * a
        self.x3, self.r, self.rm, self.a = x3, r, rm, a
        y = x3 * a[:, None]
        y += shift[:, None]
        return y.reshape(x.shape)

    def backward(self, gy):
        xp = get_array_module(gy)
        gy3 = _as3(gy)
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = (gy3 * self.a[:, None]).reshape(gy.shape)
        if self.needs_input_grad[1]:
            gw = xp.einsum("ncl,ncl->c", gy3, self.x3 - self.rm[:, None]) * self.r
        if self.needs_input_grad[2]:
            gb = xp.einsum("ncl->c", gy3)
        return gx, gw, gb


def _verify_batch_size(shape) -> None:
    size = shape[0]
    for d in shape[2:]:
        size *= d
    if size == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{shape_str(shape)}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5, *, _layer: str | None = None):
    """PyTorch's ``F.batch_norm``: normalise (N, C, *) per channel.

    ``training=True`` uses this batch's statistics and, when ``running_mean``/``running_var`` are given,
    updates them in place with factor ``momentum``; ``training=False`` uses the running statistics.
    """
    who = _layer or "batch_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{who}: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim < 2:
        raise ValueError(f"{who}: expected an input of at least 2 dimensions (N, C, *), "
                         f"got input of shape {shape_str(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise ShapeError(f"{who}: {name} should have shape ({c},) for an input with {c} channels, "
                             f"got shape {shape_str(t.shape)} (input of shape {shape_str(input.shape)})")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != input.dtype:
            raise TypeError(f"{who}: input dtype {input.dtype} differs from the {name}'s {t.dtype} "
                            f"(convert one with .to(dtype) / .float() / .double())")
    if not isinstance(momentum, numbers.Real):
        raise TypeError(f"{who}: momentum must be a float, got {momentum!r}")
    rm = running_mean.array if running_mean is not None else None
    rv = running_var.array if running_var is not None else None
    if input.numel() == 0:  # an empty batch, as PyTorch: an empty output, running statistics untouched,
        out = input * 1.0   # zero gradients for weight and bias (sums over no elements)
        for t in (weight, bias):
            if t is not None:
                out = out + t.reshape(1, c, *(1,) * (input.ndim - 2)) * 0.0
        return out
    if training:
        _verify_batch_size(tuple(input.shape))
        return BatchNormTrain.apply(input, weight, bias, eps=eps, running_mean=rm, running_var=rv,
                                    momentum=float(momentum))
    if rm is None or rv is None:
        raise ValueError(f"{who}: running_mean and running_var must be given in evaluation mode "
                         f"(training=False)")
    return BatchNormEval.apply(input, weight, bias, eps=eps, running_mean=rm, running_var=rv)


# ---- local response normalisation ----------------------------------------------------------------------------
def _window_sum(a, before: int, after: int):
    """out[:, c] = sum_{j = c-before}^{c+after} a[:, j] over the channel axis, zero outside [0, C).

    ``before + after + 1`` shifted slice additions: exact (no cumulative-sum cancellation) and cheap, as
    LRN windows are small (AlexNet: 5)."""
    out = a.copy()
    for o in range(1, before + 1):
        out[:, o:] += a[:, :-o]
    for o in range(1, after + 1):
        out[:, :-o] += a[:, o:]
    return out


class LocalResponseNormFunction(Function):
    r"""PyTorch's LRN over channels (AlexNet), window n = ``size``, zero-padded:

        S_c = sum_{j = c - floor(n/2)}^{c + floor((n-1)/2)} x_j^2        (window W(c); zero outside 0..C-1)
        d_c = k + (alpha / n) S_c,        y_c = x_c d_c^(-beta)          (all of shape (N, C, *))

    Backward: y_c depends on x_j through x_c itself and, for j in W(c), through d_c with
    dd_c/dx_j = (2 alpha / n) x_j. So
        dy_c/dx_j = delta_cj d_c^(-beta) - beta x_c d_c^(-beta-1) (2 alpha / n) x_j [j in W(c)]
    and
        gx_j = gy_j d_j^(-beta) - (2 alpha beta / n) x_j sum_{c : j in W(c)} gy_c y_c / d_c
    j in W(c) <=> c - floor(n/2) <= j <= c + floor((n-1)/2) <=> j - floor((n-1)/2) <= c <= j + floor(n/2):
    the transposed window is the mirror image (they differ for even n).
    """

    def forward(self, x, *, size, alpha, beta, k):
        before, after = size // 2, (size - 1) // 2
        d = _window_sum(x * x, before, after)
        d *= alpha / size
        d += k
        scale = d ** -beta
        self.x, self.d, self.scale = x, d, scale
        self.params = size, alpha, beta
        return x * scale

    def backward(self, gy):
        x, d, scale = self.x, self.d, self.scale
        size, alpha, beta = self.params
        t = gy * x
        t *= scale
        t /= d                                              # gy_c y_c / d_c
        r = _window_sum(t, (size - 1) // 2, size // 2)      # the mirrored window
        r *= x
        r *= -2.0 * alpha * beta / size
        r += gy * scale
        return r


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
    """``F.local_response_norm``: x_c / (k + alpha/n * sum of x^2 over n neighbouring channels)^beta."""
    if not isinstance(input, Tensor):
        raise TypeError(f"local_response_norm: expected input to be a Tensor, got {type(input).__name__}")
    if input.ndim < 3:
        raise ValueError(f"local_response_norm: expected an input of 3 or more dimensions (N, C, *), "
                         f"got input of shape {shape_str(input.shape)}")
    if not isinstance(size, numbers.Integral) or isinstance(size, bool) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive int, got {size!r}")
    for name, v in (("alpha", alpha), ("beta", beta), ("k", k)):
        if not isinstance(v, numbers.Real) or not math.isfinite(v):
            raise ValueError(f"local_response_norm: {name} must be a finite number, got {v!r}")
    return LocalResponseNormFunction.apply(input, size=int(size), alpha=float(alpha), beta=float(beta),
                                           k=float(k))
