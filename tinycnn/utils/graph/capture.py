"""The recorded graph behind a tensor, taken as a snapshot, and which module call ran each op.

``Graph(output)`` walks ``output.grad_fn`` back to the leaves and copies what a drawing needs: one
``FunctionNode`` per recorded op (its class name and the keyword parameters it was applied with, e.g.
stride and padding) and one ``TensorNode`` per tensor (shape, dtype, requires_grad), in topological order.

Gradients. ``backward()`` frees the graph it walks (unless ``retain_graph=True``), and it keeps ``.grad``
only on leaves. So the snapshot is taken *before* backward: it holds the tensors and marks every
non-leaf one with ``retain_grad()``; after ``loss.backward()`` each tensor node reads its ``.grad`` and the
drawing shows its norm. A Graph taken after ``backward(retain_graph=True)`` shows the leaves' gradients
only (the others were not kept). The snapshot keeps the tensors alive: drop it to free them.

Modules. While a ``ModuleTrace`` (``trace_modules(model)``) is active, every module's ``forward`` is
wrapped (``summary.wrap_forwards``) to note each call's inputs, outputs and enclosing call. An op belongs
to the innermost call that reaches it walking back from the call's outputs without crossing the call's
inputs, which is what collapsing a module into one node and drawing a box around it need.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np

from ...autograd import Function, Tensor
from ...nn import functional as F
from ..summary import wrap_forwards
from .dot import mimebundle, render, to_digraph


def _tensors(obj) -> list:
    """The tensors inside nested tuples, lists and dicts (a module's arguments or outputs), in order."""
    if isinstance(obj, Tensor):
        return [obj]
    if isinstance(obj, dict):
        obj = list(obj.values())
    if isinstance(obj, (tuple, list)):
        return [t for item in obj for t in _tensors(item)]
    return []


@dataclass(eq=False)
class ModuleCall:
    """One call of a module during a trace."""

    index: int
    name: str                        # dotted name in the traced model; "" for the model itself
    module: object
    parent: "ModuleCall | None"
    inputs: list = field(default_factory=list)
    outputs: list = field(default_factory=list)

    @property
    def depth(self) -> int:
        """1 for the model's children ("layer1"), 2 for theirs ("layer1.0"), 0 for the model."""
        return len(self.name.split(".")) if self.name else 0

    @property
    def type_name(self) -> str:
        return type(self.module).__name__

    def within(self, other: "ModuleCall") -> bool:
        """True if this call ran inside ``other`` (or is ``other``)."""
        call = self
        while call is not None:
            if call is other:
                return True
            call = call.parent
        return False


class ModuleTrace:
    """Context manager noting every module call of ``model`` while active: ``with trace_modules(model) as t``.

    Each leaf module's call is recorded, so the graph has one op per layer (a fused layer put in by
    ``tinycnn.accel.fuse`` is one layer).
    """

    def __init__(self, model):
        if not hasattr(model, "named_modules"):
            raise TypeError(f"trace_modules: expected an nn.Module, got {type(model).__name__}")
        self.model = model
        self.calls: list[ModuleCall] = []
        self._ended: list[ModuleCall] = []       # in the order the calls returned: children first
        self._stack: list[ModuleCall] = []
        self._wrap = None

    def __enter__(self) -> "ModuleTrace":
        self._wrap = wrap_forwards(list(self.model.named_modules()), self._around)
        self._wrap.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        self._wrap.__exit__(*exc)
        self._wrap = None
        return False

    def _around(self, name, module, forward, args, kwargs):
        call = ModuleCall(len(self.calls), name, module, self._stack[-1] if self._stack else None,
                          _tensors((args, kwargs)))
        self.calls.append(call)
        self._stack.append(call)
        try:
            out = forward(*args, **kwargs)
        finally:
            self._stack.pop()
        call.outputs = _tensors(out)
        self._ended.append(call)
        return out

    def owners(self) -> dict:
        """``id(function) -> ModuleCall``: the innermost call that ran each recorded op.

        Calls are visited children first; each claims the ops reachable from its outputs without crossing
        its inputs. An op already claimed by a call inside it is walked through; one claimed by a call that
        is not inside it means the walk has left the call (a tensor it used without taking it as an
        argument), so the walk stops there.
        """
        owner: dict[int, ModuleCall] = {}
        for call in self._ended:
            stop = {id(t) for t in call.inputs}
            stack = [t for t in call.outputs if id(t) not in stop]
            seen: set[int] = set()
            while stack:
                fn = stack.pop()._ctx
                if fn is None or id(fn) in seen:
                    continue
                seen.add(id(fn))
                claimed = owner.get(id(fn))
                if claimed is None:
                    owner[id(fn)] = call
                elif not claimed.within(call):
                    continue
                for inp in fn.inputs or ():
                    if isinstance(inp, Tensor) and id(inp) not in stop:
                        stack.append(inp)
        return owner


def trace_modules(model) -> ModuleTrace:
    """``with trace_modules(model) as trace: loss = ...`` notes which module ran each op (see ModuleTrace)."""
    return ModuleTrace(model)


@dataclass(eq=False)
class TensorNode:
    """A tensor of the graph (or a constant operand such as the 2 of ``x * 2``)."""

    id: str
    kind: str                        # "parameter", "input", "intermediate", "output" or "constant"
    shape: tuple
    dtype: str
    requires_grad: bool
    name: str = ""                   # a parameter's or named tensor's name ("0.weight"), "input" for the batch
    value: float | None = None       # the value, for a one-element tensor or a number
    tensor: Tensor | None = None

    @property
    def grad(self):
        """The gradient as a NumPy array, when backward has put one on this tensor; else None."""
        if self.tensor is None or self.tensor.grad is None:
            return None
        return self.tensor.grad.numpy()

    @property
    def grad_norm(self) -> float | None:
        """The L2 (Frobenius) norm of the gradient, or None when there is none."""
        g = self.grad
        return None if g is None else float(np.linalg.norm(g.astype(np.float64).ravel()))


@dataclass(eq=False)
class FunctionNode:
    """A recorded op: the ``Function`` class name, its keyword parameters, its operands and its result."""

    id: str
    name: str
    attributes: dict                 # name -> short text ("(1, 1)", "2", "'mean'")
    inputs: list                     # TensorNode ids, one per operand (None operands left out)
    output: str                      # the TensorNode id of its result
    call: ModuleCall | None = None   # the innermost module call that ran it (with a trace)


def format_attribute(value) -> str | None:
    """Short text for a keyword parameter of an op, or None when it is not worth showing (a generator)."""
    if value is None:
        return None
    if isinstance(value, (bool, str)):
        return repr(value)
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return f"{float(value):.4g}"
    if isinstance(value, Tensor):
        value = value.array
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"{value.dtype} {tuple(value.shape)}"
    if isinstance(value, (tuple, list)):
        parts = [format_attribute(v) if not isinstance(v, slice) else _slice_text(v) for v in value]
        if any(p is None for p in parts):
            return None
        text = "(" + ", ".join(parts) + ("," if len(parts) == 1 else "") + ")"
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, slice):
        return _slice_text(value)
    if isinstance(value, np.dtype) or isinstance(value, type):
        return str(np.dtype(value)) if isinstance(value, np.dtype) else value.__name__
    return None


def _slice_text(s: slice) -> str:
    parts = ["" if v is None else str(v) for v in (s.start, s.stop)]
    return ":".join(parts) + (f":{s.step}" if s.step is not None else "")


def _roots(output) -> list:
    outputs = list(output) if isinstance(output, (tuple, list)) else [output]
    if not outputs:
        raise ValueError("Graph: expected a tensor (or a tuple of tensors), got an empty sequence")
    for t in outputs:
        if not isinstance(t, Tensor):
            raise TypeError(f"Graph: expected a Tensor (or a tuple of tensors), got {type(t).__name__}")
    if all(t.grad_fn is None for t in outputs):
        t = outputs[0]
        how = ("it is a leaf: nothing was computed from it yet" if t.requires_grad else
               "no op that made it had an input with requires_grad=True, or it was made under no_grad()")
        raise ValueError(f"Graph: the tensor of shape {tuple(t.shape)} has no recorded graph (grad_fn is None; "
                         f"{how}); give the result of ops on tensors that require grad, e.g. a model's loss")
    return outputs


class Graph:
    """The graph autograd recorded behind ``output``: ``Graph(loss, model)``; see the module docstring.

    ``params`` names tensors (``dict(model.named_parameters())``, or any ``{name: tensor}``); ``model``
    names its parameters the same way; ``trace`` (a ``ModuleTrace`` the forward ran under) tells which
    module ran each op, for ``collapse`` and the module boxes. ``retain_grads`` marks the non-leaf tensors
    so that a later ``backward()`` leaves their gradients for the drawing.

    ``functions`` lists the ops in topological order (every op after the ops that made its operands),
    ``tensors`` maps node ids to ``TensorNode``s. ``to_dot()`` gives a ``graphviz.Digraph``, ``source`` the
    DOT text, ``save(path)`` writes .svg/.png/.pdf/.dot, and notebooks display the Graph inline.
    """

    def __init__(self, output, model=None, params: dict | None = None, trace: ModuleTrace | None = None,
                 retain_grads: bool = True):
        roots = _roots(output)
        model = model if model is not None else (trace.model if trace is not None else None)
        self.trace = trace
        names: dict[int, str] = {}
        if model is not None:
            names.update({id(p): n for n, p in model.named_parameters()})
        for n, t in (params or {}).items():
            names[id(t)] = str(n)
        if trace is not None:                  # the batch given to the model itself
            for call in trace.calls:
                if call.depth == 0:
                    names.update({id(t): "input" for t in call.inputs if id(t) not in names})
        self._names = names
        self.tensors: dict[str, TensorNode] = {}
        self.functions: list[FunctionNode] = []
        self.roots: list[str] = []
        self._tensor_ids: dict[int, str] = {}
        self._constants = 0
        owners = trace.owners() if trace is not None else {}
        root_ids = {id(t) for t in roots}

        for fn, out in _functions_in_order(roots):
            inputs = []
            for inp in fn.inputs:
                if isinstance(inp, Tensor):
                    inputs.append(self._tensor_node(inp, root_ids, retain_grads).id)
                elif inp is not None:
                    inputs.append(self._constant_node(inp).id)
            attrs = {}
            for key, value in (fn.attributes or {}).items():
                text = None if key.startswith("_") else format_attribute(value)
                if text is not None:
                    attrs[key] = text
            node = FunctionNode(f"f{len(self.functions)}", fn.name, attrs, inputs,
                                self._tensor_node(out, root_ids, retain_grads).id, owners.get(id(fn)))
            self.functions.append(node)
        for t in roots:
            self.roots.append(self._tensor_node(t, root_ids, retain_grads).id)

    # ---- building ---------------------------------------------------------------------------------------
    def _tensor_node(self, t: Tensor, root_ids, retain_grads) -> TensorNode:
        key = self._tensor_ids.get(id(t))
        if key is not None:
            return self.tensors[key]
        if id(t) in root_ids:
            kind = "output"
        elif t.grad_fn is not None:
            kind = "intermediate"
        else:
            kind = "parameter" if t.requires_grad else "input"
        if retain_grads and t.grad_fn is not None:
            t.retain_grad()
        name = self._names.get(id(t), "")
        value = float(t.numpy().reshape(())) if t.numel() == 1 and t.dtype.kind in "fiub" else None
        node = TensorNode(f"t{len(self._tensor_ids)}", kind, tuple(t.shape), str(t.dtype), bool(t.requires_grad),
                          name, value, t)
        self._tensor_ids[id(t)] = node.id
        self.tensors[node.id] = node
        return node

    def _constant_node(self, value) -> TensorNode:
        key = f"c{self._constants}"
        self._constants += 1
        if hasattr(value, "shape") and hasattr(value, "dtype"):
            arr = np.asarray(value) if isinstance(value, np.ndarray) else None
            shape, dtype = tuple(value.shape), str(value.dtype)
            number = float(arr.reshape(())) if arr is not None and arr.size == 1 else None
        else:
            shape, dtype = (), type(value).__name__
            number = float(value) if isinstance(value, numbers.Real) else None
        node = TensorNode(key, "constant", shape, dtype, False, "", number, None)
        self.tensors[key] = node
        return node

    # ---- reading ----------------------------------------------------------------------------------------
    def producer(self) -> dict:
        """TensorNode id -> the FunctionNode that made it (leaves and constants have none)."""
        return {f.output: f for f in self.functions}

    def consumers(self) -> dict:
        """TensorNode id -> the FunctionNodes that take it as an operand."""
        out: dict[str, list] = {}
        for f in self.functions:
            for i in dict.fromkeys(f.inputs):
                out.setdefault(i, []).append(f)
        return out

    def parameter_names(self) -> set:
        """Ids of the tensor nodes that are named parameters of the model."""
        return {k for k, n in self.tensors.items() if n.kind == "parameter" and n.name}

    def __repr__(self) -> str:
        return (f"Graph({len(self.functions)} ops, {len(self.tensors)} tensors"
                + (f", {len(self.trace.calls)} module calls" if self.trace is not None else "") + ")")

    # ---- drawing (tinycnn/utils/graph/dot.py) -----------------------------------------------------------
    def to_dot(self, collapse: bool | int = False, show_attrs: bool = True, show_grads: bool = True,
               clusters: bool = True, rankdir: str = "TB"):
        """The graph as a ``graphviz.Digraph`` (see ``dot.to_digraph`` for the options)."""
        return to_digraph(self, collapse=collapse, show_attrs=show_attrs, show_grads=show_grads,
                          clusters=clusters, rankdir=rankdir)

    @property
    def source(self) -> str:
        """The DOT text of ``to_dot()``."""
        return self.to_dot().source

    def save(self, path, **options) -> str:
        """Write the drawing to ``path``: .svg, .png or .pdf rendered by Graphviz's ``dot``, .dot/.gv as text."""
        return render(self.to_dot(**options), path)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return mimebundle(self.to_dot(), repr(self))


def _functions_in_order(roots) -> list:
    """(Function, its output tensor) pairs reachable from ``roots``, each after the ops of its operands.

    Iterative depth-first post-order, so graphs of any depth work (as ``Tensor.backward``'s walk).
    """
    order: list[tuple[Function, Tensor]] = []
    done: set[int] = set()
    for root in roots:
        if root.grad_fn is None:
            continue
        stack = [(root, False)]
        while stack:
            t, expanded = stack.pop()
            fn = t._ctx
            if fn is None or (id(fn) in done and not expanded):
                continue
            if expanded:
                if id(fn) not in done:
                    done.add(id(fn))
                    order.append((fn, t))
                continue
            if fn.inputs is None:
                raise RuntimeError("Graph: the graph behind this tensor was freed by backward(); build the Graph "
                                   "before calling backward() (it then shows the gradients too), or call "
                                   "backward(retain_graph=True)")
            stack.append((t, True))
            for inp in reversed(fn.inputs):
                if isinstance(inp, Tensor) and inp._ctx is not None and id(inp._ctx) not in done:
                    stack.append((inp, False))
    return order


def training_step_graph(model, input, target, loss_fn=None) -> Graph:
    """The graph of one training step of ``model``, with every gradient: forward under a module trace,
    loss, ``zero_grad``, then ``backward``. The Graph is taken between loss and backward (module docstring).

    ``loss_fn(output, target)`` defaults to cross-entropy; the model keeps its train/eval mode.
    """
    with trace_modules(model) as trace:
        output = model(input)
    loss = (loss_fn or F.cross_entropy)(output, target)
    graph = Graph(loss, model=model, trace=trace)
    model.zero_grad()
    loss.backward()
    return graph
