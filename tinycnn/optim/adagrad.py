"""Adagrad: per-coordinate learning rates scaled by the root of the summed squared gradients."""
from __future__ import annotations

from ..backend import get_array_module
from .optimizer import Optimizer


class Adagrad(Optimizer):
    r"""Adagrad, PyTorch's update rule. For each parameter ``p`` with gradient ``g`` at step ``t = 1, 2, ...``:

    .. code-block:: text

        g    = g + weight_decay * p                       (L2 penalty folded into the gradient)
        clr  = lr / (1 + (t - 1) * lr_decay)
        sum  = sum + g * g                                (sum starts at initial_accumulator_value)
        p    = p - clr * g / (sqrt(sum) + eps)            (eps outside the square root)

    State per parameter: ``step`` (int) and ``sum``, created when the optimizer is built (as PyTorch does).
    A parameter group's own ``initial_accumulator_value`` is honoured; PyTorch (2.x) fills every group's
    ``sum`` with the constructor's value and ignores a group's override, the one place where we differ.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _check_hyperparameters(self, group: dict) -> None:
        for name in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            self._check(name, group[name])

    def _init_group_state(self, group: dict) -> None:
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p, group: dict) -> dict:
        xp = get_array_module(p.array)
        state = self.state[p] = {"step": 0, "sum": xp.full_like(p.array, group["initial_accumulator_value"])}
        return state

    def _update(self, group: dict) -> None:
        lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
        for p, x, grad in self._with_grad(group):
            xp = get_array_module(x)
            state = self.state.get(p) or self._init_state(p, group)
            state["step"] += 1
            g = self._l2(x, grad, group["weight_decay"])
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            total = state["sum"]
            denom = xp.multiply(g, g, out=xp.empty_like(total))   # the one scratch array (0-d safe)
            total += denom
            xp.sqrt(total, out=denom)
            denom += eps
            xp.divide(g, denom, out=denom)
            denom *= -clr
            x += denom
