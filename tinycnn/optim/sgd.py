"""Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay."""
from __future__ import annotations

from .optimizer import Optimizer


class SGD(Optimizer):
    r"""SGD, PyTorch's update rule. For each parameter ``p`` with gradient ``g`` at step ``t``:

    .. code-block:: text

        g = g + weight_decay * p                                   (L2 penalty folded into the gradient)
        if momentum != 0:
            buf = g                                  at t = 1      (no dampening on the first step)
            buf = momentum * buf + (1 - dampening) * g   for t > 1
            g = g + momentum * buf   if nesterov   else   buf
        p = p - lr * g

    State per parameter: ``momentum_buffer`` (only when ``momentum != 0``).
    Nesterov needs ``momentum > 0`` and ``dampening == 0``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _check_hyperparameters(self, group: dict) -> None:
        self._check("lr", group["lr"])
        self._check("momentum", group["momentum"])
        self._check("weight_decay", group["weight_decay"])
        self._check("dampening", group["dampening"], low=-float("inf"))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov=True requires momentum > 0 and dampening == 0, got "
                             f"momentum={group['momentum']!r}, dampening={group['dampening']!r}")

    def _update(self, group: dict) -> None:
        lr, momentum, dampening = group["lr"], group["momentum"], group["dampening"]
        for p, x, grad in self._with_grad(group):
            g = self._l2(x, grad, group["weight_decay"])
            if momentum != 0:
                state = self.state.setdefault(p, {})
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = g.copy()
                else:
                    buf *= momentum
                    buf += (1 - dampening) * g
                if group["nesterov"]:
                    g = g + momentum * buf
                else:
                    g = buf
            x -= lr * g
