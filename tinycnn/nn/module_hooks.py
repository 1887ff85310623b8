"""How ``Module.__call__`` runs forward hooks and full backward hooks (PyTorch's order and signatures).

Forward::

    pre-hooks (may replace the positional inputs) -> forward -> forward hooks (may replace the output)

Full backward hooks (``register_full_backward_hook``) need the gradients with respect to the module's own
inputs and outputs, taken from this call only (an input may also feed other layers; its ``.grad`` would mix
them). As PyTorch does, the call puts gate nodes around the module in the graph:

    inputs -> InputGate -> forward -> OutputGate -> outputs

Both gates are identities in the forward pass. In the backward pass the OutputGate is reached first and
sees grad_output (backward pre-hooks may replace it); the InputGate is reached once every path through the
module has sent its share, so its gradient is exactly grad_input, and ``hook(module, grad_input,
grad_output)`` may replace it. Several tensors are gated as one node by concatenating them (flattened)
and slicing the result: the node's gradient then holds all of them at once, which is what a hook that
replaces a whole tuple needs. When no input requires grad, the hooks run at the OutputGate with
grad_input all None (as in PyTorch).
"""
from __future__ import annotations

from ..autograd import Function, Tensor, is_grad_enabled
from ..backend import get_array_module


class _HookCall:
    """The bookkeeping of one hooked call: which inputs were gated, and grad_output once it is known."""

    def __init__(self, module, n_inputs: int):
        self.module, self.n_inputs = module, n_inputs
        self.grad_output = None
        self.input_slots: list[int] = []

    def run_pre_hooks(self, grad_output: tuple) -> tuple:
        for hook in list(self.module._backward_pre_hooks.values()):
            out = hook(self.module, grad_output)
            if out is not None:
                grad_output = _as_grad_tuple(out, len(grad_output), "backward pre-hook")
        return grad_output

    def run_hooks(self, grad_input: tuple) -> tuple:
        for hook in list(self.module._backward_hooks.values()):
            out = hook(self.module, grad_input, self.grad_output)
            if out is not None:
                grad_input = _as_grad_tuple(out, len(grad_input), "backward hook")
        return grad_input


def _as_grad_tuple(value, n: int, what: str) -> tuple:
    value = (value,) if isinstance(value, Tensor) or value is None else tuple(value)
    if len(value) != n:
        raise RuntimeError(f"{what} returned {len(value)} gradients, expected {n}")
    return value


def _arrays(grads):
    return [None if g is None else (g.array if isinstance(g, Tensor) else g) for g in grads]


class _Gate(Function):
    """Identity on one tensor, or the concatenation (flattened) of several; ``on_grad`` sees the gradients.

    Backward: the gradient of a concatenation is its pieces, reshaped back (``on_grad`` may replace them).
    """

    def forward(self, *arrays, on_grad):
        self.shapes = [a.shape for a in arrays]
        self.on_grad = on_grad
        if len(arrays) == 1:
            return arrays[0]
        xp = get_array_module(*arrays)
        return xp.concatenate([a.reshape(-1) for a in arrays])

    def backward(self, gy):
        if len(self.shapes) == 1:
            pieces = [gy]
        else:
            bounds, pieces, start = [], [], 0
            for shape in self.shapes:
                size = 1
                for s in shape:
                    size *= s
                bounds.append((start, start + size))
                start += size
            pieces = [gy[a:b].reshape(shape) for (a, b), shape in zip(bounds, self.shapes)]
        new = self.on_grad(tuple(Tensor(p) for p in pieces))
        xp = get_array_module(gy)
        return tuple(xp.zeros(shape, dtype=gy.dtype) if g is None else g
                     for g, shape in zip(_arrays(new), self.shapes))


class _Piece(Function):
    """y = flat[a:b] reshaped (in the piece's own dtype, should the concatenation have promoted it): one gated
    tensor taken back out of a concatenation.  gx = gy placed at a:b."""

    def forward(self, flat, *, bounds, shape, dtype):
        self.bounds, self.size = bounds, flat.shape[0]
        return flat[bounds[0]:bounds[1]].reshape(shape).astype(dtype, copy=False)

    def backward(self, gy):
        g = get_array_module(gy).zeros(self.size, dtype=gy.dtype)
        g[self.bounds[0]:self.bounds[1]] = gy.reshape(-1)
        return g


def _gate(tensors, on_grad):
    """Route ``tensors`` through one gate node; return the tensors to use in their place."""
    if not tensors:
        return []
    gated = _Gate.apply(*tensors, on_grad=on_grad)
    if len(tensors) == 1:
        return [gated]
    out, start = [], 0
    for t in tensors:
        out.append(_Piece.apply(gated, bounds=(start, start + t.numel()), shape=tuple(t.shape), dtype=t.dtype))
        start += t.numel()
    return out


def _gate_inputs(call: _HookCall, args: tuple) -> tuple:
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    wanted = [i for i in positions if args[i].requires_grad]
    call.input_slots = [positions.index(i) for i in wanted]
    if not wanted:
        return args

    others = [(positions.index(i), args[i]) for i in positions if i not in wanted]

    def on_grad(grads):
        grad_input = [None] * call.n_inputs
        for slot, t in others:          # a tensor input without grad gets zeros, as PyTorch's hook shows it
            grad_input[slot] = Tensor(get_array_module(t.array).zeros_like(t.array))
        for slot, g in zip(call.input_slots, grads):
            grad_input[slot] = g
        grad_input = call.run_hooks(tuple(grad_input))
        return tuple(grad_input[slot] for slot in call.input_slots)

    gated = _gate([args[i] for i in wanted], on_grad)
    args = list(args)
    for i, t in zip(wanted, gated):
        args[i] = t
    return tuple(args)


def _gate_outputs(call: _HookCall, output):
    single = isinstance(output, Tensor)
    outs = [output] if single else list(output) if isinstance(output, (tuple, list)) else None
    if outs is None:
        return output
    wanted = [i for i, o in enumerate(outs) if isinstance(o, Tensor) and o.requires_grad]
    if not wanted:
        return output

    def on_grad(grads):
        grad_output = [None] * len(outs)
        for i, g in zip(wanted, grads):
            grad_output[i] = g
        grad_output = call.run_pre_hooks(tuple(grad_output))
        call.grad_output = grad_output
        if not call.input_slots:          # no input requires grad: the hooks run now, grad_input all None
            call.run_hooks((None,) * call.n_inputs)
        return tuple(grad_output[i] for i in wanted)

    gated = _gate([outs[i] for i in wanted], on_grad)
    for i, t in zip(wanted, gated):
        outs[i] = t
    return outs[0] if single else type(output)(outs)


def call_with_hooks(module, args: tuple, kwargs: dict):
    """``module(*args, **kwargs)`` with its forward pre-hooks, forward hooks and backward hooks."""
    for hook_id, hook in list(module._forward_pre_hooks.items()):
        if hook_id in module._forward_pre_hooks_with_kwargs:
            out = hook(module, args, kwargs)
            if out is not None:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(f"forward pre-hook must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {out!r}")
                args, kwargs = out
        else:
            out = hook(module, args)
            if out is not None:
                args = out if isinstance(out, tuple) else (out,)
    call = None
    if (module._backward_hooks or module._backward_pre_hooks) and is_grad_enabled():
        call = _HookCall(module, sum(isinstance(a, Tensor) for a in args))
        args = _gate_inputs(call, args)
    try:
        output = module.forward(*args, **kwargs)
    except Exception:
        for hook_id, hook in list(module._forward_hooks.items()):
            if hook_id in module._forward_hooks_always_called:
                try:
                    _call_forward_hook(module, hook_id, hook, args, kwargs, None)
                except Exception:  # noqa: BLE001  (the forward's own error is the one to report)
                    pass
        raise
    for hook_id, hook in list(module._forward_hooks.items()):
        out = _call_forward_hook(module, hook_id, hook, args, kwargs, output)
        if out is not None:
            output = out
    if call is not None:
        output = _gate_outputs(call, output)
    return output


def _call_forward_hook(module, hook_id, hook, args, kwargs, output):
    if hook_id in module._forward_hooks_with_kwargs:
        return hook(module, args, kwargs, output)
    return hook(module, args, output)
