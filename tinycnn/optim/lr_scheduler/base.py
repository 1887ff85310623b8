"""The scheduler base class and the classic decays (step, multi-step, exponential, cosine), PyTorch's semantics:
``step()`` once per epoch, after ``optimizer.step()``.

Building a scheduler stores each group's starting rate as ``group["initial_lr"]`` (kept if already there),
sets ``last_epoch = 0`` and leaves the rates as they are. Each ``step()`` increments ``last_epoch`` and
computes the new rates from the current ones (PyTorch's recursive ``get_lr``, so the sequence is bit for bit
the one ``torch.optim.lr_scheduler`` gives, including when something else changes ``group["lr"]``).

To resume: build the optimizer and the scheduler as at the start, then load the optimizer's state dict
(which restores ``lr`` and ``initial_lr`` in its groups) and the scheduler's.
"""
from __future__ import annotations

import math
import numbers
from bisect import bisect_right
from collections import Counter

from ..optimizer import Optimizer


class LRScheduler:
    """Base class: subclasses define ``get_lr()`` (the rates for the new ``last_epoch``)."""

    _hyper: tuple = ()      # names of the subclass's settings that go into state_dict

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: {type(optimizer).__name__} is not an Optimizer")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an integer >= -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when resuming a "
                                   f"scheduler with last_epoch={last_epoch} (load the optimizer's state first)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._is_initial = False
        self._initial_step()

    def _initial_step(self) -> None:
        """The step a scheduler takes when it is built (PyTorch's ``_initial_step``): last_epoch -1 -> 0."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list[float]:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch and write the new rates into the optimizer's groups. (``step(epoch)``, deprecated
        in PyTorch, jumps to ``epoch`` using the closed form where the scheduler has one.)"""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            values = self._get_closed_form_lr() if hasattr(self, "_get_closed_form_lr") else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self) -> list[float]:
        """The rates the last ``step()`` (or the constructor) set, one per parameter group."""
        return list(self._last_lr)

    def _current(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Plain numbers and lists: ``last_epoch``, ``base_lrs``, ``_last_lr``, ``_step_count`` and settings."""
        out = {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs), "_last_lr": list(self._last_lr),
               "_step_count": self._step_count}
        for name in self._hyper:
            out[name] = getattr(self, name)
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        known = {"last_epoch", "base_lrs", "_last_lr", "_step_count", *self._hyper}
        unknown = set(state_dict) - known
        if unknown:
            raise ValueError(f"{type(self).__name__}.load_state_dict: unexpected keys {sorted(unknown)}")
        for key, value in state_dict.items():
            setattr(self, key, list(value) if key in ("base_lrs", "_last_lr") else value)

    def __repr__(self) -> str:
        settings = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._hyper)
        return f"{type(self).__name__}({settings}, last_epoch={self.last_epoch})"


def _positive_int(owner: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


class StepLR(LRScheduler):
    """Multiply the rates by ``gamma`` every ``step_size`` epochs: ``lr_e = lr_0 * gamma^floor(e / step_size)``
    (computed recursively: at a multiple of ``step_size``, ``lr = lr * gamma``)."""

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        self.step_size = _positive_int("StepLR", "step_size", step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the rates by ``gamma`` at each epoch in ``milestones`` (by ``gamma^k`` for a milestone listed
    ``k`` times): ``lr_e = lr_0 * gamma^(number of milestones <= e)``."""

    _hyper = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        for m in milestones:
            if isinstance(m, bool) or not isinstance(m, numbers.Integral):
                raise ValueError(f"MultiStepLR: milestones must be integers, got {milestones!r}")
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        count = Counter(self.milestones)[self.last_epoch]
        if count == 0:
            return self._current()
        return [lr * self.gamma ** count for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** bisect_right(self.milestones, self.last_epoch) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the rates by ``gamma`` every epoch: ``lr_e = lr_0 * gamma^e``."""

    _hyper = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current()
        return [lr * self.gamma for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from ``base_lr`` to ``eta_min`` over ``T_max`` epochs (SGDR without restarts):
    ``lr_e = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / T_max)) / 2``.

    Computed with PyTorch's recursive form, so that the values equal ``get_last_lr()`` of PyTorch exactly:

    .. code-block:: text

        lr_e = eta_min + (lr_{e-1} - eta_min) * (1 + cos(pi e / T)) / (1 + cos(pi (e-1) / T))
        lr_e = lr_{e-1} + (base_lr - eta_min) * (1 - cos(pi / T)) / 2     when (e - 1 - T) % 2T == 0

    (the second line is the epoch after a trough, where the ratio above would be 0/0). Past ``T_max`` the
    rate rises again along the cosine, as PyTorch's does.
    """

    _hyper = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        if isinstance(T_max, bool) or not isinstance(T_max, numbers.Real) or not T_max > 0:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive number of epochs, got {T_max!r}")
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current()
        if self._step_count == 1 and e > 0:   # built with last_epoch > 0: closed form
            return [eta_min + (base - eta_min) * (1 + math.cos(e * math.pi / T)) / 2 for base in self.base_lrs]
        if (e - 1 - T) % (2 * T) == 0:
            return [lr + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, lr in zip(self.base_lrs, self._current())]
        return [(1 + math.cos(math.pi * e / T)) / (1 + math.cos(math.pi * (e - 1) / T)) * (lr - eta_min) + eta_min
                for lr in self._current()]

    def _get_closed_form_lr(self) -> list[float]:
        e, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        return [eta_min + (base - eta_min) * (1 + math.cos(math.pi * e / T)) / 2 for base in self.base_lrs]
