"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``."""
from __future__ import annotations

from collections import OrderedDict

from .module import Module


class Sequential(Module):
    """Runs its modules in order; built from modules or from an OrderedDict of named modules.

    ``model(x)`` is ``for layer in model: x = layer(x)``, nothing else (fused layers are put in explicitly:
    ``tinycnn.accel.fuse``)."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(modules):
                self.add_module(str(i), m)

    def forward(self, x):
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_index(idx, len(self), "Sequential")]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_index(idx, len(self), "Sequential")]
        self.add_module(key, module)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "Sequential":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "Sequential":
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> "Sequential":
        _insert(self, index, module, "Sequential")
        return self

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module

    def __delitem__(self, idx):
        _delete(self, idx, "Sequential")


def _renumber(container, modules) -> None:
    """Re-key the container's children 0, 1, 2... in order (PyTorch keeps the numbering dense)."""
    container._modules.clear()
    for i, m in enumerate(modules):
        container._modules[str(i)] = m


def _insert(container, index: int, module: Module, owner: str) -> None:
    if not isinstance(module, Module):
        raise TypeError(f"{owner}.insert: expected a Module, got {type(module).__name__}")
    n = len(container)
    if not isinstance(index, int) or not -n <= index <= n:
        raise IndexError(f"{owner}.insert: index {index!r} out of range for length {n}")
    modules = list(container._modules.values())
    modules.insert(index, module)
    _renumber(container, modules)


def _delete(container, idx, owner: str) -> None:
    modules = list(container._modules.values())
    if isinstance(idx, slice):
        del modules[idx]
    else:
        del modules[_index(idx, len(modules), owner)]
    _renumber(container, modules)


def _index(idx, n, owner):
    if not isinstance(idx, int):
        raise TypeError(f"{owner} indices must be integers or slices, got {type(idx).__name__}")
    if not -n <= idx < n:
        raise IndexError(f"{owner} index {idx} out of range for length {n}")
    return idx % n


class ModuleList(Module):
    def __init__(self, modules=None):
        super().__init__()
        for m in modules or []:
            self.append(m)

    def append(self, module: Module) -> "ModuleList":
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules) -> "ModuleList":
        for m in modules:
            self.append(m)
        return self

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return list(self._modules.values())[_index(idx, len(self), "ModuleList")]

    def __setitem__(self, idx, module):
        self.add_module(str(_index(idx, len(self), "ModuleList")), module)

    def __delitem__(self, idx):
        _delete(self, idx, "ModuleList")

    def insert(self, index: int, module: Module) -> None:
        _insert(self, index, module, "ModuleList")

    def pop(self, index: int = -1) -> Module:
        module = self[index]
        del self[index]
        return module

    def __iadd__(self, modules) -> "ModuleList":
        return self.extend(modules)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    def __init__(self, modules=None):
        super().__init__()
        for name, m in (modules or {}).items():
            self.add_module(name, m)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __contains__(self, key):
        return key in self._modules

    def __delitem__(self, key):
        del self._modules[key]

    def pop(self, key) -> Module:
        return self._modules.pop(key)

    def update(self, modules) -> None:
        for name, m in (modules.items() if hasattr(modules, "items") else modules):
            self.add_module(name, m)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()
