"""``Optimizer``: the base class of the optimizers, with PyTorch's parameter groups and state-dict format.

An optimizer holds ``param_groups``, a list of dicts: each has ``"params"`` (a list of parameters) and every
hyper-parameter of the optimizer (``lr``, ``momentum``...); a value a group does not give is taken from
``defaults`` (the constructor's arguments). ``state`` maps a parameter to a dict of its running buffers
(momentum, moments, step count), created on the parameter's first step with the parameter's array module and
dtype, so they live on the same device and float32 stays float32.

Updates work directly on the arrays (``p.array`` and ``p.grad.array``) without recording a graph, and change
``p.array`` and the state in place: no new parameter arrays are allocated per step. Parameters whose ``grad``
is None are skipped (they keep their value and their state).

``state_dict()`` has PyTorch's layout, with parameters replaced by their index in the order of the groups::

    {"state": {0: {"step": 3, "exp_avg": array, ...}, 1: {...}},
     "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}

Values are arrays and Python numbers only, so ``tinycnn.save`` stores it without pickle. The arrays are
copies (a snapshot; PyTorch returns references), so stepping on after ``state_dict()`` does not change it.
"""
from __future__ import annotations

import numbers

import numpy as np

from ..autograd import Tensor, enable_grad
from ..backend import device_of, get_array_module, to_device


class Optimizer:
    """Base class: subclasses define ``_check_hyperparameters(group)`` and ``_update(group)``."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self._check_hyperparameters(self.defaults)
        self.state: dict = {}
        self.param_groups: list[dict] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, got a single "
                            f"Tensor (wrap it in a list: [p])")
        if isinstance(params, dict):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, got a dict "
                            f"(wrap a single parameter group in a list: [group])")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, "
                            f"got {type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{self._name}: got an empty parameter list (params is empty)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # ---- groups ------------------------------------------------------------------------------------------
    def add_param_group(self, param_group: dict) -> None:
        """Add a group (a dict with ``"params"`` and optional overrides of ``defaults``), as PyTorch does."""
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}.add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError(f"{self._name}.add_param_group: the group has no 'params' entry")
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{self._name}: a parameter group's params must be an ordered sequence, got a set "
                            f"(its order changes between runs, which breaks state_dict)")
        else:
            params = list(params)
        seen = set()
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{self._name} can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{self._name} can't optimize a non-leaf Tensor (one made by an op); "
                                 f"optimize the leaves it was computed from")
            if id(p) in seen:
                raise ValueError(f"{self._name}: a parameter appears twice in one parameter group")
            seen.add(id(p))
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if seen & taken:
            raise ValueError(f"{self._name}: some parameters appear in more than one parameter group")
        # as in PyTorch, extra keys (a group "name", say) are kept and saved; they are not checked
        group["params"] = params
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_hyperparameters(group)
        self.param_groups.append(group)
        self._init_group_state(group)

    def _init_group_state(self, group: dict) -> None:
        """Hook for optimizers that create state eagerly (Adagrad); lazy by default."""

    def _check_hyperparameters(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check(self, name: str, value, low: float = 0.0, high: float | None = None) -> None:
        """Raise ValueError naming ``name`` unless ``low <= value`` (and ``value < high`` when given)."""
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{self._name}: {name} must be a real number, got {value!r}")
        if not value >= low or (high is not None and not value < high):
            bound = f">= {low}" if high is None else f"in [{low}, {high})"
            raise ValueError(f"{self._name}: invalid {name} {value!r} (must be {bound})")

    # ---- stepping ----------------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``grad = None`` (default, saves memory) or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluates and returns the loss) is
        called first, with grad mode on, and its loss returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update(group)
        return loss

    def _update(self, group: dict) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _with_grad(group: dict):
        """Yield ``(param, param array, grad array)`` for the group's parameters that have a gradient."""
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.array, p.grad.array

    @staticmethod
    def _l2(param, grad, weight_decay: float):
        """``grad + weight_decay * param`` as a new array (never modifies ``grad``), or ``grad`` when 0."""
        if weight_decay == 0:
            return grad
        xp = get_array_module(param)
        out = xp.multiply(param, weight_decay, out=xp.empty_like(param))   # out=: an array even for 0-d
        out += grad
        return out

    # ---- state dict --------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """``{"state": {index: {name: array or number}}, "param_groups": [{..., "params": [indices]}]}``."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: _snapshot(v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore groups' hyper-parameters and the state; arrays are copied onto each parameter's device
        and cast to its dtype (``step`` stays an integer)."""
        if not isinstance(state_dict, dict) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{self._name}.load_state_dict: expected a dict with 'state' and 'param_groups' "
                             f"(from Optimizer.state_dict()), got {type(state_dict).__name__}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the state dict has {len(saved_groups)} parameter "
                             f"groups, the optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (saved, own) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(own["params"]):
                raise ValueError(f"{self._name}.load_state_dict: parameter group {i} has "
                                 f"{len(saved['params'])} parameters in the state dict, "
                                 f"{len(own['params'])} in the optimizer")
            for idx, p in zip(saved["params"], own["params"]):
                by_index[int(idx)] = p
        new_state = {}
        for idx, entries in state_dict["state"].items():
            p = by_index.get(int(idx))
            if p is None:
                raise ValueError(f"{self._name}.load_state_dict: state for parameter index {idx}, which no "
                                 f"parameter group lists")
            new_state[p] = {k: _restore(k, v, p, self._name) for k, v in entries.items()}
        new_groups = []
        for saved, own in zip(saved_groups, self.param_groups):
            # the optimizer's own settings first, so that a key missing from an older state dict keeps a value
            group = {k: v for k, v in own.items() if k != "params"}
            group.update((k, tuple(v) if isinstance(v, list) else v) for k, v in saved.items() if k != "params")
            group["params"] = own["params"]
            new_groups.append(group)
        self.state = new_state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines) + "\n)"


def _snapshot(value):
    if hasattr(value, "shape") and hasattr(value, "dtype") and not isinstance(value, np.generic):
        return value.copy()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _restore(key: str, value, p: Tensor, name: str):
    """A state entry from a state dict, as this optimizer keeps it for parameter ``p``."""
    if key == "step":
        return int(np.asarray(to_device(value, "cpu") if hasattr(value, "shape") else value))
    if not hasattr(value, "shape"):
        return value
    if tuple(value.shape) != tuple(p.array.shape):
        raise ValueError(f"{name}.load_state_dict: state {key!r} has shape {tuple(value.shape)}, "
                         f"the parameter has shape {tuple(p.array.shape)}")
    xp = get_array_module(p.array)
    value = to_device(value, device_of(p.array))
    dtype = p.array.dtype if value.dtype.kind == "f" else value.dtype
    return xp.array(value, dtype=dtype, copy=True)
