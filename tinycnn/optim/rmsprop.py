"""RMSprop: gradients divided by a running root-mean-square, optionally centred and with momentum."""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer


class RMSprop(Optimizer):
    r"""RMSprop, PyTorch's update rule (not TF/Keras': eps outside the root, no bias correction). For each
    parameter ``p`` with gradient ``g``:

    .. code-block:: text

        g    = g + weight_decay * p                        (L2 penalty folded into the gradient)
        v    = alpha * v + (1 - alpha) * g * g             (square_avg, starts at 0)
        if centered:
            gbar = alpha * gbar + (1 - alpha) * g          (grad_avg, starts at 0)
            avg  = sqrt(v - gbar * gbar) + eps
        else:
            avg  = sqrt(v) + eps
        if momentum > 0:
            buf = momentum * buf + g / avg                 (momentum_buffer, starts at 0)
            p   = p - lr * buf
        else:
            p   = p - lr * g / avg

    With ``v`` starting at 0 the first step moves each coordinate by ``lr / sqrt(1 - alpha)`` (10 * lr for
    the default alpha). State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check_hyperparameters(self, group: dict) -> None:
        for name in ("lr", "alpha", "eps", "weight_decay", "momentum"):
            self._check(name, group[name])

    def _update(self, group: dict) -> None:
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        for p, x, grad in self._with_grad(group):
            xp = get_array_module(x)
            state = self.state.setdefault(p, {})
            if not state:
                state["step"] = 0
                state["square_avg"] = xp.zeros_like(x)
            # the optional buffers are made on first use, so switching an option on later works too
            if momentum > 0 and "momentum_buffer" not in state:
                state["momentum_buffer"] = xp.zeros_like(x)
            if group["centered"] and "grad_avg" not in state:
                state["grad_avg"] = xp.zeros_like(x)
            state["step"] += 1
            g = self._l2(x, grad, group["weight_decay"])
            v = state["square_avg"]
            avg = xp.multiply(g, g, out=xp.empty_like(v))  # the one scratch array (out=: 0-d safe)
            avg *= 1 - alpha
            v *= alpha
            v += avg
            if group["centered"]:
                gbar = state["grad_avg"]
                xp.subtract(g, gbar, out=avg)
                avg *= 1 - alpha
                gbar += avg                                 # gbar + (1-alpha)(g - gbar): torch's lerp_
                xp.multiply(gbar, gbar, out=avg)
                xp.subtract(v, avg, out=avg)
                xp.sqrt(avg, out=avg)
            else:
                xp.sqrt(v, out=avg)
            avg += eps
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += xp.divide(g, avg, out=avg)
                x -= lr * buf
            else:
                xp.divide(g, avg, out=avg)
                avg *= -lr
                x += avg
