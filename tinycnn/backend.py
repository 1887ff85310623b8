"""The array backend: which array module (NumPy or CuPy) an array belongs to, devices and dtypes.

Everything above this layer asks ``get_array_module(x)`` instead of naming NumPy, so the same op code runs
on CuPy arrays unchanged; ``get_special_module(x)`` does the same for the special functions (erf...):
SciPy's ``scipy.special`` or CuPy's ``cupyx.scipy.special``. CuPy and SciPy are imported lazily: importing
tinycnn never pays for them, and tinycnn works where CuPy is absent or finds no GPU.

Dtypes are NumPy dtypes (``tinycnn.float32 is np.dtype("float32")``), so a tensor's ``dtype`` compares equal
to NumPy's and to ours. Devices are ``Device`` objects that compare equal to their names (``"cpu"``).
"""
from __future__ import annotations

import numpy as np

float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
float16 = np.dtype(np.float16)
int64 = np.dtype(np.int64)
int32 = np.dtype(np.int32)
int16 = np.dtype(np.int16)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

#: PyTorch's dtype aliases (``torch.float`` is float32, ``torch.long`` int64...), exported by tinycnn.
DTYPE_ALIASES = {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32,
                 "short": int16, "bool": bool_}

#: PyTorch's legacy tensor type names, for ``Tensor.type()``.
TYPE_NAMES = {float32: "FloatTensor", float64: "DoubleTensor", float16: "HalfTensor", int64: "LongTensor",
              int32: "IntTensor", int16: "ShortTensor", int8: "CharTensor", uint8: "ByteTensor",
              bool_: "BoolTensor"}

#: dtype of tensors made from Python scalars/lists and of new parameters (PyTorch's default).
DEFAULT_DTYPE = float32

_cupy = None          # the cupy module once imported, or False when unavailable


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


_special = {}         # "numpy" / "cupy" -> scipy.special / cupyx.scipy.special once imported


def get_special_module(*arrays):
    """The special functions (erf, erfinv, gammaln, digamma...) for the given arrays: ``scipy.special`` for
    NumPy arrays, ``cupyx.scipy.special`` for CuPy arrays. Imported on first use."""
    kind = "cupy" if get_array_module(*arrays) is not np else "numpy"
    module = _special.get(kind)
    if module is None:
        if kind == "cupy":
            import cupyx.scipy.special as module  # noqa: PLC0415  (optional, GPU only)
        else:
            import scipy.special as module  # noqa: PLC0415  (imported on the first special function)
        _special[kind] = module
    return module


def device_of(array) -> str:
    return "cuda" if _is_cupy_array(array) else "cpu"


def _parse_device(device) -> tuple[str, int | None]:
    """The one parser of device names: "cpu", "cuda", "cuda:1" or a Device -> (type, index or None)."""
    if isinstance(device, Device):
        return device.type, device.index
    name = str(device).strip().lower() if isinstance(device, str) else None
    if name == "cpu":
        return "cpu", None
    if name == "cuda":
        return "cuda", None
    if name is not None and name.startswith("cuda:") and name[5:].isdigit():
        return "cuda", int(name[5:])
    if name is not None and name.startswith("cpu:") and name[4:].isdigit():
        return "cpu", int(name[4:])
    raise ValueError(f"unknown device {device!r}: expected 'cpu' or 'cuda'")


def normalize_device(device) -> str:
    """Accept "cpu", "cuda", "cuda:0" or a Device; return "cpu" or "cuda"."""
    return _parse_device(device)[0]


class Device:
    """A device, as PyTorch's ``torch.device``: ``device("cuda:0")``, ``device("cuda", 0)``, ``device("cpu")``.

    ``type`` is "cpu" or "cuda", ``index`` the GPU number or None; ``str(d)`` is "cpu" or "cuda:0". Wherever
    tinycnn takes a device (``Module.to``, ``Tensor.to``, ``tensor(..., device=)``) a device and its name are
    the same. Equality is PyTorch's (type and index: ``device("cuda:0") != device("cuda")``), and a device
    also equals its name (``t.device == "cpu"``), so code that compares with strings keeps working. A
    tensor's device has no index (CuPy computes on its current GPU): ``t.device == "cuda"``.
    """

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None):
        kind, parsed = _parse_device(type)
        if index is not None:
            if parsed is not None:
                raise ValueError(f"device({type!r}, {index}): give the index in the string or as the second "
                                 f"argument, not both")
            if not isinstance(index, int) or isinstance(index, bool) or index < 0:
                raise ValueError(f"device: index must be a non-negative int, got {index!r}")
            parsed = index
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", parsed)

    def __setattr__(self, name, value):
        raise AttributeError("device objects are immutable")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, (Device, str)):
            return NotImplemented
        try:
            return _parse_device(other) == (self.type, self.index)
        except ValueError:
            return False

    def __hash__(self) -> int:
        return hash(str(self))  # as its name's: a device and its name are the same dict key

    def __reduce__(self):
        return (Device, (self.type, self.index))


device = Device  # PyTorch's spelling (tinycnn.device)


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
    """Normalise a dtype given as a NumPy dtype, a type (``float`` is float64 and ``int`` int64, as in
    PyTorch), a string ('float32', 'tinycnn.float32', PyTorch's alias names 'float', 'long'...) or None
    (returns None)."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        name = dtype.removeprefix("tinycnn.").removeprefix("torch.")
        if name in DTYPE_ALIASES:
            return DTYPE_ALIASES[name]
        dtype = name
    try:
        return np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype: expected a NumPy dtype such as tinycnn.float32, got {dtype!r}") from exc


def _category(dtype) -> int:
    """0 bool, 1 integer, 2 floating, 3 complex: the order PyTorch promotes across."""
    return {"b": 0, "i": 1, "u": 1, "f": 2, "c": 3}[dtype.kind]


def promote_types(a, b):
    """PyTorch's ``promote_types``: within a category NumPy's rule (int32 + int64 -> int64, uint8 + int8 ->
    int16, float16 + float32 -> float32); across categories the higher category's dtype (int64 + float16 ->
    float16; NumPy would give float64)."""
    a, b = np.dtype(a), np.dtype(b)
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def result_type(*operands):
    """The dtype of a binary op's result under PyTorch's type promotion.

    Operands are arrays or Python numbers, in three tiers: arrays with dims, 0-d arrays, Python numbers.
    A lower tier changes the result only when it is of a higher category (bool < int < float): then a 0-d
    array brings its dtype and a Python number its category's default (float32 for a float, int64 for an
    int). So ``int64 tensor + 2.5`` is float32 and ``float16 tensor + float64 0-d tensor`` stays float16.
    """
    tiers = [None, None, None]
    for x in operands:
        if hasattr(x, "dtype") and hasattr(x, "ndim"):
            tier, dtype = (0 if x.ndim > 0 else 1), x.dtype
        elif isinstance(x, (bool, np.bool_)):
            tier, dtype = 2, bool_
        elif isinstance(x, (int, np.integer)):
            tier, dtype = 2, int64
        elif isinstance(x, (float, np.floating)):
            tier, dtype = 2, DEFAULT_DTYPE
        elif isinstance(x, complex):
            tier, dtype = 2, np.dtype(np.complex64)
        else:
            continue
        tiers[tier] = dtype if tiers[tier] is None else promote_types(tiers[tier], dtype)
    result = None
    for dtype in tiers:  # higher tiers first; a lower one wins only with a higher category
        if dtype is None:
            continue
        if result is None:
            result = dtype
        elif _category(dtype) > _category(result):
            result = promote_types(result, dtype)
    return result if result is not None else DEFAULT_DTYPE


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
