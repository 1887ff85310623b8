"""``einsum``: Einstein summation over labelled dims, with its backward.

y[out] = sum over the labels not in ``out`` of prod_k x_k[S_k] (S_k: operand k's labels). y is linear in
each operand, and the derivative of y[out] with respect to x_k[S_k] is the product of the other operands,
so the gradient is itself an einsum: the output gradient and the other operands, contracted to x_k's
labels,

    gx_k[S_k] = sum over the labels not in S_k of  gy[out] * prod_{j != k} x_j[S_j].

Two cases the einsum string cannot say directly are handled around it: a label that appears only in x_k
(summed within x_k alone, so gx_k is constant along it: the gradient is broadcast back along it), and a
label repeated inside S_k (a diagonal, 'ii->i': the gradient lands on the diagonal, zeros elsewhere).
``...`` dims broadcast, as in NumPy and PyTorch; their gradient is summed back over the broadcast.
"""
from __future__ import annotations

import string

from ..autograd import Function
from ..backend import get_array_module
from ..errors import ShapeError
from ._args import tensor_arg
from ._scatter import scatter_add
from .arithmetic import promote, unbroadcast

_LETTERS = string.ascii_letters


def _parse(equation: str, shapes):
    """Labels per operand and for the output, with ``...`` replaced by letters of its own (right-aligned
    across operands, as broadcasting aligns them)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum(): the equation {equation!r} names {len(terms)} operands, got {len(shapes)}")
    used = set(c for c in eq if c.isalpha())
    spare = [c for c in _LETTERS if c not in used]
    for c in eq:
        if not (c.isalpha() or c in ",.->"):
            raise ValueError(f"einsum(): invalid character {c!r} in the equation {equation!r}")
    ell_ndim = 0
    for term, shape in zip(terms, shapes):
        n_named = len(term.replace("...", ""))
        if "..." in term:
            ell_ndim = max(ell_ndim, len(shape) - n_named)
        elif n_named != len(shape):
            raise ShapeError(f"einsum(): operand {term!r} has {n_named} labels but shape {tuple(shape)}")
    ell = spare[:ell_ndim]
    subs = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            k = len(shape) - len(term.replace("...", ""))
            term = term.replace("...", "".join(ell[ell_ndim - k:]))
        subs.append(list(term))
    if arrow:
        if "..." in rhs:
            rhs = rhs.replace("...", "".join(ell))
        out = list(rhs)
    else:
        counts = {}
        for s in subs:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + sorted(c for c, n in counts.items() if n == 1 and c not in ell)
    for c in out:
        if not any(c in s for s in subs):
            raise ValueError(f"einsum(): output label {c!r} does not appear in any operand of {equation!r}")
    return subs, out, ell


class Einsum(Function):
    """y = einsum(S_1, ..., S_n -> out) of the operands; see the module docstring for the gradient
    gx_k = einsum(out, S_j (j != k) -> S_k) with gy in the place of x_k."""

    def forward(self, *arrays, subs, out):
        xp = get_array_module(*arrays)
        arrays = promote(*arrays) if len(arrays) > 1 else arrays
        sizes = {}
        for s, a in zip(subs, arrays):
            for c, n in zip(s, a.shape):
                if sizes.get(c, 1) != n and n != 1 and sizes.get(c, 1) != 1:
                    raise ShapeError(f"einsum(): label {c!r} has size {sizes[c]} in one operand and {n} in "
                                     f"another")
                sizes[c] = n if n != 1 else sizes.get(c, 1)
        # broadcast size-1 dims (the ``...`` ones) so every operand sees each label at its full size
        self.in_shapes = [a.shape for a in arrays]
        self.arrays = [xp.broadcast_to(a, [sizes[c] for c in s]) for s, a in zip(subs, arrays)]
        self.subs, self.out, self.sizes = subs, out, sizes
        return xp.einsum(self._equation(subs, out), *self.arrays)

    @staticmethod
    def _equation(ins, out):
        return ",".join("".join(s) for s in ins) + "->" + "".join(out)

    def backward(self, gy):
        xp = get_array_module(gy)
        grads = []
        for k, need in enumerate(self.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            s_k = self.subs[k]
            others = [(s, a) for j, (s, a) in enumerate(zip(self.subs, self.arrays)) if j != k]
            present = set(self.out).union(*[set(s) for s, _ in others])
            target = list(dict.fromkeys(s_k))                     # x_k's labels, each once
            computed = [c for c in target if c in present]
            g = xp.einsum(self._equation([self.out] + [s for s, _ in others], computed),
                          gy, *[a for _, a in others])
            # labels summed within x_k alone: the gradient is the same all along them
            for c in target:
                if c not in present:
                    g = xp.expand_dims(g, computed.index(c) if c in computed else len(computed))
                    computed.append(c)
            order = [computed.index(c) for c in target]
            g = xp.broadcast_to(xp.transpose(g, order) if g.ndim else g, [self.sizes[c] for c in target])
            if len(target) < len(s_k):  # a repeated label: place the gradient on the diagonal
                full = xp.zeros([self.sizes[c] for c in s_k], dtype=gy.dtype)
                grids = {c: xp.arange(self.sizes[c]).reshape([-1 if i == j else 1 for j in range(len(target))])
                         for i, c in enumerate(target)}
                scatter_add(full, tuple(grids[c] for c in s_k), g, xp)
                g = full
            grads.append(unbroadcast(g, self.in_shapes[k]))
        return tuple(grads)


def einsum(equation: str, *operands):
    """Einstein summation, as ``torch.einsum('ij,jk->ik', a, b)`` (operands may also come as one list);
    differentiable in every operand."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum(): the first argument must be the equation string, got {type(equation).__name__}")
    tensors = [tensor_arg(t, "einsum") for t in operands]
    if not tensors:
        raise ValueError("einsum(): expected at least one operand")
    subs, out, _ = _parse(equation, [t.shape for t in tensors])
    return Einsum.apply(*tensors, subs=subs, out=out)

