"""The autograd core: ``Tensor``, ``Function`` and the reverse-mode engine.

A ``Function`` is one differentiable op: ``forward`` maps arrays to one array and keeps on ``self`` what
``backward`` needs; ``backward`` maps the output gradient to one gradient per input. ``Function.apply`` runs
forward and, when some input requires grad and grad mode is on, records the function as the output's
creator (define-by-run). ``Tensor.backward`` then walks the recorded graph in reverse topological order
(``tinycnn.backward_pass``).

In-place changes follow PyTorch: every tensor has a version counter (``t._version``), shared with the
views the ops make of it and with ``detach()`` (not with ``.data``, whose changes autograd does not see), and
bumped by every in-place op. ``Function.apply`` notes the versions of the inputs and the output it saw;
when backward reaches the function and one of them has changed *and* the function kept that storage for its
backward, the gradient would be computed from overwritten numbers, so backward stops with PyTorch's error.
An edge of the graph remembers the function that had made its input when it was recorded, so an in-place
op that gives a tensor a new ``grad_fn`` (``y += 1``) does not re-route the gradients of earlier consumers.

Memory: the graph holds leaf inputs (parameters, data) and what each function saved for its backward, and only
a weak reference to a non-leaf input of 64 KiB or more (``_WeakInput``). An intermediate that no backward
needs -- a batch norm's output read by a ReLU, which saves a mask -- is freed as soon as the caller drops it,
as in PyTorch, instead of living until backward (a VGG-style CIFAR net's training step: 358 -> 276 MiB).

Import direction: this module knows nothing of the ops. ``tinycnn.ops`` installs the arithmetic and shape
methods (``__add__``, ``sum``, ``reshape``...) on ``Tensor`` when it is imported, which keeps the layers
pointing down (ops -> autograd) without an import circle; ``tinycnn/__init__.py`` imports ``tinycnn.ops``.
"""
from __future__ import annotations

import weakref
from collections import OrderedDict

import numpy as np

from . import backend
from .backend import Device, get_array_module
from .backward_pass import run_backward
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled  # noqa: F401  (re-exported)
from .hooks import RemovableHandle

class Size(tuple):
    """A shape; a tuple that prints like PyTorch's ``torch.Size``."""

    def __repr__(self):
        return f"tinycnn.Size({list(self)})"


class _Version:
    """The version counter of one storage (PyTorch's ``t._version``): in-place ops add 1."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = 0


def _root(array):
    """The array that owns ``array``'s memory (the end of its chain of ``base`` views)."""
    while getattr(array, "base", None) is not None and hasattr(array.base, "shape"):
        array = array.base
    return array


class Function:
    """One differentiable op. Subclasses define ``forward(*arrays, **params)`` and ``backward(grad_out)``.

    ``backward`` returns one gradient (array or None) per positional input of ``forward``, each of that
    input's shape. ``self.needs_input_grad[i]`` tells which ones are wanted, so the rest can be skipped.
    """

    _inputs: tuple | None = None     # per input: the object itself, or a _WeakInput for a non-leaf tensor
    needs_input_grad: tuple = ()
    attributes: dict | None = None   # the keyword parameters it was applied with (stride, padding...)

    @classmethod
    def apply(cls, *inputs, **params):
        fn = cls()
        arrays = [t.array if isinstance(t, Tensor) else t for t in inputs]
        if len(arrays) > 1:
            _check_same_device(cls, arrays)
        record = False
        for t in inputs:
            if isinstance(t, Tensor):
                if t._base is not None:
                    _refresh_view(t)
                record = record or t.requires_grad
        record = record and is_grad_enabled()
        if record:
            fn.needs_input_grad = tuple(isinstance(t, Tensor) and t.requires_grad for t in inputs)
        out = Tensor(fn.forward(*arrays, **params))
        base = _view_source(out.array, inputs)
        if base is not None:  # a view of an input (reshape, slicing...): one storage, one version counter
            out._version_counter = base._version_counter
            out._base = base
            out._view_fn = [cls, params, out._version_counter.value]  # to replay the view when it is stale
        if record:
            fn._inputs = tuple(_WeakInput(t) if isinstance(t, Tensor) and t._ctx is not None
                               and t.array.nbytes >= WEAK_INPUT_MIN_BYTES else t for t in inputs)
            fn.attributes = params     # for tools that show the graph (tinycnn.utils.graph)
            fn.input_ctx = tuple(t._ctx if isinstance(t, Tensor) else None for t in inputs)
            fn.saw_versions = tuple(t._version_counter.value if isinstance(t, Tensor) else None for t in inputs)
            fn.output = _OutputRecord(out)
            out.requires_grad = True
            out._ctx = fn
        return out

    def forward(self, *arrays, **params):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_out):  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def inputs(self) -> tuple | None:
        """The inputs it was applied to (None once released). A non-leaf tensor input that nothing else
        holds any more is gone (the graph keeps only what backward saved, as PyTorch's does); a stand-in of
        its shape, dtype, version counter and grad_fn takes its place, with its values where they are still
        in memory and zeros otherwise."""
        if self._inputs is None:
            return None
        return tuple(i.tensor() if isinstance(i, _WeakInput) else i for i in self._inputs)

    @inputs.setter
    def inputs(self, value) -> None:
        self._inputs = None if value is None else tuple(value)

    def release(self):
        """Drop the inputs and everything saved for backward (called after backward unless retain_graph)."""
        self.__dict__.clear()

    @property
    def name(self) -> str:
        return type(self).__name__

    def _saved_arrays(self):
        """The arrays this function keeps for its backward (its attributes, one level into tuples/lists)."""
        for key, value in self.__dict__.items():
            if key in _BOOKKEEPING:
                continue
            for v in (value if isinstance(value, (tuple, list)) else (value,)):
                if hasattr(v, "shape") and hasattr(v, "dtype") and not isinstance(v, Tensor):
                    yield v

    def keeps_storage_of(self, array) -> bool:
        """Whether backward reads memory of ``array`` (so an in-place change of it would corrupt it)."""
        xp = get_array_module(array)
        return any(get_array_module(v) is xp and xp.may_share_memory(v, array) for v in self._saved_arrays())

    def check_versions(self) -> None:
        """Raise PyTorch's error when an input or the output was changed in place after this function
        was recorded and its backward would read the changed numbers."""
        for i, (t, seen) in enumerate(zip(self._inputs, self.saw_versions)):
            if not isinstance(t, (Tensor, _WeakInput)) or t._version_counter.value == seen:
                continue
            array = t.array if isinstance(t, Tensor) else t.array_ref()
            if array is not None and self.keeps_storage_of(array):
                raise _modified_error(t if isinstance(t, Tensor) else t.tensor(), f"input {i}", self.name, seen)
        record = self.output
        out = record.tensor()
        if out is None or out._version_counter.value == record.version:
            return
        if self.keeps_storage_of(out.array):
            raise _modified_error(out, "output 0", self.name, record.version)


# Smaller non-leaf inputs are held: they cost no memory worth saving, and graph tools show their values.
WEAK_INPUT_MIN_BYTES = 1 << 16

_BOOKKEEPING = frozenset({"_inputs", "input_ctx", "saw_versions", "output", "needs_input_grad", "attributes",
                          "_pinned", "_stand_ins"})


class _WeakInput:
    """What a function keeps of a non-leaf tensor input: a weak reference to it, so that its array can be
    freed once nothing else holds it (the function keeps what its backward needs), and what backward reads of
    it: shape, dtype, version counter, grad_fn (``Function.inputs`` makes a stand-in from these). A tensor
    with hooks or ``retain_grad`` is held by its grad_fn until backward (``_pin``)."""

    __slots__ = ("ref", "array_ref", "xp", "shape", "dtype", "_version_counter", "ctx", "requires_grad")

    def __init__(self, t: "Tensor"):
        self.ref = weakref.ref(t)
        try:
            self.array_ref = weakref.ref(t.array)
        except TypeError:                      # an array type without weak references: keep it
            self.array_ref = lambda array=t.array: array
        self.xp = np if type(t.array) is np.ndarray else get_array_module(t.array)   # the common case, fast
        self.shape, self.dtype = t.array.shape, t.array.dtype
        self._version_counter = t._version_counter
        self.ctx, self.requires_grad = t._ctx, t.requires_grad

    def tensor(self) -> "Tensor":
        """The tensor, or its stand-in once it is gone: one per (producer, version), kept on the producer,
        so that every consumer of a freed intermediate sees the same object (graph tools join by identity)."""
        t = self.ref()
        if t is not None:
            return t
        stand_ins = self.ctx.__dict__.setdefault("_stand_ins", {})
        key = (id(self._version_counter), self._version_counter.value)
        t = stand_ins.get(key)
        if t is None:
            array = self.array_ref()
            if array is None:
                array = self.xp.broadcast_to(self.xp.zeros((), dtype=self.dtype), self.shape)
            t = Tensor(array)
            t._ctx, t.requires_grad, t._version_counter = self.ctx, self.requires_grad, self._version_counter
            stand_ins[key] = t
        return t


def _pin(t: "Tensor") -> None:
    """Keep the non-leaf ``t`` alive as long as the function that made it (hooks, retain_grad need it)."""
    if t._ctx is not None:
        t._ctx.__dict__.setdefault("_pinned", []).append(t)


class _OutputRecord:
    """What a function remembers of its output: a weak reference (the output owns the function, not the
    other way round) and its version when made."""

    __slots__ = ("tensor", "version")

    def __init__(self, out: "Tensor"):
        self.tensor = weakref.ref(out)
        self.version = out._version_counter.value


def _refresh_view(t: "Tensor") -> None:
    """A view whose storage was changed in place (through its base or another view) since its history was
    recorded gets that history replayed from its base, as PyTorch regenerates a view's grad_fn: later
    consumers then differentiate the values the view holds now. Earlier consumers keep the old edge."""
    cls, params, version = t._view_fn
    if version == t._version_counter.value or not is_grad_enabled():
        return
    base = t._base
    if base._base is not None:
        _refresh_view(base)
    t._view_fn[2] = t._version_counter.value
    if base.requires_grad:
        replay = cls.apply(base, **params)
        t._ctx, t.requires_grad = replay._ctx, True
        replay._ctx.output = _OutputRecord(t)


def _view_source(array, inputs):
    """The input tensor whose storage ``array`` is a view of, or None (checked only for views)."""
    if getattr(array, "base", None) is None:
        return None
    root = _root(array)
    for t in inputs:
        if isinstance(t, Tensor) and _root(t.array) is root:
            return t
    return None


def _modified_error(t, which, fn_name, expected) -> RuntimeError:
    kind = backend.TYPE_NAMES.get(t.dtype, str(t.dtype))
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an inplace operation: "
        f"[tinycnn.{kind} {list(t.shape)}], which is {which} of {fn_name}, is at version "
        f"{t._version_counter.value}; expected version {expected} instead. Hint: compute it out of place "
        f"(y = y * 2 rather than y *= 2), or clone() it before the in-place change.")


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

    __slots__ = ("array", "grad", "requires_grad", "_ctx", "_retains_grad", "_version_counter", "_base",
                 "_view_fn", "_backward_hooks", "_post_accumulate_hooks", "__weakref__")
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
        self._version_counter = _Version()
        self._base: Tensor | None = None  # the tensor this one is a view of (set by Function.apply)
        self._view_fn = None              # [Function class, params, version] that made that view
        self._backward_hooks = None
        self._post_accumulate_hooks = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- basic properties -------------------------------------------------------------------------------
    @property
    def data(self) -> "Tensor":
        """A tensor sharing this one's storage, cut from the graph (``requires_grad=False``), as in PyTorch:
        changing it changes this tensor without autograd noticing (it has a version counter of its own)."""
        return Tensor(self.array)

    @data.setter
    def data(self, value) -> None:
        """``t.data = other`` makes ``t`` use ``other``'s storage (a Tensor or an array), keeping its graph role."""
        self.array = value.array if isinstance(value, Tensor) else value
        self._base = self._view_fn = None

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
    def device(self) -> Device:
        """Where the storage lives: ``device(type='cpu')`` or ``device(type='cuda')`` (CuPy's current GPU),
        equal to the strings "cpu" and "cuda"."""
        return _DEVICES[backend.device_of(self.array)]

    @property
    def is_cuda(self) -> bool:
        return backend.device_of(self.array) == "cuda"

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's storage has had (PyTorch's ``t._version``)."""
        return self._version_counter.value

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
        if self.dtype not in (backend.DEFAULT_DTYPE, np.int64, np.bool_):
            extra.append(f"dtype=tinycnn.{self.dtype}")
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
        """A new tensor sharing the storage and its version counter, cut from the graph."""
        out = Tensor(self.array)
        out._version_counter = self._version_counter
        return out

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place: it becomes a leaf that does not require grad."""
        self._ctx = None
        self.requires_grad = False
        return self

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.array.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach() instead")
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> "Tensor":
        """Keep ``.grad`` of this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self._retains_grad:
            _pin(self)
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
            _pin(self)
        handle = RemovableHandle(self._backward_hooks)
        self._backward_hooks[handle.id] = hook
        return handle

    def share_memory_(self) -> "Tensor":
        """Move the storage into shared memory, so that processes given this tensor (``tinycnn.multiprocessing``)
        read and write the same values, as PyTorch's ``share_memory_`` (see ``tinycnn/shared_memory.py``)."""
        from . import shared_memory  # noqa: PLC0415  (stdlib multiprocessing, only when asked)
        shared_memory.register(type(self))
        self.array = shared_memory.to_shared(self.array)
        return self

    def is_shared(self) -> bool:
        from . import shared_memory  # noqa: PLC0415
        return shared_memory.is_shared(self.array)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` on this leaf each time backward has accumulated a gradient into its ``.grad``,
        as PyTorch does (DistributedDataParallel starts a bucket's allreduce from it). Returns a handle whose
        ``remove()`` takes the hook away."""
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if self._ctx is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if self._post_accumulate_hooks is None:
            self._post_accumulate_hooks = OrderedDict()
        handle = RemovableHandle(self._post_accumulate_hooks)
        self._post_accumulate_hooks[handle.id] = hook
        return handle

    # ---- backward -----------------------------------------------------------------------------------------
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) * gradient into ``leaf.grad`` for every leaf that requires grad.

        The graph is walked without recursion (Kahn's algorithm: a tensor's gradient is complete once every
        function that consumed it has sent its share), so graphs of any depth work. Unless ``retain_graph``,
        each function frees what it saved as soon as its backward has run.
        """
        if self._base is not None:
            _refresh_view(self)
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
        run_backward(self, grad, retain_graph, Tensor)


_DEVICES = {"cpu": Device("cpu"), "cuda": Device("cuda")}


def tensor(data, requires_grad: bool = False, dtype=None, device=None) -> Tensor:
    """A new tensor holding a copy of ``data``.

    NumPy arrays keep their dtype (float64 stays float64); Python floats and lists become float32,
    Python ints int64, Python bools bool.
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
