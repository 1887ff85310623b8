"""Adadelta: steps scaled by the ratio of two running root-mean-squares, of past updates and of gradients."""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), PyTorch's update rule. For each parameter ``p`` with gradient ``g``:

    .. code-block:: text

        g     = -g if maximize                                (ascend instead of descend)
        g     = g + weight_decay * p                          (L2 penalty folded into the gradient)
        v     = rho * v + (1 - rho) * g * g                   (square_avg, starts at 0)
        delta = sqrt(u + eps) / sqrt(v + eps) * g             (u: acc_delta, the running mean of delta^2)
        u     = rho * u + (1 - rho) * delta * delta           (acc_delta, starts at 0)
        p     = p - lr * delta

    The ratio sqrt(u + eps) / sqrt(v + eps) has the units of p, which is why the paper needs no learning
    rate (PyTorch keeps ``lr``, default 1.0). State per parameter: ``step``, ``square_avg``, ``acc_delta``.
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6, weight_decay: float = 0,
                 foreach=None, *, capturable: bool = False, maximize: bool = False, differentiable: bool = False):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize))

    def _check_hyperparameters(self, group: dict) -> None:
        for name in ("lr", "eps", "weight_decay", "rho"):
            self._check(name, group[name])
        if group["rho"] > 1:
            raise ValueError(f"{self._name}: invalid rho {group['rho']!r} (must be in [0, 1])")

    def _update(self, group: dict) -> None:
        lr, rho, eps = group["lr"], group["rho"], group["eps"]
        for p, x, grad in self._with_grad(group):
            xp = get_array_module(x)
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(x)
                state["acc_delta"] = xp.zeros_like(x)
            state["step"] += 1
            g = -grad if group["maximize"] else grad
            g = self._l2(x, g, group["weight_decay"])
            v, u = state["square_avg"], state["acc_delta"]
            v *= rho
            v += (1 - rho) * g * g
            std = xp.sqrt(v + eps)
            delta = xp.sqrt(u + eps)
            delta /= std
            delta *= g
            u *= rho
            u += (1 - rho) * delta * delta
            delta *= -lr
            x += delta
