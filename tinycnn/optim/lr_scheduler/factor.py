"""Schedules that scale the base rate by a factor: ``LambdaLR``, ``MultiplicativeLR``, ``ConstantLR``,
``LinearLR`` (warm-up) and ``PolynomialLR``.

As for the classic decays (``base.py``), each ``get_lr`` is PyTorch's recursive form, so the rates equal
``torch.optim.lr_scheduler``'s bit for bit; ``_get_closed_form_lr`` is the direct formula, used when a
scheduler is sent to an epoch (``SequentialLR`` at a milestone, the deprecated ``step(epoch)``).
"""
from __future__ import annotations

import numbers
import types

from ..optimizer import Optimizer
from .base import LRScheduler, _positive_int


def _lambdas(owner: str, optimizer: Optimizer, lr_lambda) -> list:
    n = len(optimizer.param_groups)
    lambdas = list(lr_lambda) if isinstance(lr_lambda, (list, tuple)) else [lr_lambda] * n
    if len(lambdas) != n:
        raise ValueError(f"{owner}: expected {n} lr_lambdas (one per parameter group), but got {len(lambdas)}")
    for fn in lambdas:
        if not callable(fn):
            raise TypeError(f"{owner}: lr_lambda should be a function, but got {type(fn).__name__}")
    return lambdas


class _LambdaBase(LRScheduler):
    """The functions themselves are not saved in ``state_dict`` (as in PyTorch, only the ``__dict__`` of callable
    objects that are not plain functions); rebuild the scheduler with them, then load the state."""

    def state_dict(self) -> dict:
        out = super().state_dict()
        out["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                             for fn in self.lr_lambdas]
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        saved = state_dict.pop("lr_lambdas", None) or []
        super().load_state_dict(state_dict)
        for fn, attrs in zip(self.lr_lambdas, saved):
            if attrs is not None:
                fn.__dict__.update(attrs)


class LambdaLR(_LambdaBase):
    """``lr_e = base_lr * lr_lambda(e)``: any schedule given as a function of the epoch (one function, or one
    per parameter group)."""

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _lambdas("LambdaLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaBase):
    """``lr_e = lr_{e-1} * lr_lambda(e)`` (the function gives the factor of each epoch)."""

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        self.lr_lambdas = _lambdas("MultiplicativeLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * fn(self.last_epoch) for fn, lr in zip(self.lr_lambdas, self._current())]


def _factor(owner: str, name: str, value, low: float, high: float, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value > high or value < low or (
            low_open and value == low):
        bound = f"in ({low}, {high}]" if low_open else f"in [{low}, {high}]"
        raise ValueError(f"{owner}: {name} must be a number {bound}, got {value!r}")
    return value


class ConstantLR(LRScheduler):
    """``lr_e = base_lr * factor`` for ``e < total_iters``, then ``base_lr`` (a constant warm-up)."""

    _hyper = ("factor", "total_iters")

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        self.factor = _factor("ConstantLR", "factor", factor, 0.0, 1.0)
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current()]
        if self.last_epoch != self.total_iters:
            return self._current()
        return [lr * (1.0 / self.factor) for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    r"""The factor moves linearly from ``start_factor`` to ``end_factor`` over ``total_iters`` epochs (linear
    warm-up): ``lr_e = base_lr * (s + (t - s) * min(e, T) / T)``, computed recursively as PyTorch does:

    .. code-block:: text

        lr_e = lr_{e-1} * (1 + (t - s) / (T s + (e - 1)(t - s)))       for 0 < e <= T
    """

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5, last_epoch: int = -1):
        self.start_factor = _factor("LinearLR", "start_factor", start_factor, 0.0, 1.0, low_open=True)
        self.end_factor = _factor("LinearLR", "end_factor", end_factor, 0.0, 1.0)
        self.total_iters = _positive_int("LinearLR", "total_iters", total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        s, t, n = self.start_factor, self.end_factor, self.total_iters
        if self.last_epoch == 0:
            return [lr * s for lr in self._current()]
        if self._is_initial or self.last_epoch > n:
            return self._current()
        return [lr * (1.0 + (t - s) / (n * s + (self.last_epoch - 1) * (t - s))) for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        s, t, n = self.start_factor, self.end_factor, self.total_iters
        return [base * (s + (t - s) * min(n, self.last_epoch) / n) for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    r"""``lr_e = base_lr * (1 - min(e, T) / T)^power``: a polynomial decay to 0 over ``total_iters`` epochs."""

    _hyper = ("total_iters", "power")

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        self.total_iters = _positive_int("PolynomialLR", "total_iters", total_iters)
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, n = self.last_epoch, self.total_iters
        if self._is_initial or e > n:
            return self._current()
        factor = ((1.0 - e / n) / (1.0 - (e - 1) / n)) ** self.power
        return [lr * factor for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        n = self.total_iters
        return [base * (1.0 - min(n, self.last_epoch) / n) ** self.power for base in self.base_lrs]
