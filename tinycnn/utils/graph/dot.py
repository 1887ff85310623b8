"""A ``Graph`` drawn as Graphviz DOT (the ``graphviz`` Python package), and rendered by the ``dot`` program.

Shapes and colours:

* op (``Function``): rounded blue box with its class name and keyword parameters (stride, padding...);
* leaf that requires grad (a parameter, named by the model): green box;
* leaf that does not (the input batch, the labels): grey box;
* tensor made by an op: yellow ellipse; the output (the loss): red ellipse;
* number or array operand (the 2 of ``x * 2``): plain text;
* a collapsed module: purple 3-D box with its name, its ops and parameters, and its parameters' grad norm.

Tensors show their shape, dtype and requires_grad, a one-element tensor its value; after ``backward()``
each shows its gradient (the value for one element, else the L2 norm). With a module trace every module
call gets a dashed box around its ops (``clusters``), or becomes one node (``collapse``).

Rendering needs Graphviz's ``dot`` program (Debian/Ubuntu: ``apt-get install graphviz``). Without it,
``render`` still writes the DOT text (to ``name.dot`` beside the requested file) and raises
``DotNotFoundError`` saying what to install; in a notebook the DOT text is shown instead of the picture.
"""
from __future__ import annotations

import os
from collections import defaultdict

from ..serialization import write_bytes_atomically

INSTALL_DOT = ("Graphviz's `dot` program is not installed (Debian/Ubuntu: apt-get install graphviz; "
               "macOS: brew install graphviz; conda: conda install graphviz)")
TEXT_FORMATS = (".dot", ".gv")
IMAGE_FORMATS = (".svg", ".png", ".pdf")

STYLES = {
    "function": {"shape": "box", "style": "rounded,filled", "fillcolor": "#dbe9f6"},
    "parameter": {"shape": "box", "style": "filled", "fillcolor": "#d9ead3"},
    "input": {"shape": "box", "style": "filled", "fillcolor": "#eeeeee"},
    "intermediate": {"shape": "ellipse", "style": "filled", "fillcolor": "#fff2cc"},
    "output": {"shape": "ellipse", "style": "filled", "fillcolor": "#f4cccc"},
    "constant": {"shape": "plaintext"},
    "module": {"shape": "box3d", "style": "filled", "fillcolor": "#ead1dc"},
}
CLUSTER_STYLE = {"style": "rounded,dashed", "color": "#888888", "fontcolor": "#555555", "fontsize": "9",
                 "labeljust": "l"}


class DotNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is missing, so a picture could not be rendered; ``dot_path`` holds the DOT."""

    def __init__(self, message: str, dot_path: str):
        super().__init__(message)
        self.dot_path = dot_path


def graphviz_module():
    """The ``graphviz`` package, imported on first use (an optional dependency: the ``viz`` extra)."""
    try:
        import graphviz  # noqa: PLC0415  (optional: only drawing a graph needs it)
    except ImportError:
        raise ImportError("tinycnn.utils.graph needs the graphviz Python package to write DOT: "
                          "pip install graphviz (or pip install 'tinycnn[viz]')") from None
    return graphviz


# ---- labels ---------------------------------------------------------------------------------------------
def _number(v: float) -> str:
    return f"{v:.4g}"


def tensor_label(node, show_grads: bool = True) -> str:
    if node.kind == "constant":
        return _number(node.value) if node.value is not None else f"{node.dtype} {node.shape}"
    lines = [node.name] if node.name else []
    lines.append(f"{node.shape if node.shape else 'scalar'} {node.dtype}")
    if node.value is not None:
        lines.append(f"value {_number(node.value)}")
    lines.append(f"requires_grad={node.requires_grad}")
    if show_grads:
        g = node.grad
        if g is not None:
            lines.append(f"grad {_number(float(g.reshape(())))}" if g.size == 1 else f"grad norm {node.grad_norm:.3g}")
    return "\\n".join(lines)


def _wrap(items, width: int = 40) -> list:
    """Comma-joined ``items`` broken into lines of about ``width`` characters."""
    lines, line = [], ""
    for item in items:
        if line and len(line) + len(item) > width:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {item}" if line else item
    return lines + ([line] if line else [])


def function_label(node, show_attrs: bool = True) -> str:
    lines = [node.name]
    if show_attrs:
        lines += _wrap([f"{key}={value}" for key, value in node.attributes.items()])
    return "\\n".join(lines)


def module_label(call, ops: int, show_grads: bool = True) -> str:
    lines = [f"{call.name} ({call.type_name})"]
    extra = call.module.extra_repr() if hasattr(call.module, "extra_repr") else ""
    if extra:
        lines += _wrap([part.strip() for part in _split_top_level(extra)])
    params = list(call.module.parameters())
    count = sum(int(p.numel()) for p in params)
    facts = ([f"{ops} ops"] if ops != 1 else []) + ([f"{count:,} parameters"] if count else [])
    if facts:
        lines.append(", ".join(facts))
    grads = [p.grad.numpy() for p in params if p.grad is not None]
    if show_grads and grads:
        norm = sum(float((g.astype("float64") ** 2).sum()) for g in grads) ** 0.5
        lines.append(f"parameters' grad norm {norm:.3g}")
    return "\\n".join(lines)


def _split_top_level(text: str) -> list:
    """``text`` split at the commas outside brackets ("1, 6, kernel_size=(5, 5)" -> 3 parts)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


# ---- layout ---------------------------------------------------------------------------------------------
def _collapse_depth(collapse, graph) -> int:
    if collapse is True:
        depth = 1
    elif collapse is False or collapse is None:
        depth = 0
    elif isinstance(collapse, int) and collapse >= 0:
        depth = collapse
    else:
        raise ValueError(f"to_dot: collapse must be True, False or a module depth >= 0 (1: the model's "
                         f"children, 2: theirs...), got {collapse!r}")
    if depth and graph.trace is None:
        raise ValueError("to_dot: collapse needs to know which module ran each op: build the Graph from a "
                         "forward run under trace_modules(model) (training_step_graph does it)")
    return depth


def _group(call, depth: int):
    """The deepest call around ``call`` (itself included) whose name is at most ``depth`` levels deep."""
    while call is not None:
        if 1 <= call.depth <= depth:
            return call
        call = call.parent
    return None


def to_digraph(graph, collapse: bool | int = False, show_attrs: bool = True, show_grads: bool = True,
               clusters: bool = True, rankdir: str = "TB"):
    """``graph`` as a ``graphviz.Digraph``, edges in the forward direction (operands -> op -> result).

    ``collapse``: True (or 1) draws each child module of the model as one node, 2 each grandchild, and so
    on (needs a module trace). ``clusters``: with a trace, a dashed box around each module call's nodes.
    ``show_attrs``: the ops' keyword parameters. ``show_grads``: the gradients, once backward has run.
    ``rankdir``: "TB" (top to bottom) or "LR" (left to right).
    """
    graphviz = graphviz_module()
    depth = _collapse_depth(collapse, graph)
    clusters = clusters and graph.trace is not None
    producer, consumers = graph.producer(), graph.consumers()
    parameters = graph.parameter_names()

    # which visible node each op is drawn in: its own, or its collapsed module's
    node_of, groups, members = {}, {}, defaultdict(int)
    for f in graph.functions:
        group = _group(f.call, depth) if depth else None
        if group is None:
            node_of[f.id] = f.id
        else:
            node_of[f.id] = key = f"m{group.index}"
            groups[key] = group
            members[key] += 1

    def is_group(key):
        return key.startswith("m")

    visible = []
    for tid in graph.tensors:
        made_in = node_of[producer[tid].id] if tid in producer else None
        used_in = {node_of[f.id] for f in consumers.get(tid, [])}
        if tid not in graph.roots and used_in and (
                (made_in is not None and is_group(made_in) and used_in == {made_in})      # inside one module
                or (made_in is None and tid in parameters and all(map(is_group, used_in)))):  # a module's own
            continue
        visible.append(tid)
    shown = set(visible)

    # where each visible node sits: in the box of the module call that ran it (or at the top level)
    fn_call = {f.id: f.call for f in graph.functions}
    placed = defaultdict(list)           # ModuleCall (or None: top level) -> [(id, label, style)]

    def place(owner, stmt):
        placed[owner if clusters and owner is not None and owner.depth >= 1 else None].append(stmt)

    for key, group in groups.items():
        place(group.parent, (key, module_label(group, members[key], show_grads), STYLES["module"]))
    for f in graph.functions:
        if not is_group(node_of[f.id]):
            place(f.call, (f.id, function_label(f, show_attrs), STYLES["function"]))
    for tid in visible:
        node = graph.tensors[tid]
        if tid in producer:
            key = node_of[producer[tid].id]
            owner = groups[key].parent if is_group(key) else fn_call[key]
        elif node.kind in ("parameter", "constant") and consumers.get(tid):
            key = node_of[consumers[tid][0].id]
            owner = groups[key].parent if is_group(key) else fn_call[key]
        else:
            owner = None
        place(owner, (tid, tensor_label(node, show_grads), STYLES[node.kind]))

    # ordering=in: an op's operands left to right in the order it takes them (a - b vs b - a)
    dot = graphviz.Digraph("tinycnn", graph_attr={"rankdir": rankdir, "nodesep": "0.25", "ranksep": "0.3",
                                                  "ordering": "in"},
                           node_attr={"fontname": "Helvetica", "fontsize": "10", "height": "0.3"},
                           edge_attr={"arrowsize": "0.6", "color": "#555555"})
    dot.attr(fontname="Helvetica")
    _emit_nodes(dot, placed)

    edges = []
    for f in graph.functions:
        here = node_of[f.id]
        for tid in f.inputs:
            made_here = tid in producer and node_of[producer[tid].id] == here   # inside the same module node
            if tid in shown and not made_here:
                edges.append((tid, here))
        if f.output in shown:
            edges.append((here, f.output))
    for tail, head in dict.fromkeys(edges):
        dot.edge(tail, head)
    return dot


def _emit_nodes(dot, placed) -> None:
    """Top-level nodes, then one nested ``cluster_N`` subgraph per module call that holds nodes."""
    children = defaultdict(list)
    active = set()
    for call in [c for c in placed if c is not None]:
        while call is not None and call.depth >= 1 and call not in active:
            active.add(call)
            parent = call.parent if call.parent is not None and call.parent.depth >= 1 else None
            children[parent].append(call)
            call = parent

    def emit(graph, call):
        with graph.subgraph(name=f"cluster_{call.index}") as sub:
            sub.attr(label=f"{call.name} ({call.type_name})", **CLUSTER_STYLE)
            for key, label, style in placed.get(call, []):
                sub.node(key, label, **style)
            for child in sorted(children[call], key=lambda c: c.index):
                emit(sub, child)

    for key, label, style in placed.get(None, []):
        dot.node(key, label, **style)
    for call in sorted(children[None], key=lambda c: c.index):
        emit(dot, call)


# ---- output ---------------------------------------------------------------------------------------------
def render(dot, path) -> str:
    """Write ``dot`` (a ``graphviz.Digraph``, or a ``Graph``) to ``path``, atomically; returns ``path``.

    The format comes from the extension: .svg, .png, .pdf (rendered by ``dot``) or .dot/.gv (the text).
    When ``dot`` is missing the text goes to ``path`` with the extension .dot, and ``DotNotFoundError``
    says what to install.
    """
    if hasattr(dot, "to_dot"):
        dot = dot.to_dot()
    path = os.fspath(path)
    ext = output_format(path)
    if ext in TEXT_FORMATS:
        _write(path, dot.source.encode("utf-8"))
        return path
    graphviz = graphviz_module()
    try:
        data = dot.pipe(format=ext[1:])
    except graphviz.ExecutableNotFound:
        dot_path = os.path.splitext(path)[0] + ".dot"
        _write(dot_path, dot.source.encode("utf-8"))
        raise DotNotFoundError(f"cannot render {path}: {INSTALL_DOT}; the DOT text is in {dot_path}",
                               dot_path) from None
    except graphviz.CalledProcessError as exc:
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"render: dot failed to draw {path}: {detail[0] if detail else exc}") from None
    _write(path, data)
    return path


def output_format(path) -> str:
    """The extension of ``path`` (".svg"...) when ``render`` can write it; else a ValueError naming the choices."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in TEXT_FORMATS + IMAGE_FORMATS:
        raise ValueError(f"render: cannot tell the format of {os.fspath(path)!r} from its extension; use one of "
                         f"{', '.join(IMAGE_FORMATS + TEXT_FORMATS)}")
    return ext


def _write(path: str, data: bytes) -> None:
    try:
        write_bytes_atomically(path, data)
    except OSError as exc:
        raise type(exc)(f"render: cannot write {path}: {exc.strerror or exc}") from None


def mimebundle(dot, text: str) -> dict:
    """What a notebook shows: the SVG, or, without ``dot``, the DOT text and what to install."""
    graphviz = graphviz_module()
    try:
        svg = dot.pipe(format="svg", encoding="utf-8")
    except graphviz.ExecutableNotFound:
        return {"text/plain": f"{text}: {INSTALL_DOT}, so here is the DOT text:\n{dot.source}"}
    return {"image/svg+xml": svg, "text/plain": text}
