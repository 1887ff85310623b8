"""In-place ops, as PyTorch's: ``x.add_(y)``, ``x += y``, ``x[idx] = v``, ``fill_``, ``zero_``, ``copy_``,
``normal_``, ``uniform_``, ``masked_fill_``, ``index_fill_`` ... (``op_`` for every elementwise ``op``).

An in-place op writes its result into the tensor's own storage, so ``.data``, views and every tensor that
shares the storage see it, and adds 1 to the storage's version counter. Three cases, as in PyTorch:

- Outside the graph (grad mode off, or nothing involved requires grad): the values are written, nothing
  is recorded. This is how optimizers and ``nn.init`` change parameters, under ``no_grad`` or on ``.data``.
- A leaf that requires grad, with grad mode on: an error (its ``.grad`` would belong to values it no longer
  holds).
- Inside the graph (a non-leaf, or a tensor taking values that require grad): the op is recorded as if out
  of place, y = op(x_old, ...), and the tensor takes y's place in the graph (its ``grad_fn`` becomes the
  op's), while functions that read x_old before keep their edge to x_old's history. x_old is a copy made
  for the op, because the write overwrites the storage. Functions that saved the old storage for their
  backward find its version changed and raise PyTorch's error when backward reaches them.
  An in-place change of a *view* (``x[0].mul_(2)``, ``x[:, 1] += 1``) also rewrites the history of the
  tensor it views: the base becomes ``index_put(base_old, view positions, new values)`` and the view is
  replayed from the new base, as PyTorch's CopySlices does.
"""
from __future__ import annotations

import numbers

import numpy as np

from .. import backend
from ..autograd import Function, Tensor, _OutputRecord, _refresh_view, is_grad_enabled, no_grad
from ..backend import get_array_module
from ..errors import ShapeError
from .indexing import IndexPut, _region, torch_key


def _can_cast(src, dst) -> bool:
    """PyTorch's rule for writing a result into a tensor: no float -> integer, nothing -> bool but bool."""
    kinds = {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}
    return not (kinds[src.kind] > kinds[dst.kind])


def _write(self: Tensor, values, name: str) -> None:
    """self's storage <- values (broadcast to self's shape, cast to its dtype)."""
    if hasattr(values, "dtype") and not _can_cast(values.dtype, self.dtype):
        raise RuntimeError(f"{name}(): result type {values.dtype} can't be cast to the desired output type "
                           f"{self.dtype} of the tensor changed in place")
    if hasattr(values, "shape") and tuple(values.shape) != tuple(self.shape) and not (
            _broadcastable(values.shape, self.shape)
            and np.broadcast_shapes(tuple(values.shape), tuple(self.shape)) == tuple(self.shape)):
        raise ShapeError(f"{name}(): the result has shape {tuple(values.shape)}, which does not fit the tensor of "
                         f"shape {tuple(self.shape)} changed in place")
    try:
        self.array[...] = values
    except ValueError as exc:
        if "read-only" in str(exc):
            raise RuntimeError(f"{name}(): this tensor cannot be written in place: it is a read-only view "
                               f"(expand, broadcast_to or diagonal share one element between several "
                               f"positions); clone() it first") from None
        raise


def _broadcastable(a, b) -> bool:
    try:
        np.broadcast_shapes(tuple(a), tuple(b))
        return True
    except ValueError:
        return False


def _requires_grad(values) -> bool:
    return any(isinstance(v, Tensor) and v.requires_grad for v in values)


def _old_role(t: Tensor) -> Tensor:
    """A copy of ``t`` that stands for its values and history before the in-place change."""
    old = Tensor(t.array.copy())
    old._ctx, old.requires_grad = t._ctx, t.requires_grad
    return old


def _take_role(t: Tensor, out: Tensor) -> None:
    """``t`` becomes the output of ``out``'s function (``t`` already holds out's values)."""
    fn = out._ctx
    t._ctx, t.requires_grad = fn, True
    fn.output = _OutputRecord(t)


def _view_chain(t: Tensor):
    """(root tensor, [(view tensor, its view function), ...] from the root outwards)."""
    chain = []
    while t._base is not None:
        chain.append((t, tuple(t._view_fn[:2])))
        t = t._base
    return t, chain[::-1]


def apply_inplace(self: Tensor, name: str, compute, operands=()) -> Tensor:
    """self <- compute(self) in place; ``compute`` maps a Tensor to the new values (out of place, through
    the recorded ops, so their backward is the in-place op's). ``operands``: the other tensors involved."""
    if not isinstance(self, Tensor):
        raise TypeError(f"{name}(): expected a Tensor, got {type(self).__name__}")
    if self._base is not None:
        _refresh_view(self)
    tracked = is_grad_enabled() and (self.requires_grad or _requires_grad(operands))
    if is_grad_enabled() and self.requires_grad and self._ctx is None:
        raise RuntimeError(f"{name}(): a leaf tensor that requires grad is being used in an in-place operation "
                           f"(change it under `with tinycnn.no_grad():`, or through .data)")
    if not tracked:
        with no_grad():
            out = compute(self)
        _write(self, out.array if isinstance(out, Tensor) else out, name)
        self._version_counter.value += 1
        return self
    root, chain = _view_chain(self)
    if chain and is_grad_enabled() and root.requires_grad and root._ctx is None:
        raise RuntimeError(f"{name}(): a view of a leaf tensor that requires grad is being used in an in-place "
                           f"operation (change the leaf under `with tinycnn.no_grad():`, or through .data)")
    old = _old_role(self)
    out = compute(old)
    _write(self, out.array, name)
    self._version_counter.value += 1
    if out._ctx is None:  # nothing to record after all (e.g. the operands were cut from the graph)
        return self
    if not chain:
        _take_role(self, out)
        return self
    _rewrite_base(root, chain, out)
    return self


def _rewrite_base(root: Tensor, chain, new_values: Tensor) -> None:
    """After an in-place change of the view at the end of ``chain``: root = index_put(root_old, the view's
    positions, new values), and each view of the chain is replayed from the new root."""
    xp = get_array_module(root.array)
    positions = xp.arange(root.numel()).reshape(tuple(root.shape))
    for _, (cls, params) in chain:  # replay the views on the positions: where each view element lives
        positions = cls().forward(positions, **params)
    key = xp.unravel_index(positions, tuple(root.shape))
    old_root = Tensor(root.array.copy())
    old_root._ctx, old_root.requires_grad = root._ctx, root.requires_grad
    new_root = IndexPut.apply(old_root, new_values, first=None, rest=key, accumulate=False)
    _take_role(root, new_root)
    parent = root
    for view, (cls, params) in chain:
        replay = cls.apply(parent, **params)
        _take_role(view, replay)
        view._view_fn[2] = view._version_counter.value  # its history is current again
        parent = view


# ---- the in-place methods -------------------------------------------------------------------------------------
class Fill(Function):
    """y = constant values (a fill, a copy from outside the graph, random numbers): dy/dx = 0."""

    def forward(self, x, *, values):
        xp = get_array_module(x)
        self.shape = x.shape
        return xp.broadcast_to(xp.asarray(values, dtype=x.dtype), x.shape).copy()

    def backward(self, gy):
        return get_array_module(gy).zeros(self.shape, dtype=gy.dtype)


class CopyFrom(Function):
    """y = src broadcast to x's shape and cast to x's dtype (``x.copy_(src)``).
    gx = 0 (x's old values are gone); gsrc = gy summed over the broadcast axes, cast back to src's dtype."""

    def forward(self, x, src):
        xp = get_array_module(x)
        self.x_shape, self.src_shape = x.shape, src.shape
        return xp.broadcast_to(backend.to_device(src, backend.device_of(x)), x.shape).astype(x.dtype)

    def backward(self, gy):
        from .arithmetic import unbroadcast  # noqa: PLC0415  (a sibling helper)
        xp = get_array_module(gy)
        gx = xp.zeros(self.x_shape, dtype=gy.dtype) if self.needs_input_grad[0] else None
        gs = unbroadcast(gy, self.src_shape) if self.needs_input_grad[1] else None
        return gx, gs


def _fill_with(self: Tensor, name: str, make_values):
    """Fill ``self`` with ``make_values(shape, dtype)`` (a host or device array)."""
    return apply_inplace(self, name, lambda t: Fill.apply(t, values=make_values(tuple(t.shape), t.dtype)))


def fill_(self: Tensor, value) -> Tensor:
    """Every element <- ``value`` (a number or a 0-d tensor, whose gradient is then the sum of gy)."""
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"fill_(): value must be a number or a one-element tensor, got shape "
                             f"{tuple(value.shape)}")
        return copy_(self, value.reshape(()))
    return _fill_with(self, "fill_", lambda s, d: value)


def zero_(self: Tensor) -> Tensor:
    """Every element <- 0."""
    return _fill_with(self, "zero_", lambda s, d: 0)


def copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """self <- src (broadcast to self's shape, cast to its dtype, moved to its device)."""
    src = src if isinstance(src, Tensor) else Tensor(np.asarray(src))
    if not _broadcastable(src.shape, self.shape) or \
            np.broadcast_shapes(tuple(src.shape), tuple(self.shape)) != tuple(self.shape):
        raise ShapeError(f"copy_(): src of shape {tuple(src.shape)} does not broadcast to the tensor's shape "
                         f"{tuple(self.shape)}")
    return apply_inplace(self, "copy_", lambda t: CopyFrom.apply(t, src), (src,))


def _rng():
    return backend.get_rng()


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples of N(mean, std^2) from tinycnn's global generator."""
    return _fill_with(self, "normal_", lambda s, d: mean + std * _rng().standard_normal(s))


def uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples uniform in [a, b)."""
    return _fill_with(self, "uniform_", lambda s, d: _rng().uniform(a, b, s))


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 1 (probability p) or 0."""
    probs = p.numpy() if isinstance(p, Tensor) else p
    return _fill_with(self, "bernoulli_", lambda s, d: (_rng().random(s) < probs))


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with samples of the exponential distribution of rate ``lambd``."""
    return _fill_with(self, "exponential_", lambda s, d: _rng().exponential(1.0 / lambd, s))


def random_(self: Tensor, from_=0, to=None, *, generator=None) -> Tensor:
    """Fill with integers uniform in [from, to) (``random_(to)``: [0, to); none: [0, 2^mantissa])."""
    if to is None and from_ != 0:
        from_, to = 0, from_
    if to is None:
        to = 2 ** (np.finfo(self.dtype).nmant + 1) if self.dtype.kind == "f" else np.iinfo(self.dtype).max
    return _fill_with(self, "random_", lambda s, d: _rng().integers(int(from_), int(to), s))


def fill_diagonal_(self: Tensor, fill_value, wrap: bool = False) -> Tensor:
    """The main diagonal <- ``fill_value`` (all dims of equal size, or a 2-D tall matrix with ``wrap``)."""
    if self.ndim < 2 or (self.ndim > 2 and len(set(self.shape)) != 1):
        raise ShapeError(f"fill_diagonal_(): expected a 2-D tensor or one with all dims equal, got shape "
                         f"{tuple(self.shape)}")
    xp = get_array_module(self.array)
    n = min(self.shape)
    rows = xp.arange(n)
    if wrap and self.ndim == 2 and self.shape[0] > self.shape[1] + 1:
        step = self.shape[1] + 1
        flat = xp.arange(0, self.shape[0] * self.shape[1], step)
        key = (flat // self.shape[1], flat % self.shape[1])
    else:
        key = (rows,) * self.ndim
    return setitem(self, tuple(Tensor(k) for k in key), fill_value)


def setitem(self: Tensor, key, value) -> Tensor:
    """``x[key] = value``: PyTorch's indexing rule, value broadcast to the indexed region and cast."""
    xp = get_array_module(self.array)
    first, rest = torch_key(key, self.ndim, xp)
    value = value if isinstance(value, (Tensor, numbers.Number)) else Tensor(np.asarray(value))
    if not (is_grad_enabled() and (self.requires_grad or _requires_grad((value,)))):
        v = value.array if isinstance(value, Tensor) else value
        if hasattr(v, "dtype") and not _can_cast(v.dtype, self.dtype):
            raise RuntimeError(f"__setitem__(): a {v.dtype} value can't be written into a {self.dtype} tensor")
        if hasattr(v, "shape"):
            v = backend.to_device(v, backend.device_of(self.array)).astype(self.dtype, copy=False)
        _region(self.array, first)[rest] = v
        self._version_counter.value += 1
        return self
    return apply_inplace(self, "__setitem__", lambda t: IndexPut.apply(t, value, first=first, rest=rest,
                                                                       accumulate=False), (value,))


def index_put_(self: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """``self[indices] = values`` (or ``+=`` with ``accumulate``, repeats adding up), in place."""
    from .indexing import index_put  # noqa: PLC0415  (the out-of-place form)
    values = values if isinstance(values, (Tensor, numbers.Number)) else Tensor(np.asarray(values))
    return apply_inplace(self, "index_put_", lambda t: index_put(t, indices, values, accumulate), (values,))


def _variant(method: str):
    """The in-place form of the Tensor method ``method`` (``add`` -> ``add_``)."""
    def op(self, *args, **kwargs):
        operands = [a for a in list(args) + list(kwargs.values()) if isinstance(a, Tensor)]
        return apply_inplace(self, method + "_", lambda t: getattr(t, method)(*args, **kwargs), operands)
    op.__name__ = op.__qualname__ = method + "_"
    op.__doc__ = f"In-place ``{method}``: self <- self.{method}(...), written into self's storage."
    return op


def _augmented(method: str):
    """``x += y`` and friends: the in-place form, returning self."""
    variant = _variant(method)

    def op(self, other):
        return variant(self, other)
    op.__name__ = op.__qualname__ = f"__i{method}__"
    return op


_ELEMENTWISE = (
    "add", "sub", "mul", "div", "pow", "neg", "abs", "exp", "log", "sqrt", "rsqrt", "reciprocal", "square",
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "sigmoid",
    "relu", "erf", "erfc", "erfinv", "log2", "log10", "log1p", "exp2", "expm1", "lgamma", "digamma", "floor",
    "ceil", "trunc", "round", "frac", "sign", "clamp", "clip", "fmod", "remainder", "atan2", "lerp", "copysign",
    "hypot", "logaddexp", "nan_to_num", "addcmul", "addcdiv", "floor_divide", "masked_fill", "masked_scatter",
    "index_fill", "index_add", "index_copy", "scatter", "scatter_add", "scatter_reduce", "tril", "triu",
    "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "bitwise_left_shift", "bitwise_right_shift", "maximum", "minimum", "deg2rad", "rad2deg",
    "fix", "multiply", "subtract", "divide", "true_divide", "arctan2", "clamp_min", "clamp_max",
)

TENSOR_METHODS = {name + "_": _variant(name) for name in _ELEMENTWISE}
TENSOR_METHODS.update({
    "fill_": fill_, "zero_": zero_, "copy_": copy_, "normal_": normal_, "uniform_": uniform_,
    "bernoulli_": bernoulli_, "exponential_": exponential_, "random_": random_, "fill_diagonal_": fill_diagonal_,
    "__setitem__": setitem, "index_put_": index_put_,
    "__iadd__": _augmented("add"), "__isub__": _augmented("sub"), "__imul__": _augmented("mul"),
    "__itruediv__": _augmented("div"), "__ifloordiv__": _augmented("floor_divide"),
    "__imod__": _augmented("remainder"), "__ipow__": _augmented("pow"), "__iand__": _augmented("bitwise_and"),
    "__ior__": _augmented("bitwise_or"), "__ixor__": _augmented("bitwise_xor"),
    "__ilshift__": _augmented("bitwise_left_shift"), "__irshift__": _augmented("bitwise_right_shift"),
})
