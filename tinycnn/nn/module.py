"""``Module``: the base class of layers and models, with PyTorch's registration and state-dict rules.

Assigning a ``Parameter`` or a ``Module`` to an attribute registers it; ``register_buffer`` registers
non-learnable state (BatchNorm's running statistics). Names in ``state_dict`` are dotted attribute paths,
so a model built with the same attribute names as torchvision's has the same keys. Re-assigning a name
keeps its place in that order (``model.fc = nn.Linear(...)`` replaces the head where it was, so
``nn.Sequential(*list(model.children())[:-1])`` still drops the head).

Hooks, as in PyTorch (``tinycnn/nn/module_hooks.py`` runs them): ``register_forward_pre_hook``,
``register_forward_hook``, ``register_full_backward_pre_hook`` and ``register_full_backward_hook``, each
returning a handle whose ``remove()`` takes the hook away.
"""
from __future__ import annotations

from collections import OrderedDict, namedtuple

import numpy as np

from .. import backend
from ..autograd import Tensor
from ..hooks import RemovableHandle
from .module_hooks import call_with_hooks
from .parameter import Parameter, is_lazy

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
_HOOK_DICTS = ("_forward_pre_hooks", "_forward_hooks", "_backward_pre_hooks", "_backward_hooks")
_HOOK_SETS = ("_forward_pre_hooks_with_kwargs", "_forward_hooks_with_kwargs", "_forward_hooks_always_called")


class Module:
    training: bool

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        for hooks in _HOOK_DICTS + _HOOK_SETS:
            object.__setattr__(self, hooks, OrderedDict())

    # ---- registration ---------------------------------------------------------------------------------------
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}: call super().__init__() before assigning "
                                 f"attributes (assigning {name!r})")
        if isinstance(value, Parameter):
            self._forget(name, keep=self._parameters)     # an existing name keeps its place
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=self._modules)
            self._modules[name] = value
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                f"(a Tensor or None expected)")
            self._buffers[name] = value
        elif name in self._parameters or name in self._modules:
            if value is not None:
                kind = "parameter" if name in self._parameters else "child module"
                raise TypeError(f"cannot assign {type(value).__name__} as {kind} {name!r} "
                                f"(a {'Parameter' if kind == 'parameter' else 'Module'} or None expected)")
            (self._parameters if name in self._parameters else self._modules)[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        """Drop ``name`` from the instance dict and from every registry but ``keep`` (where it keeps its slot)."""
        self.__dict__.pop(name, None)
        for store in (self._parameters, self._modules, self._buffers):
            if store is not keep:
                store.pop(name, None)
        self._non_persistent.discard(name)

    def __getattr__(self, name):
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for store in ("_parameters", "_buffers", "_modules"):
            if store in d and name in d[store]:
                return d[store][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def _check_name(self, what: str, name, store) -> None:
        """PyTorch's rules for a registered name: a non-empty str without '.', not another kind of attribute."""
        if not isinstance(name, str):
            raise TypeError(f"{what} name should be a string, got {type(name).__name__}")
        if not name:
            raise KeyError(f'{what} name can\'t be empty string ""')
        if "." in name:
            raise KeyError(f'{what} name can\'t contain ".", got {name!r}')
        if name not in store and (name in self.__dict__ or hasattr(type(self), name)
                                  or any(name in d for d in (self._parameters, self._buffers, self._modules))):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, "
                            f"got {type(param).__name__}")
        self._check_name("parameter", name, self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Non-learnable state that moves with ``to()``; in the state dict unless ``persistent=False``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got {type(tensor).__name__}")
        self._check_name("buffer", name, self._buffers)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got {type(module).__name__}")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string, got {type(name).__name__}")
        if "." in name or not name:
            raise KeyError(f'module name can\'t contain "." or be empty, got {name!r}')
        if name not in self._modules and (name in self._parameters or name in self._buffers
                                          or hasattr(type(self), name)):
            raise KeyError(f"attribute '{name}' already exists")
        self.__dict__.pop(name, None)
        self._modules[name] = module

    register_module = add_module

    # ---- calling -------------------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        if self._has_hooks():
            return call_with_hooks(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ---- hooks ---------------------------------------------------------------------------------------------
    def _has_hooks(self) -> bool:
        return bool(self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks)

    def _add_hook(self, store: str, hook, prepend: bool, flags=()) -> RemovableHandle:
        hooks = getattr(self, store)
        handle = RemovableHandle(hooks, extra_dict=[getattr(self, f) for f in _HOOK_SETS])
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        for flag in flags:
            getattr(self, flag)[handle.id] = True
        return handle

    def register_forward_pre_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False):
        """``hook(module, args)`` before each ``forward``; it may return new args (a tuple or one value).
        With ``with_kwargs=True``: ``hook(module, args, kwargs)`` returning None or ``(args, kwargs)``."""
        return self._add_hook("_forward_pre_hooks", hook, prepend,
                              ("_forward_pre_hooks_with_kwargs",) if with_kwargs else ())

    def register_forward_hook(self, hook, *, prepend: bool = False, with_kwargs: bool = False,
                              always_call: bool = False):
        """``hook(module, args, output)`` after each ``forward``; it may return a replacement output.
        ``with_kwargs=True`` passes ``(module, args, kwargs, output)``; ``always_call=True`` runs it (with
        output None) even when ``forward`` raises."""
        flags = (("_forward_hooks_with_kwargs",) if with_kwargs else ()) + \
            (("_forward_hooks_always_called",) if always_call else ())
        return self._add_hook("_forward_hooks", hook, prepend, flags)

    def register_full_backward_pre_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_output)`` when the gradients of the module's outputs are known; it may return a
        replacement tuple, used from there on."""
        return self._add_hook("_backward_pre_hooks", hook, prepend)

    def register_full_backward_hook(self, hook, prepend: bool = False):
        """``hook(module, grad_input, grad_output)`` once the gradients with respect to the module's tensor
        inputs (this call's share only) are computed; it may return a replacement for ``grad_input``.
        Entries are None for inputs that do not require grad. See ``module_hooks.py`` for how."""
        return self._add_hook("_backward_hooks", hook, prepend)

    # ---- traversal -----------------------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix: str = "", remove_duplicate: bool = True):
        """Every sub-module (self first), depth first, with its dotted name; a module reachable by two paths
        is listed once unless ``remove_duplicate=False``."""
        if isinstance(memo, str):            # named_modules("prefix"): the older positional use
            memo, prefix = None, memo
        memo = set() if memo is None else memo
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if remove_duplicate:
                if id(module) in memo:
                    continue
                memo.add(id(module))
            yield name, module
            children = [(f"{name}.{n}" if name else n, m) for n, m in module._modules.items() if m is not None]
            stack.extend(reversed(children))

    def get_submodule(self, target: str) -> "Module":
        """The sub-module at dotted path ``target`` ("" is self), or an AttributeError naming the missing part."""
        module = self
        for part in target.split(".") if target else []:
            child = module._modules.get(part)
            if child is None:
                raise AttributeError(f"{type(module).__name__} has no submodule {part!r} (looking up {target!r})")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if module._parameters.get(name) is None:
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r} (looking up {target!r})")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if module._buffers.get(name) is None:
            raise AttributeError(f"{type(module).__name__} has no buffer {name!r} (looking up {target!r})")
        return module._buffers[name]

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for name, m in self._modules.items():
            if m is not None:
                yield name, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str = "", recurse: bool = True):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_name, module in modules:
            for name, value in getattr(module, store).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{mod_name}.{name}" if mod_name else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True):
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ---- modes and bulk changes ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError(f"train(mode): mode must be a bool, got {mode!r}")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """``grad = None`` for every parameter (the default), or zero the gradients in place."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.array[...] = 0

    def apply(self, fn) -> "Module":
        """``fn(m)`` for every sub-module, children first (each child's subtree in order), then self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def to(self, *args, **kwargs) -> "Module":
        """Move (and/or cast, floating point only) every parameter and buffer, in place, like PyTorch:
        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)`` (its device and dtype);
        ``device`` is a string or a ``tinycnn.device``. ``non_blocking`` is accepted and ignored."""
        device, dtype = _to_args(args, kwargs)
        dtype = backend.to_dtype(dtype)
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for name, t in store.items():
                    if t is None or is_lazy(t):
                        continue
                    data = backend.to_device(t.array, device) if device is not None else t.array
                    if dtype is not None and data.dtype.kind == "f":
                        data = data.astype(dtype, copy=False)
                    t.array = data
                    if t.grad is not None:
                        t.grad = Tensor(t.grad.array.astype(data.dtype) if device is None
                                        else backend.to_device(t.grad.array, device).astype(data.dtype))
        return self

    def cuda(self) -> "Module":
        return self.to("cuda")

    def cpu(self) -> "Module":
        return self.to("cpu")

    def float(self) -> "Module":
        return self.to(dtype=np.float32)

    def double(self) -> "Module":
        return self.to(dtype=np.float64)

    # ---- state dict ----------------------------------------------------------------------------------------
    def share_memory(self) -> "Module":
        """Put every parameter and buffer in shared memory (``Tensor.share_memory_``), so that processes started
        with the model (Hogwild training) update one set of weights. Gradients stay each process's own."""
        for t in [*self.parameters(), *self.buffers()]:
            t.share_memory_()
        return self

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """Parameters and persistent buffers by dotted name (detached tensors sharing the data; the tensors
        themselves with ``keep_vars=True``; a lazy module's uninitialised parameters as they are)."""
        if args:                           # state_dict(prefix) or PyTorch's positional (destination, prefix)
            if isinstance(args[0], str):
                prefix = args[0]
            else:
                destination = args[0]
                prefix = args[1] if len(args) > 1 else prefix
        out = OrderedDict() if destination is None else destination
        for mod_name, module in self.named_modules(prefix=prefix.rstrip(".")):
            base = f"{mod_name}." if mod_name else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[base + name] = p if keep_vars or is_lazy(p) else p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[base + name] = b if keep_vars or is_lazy(b) else b.detach()
        return out

    def _materialize_from_state_dict(self, state_dict, prefix: str) -> None:
        """Give this module's uninitialised (lazy) parameters and buffers the shapes ``state_dict`` holds for
        them, before the values are copied in (PyTorch's lazy load hook); a no-op for ordinary modules."""
        for store in (self._parameters, self._buffers):
            for name, t in store.items():
                value = state_dict.get(prefix + name)
                if is_lazy(t) and value is not None and not is_lazy(value):
                    t.materialize(tuple(value.shape))

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy values (Tensors or arrays) into the parameters and buffers, keeping their dtype and device.

        In strict mode every missing, unexpected and mis-shaped key is named in one error; otherwise
        mis-shaped keys still raise. Returns ``(missing_keys, unexpected_keys)`` as PyTorch's named tuple.
        Uninitialised parameters of lazy modules take the shapes of the values loaded into them.
        """
        for mod_name, module in self.named_modules():
            module._materialize_from_state_dict(state_dict, f"{mod_name}." if mod_name else "")
        own = self.state_dict()
        targets = {}
        for mod_name, module in self.named_modules():
            base = f"{mod_name}." if mod_name else ""
            for store in (module._parameters, module._buffers):
                for name, t in store.items():
                    if t is not None:
                        targets[base + name] = t
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched = []
        for key, value in state_dict.items():
            if key not in own:
                continue
            arr = value.array if isinstance(value, Tensor) else np.asarray(value)
            if tuple(arr.shape) != tuple(own[key].shape):
                mismatched.append(f"{key}: checkpoint {tuple(arr.shape)} vs model {tuple(own[key].shape)}")
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n  "
                               + "\n  ".join(problems))
        for key, value in state_dict.items():
            if key not in targets:
                continue
            t = targets[key]
            arr = value.array if isinstance(value, Tensor) else value
            arr = backend.to_device(arr, t.device) if hasattr(arr, "shape") else np.asarray(arr)
            xp_target = backend.get_array_module(t.array)
            t.array = xp_target.array(arr, dtype=t.array.dtype, copy=True).reshape(t.array.shape)
        return _IncompatibleKeys(missing, unexpected)

    # ---- printing ------------------------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {child}")
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not lines:
            return head + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def __setstate__(self, state):
        self.__dict__.update(state)
        for hooks in _HOOK_DICTS + _HOOK_SETS:        # pickles from before hooks existed
            self.__dict__.setdefault(hooks, OrderedDict())

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules) | set(self._buffers))


def _to_args(args, kwargs):
    """(device, dtype) from ``Module.to``'s PyTorch forms; either may be None."""
    kwargs = dict(kwargs)
    kwargs.pop("non_blocking", None)
    kwargs.pop("memory_format", None)
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    if kwargs:
        raise TypeError(f"Module.to() got unexpected keyword arguments {sorted(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, (np.dtype, type)):
            dtype = a
        elif isinstance(a, (str, backend.device)):
            if isinstance(a, str) and a not in ("cpu", "cuda") and not a.startswith("cuda:"):
                dtype = a          # a dtype given by name ("float64")
            else:
                device = a
        elif isinstance(a, bool):  # the positional non_blocking of to(device, dtype, non_blocking)
            continue
        else:
            raise TypeError(f"Module.to(): expected a device, a dtype or a tensor, got {a!r}")
    return device, dtype
