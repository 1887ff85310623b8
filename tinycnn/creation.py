"""Creation functions under PyTorch's names and signatures: filled, ranged, identity and random tensors.

Dtype rules are PyTorch's: float32 (the default dtype) unless ``dtype=``; ``full`` takes its dtype from
``fill_value`` (a bool gives bool, an int int64); ``arange`` gives int64 for integer arguments; the random
integers (``randint``, ``randperm``) and index tensors (``tril_indices``) are int64; the ``*_like`` functions
keep the input's dtype. Random numbers come from tinycnn's one global generator (``manual_seed``); they are
drawn on the CPU and moved to ``device``, so a seed gives the same numbers on every device.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import backend
from .autograd import Tensor, tensor


def _shape_arg(size, name):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) or isinstance(s, bool) or s < 0:
            raise ValueError(f"{name}(): size must be non-negative integers, got {size}")
    return tuple(int(s) for s in size)


def _finish(arr, device, requires_grad) -> Tensor:
    if device is not None:
        arr = backend.to_device(arr, device)
    return Tensor(arr, requires_grad=requires_grad)


def _make(fill, args, size, dtype, device, requires_grad, name):
    if size is not None:
        if args:
            raise TypeError(f"{name}(): give the size positionally or as size=, not both")
        args = (size,)
    shape = _shape_arg(args, name)
    dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
    return _finish(fill(shape, dtype), device, requires_grad)


def _random_float(name, dtype):
    if dtype.kind != "f":
        raise TypeError(f"{name}(): random floats need a floating-point dtype, got {dtype}")


def zeros(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``zeros(2, 3)``, ``zeros((2, 3))`` or ``zeros(size=(2, 3))``; float32 unless ``dtype``."""
    return _make(np.zeros, args, size, dtype, device, requires_grad, "zeros")


def ones(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(np.ones, args, size, dtype, device, requires_grad, "ones")


def empty(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor whose values are whatever the memory held (as ``torch.empty``): fill it before reading."""
    return _make(np.empty, args, size, dtype, device, requires_grad, "empty")


def _fill_dtype(fill_value):
    """PyTorch's dtype for a fill value: bool -> bool, int -> int64, float -> the default float dtype."""
    if isinstance(fill_value, (bool, np.bool_)):
        return backend.bool_
    if isinstance(fill_value, numbers.Integral):
        return backend.int64
    if isinstance(fill_value, Tensor):
        return fill_value.dtype
    return backend.DEFAULT_DTYPE


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` holding ``fill_value``; its dtype follows the value unless ``dtype`` is given."""
    if isinstance(size, numbers.Integral):
        size = (size,)
    value = fill_value.item() if isinstance(fill_value, Tensor) else fill_value
    dtype = backend.to_dtype(dtype) or _fill_dtype(fill_value)
    return _make(lambda s, d: np.full(s, value, d), (), size, dtype, device, requires_grad, "full")


def rand(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1) from tinycnn's global generator (see ``manual_seed``)."""
    def fill(s, d):
        _random_float("rand", d)
        return backend.get_rng().random(s).astype(d)
    return _make(fill, args, size, dtype, device, requires_grad, "rand")


def randn(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples from tinycnn's global generator (see ``manual_seed``)."""
    def fill(s, d):
        _random_float("randn", d)
        return backend.get_rng().standard_normal(s).astype(d)
    return _make(fill, args, size, dtype, device, requires_grad, "randn")


def randint(*args, size=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``randint(high, size)`` or ``randint(low, high, size)``: integers uniform in [low, high), int64."""
    if size is None and args and isinstance(args[-1], (tuple, list)):
        args, size = args[:-1], args[-1]
    if size is None or len(args) not in (1, 2):
        raise TypeError(f"randint(): expected (high, size) or (low, high, size), got {args!r} and size={size!r}")
    low, high = (0, args[0]) if len(args) == 1 else args
    if not high > low:
        raise ValueError(f"randint(): high ({high}) must be larger than low ({low})")
    dtype = backend.to_dtype(dtype) or backend.int64
    shape = _shape_arg((size,), "randint")
    arr = backend.get_rng().integers(int(low), int(high), shape).astype(dtype)
    return _finish(arr, device, requires_grad)


def randperm(n: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A random permutation of 0 .. n-1 (int64)."""
    if not isinstance(n, numbers.Integral) or n < 0:
        raise ValueError(f"randperm(): n must be a non-negative int, got {n!r}")
    arr = backend.get_rng().permutation(int(n)).astype(backend.to_dtype(dtype) or backend.int64)
    return _finish(arr, device, requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Normal samples: ``normal(mean, std, size)`` with numbers, or with tensors of means / stds (the output
    has their broadcast shape)."""
    m = mean.numpy() if isinstance(mean, Tensor) else mean
    s = std.numpy() if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise ValueError(f"normal(): std must be non-negative, got {std!r}")
    if size is None:
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
    else:
        shape = _shape_arg((size,), "normal")
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dtype = backend.to_dtype(dtype) or (ref.dtype if ref is not None else backend.DEFAULT_DTYPE)
    arr = (m + s * backend.get_rng().standard_normal(shape)).astype(dtype)
    if device is None and ref is not None:
        device = ref.device
    return _finish(arr, device, requires_grad)


def bernoulli(input: Tensor, p=None) -> Tensor:
    """1 with probability ``input`` (or ``p``), else 0, elementwise; the input's dtype."""
    probs = input.numpy() if p is None else np.full(input.shape, p)
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError("bernoulli(): probabilities must be in [0, 1]")
    arr = (backend.get_rng().random(input.shape) < probs).astype(input.dtype)
    return _finish(arr, input.device, False)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False) -> Tensor:
    """Draw ``num_samples`` category indices per row from the (unnormalised) weights in ``input`` (1-D or
    2-D), with or without replacement; int64."""
    w = input.numpy().astype(np.float64)
    rows = w.reshape(1, -1) if w.ndim == 1 else w
    if w.ndim not in (1, 2) or np.any(rows < 0) or np.any(~np.isfinite(rows)) or np.any(rows.sum(1) <= 0):
        raise ValueError(f"multinomial(): expected 1-D or 2-D non-negative finite weights with a positive sum "
                         f"per row, got shape {tuple(input.shape)}")
    if not replacement and num_samples > rows.shape[1]:
        raise ValueError(f"multinomial(): cannot draw {num_samples} samples without replacement from "
                         f"{rows.shape[1]} categories")
    rng = backend.get_rng()
    out = np.stack([rng.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum()) for r in rows])
    out = out.astype(np.int64)
    return _finish(out.reshape(-1) if w.ndim == 1 else out, input.device, False)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The n x m identity matrix (m = n by default)."""
    dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
    return _finish(np.eye(n, n if m is None else m, dtype=dtype), device, requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Like ``torch.arange``: [start, end) in steps of ``step``; int64 for integer arguments, float32
    otherwise, unless ``dtype``."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange(): step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange(): upper bound and larger bound inconsistent with step sign "
                         f"(start={start}, end={end}, step={step})")
    arr = np.arange(start, end, step)
    if dtype is not None:
        arr = arr.astype(backend.to_dtype(dtype))
    elif arr.dtype.kind == "f":
        arr = arr.astype(backend.DEFAULT_DTYPE)
    else:
        arr = arr.astype(np.int64)
    return _finish(arr, device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` values evenly spaced from start to end, both included."""
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"linspace(): steps must be a non-negative int, got {steps!r}")
    dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
    return _finish(np.linspace(start, end, int(steps)).astype(dtype), device, requires_grad)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """base ** linspace(start, end, steps)."""
    if not isinstance(steps, numbers.Integral) or steps < 0:
        raise ValueError(f"logspace(): steps must be a non-negative int, got {steps!r}")
    dtype = backend.to_dtype(dtype) or backend.DEFAULT_DTYPE
    return _finish(np.logspace(start, end, int(steps), base=base).astype(dtype), device, requires_grad)


def _triangle_indices(name, row, col, offset, keep):
    for n in (row, col):
        if not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"{name}(): row and col must be non-negative ints, got {row!r}, {col!r}")
    r, c = np.indices((row, col))
    mask = keep(c - r, offset)
    return np.stack([r[mask], c[mask]]).astype(np.int64)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) row and column indices of the lower triangle of a row x col matrix (j - i <= offset), in
    row-major order."""
    arr = _triangle_indices("tril_indices", row, col, offset, lambda d, k: d <= k)
    return _finish(arr.astype(backend.to_dtype(dtype) or np.int64), device, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The (2, N) indices of the upper triangle (j - i >= offset), in row-major order."""
    arr = _triangle_indices("triu_indices", row, col, offset, lambda d, k: d >= k)
    return _finish(arr.astype(backend.to_dtype(dtype) or np.int64), device, False)


# ---- *_like: the input's shape, dtype and device --------------------------------------------------------
def _like(t, dtype, device):
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor, got {type(t).__name__}")
    return t.shape, backend.to_dtype(dtype) or t.dtype, t.device if device is None else device


def zeros_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return zeros(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def ones_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return ones(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def empty_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return empty(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input: Tensor, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return full(shape, fill_value, dtype=dtype, device=device, requires_grad=requires_grad)


def rand_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randn_like(input: Tensor, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    shape, dtype, device = _like(input, dtype, device)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad)


def randint_like(input: Tensor, low, high=None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``randint_like(t, high)`` or ``randint_like(t, low, high)``: the input's shape and dtype."""
    shape, dtype, device = _like(input, dtype, device)
    low, high = (0, low) if high is None else (low, high)
    return randint(low, high, shape, dtype=dtype, device=device, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """A tensor sharing memory with ``data`` where it already is an array of that dtype and device (a
    copy otherwise); a Tensor is returned as it is when nothing changes."""
    if isinstance(data, Tensor):
        if (dtype is None or backend.to_dtype(dtype) == data.dtype) and (device is None or device == data.device):
            return data
        return data.to(device=device, dtype=dtype)
    if hasattr(data, "shape") and hasattr(data, "dtype") and not isinstance(data, np.generic):
        arr = data if dtype is None else data.astype(backend.to_dtype(dtype), copy=False)
        return _finish(arr, device, False)
    return tensor(data, dtype=dtype, device=device)
