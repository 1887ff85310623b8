"""The array backend: which array module (NumPy or CuPy) an array belongs to, devices and dtypes.

Everything above this layer asks ``get_array_module(x)`` instead of naming NumPy, so the same op code runs
on CuPy arrays unchanged. CuPy is imported lazily: importing tinycnn never pays for it, and tinycnn works
where CuPy is absent or finds no GPU.
"""
from __future__ import annotations

import importlib.util
import os

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

#: dtype of tensors made from Python scalars/lists and of new parameters (PyTorch's default).
DEFAULT_DTYPE = float32

_cupy = None          # the cupy module once imported, or False when unavailable
_numba_present = importlib.util.find_spec("numba") is not None


def numba_available() -> bool:
    """True when Numba is installed and not disabled by ``TINYCNN_KERNELS=numpy``."""
    return _numba_present and os.environ.get("TINYCNN_KERNELS", "").lower() != "numpy"


def cupy_module():
    """Return the cupy module, or None when CuPy is not installed or sees no GPU."""
    global _cupy
    if _cupy is None:
        try:
            import cupy  # noqa: PLC0415  (optional dependency, imported on first use only)
            cupy.cuda.runtime.getDeviceCount()
            _cupy = cupy
        except Exception:  # noqa: BLE001  (ImportError, or CUDA errors when no driver/GPU is present)
            _cupy = False
    return _cupy or None


def cuda_is_available() -> bool:
    return cupy_module() is not None


def _is_cupy_array(x) -> bool:
    # Checked by the class's module name so that NumPy-only installs never import cupy.
    return type(x).__module__.startswith("cupy")


def get_array_module(*arrays):
    """NumPy or CuPy, whichever the given arrays (or Tensors) belong to (NumPy when none is CuPy)."""
    for a in arrays:
        a = getattr(a, "array", a) if not isinstance(a, np.ndarray) else a
        if _is_cupy_array(a):
            return cupy_module()
    return np


def device_of(array) -> str:
    return "cuda" if _is_cupy_array(array) else "cpu"


class device:
    """PyTorch's ``torch.device``: ``device("cpu")``, ``device("cuda")``, ``device("cuda:0")``, ``device("cuda", 0)``.

    ``type`` is "cpu" or "cuda", ``index`` the GPU number or None; ``str(d)`` is "cpu" or "cuda:0". Wherever
    tinycnn takes a device (``Module.to``, ``Tensor.to``, ``tensor(..., device=)``) a ``device`` and its
    string are the same. Unlike PyTorch's, a device also equals its string (``device("cpu") == "cpu"``), as
    ``Tensor.device`` is a string.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):
        given = type
        if isinstance(given, device):
            given, index = given.type, given.index if index is None else index
        name = str(given).lower()
        if ":" in name:
            if index is not None:
                raise ValueError(f"device({given!r}, {index}): give the index in the string or as the "
                                 f"second argument, not both")
            name, _, number = name.partition(":")
            if not number.isdigit():
                raise ValueError(f"device: expected a device index after ':', got {given!r}")
            index = int(number)
        if name not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {given!r}: expected 'cpu' or 'cuda'")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise ValueError(f"device: index must be a non-negative int, got {index!r}")
        object.__setattr__(self, "type", name)
        object.__setattr__(self, "index", index)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device(type='{self.type}')" if self.index is None else \
            f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


def normalize_device(device) -> str:
    """Accept "cpu", "cuda", "cuda:0" or a Device; return "cpu" or "cuda"."""
    name = str(device).lower()
    if name == "cpu":
        return "cpu"
    if name == "cuda" or name.startswith("cuda:"):
        return "cuda"
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")


def to_device(array, device: str):
    """Copy an array to ``device`` ("cpu" or "cuda"); a no-op when it is already there."""
    device = normalize_device(device)
    if device == device_of(array):
        return array
    if device == "cpu":
        return array.get()
    cp = cupy_module()
    if cp is None:
        raise RuntimeError("device 'cuda' requested but CuPy is not installed or no GPU was found "
                           "(pip install 'tinycnn[gpu]')")
    return cp.asarray(array)


def to_dtype(dtype):
    """Normalise a dtype given as a NumPy dtype, a type, a string ('float32') or None (returns None)."""
    if dtype is None:
        return None
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: expected a NumPy dtype such as tinycnn.float32, got {dtype!r}") from exc


# ---- random numbers ----------------------------------------------------------------------------------------
# One global generator feeds rand/randn, parameter initialisation and dropout, so ``manual_seed`` makes a
# whole run reproducible; its state goes into training checkpoints.
_rng = np.random.default_rng(0)


def get_rng() -> np.random.Generator:
    return _rng


def manual_seed(seed: int) -> np.random.Generator:
    """Re-seed tinycnn's global generator (rand, randn, init, dropout, DataLoader shuffling)."""
    global _rng
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _rng = np.random.default_rng(int(seed))
    return _rng


def get_rng_state() -> dict:
    return _rng.bit_generator.state


def set_rng_state(state: dict) -> None:
    _rng.bit_generator.state = state
