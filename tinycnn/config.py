"""Scoped settings: which kernels run and which formulation of a computation is used.

    with tinycnn.config(kernels="numpy", conv_backward="rot180", fusion=False):
        ...                                   # the textbook code: im2col, the rot180 input gradient, NumPy
    tinycnn.get_config()                      # Settings(kernels='auto', conv_backward='col2im', ...)

A ``config`` scope applies to the thread that enters it and ends when the ``with`` block does, on an
exception too; scopes nest (the inner one changes only what it names). A thread that enters no scope sees
the process defaults, never another thread's scope. Every setting only changes how numbers are computed,
not which numbers come out (up to float rounding; bit for bit for ``fusion``):

* ``kernels``: "numpy" (``tinycnn/kernels/numpy_kernels.py``, the readable loops), "numba" (the compiled
  ones in ``tinycnn/accel/``) or "auto" (Numba when installed). The process default is the environment
  variable ``TINYCNN_KERNELS``, read once when tinycnn is imported; "auto" when it is unset.
* ``conv_backward``: conv2d's input gradient as "col2im" (transposed product, then col2im: faster) or
  "rot180" (the full correlation with the rotated kernel: the textbook form).
* ``conv_direct``: allow the im2col-free convolutions of the Numba kernels: the direct one for small
  stride-1 layers, the 1x1 one, the small-plane one (planes of at most 2x2 pixels) and the depthwise one
  (groups = in_channels, MobileNet's).
* ``conv_winograd``: allow the Numba kernels' Winograd F(2x2, 3x3) convolution for 3x3 stride-1 layers
  (``tinycnn/accel/winograd.py``; the same sums regrouped, so float32 results differ in the last bits).
* ``fusion``: let a fused layer (``tinycnn.accel.fuse``) run its fused kernel; False runs its ops one by one.

CuPy arrays always take the NumPy kernels (they run on the GPU unchanged).

As an attribute of the package, ``tinycnn.config`` is this scope (as ``torch.no_grad`` is a class); this
module's other names are reached with ``from tinycnn.config import DEFAULTS``.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from typing import NamedTuple

KERNEL_SETS = ("auto", "numpy", "numba")
CONV_BACKWARDS = ("col2im", "rot180")
_BOOLS = (True, False)


class Settings(NamedTuple):
    kernels: str
    conv_backward: str
    conv_direct: bool
    fusion: bool
    conv_winograd: bool = True


_numba_installed = importlib.util.find_spec("numba") is not None     # looked up once, not per call


def numba_installed() -> bool:
    """Whether Numba can be imported (looked up once, at import)."""
    return _numba_installed


NO_NUMBA = "tinycnn kernels 'numba' requested but numba is not installed (pip install numba, or use kernels='numpy')"

_ALLOWED = {"kernels": KERNEL_SETS, "conv_backward": CONV_BACKWARDS, "conv_direct": _BOOLS, "fusion": _BOOLS,
            "conv_winograd": _BOOLS}

# The process defaults. TINYCNN_KERNELS is read here, once; a bad value is reported by the first call that
# needs the kernels (``tinycnn.kernels.get_kernels_name``), so that importing tinycnn never fails on it.
ENV_KERNELS = os.environ.get("TINYCNN_KERNELS", "").strip().lower()
DEFAULTS = Settings(kernels=ENV_KERNELS or "auto", conv_backward="col2im", conv_direct=True, fusion=True,
                    conv_winograd=True)

_local = threading.local()          # .current: this thread's Settings; .saved: the scopes it entered


def get_config() -> Settings:
    """The settings in force in this thread: the innermost ``config`` scope's, else the process defaults."""
    return getattr(_local, "current", DEFAULTS)


def _check(name: str, value):
    allowed = _ALLOWED.get(name)
    if allowed is None:
        raise TypeError(f"tinycnn.config: unknown setting {name!r}; the settings are {', '.join(_ALLOWED)}")
    if allowed is _BOOLS:
        if not isinstance(value, bool):
            raise ValueError(f"tinycnn.config: {name} must be True or False, got {value!r}")
        return value
    if not isinstance(value, str) or value.lower() not in allowed:
        raise ValueError(f"tinycnn.config: {name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value.lower()


class config(contextlib.ContextDecorator):
    """``with tinycnn.config(kernels=..., conv_backward=..., conv_direct=..., fusion=..., conv_winograd=...):``
    (module docstring).

    Values are checked when the scope is made: a bad one raises a ValueError naming the setting, the allowed
    values and what came. Also usable as a decorator. One object may be entered again, also nested or from
    several threads: what each entry restores is kept per thread.
    """

    def __init__(self, **settings):
        self.changes = {name: _check(name, value) for name, value in settings.items()}

    def __enter__(self) -> Settings:
        if self.changes.get("kernels") == "numba" and not numba_installed():
            raise ImportError(NO_NUMBA)      # now, not at the first conv
        previous = get_config()
        saved = getattr(_local, "saved", None)
        if saved is None:
            saved = _local.saved = []
        saved.append(previous)
        _local.current = previous._replace(**self.changes)
        return _local.current

    def __exit__(self, *exc) -> bool:
        _local.current = _local.saved.pop()
        return False

    def __repr__(self) -> str:
        return "tinycnn.config(" + ", ".join(f"{k}={v!r}" for k, v in self.changes.items()) + ")"


__all__ = ["Settings", "config", "get_config", "DEFAULTS", "KERNEL_SETS", "CONV_BACKWARDS"]
