"""The autograd core: ``Tensor``, ``Function`` and the reverse-mode engine.

A ``Function`` is one differentiable op: ``forward`` maps arrays to one array and keeps on ``self`` what
``backward`` needs; ``backward`` maps the output gradient to one gradient per input. ``Function.apply`` runs
forward and, when some input requires grad and grad mode is on, records the function as the output's
creator (define-by-run). ``Tensor.backward`` then walks the recorded graph in reverse topological order.

Import direction: this module knows nothing of the ops. ``tinycnn.ops`` installs the arithmetic and shape
methods (``__add__``, ``sum``, ``reshape``...) on ``Tensor`` when it is imported, which keeps the layers
pointing down (ops -> autograd) without an import circle; ``tinycnn/__init__.py`` imports ``tinycnn.ops``.
"""
from __future__ import annotations

import contextlib
import numbers
import threading
from collections import OrderedDict

import numpy as np

from . import backend
from .backend import get_array_module
from .hooks import RemovableHandle

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


def set_grad_enabled(mode: bool) -> None:
    _state.grad_enabled = bool(mode)


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode inside and restores the previous mode after."""

    mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False


class no_grad(_GradMode):
    """Record nothing: ops inside return tensors with ``requires_grad=False`` and keep no graph."""

    mode = False


class enable_grad(_GradMode):
    mode = True


class Size(tuple):
    """A shape; a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self):
        return f"tinycnn.Size({list(self)})"


class Function:
    """One differentiable op. Subclasses define ``forward(*arrays, **params)`` and ``backward(grad_out)``.

    ``backward`` returns one gradient (array or None) per positional input of ``forward``, each of that
    input's shape. ``self.needs_input_grad[i]`` tells which ones are wanted, so the rest can be skipped.
    """

    inputs: tuple | None = None
    needs_input_grad: tuple = ()
    attributes: dict | None = None   # the keyword parameters it was applied with (stride, padding...)

    @classmethod
    def apply(cls, *inputs, **params):
        fn = cls()
        record = is_grad_enabled() and any(
            isinstance(t, Tensor) and t.requires_grad for t in inputs)
        if record:
            fn.needs_input_grad = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        arrays = [t.array if isinstance(t, Tensor) else t for t in inputs]
        if len(arrays) > 1:
            _check_same_device(cls, arrays)
        out = Tensor(fn.forward(*arrays, **params))
        if record:
            fn.inputs = inputs
            fn.attributes = params     # for tools that show the graph (tinycnn.utils.graph)
            out.requires_grad = True
            out._ctx = fn
        return out

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError

    def release(self):
        """Drop the inputs and everything saved for backward (called after backward unless retain_graph)."""
        self.__dict__.clear()
        self.inputs = None

    @property
    def name(self) -> str:
        return type(self).__name__


def _check_same_device(cls, arrays) -> None:
    """One op, one device: a NumPy array meeting a CuPy array is a user error worth naming clearly."""
    kinds = {type(a).__module__.startswith("cupy") for a in arrays if hasattr(a, "shape")}
    if len(kinds) > 1:
        devices = [backend.device_of(a) for a in arrays if hasattr(a, "shape")]
        raise RuntimeError(f"{cls.__name__}: expected all tensors on the same device, got tensors on "
                           f"{' and '.join(dict.fromkeys(devices))} (move them with .to(device))")


def _as_array(data, dtype):
    """Turn user data (array, scalar, nested list) into an array; lists and Python floats -> float32."""
    xp = get_array_module(data)
    if xp is not np or isinstance(data, np.ndarray):
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, np.generic):
        arr = np.asarray(data)
    else:
        try:
            arr = np.asarray(data)
        except ValueError as exc:
            raise ValueError(f"tensor(): data must be a rectangular nested sequence of numbers; "
                             f"got a ragged one ({exc})") from None
        if arr.dtype == object:
            raise TypeError(f"tensor(): cannot make a tensor from {type(data).__name__} "
                            f"holding non-numbers or ragged rows")
        if arr.dtype.kind == "f" and dtype is None:
            arr = arr.astype(backend.DEFAULT_DTYPE)
        elif arr.dtype.kind in "iu" and dtype is None:
            arr = arr.astype(np.int64)
    return arr if dtype is None else arr.astype(dtype, copy=False)


class Tensor:
    """An n-dimensional array (NumPy or CuPy) with an optional gradient and the op that made it.

    ``array`` is the storage itself (a NumPy or CuPy array, as Chainer's ``Variable.array``); the ops read and
    write it. ``data`` is PyTorch's: a tensor sharing that storage, outside the graph.
    """

    __slots__ = ("array", "grad", "requires_grad", "_ctx", "_retains_grad", "_backward_hooks", "__weakref__")
    __array_priority__ = 1000  # so that ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if not hasattr(data, "dtype") or not hasattr(data, "shape") or isinstance(data, np.generic):
            data = _as_array(data, dtype)
        elif dtype is not None and data.dtype != dtype:
            data = data.astype(dtype)
        self.array = data
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._retains_grad = False
        self._backward_hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- basic properties -------------------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's storage, cut from the graph (``requires_grad=False``), as in PyTorch:
        changing it changes this tensor without autograd noticing."""
        return Tensor(self.array)

    @data.setter
    def data(self, value) -> None:
        """``t.data = other`` makes ``t`` use ``other``'s storage (a Tensor or an array), keeping its graph role."""
        self.array = value.array if isinstance(value, Tensor) else value

    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    def size(self, dim: int | None = None):
        return self.shape if dim is None else self.array.shape[dim]

    @property
    def ndim(self) -> int:
        return self.array.ndim

    def dim(self) -> int:
        return self.array.ndim

    def numel(self) -> int:
        return int(self.array.size)

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self) -> str:
        return backend.device_of(self.array)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self):
        return self._ctx

    def __len__(self) -> int:
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __repr__(self) -> str:
        body = np.array2string(self.numpy(), separator=", ", prefix="tensor(")
        extra = []
        if self.dtype != backend.DEFAULT_DTYPE and self.dtype != np.int64:
            extra.append(f"dtype={self.dtype}")
        if self.device != "cpu":
            extra.append(f"device='{self.device}'")
        if self._ctx is not None:
            extra.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extra.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extra) + ")"

    __hash__ = object.__hash__  # __eq__ is elementwise (installed by ops), identity stays hashable

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array)

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        return arr if dtype is None else arr.astype(dtype)

    # ---- conversion ---------------------------------------------------------------------------------------
    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared, not copied, on the CPU)."""
        return backend.to_device(self.array, "cpu")

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item(): only one-element tensors can be converted to a Python scalar, "
                             f"got shape {tuple(self.shape)}")
        return self.numpy().reshape(()).item()

    def tolist(self):
        return self.numpy().tolist()

    def detach(self) -> "Tensor":
        """A new tensor sharing the data, cut from the graph."""
        return Tensor(self.array)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.array.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` of this non-leaf tensor after backward (leaves always keep theirs)."""
        self._retains_grad = True
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time the gradient of this tensor has been computed, as PyTorch does.

        The hook gets the complete gradient (a Tensor) before it flows on to this tensor's inputs or into
        ``.grad``; returning a Tensor replaces the gradient, returning None keeps it. Hooks run in the order
        registered. Returns a handle whose ``remove()`` takes the hook away.
        """
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't require "
                               "gradient")
        if self._backward_hooks is None:
            self._backward_hooks = OrderedDict()
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    def zero_(self) -> "Tensor":
        """Fill with zeros in place (the data of a leaf; used by ``nn.init`` and on ``.grad``)."""
        self.array[...] = 0
        return self

    def to(self, device=None, dtype=None) -> "Tensor":
        """A copy on ``device`` and/or of ``dtype`` (``self`` when nothing changes); differentiable."""
        if isinstance(device, (np.dtype, type)) and dtype is None:
            device, dtype = None, device
        from .ops.conversion import to  # noqa: PLC0415  (ops sit above autograd)
        return to(self, device=device, dtype=dtype)

    def cpu(self) -> "Tensor":
        return self.to("cpu")

    def cuda(self) -> "Tensor":
        return self.to("cuda")

    def float(self) -> "Tensor":
        return self.to(dtype=np.float32)

    def double(self) -> "Tensor":
        return self.to(dtype=np.float64)

    def long(self) -> "Tensor":
        return self.to(dtype=np.int64)

    # ---- backward -----------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) * gradient into ``leaf.grad`` for every leaf that requires grad.

        The graph is walked without recursion (Kahn's algorithm: a tensor's gradient is complete once every
        function that consumed it has sent its share), so graphs of any depth work. Unless ``retain_graph``,
        each function frees what it saved as soon as its backward has run.
        """
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn")
        xp = get_array_module(self.array)
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward(): grad can be implicitly created only for scalar outputs; "
                                   f"this tensor has shape {tuple(self.shape)}, pass `gradient=`")
            grad = xp.ones_like(self.array)
        else:
            grad = gradient.array if isinstance(gradient, Tensor) else xp.asarray(gradient, dtype=self.dtype)
            if grad.shape != self.array.shape:
                raise ValueError(f"backward(): gradient has shape {tuple(grad.shape)}, expected the "
                                 f"tensor's shape {tuple(self.shape)}")
        run_backward(self, grad, retain_graph)


def _accumulate_grad(t: Tensor, g) -> None:
    if t.grad is None:
        t.grad = Tensor(g.copy())  # a copy: g may be shared with another input's gradient
    else:
        t.grad = Tensor(t.grad.array + g)


def _run_tensor_hooks(t: Tensor, g):
    """Pass the complete gradient of ``t`` through its hooks (``Tensor.register_hook``)."""
    for hook in list(t._backward_hooks.values()):
        out = hook(Tensor(g))
        if out is not None:
            new = out.array if isinstance(out, Tensor) else out
            if tuple(new.shape) != tuple(g.shape):
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                                   f"{tuple(new.shape)} for a tensor of shape {tuple(g.shape)}")
            g = new
    return g


def run_backward(root: Tensor, grad, retain_graph: bool = False) -> None:
    # Pass 1: count, for every tensor reachable from root, how many recorded functions consume it.
    pending: dict[int, int] = {}
    stack = [root]
    seen = {id(root)}
    while stack:
        fn = stack.pop()._ctx
        if fn is None:
            continue
        if fn.inputs is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (its saved arrays were freed). "
                "Pass retain_graph=True to the first backward() if you need to.")
        for inp in fn.inputs:
            if isinstance(inp, Tensor) and inp.requires_grad:
                key = id(inp)
                pending[key] = pending.get(key, 0) + 1
                if key not in seen:
                    seen.add(key)
                    stack.append(inp)

    # Pass 2: a tensor is ready once all its consumers have contributed (pending count reaches zero).
    grads = {id(root): grad}
    ready = [root]
    while ready:
        t = ready.pop()
        g = grads.pop(id(t), None)
        if g is not None and t._backward_hooks:
            g = _run_tensor_hooks(t, g)
        fn = t._ctx
        if g is not None and (fn is None or t._retains_grad):
            _accumulate_grad(t, g)
        if fn is None:
            continue
        if g is None:  # no gradient reached this node (every path gave None): its inputs get none from it
            in_grads = (None,) * len(fn.inputs)
        else:
            in_grads = fn.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(fn.inputs):
                raise RuntimeError(f"{fn.name}.backward returned {len(in_grads)} gradients for "
                                   f"{len(fn.inputs)} inputs")
        for inp, gi in zip(fn.inputs, in_grads):
            if not (isinstance(inp, Tensor) and inp.requires_grad):
                continue
            key = id(inp)
            if gi is not None:
                if gi.shape != inp.array.shape:
                    raise RuntimeError(f"{fn.name}.backward returned a gradient of shape {tuple(gi.shape)} "
                                       f"for an input of shape {tuple(inp.array.shape)}")
                if gi.dtype != inp.array.dtype:
                    gi = gi.astype(inp.array.dtype)
                prev = grads.get(key)
                grads[key] = gi if prev is None else prev + gi
            pending[key] -= 1
            if pending[key] == 0:
                ready.append(inp)
        if not retain_graph:
            fn.release()


# ---- creation functions ---------------------------------------------------------------------------------
def tensor(data, requires_grad: bool = False, dtype=None, device=None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    NumPy arrays keep their dtype (float64 stays float64); Python floats and lists become float32,
    Python ints int64.
    """
    if isinstance(data, Tensor):
        data = data.array
    arr = _as_array(data, backend.to_dtype(dtype))
    arr = arr.copy() if arr is data else arr
    if device is not None:
        arr = backend.to_device(arr, device)
    return Tensor(arr, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array``."""
    return Tensor(array)


def _shape_arg(size, name):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or s < 0:
            raise ValueError(f"{name}(): size must be non-negative integers, got {size}")
    return tuple(int(s) for s in size)


def _make(fill, args, size, dtype, device, requires_grad, name):
    if size is not None:
        if args:
            raise TypeError(f"{name}(): give the size positionally or as size=, not both")
        args = (size,)
    shape = _shape_arg(args, name)
    dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
    arr = fill(shape, dtype)
    if device is not None:
        arr = backend.to_device(arr, device)
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``; float32 unless ``dtype``."""
    return _make(np.zeros, args, size, dtype, device, requires_grad, "zeros")


def ones(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.ones, args, size, dtype, device, requires_grad, "ones")


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda s, d: np.full(s, fill_value, d), (), size, dtype, device, requires_grad, "full")


def rand(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from tinycnn's global generator (see ``manual_seed``)."""
    return _make(lambda s, d: backend.get_rng().random(s).astype(d), args, size, dtype, device,
                 requires_grad, "rand")


def randn(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from tinycnn's global generator (see ``manual_seed``)."""
    return _make(lambda s, d: backend.get_rng().standard_normal(s).astype(d), args, size, dtype, device,
                 requires_grad, "randn")


def zeros_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    xp = get_array_module(t.array)
    return Tensor(xp.zeros_like(t.array, dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad=False) -> Tensor:
    xp = get_array_module(t.array)
    return Tensor(xp.ones_like(t.array, dtype=dtype), requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None) -> Tensor:
    """Like ``torch.arange``: int64 for integer arguments, float32 otherwise."""
    if end is None:
        start, end = 0, start
    arr = np.arange(start, end, step)
    if dtype is not None:
        arr = arr.astype(backend.to_dtype(dtype))
    elif arr.dtype.kind == "f":
        arr = arr.astype(backend.DEFAULT_DTYPE)
    else:
        arr = arr.astype(np.int64)
    return Tensor(arr if device is None else backend.to_device(arr, device))
