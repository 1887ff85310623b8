"""Adamax, NAdam and RAdam: Adam with the infinity norm, with Nesterov momentum, and with a rectified step."""
from __future__ import annotations

import numpy as np

from ..backend import get_array_module
from .optimizer import Optimizer


class _AdamLike(Optimizer):
    """What the Adam variants share: betas in [0, 1), lr/eps/weight_decay >= 0, ``maximize``."""

    def _check_hyperparameters(self, group: dict) -> None:
        self._check("lr", group["lr"])
        self._check("eps", group["eps"])
        self._check("weight_decay", group["weight_decay"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{self._name}: betas must be a pair (beta1, beta2), got {betas!r}")
        self._check("betas[0]", betas[0], 0.0, 1.0)
        self._check("betas[1]", betas[1], 0.0, 1.0)

    def _state(self, p, x, names, **extra):
        xp = get_array_module(x)
        state = self.state.setdefault(p, {})
        if not state:
            state["step"] = 0
            state.update(extra)
            for name in names:
                state[name] = xp.zeros_like(x)
        state["step"] += 1
        return state

    def _gradient(self, group, x, grad):
        """-g under ``maximize``; plus the L2 term, or the decoupled decay applied to p (AdamW's way)."""
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0 and group.get("decoupled_weight_decay"):
            x *= 1 - group["lr"] * group["weight_decay"]
            return g
        return self._l2(x, g, group["weight_decay"])


class Adamax(_AdamLike):
    r"""Adamax (Kingma & Ba, 2015, section 7.1): Adam with the infinity norm in place of the RMS.

    .. code-block:: text

        g = g + weight_decay * p
        m = beta1 * m + (1 - beta1) * g                   (exp_avg)
        u = max(beta2 * u, |g| + eps)                     (exp_inf: a decaying max of |g|)
        p = p - lr / (1 - beta1^t) * m / u

    State per parameter: ``step``, ``exp_avg``, ``exp_inf``.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach=None, *, maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize))

    def _update(self, group: dict) -> None:
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        for p, x, grad in self._with_grad(group):
            xp = get_array_module(x)
            state = self._state(p, x, ("exp_avg", "exp_inf"))
            g = self._gradient(group, x, grad)
            m, u = state["exp_avg"], state["exp_inf"]
            m += (1 - beta1) * (g - m)
            u *= beta2
            xp.maximum(u, xp.abs(g) + eps, out=u)
            x -= (lr / (1 - beta1 ** state["step"])) * m / u


class NAdam(_AdamLike):
    r"""NAdam (Dozat, 2016): Adam with Nesterov momentum and a momentum schedule, PyTorch's update rule.

    .. code-block:: text

        g      = g + weight_decay * p            (or p = p * (1 - lr * weight_decay), decoupled_weight_decay)
        mu_t   = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay))        (the schedule; mu_{t+1} likewise)
        P_t    = P_{t-1} * mu_t                                        (mu_product, starts at 1)
        m      = beta1 * m + (1 - beta1) * g
        v      = beta2 * v + (1 - beta2) * g * g
        d      = sqrt(v / (1 - beta2^t)) + eps
        p      = p - lr (1 - mu_t) / (1 - P_t) * g / d - lr mu_{t+1} / (1 - P_t mu_{t+1}) * m / d

    The last line looks one step ahead: the gradient term is the current step's share, the momentum term is
    corrected with next step's mu. State per parameter: ``step``, ``mu_product`` (a float rounded to float32
    at every step, as PyTorch's float32 scalar tensor is), ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
                 foreach=None, maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _check_hyperparameters(self, group: dict) -> None:
        super()._check_hyperparameters(group)
        self._check("momentum_decay", group["momentum_decay"])

    def _update(self, group: dict) -> None:
        lr, eps, decay = group["lr"], group["eps"], group["momentum_decay"]
        beta1, beta2 = group["betas"]
        for p, x, grad in self._with_grad(group):
            xp = get_array_module(x)
            state = self._state(p, x, ("exp_avg", "exp_avg_sq"), mu_product=1.0)
            t = state["step"]
            g = self._gradient(group, x, grad)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (t * decay)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((t + 1) * decay)))
            # PyTorch keeps the product in a float32 scalar tensor (its default scalar dtype): so do we
            mu_product = float(np.float32(state["mu_product"]) * np.float32(mu))
            state["mu_product"] = mu_product
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m += (1 - beta1) * (g - m)
            v *= beta2
            v += (1 - beta2) * g * g
            denom = xp.sqrt(v / (1 - beta2 ** t))
            denom += eps
            x += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
            x += ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * m / denom


class RAdam(_AdamLike):
    r"""RAdam (Liu et al., 2020): Adam whose adaptive step is switched on, and scaled, only once the variance
    of the adaptive learning rate is tractable. PyTorch's update rule:

    .. code-block:: text

        g      = g + weight_decay * p            (or p = p * (1 - lr * weight_decay), decoupled_weight_decay)
        m      = beta1 * m + (1 - beta1) * g
        v      = beta2 * v + (1 - beta2) * g * g
        rho_oo = 2 / (1 - beta2) - 1
        rho_t  = rho_oo - 2 t beta2^t / (1 - beta2^t)                (the length of the SMA)
        if rho_t > 5:
            r  = sqrt((rho_t - 4)(rho_t - 2) rho_oo / ((rho_oo - 4)(rho_oo - 2) rho_t))
            p  = p - lr * m / (1 - beta1^t) * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
        else:                                                         (the first few steps: SGD with momentum)
            p  = p - lr * m / (1 - beta1^t)

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize))

    def _update(self, group: dict) -> None:
        lr, eps = group["lr"], group["eps"]
        beta1, beta2 = group["betas"]
        for p, x, grad in self._with_grad(group):
            xp = get_array_module(x)
            state = self._state(p, x, ("exp_avg", "exp_avg_sq"))
            t = state["step"]
            g = self._gradient(group, x, grad)
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m += (1 - beta1) * (g - m)
            v *= beta2
            v += (1 - beta2) * g * g
            bias1, bias2 = 1 - beta1 ** t, 1 - beta2 ** t
            corrected = m / bias1
            rho_inf = 2 / (1 - beta2) - 1
            rho_t = rho_inf - 2 * t * (beta2 ** t) / bias2
            if rho_t > 5.0:
                rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
                adaptive = (bias2 ** 0.5) / (xp.sqrt(v) + eps)
                x -= corrected * lr * adaptive * rect
            else:
                x -= corrected * lr
