"""The reverse-mode pass: send a gradient from a root tensor back through the recorded graph.

The graph is the one ``Function.apply`` records (``tinycnn.autograd``): each function keeps its inputs (a
tensor, or a weak stand-in for a non-leaf tensor nothing else holds), the function that had made each input
when it was recorded (``input_ctx``) and which inputs need a gradient (``needs_input_grad``). This module walks
that graph; it knows the tensor class only as the ``tensor_type`` it is handed, so the import points one way
(autograd -> backward_pass).

Chain rule at a node f with output y = f(x_1, ..., x_n): dL/dx_i = f.backward(dL/dy)[i], and a tensor read by
several functions gets the sum of their contributions (dL/dx = sum over consumers c of dL/dx via c).
"""
from __future__ import annotations


def _accumulate_grad(t, g, tensor_type) -> None:
    if t.grad is None:
        t.grad = tensor_type(g.copy())  # a copy: g may be shared with another input's gradient
    else:
        t.grad = tensor_type(t.grad.array + g)


def _run_tensor_hooks(t, g, tensor_type):
    """Pass the complete gradient of ``t`` through its hooks (``Tensor.register_hook``)."""
    for hook in list(t._backward_hooks.values()):
        out = hook(tensor_type(g))
        if out is not None:
            new = out.array if isinstance(out, tensor_type) else out
            if tuple(new.shape) != tuple(g.shape):
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                                   f"{tuple(new.shape)} for a tensor of shape {tuple(g.shape)}")
            g = new
    return g


def run_backward(root, grad, retain_graph: bool, tensor_type) -> None:
    """Send ``grad`` (d root) back through the recorded graph into the leaves' ``.grad``.

    The nodes are the recorded functions and the leaf tensors. A function reaches an input through the edge
    (input tensor, the function that had made it when the edge was recorded): after an in-place op gives a
    tensor a new ``grad_fn``, the earlier consumers' gradients still go to the function that made the value
    they read.
    """
    def key(t, fn):
        return id(fn) if fn is not None else id(t)

    # Pass 1: count, for every node reachable from root, how many recorded functions consume it.
    pending: dict[int, int] = {}
    stack = [root._ctx] if root._ctx is not None else []
    seen = {key(root, root._ctx)}
    while stack:
        fn = stack.pop()
        if fn._inputs is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (its saved arrays were freed). "
                "Pass retain_graph=True to the first backward() if you need to.")
        for inp, made_by, need in zip(fn._inputs, fn.input_ctx, fn.needs_input_grad):
            if not need:
                continue
            k = id(made_by) if made_by is not None else id(inp)
            pending[k] = pending.get(k, 0) + 1
            if k not in seen:
                seen.add(k)
                if made_by is not None:
                    stack.append(made_by)

    # Pass 2: a node is ready once all its consumers have contributed (pending count reaches zero). A node's
    # tensor is None where it is gone (a non-leaf nothing held: no hooks, no retained grad; autograd._WeakInput).
    grads = {key(root, root._ctx): grad}
    ready = [(root, root._ctx)]
    while ready:
        t, fn = ready.pop()
        g = grads.pop(id(fn) if fn is not None else id(t), None)
        if t is None:
            current = False
        else:
            current = fn is None or t._ctx is fn   # t's present role (not one before an in-place op)
        if g is not None and current and t._backward_hooks:
            g = _run_tensor_hooks(t, g, tensor_type)
        if g is not None and (fn is None or (current and t._retains_grad)):
            _accumulate_grad(t, g, tensor_type)
            if fn is None and t._post_accumulate_hooks:
                for hook in list(t._post_accumulate_hooks.values()):
                    hook(t)
        if fn is None:
            continue
        if g is None:  # no gradient reached this node (every path gave None): its inputs get none from it
            in_grads = (None,) * len(fn._inputs)
        else:
            fn.check_versions()
            in_grads = fn.backward(g)
            if not isinstance(in_grads, tuple):
                in_grads = (in_grads,)
            if len(in_grads) != len(fn._inputs):
                raise RuntimeError(f"{fn.name}.backward returned {len(in_grads)} gradients for "
                                   f"{len(fn._inputs)} inputs")
        for inp, made_by, need, gi in zip(fn._inputs, fn.input_ctx, fn.needs_input_grad, in_grads):
            if not need:
                continue
            k = id(made_by) if made_by is not None else id(inp)
            if gi is not None:
                weak = not isinstance(inp, tensor_type)
                shape, dtype = (inp.shape, inp.dtype) if weak else (inp.array.shape, inp.array.dtype)
                if gi.shape != shape:
                    raise RuntimeError(f"{fn.name}.backward returned a gradient of shape {tuple(gi.shape)} "
                                       f"for an input of shape {tuple(shape)}")
                if gi.dtype != dtype:
                    gi = gi.astype(dtype)
                prev = grads.get(k)
                grads[k] = gi if prev is None else prev + gi
            pending[k] -= 1
            if pending[k] == 0:
                ready.append((inp if isinstance(inp, tensor_type) else inp.ref(), made_by))
        if not retain_graph:
            fn.release()
