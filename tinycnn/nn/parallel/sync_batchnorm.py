"""``SyncBatchNorm``: batch normalisation with the statistics of the whole global batch, across processes.

With ``DistributedDataParallel`` each process normalises with the statistics of its own part of the batch
(as PyTorch does); ``SyncBatchNorm.convert_sync_batchnorm(model)`` replaces every BatchNorm layer by this
one, which normalises with the mean and variance over all processes' images, as one process with the whole
batch would. Outside training, or in a group of one, it is BatchNorm.
"""
from __future__ import annotations

import numpy as np

from ... import distributed as dist
from ...autograd import Function
from ...backend import get_array_module
from ...ops.normalization import _as3, update_running_stats
from ..layers.normalization import _BatchNorm


def _all_reduce_sum(array):
    """Sum ``array`` over the ranks (through a host copy when it lives on the GPU)."""
    host = array.get() if hasattr(array, "get") else np.ascontiguousarray(array)
    dist.all_reduce(host)
    return host if isinstance(array, np.ndarray) else get_array_module(array).asarray(host)


class SyncBatchNormFunction(Function):
    r"""Training-mode batch norm over the union of the ranks' batches.

    Rank r holds x_r, viewed as (N_r, C, L); per channel the global batch has M = sum_r N_r L values.
    Forward (two allreduces of (C,) sums, two-pass for an exact variance):
        mu   = (1/M) sum_r sum x_r                      var = (1/M) sum_r sum (x_r - mu)^2      (C,)
        s    = 1 / sqrt(var + eps),    xhat_r = (x_r - mu) s,    y_r = w xhat_r + b          (N_r, C, L)
    and the running statistics move with the unbiased var * M / (M - 1), as in BatchNorm.

    Backward. Let the objective be the sum of the ranks' losses, S = sum_r L_r, so that gy_r = dS/dy_r
    is what rank r's backward brings. x_r reaches S directly and through mu and s, which every rank's
    y depends on; BatchNorm's derivation (``tinycnn/ops/normalization.py``) holds over the global batch,
    with its sums taken over all ranks:
        Gb = sum_r sum gy_r,     Gw = sum_r sum gy_r xhat_r                                  (C,)
        dS/dx_r = (w s) (gy_r - Gb / M - (x_r - mu) s Gw / M)                                (N_r, C, L)
    So backward all-reduces the (2, C) local sums [sum gy_r, sum gy_r xhat_r] once. The weight and bias
    gradients returned are the local sums gw_r = sum gy_r xhat_r, gb_r = sum gy_r: DistributedDataParallel
    averages them over the ranks, and the average of the rank losses is S / N, whose gradients are those
    averages -- the same as one process with the whole batch and a loss averaged over it.
    """

    def forward(self, x, w=None, b=None, *, eps, running_mean=None, running_var=None, momentum=0.1):
        xp = get_array_module(x)
        x3 = _as3(x)
        local = xp.concatenate([xp.einsum("ncl->c", x3), xp.asarray([x3.shape[0] * x3.shape[2]], x.dtype)])
        total = _all_reduce_sum(local)
        m = int(round(float(total[-1])))
        if m <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel in the global batch, got {m}")
        mean = total[:-1] / m
        xc = x3 - mean[:, None]
        var = _all_reduce_sum(xp.einsum("ncl,ncl->c", xc, xc)) / m
        s = 1.0 / xp.sqrt(var + eps)
        self.x3, self.mean, self.s, self.w, self.m = x3, mean, s, w, m
        update_running_stats(running_mean, running_var, mean, var, m, momentum)
        xc *= (s if w is None else s * w)[:, None]
        if b is not None:
            xc += b[:, None]
        return xc.reshape(x.shape)

    def backward(self, gy):
        xp = get_array_module(gy)
        x3, mean, s, w, m = self.x3, self.mean, self.s, self.w, self.m
        gy3 = _as3(gy)
        xc = x3 - mean[:, None]
        gb = xp.einsum("ncl->c", gy3)
        gw = xp.einsum("ncl,ncl->c", gy3, xc) * s
        gx = None
        if self.needs_input_grad[0]:
            total_b, total_w = _all_reduce_sum(xp.stack([gb, gw]))
            xc *= (-(s * total_w) / m)[:, None]
            xc += gy3
            xc -= (total_b / m)[:, None]
            xc *= (s if w is None else s * w)[:, None]
            gx = xc.reshape(gy.shape)
        return gx, (gw if self.needs_input_grad[1] else None), (gb if self.needs_input_grad[2] else None)


class SyncBatchNorm(_BatchNorm):
    """BatchNorm over (N, C, *) whose training statistics are those of every process's batch together."""

    _expected_dims = (2, 3, 4, 5)
    _dims_text = "at least 2-D (N, C, *)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def forward(self, input):
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(input)
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        track = self.track_running_stats
        if track:
            self.num_batches_tracked.array += 1
            if self.momentum is None:
                factor = 1.0 / max(int(self.num_batches_tracked.item()), 1)
        return SyncBatchNormFunction.apply(
            input, self.weight, self.bias, eps=self.eps, momentum=float(factor),
            running_mean=self.running_mean.array if track else None,
            running_var=self.running_var.array if track else None)

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm layer in it replaced by a SyncBatchNorm holding the same
        parameters, running statistics and mode (``module`` itself when it is a BatchNorm)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm) and module.num_features:
            out = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats,
                      process_group)
            for name in ("weight", "bias"):
                setattr(out, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(out, name, getattr(module, name))
            out.train(module.training)
            return out
        for name, child in list(module.named_children()):
            converted = cls.convert_sync_batchnorm(child, process_group)
            if converted is not child:
                setattr(module, name, converted)
        return module


__all__ = ["SyncBatchNorm", "SyncBatchNormFunction"]
