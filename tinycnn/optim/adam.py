"""Adam and AdamW: bias-corrected first and second moment estimates (optionally AMSGrad)."""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer


class Adam(Optimizer):
    r"""Adam, PyTorch's update rule. For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``:

    .. code-block:: text

        g  = g + weight_decay * p                 (Adam: L2 penalty folded into the gradient)
        p  = p * (1 - lr * weight_decay)          (AdamW instead: decoupled decay, applied first)
        m  = beta1 * m + (1 - beta1) * g          (exp_avg, starts at 0)
        v  = beta2 * v + (1 - beta2) * g * g      (exp_avg_sq, starts at 0)
        vmax = max(vmax, v)                       (amsgrad only, on the raw v; then used in place of v)
        p  = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    eps is added outside the square root, after the bias correction of v.
    State per parameter: ``step`` (int), ``exp_avg``, ``exp_avg_sq``, ``max_exp_avg_sq`` (amsgrad).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, decoupled_weight_decay: bool = False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, decoupled_weight_decay=decoupled_weight_decay))

    def _check_hyperparameters(self, group: dict) -> None:
        self._check("lr", group["lr"])
        self._check("eps", group["eps"])
        self._check("weight_decay", group["weight_decay"])
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"{self._name}: betas must be a pair (beta1, beta2), got {betas!r}")
        self._check("betas[0]", betas[0], 0.0, 1.0)
        self._check("betas[1]", betas[1], 0.0, 1.0)

    def _update(self, group: dict) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        for p, x, grad in self._with_grad(group):
            xp = get_array_module(x)
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0
                state["exp_avg"] = xp.zeros_like(x)
                state["exp_avg_sq"] = xp.zeros_like(x)
            if group["amsgrad"] and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = xp.zeros_like(x)
            state["step"] += 1
            t = state["step"]
            if weight_decay != 0 and group["decoupled_weight_decay"]:
                x *= 1 - lr * weight_decay
                g = grad
            else:
                g = self._l2(x, grad, weight_decay)
            m, v = state["exp_avg"], state["exp_avg_sq"]
            # one scratch array per parameter and step; everything else is updated in place
            tmp = xp.subtract(g, m, out=xp.empty_like(m))  # out=: stays an array for 0-d params
            tmp *= 1 - beta1
            m += tmp                                       # m + (1-beta1)(g - m): torch's lerp_
            xp.multiply(g, g, out=tmp)
            tmp *= 1 - beta2
            v *= beta2
            v += tmp
            if group["amsgrad"]:
                vmax = state["max_exp_avg_sq"]
                xp.maximum(vmax, v, out=vmax)
                v = vmax
            step_size = lr / (1 - beta1 ** t)
            denom = xp.sqrt(v, out=tmp)
            denom /= (1 - beta2 ** t) ** 0.5
            denom += eps
            xp.divide(m, denom, out=denom)
            denom *= -step_size
            x += denom


class AdamW(Adam):
    r"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter), default ``weight_decay=1e-2``.

    .. code-block:: text

        p  = p * (1 - lr * weight_decay)          (first, at the point where g was computed)
        m  = beta1 * m + (1 - beta1) * g
        v  = beta2 * v + (1 - beta2) * g * g
        vmax = max(vmax, v)                       (amsgrad only)
        p  = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         decoupled_weight_decay=True)
