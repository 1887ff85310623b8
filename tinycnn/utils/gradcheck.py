"""Finite-difference gradient checking.

For a function ``y = f(x_1, ..., x_k)`` and a fixed random upstream gradient ``u`` (same shape as ``y``),
the scalar ``L = sum(u * y)`` has ``dL/dx_i = J_i^T u``, which is exactly what ``backward(u)`` computes. The
numeric estimate uses central differences, whose error is O(eps^2):

    dL/dx_i[j] ~ (L(x_i + eps e_j) - L(x_i - eps e_j)) / (2 eps)

Element mode perturbs every element (2 forward passes each). Directional mode (as Chainer's
``check_backward``) draws random unit directions ``d`` and compares the directional derivative
``(L(x + eps d) - L(x - eps d)) / (2 eps)`` with ``sum_i <dL/dx_i, d_i>``: two forward passes per direction,
whatever the size of the inputs.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from ..autograd import Tensor, no_grad


class GradcheckError(AssertionError):
    """The analytic and numeric gradients disagree (the message names the input and the worst element)."""


class GradcheckResult(NamedTuple):
    ok: bool
    max_abs_error: float
    max_rel_error: float
    message: str


def _prepare(inputs) -> list[Tensor]:
    prepared = []
    for i, x in enumerate(inputs):
        if isinstance(x, Tensor):
            wants = x.requires_grad
            data = x.array
        else:
            data = np.asarray(x)
            wants = data.dtype.kind == "f"
        if wants and data.dtype != np.float64:
            data = data.astype(np.float64)
        prepared.append(Tensor(data.copy(), requires_grad=wants))
    if not any(t.requires_grad for t in prepared):
        raise ValueError("gradcheck: no input requires grad (pass float tensors with requires_grad=True)")
    return prepared


def _scalar_loss(fn, tensors, upstream):
    out = fn(*tensors)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return float(np.sum(np.asarray(out.numpy(), dtype=np.float64) * upstream))


def check_gradients(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
                    rtol: float = 1e-3, directional: bool | None = None, n_directions: int = 8,
                    max_elements: int = 4096, seed: int = 0) -> GradcheckResult:
    """Compare analytic and numeric gradients; return a result instead of raising (used by the CLI)."""
    rng = np.random.default_rng(seed)
    tensors = _prepare(inputs)
    out = fn(*tensors)
    if isinstance(out, (tuple, list)):
        out = out[0]
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    upstream = rng.standard_normal(out.shape)
    if out.requires_grad:
        out.backward(Tensor(upstream.astype(out.dtype)))
    checked = [i for i, t in enumerate(tensors) if t.requires_grad]
    analytic = {i: (tensors[i].grad.numpy().astype(np.float64) if tensors[i].grad is not None
                    else np.zeros(tensors[i].shape)) for i in checked}
    total = sum(tensors[i].numel() for i in checked)
    if directional is None:
        directional = total > max_elements

    worst = (0.0, 0.0, "")  # (abs error, rel error, description)
    failures = []

    def compare(a: float, n: float, where: str):
        nonlocal worst
        err = abs(a - n)
        rel = err / max(abs(n), 1e-12)
        if err > worst[0]:
            worst = (err, rel, where)
        if err > atol + rtol * abs(n):
            failures.append(f"{where}: analytic {a:.10g}, numeric {n:.10g} (abs error {err:.3g})")

    with no_grad():
        if directional:
            for k in range(n_directions):
                dirs = {i: rng.standard_normal(tensors[i].shape) for i in checked}
                norm = np.sqrt(sum(float(np.sum(d * d)) for d in dirs.values())) or 1.0
                originals = {i: tensors[i].array for i in checked}
                for i in checked:
                    tensors[i].array = originals[i] + eps * dirs[i] / norm
                plus = _scalar_loss(fn, tensors, upstream)
                for i in checked:
                    tensors[i].array = originals[i] - eps * dirs[i] / norm
                minus = _scalar_loss(fn, tensors, upstream)
                for i in checked:
                    tensors[i].array = originals[i]
                numeric = (plus - minus) / (2 * eps)
                exact = sum(float(np.sum(analytic[i] * dirs[i])) for i in checked) / norm
                compare(exact, numeric, f"direction {k} (all inputs at once)")
        else:
            for i in checked:
                x = tensors[i]
                flat = x.array.reshape(-1)  # a view: perturbing it perturbs x
                for j in range(flat.size):
                    orig = flat[j]
                    flat[j] = orig + eps
                    plus = _scalar_loss(fn, tensors, upstream)
                    flat[j] = orig - eps
                    minus = _scalar_loss(fn, tensors, upstream)
                    flat[j] = orig
                    idx = np.unravel_index(j, x.shape)
                    compare(float(analytic[i].reshape(-1)[j]), (plus - minus) / (2 * eps),
                            f"input {i} (shape {tuple(x.shape)}), element {tuple(int(v) for v in idx)}")
    message = ""
    if failures:
        message = (f"gradcheck failed for {len(failures)} of the compared values; worst: {worst[2]} "
                   f"(abs error {worst[0]:.3g})\n  " + "\n  ".join(failures[:10]))
    return GradcheckResult(not failures, worst[0], worst[1], message)


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              directional: bool | None = None, n_directions: int = 8, max_elements: int = 4096,
              seed: int = 0) -> bool:
    """Check ``fn``'s analytic gradients against central differences in float64.

    Every input that requires grad (a Tensor with ``requires_grad=True``, or any float array) is checked,
    cast to float64. Returns True, or raises ``GradcheckError`` naming the input, the worst element, and the
    analytic and numeric values. With more than ``max_elements`` elements to check (or
    ``directional=True``) it compares ``n_directions`` random directional derivatives instead.
    """
    result = check_gradients(fn, inputs, eps, atol, rtol, directional, n_directions, max_elements, seed)
    if not result.ok:
        raise GradcheckError(result.message)
    return True
