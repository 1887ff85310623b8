"""Reading the pickled dicts of NumPy arrays that CIFAR ships, without running any code from the file.

A pickle is a small program: its GLOBAL opcodes name functions that ``pickle.load`` looks up and calls, which
is how a crafted file runs code. Here every name is looked up in a table of stand-ins instead, and anything
not in it is refused. A pickled NumPy array is ``_reconstruct(ndarray, shape, typecode)`` followed by a
``__setstate__((version, shape, dtype, fortran_order, raw_bytes))``, its dtype ``dtype(spec, align, copy)``
followed by a ``__setstate__`` of its byte order; the stand-ins only record those arguments, and after the
load each recorded array is built with ``np.frombuffer`` from its raw bytes, for plain numeric dtypes only.
Python 2 strings (CIFAR's pickles were written by Python 2) arrive as latin-1 ``str`` and are turned back
into the bytes they were.
"""
from __future__ import annotations

import io
import pickle

import numpy as np

from .utils import DataFileError

_NUMERIC_SPECS = {"b1", "u1", "i1", "u2", "i2", "u4", "i4", "u8", "i8", "f2", "f4", "f8"}


class _DType:
    def __init__(self, spec, align=False, copy=False):
        self.spec, self.byteorder = spec, "|"

    def __setstate__(self, state):
        self.byteorder = state[1]

    def resolve(self, where: str) -> np.dtype:
        spec = self.spec.decode("latin-1") if isinstance(self.spec, bytes) else str(self.spec)
        if spec not in _NUMERIC_SPECS:
            raise DataFileError(f"{where}: refusing an array of dtype {spec!r} (only plain numeric arrays are read)")
        order = self.byteorder if self.byteorder in ("<", ">", "=") else "|"
        return np.dtype(spec).newbyteorder(order) if order != "|" else np.dtype(spec)


class _Array:
    def __init__(self, cls=None, shape=(0,), typecode=b"b"):
        self.state = None

    def __setstate__(self, state):
        self.state = state


class _NDArrayType:
    """Stands for ``numpy.ndarray`` as the first argument of ``_reconstruct``."""


def _scalar(dtype, raw):
    return ("scalar", dtype, raw)


def _codecs_encode(text, encoding="utf-8"):
    if encoding not in ("latin1", "latin-1"):
        raise DataFileError(f"refusing _codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


_STAND_INS = {
    ("numpy.core.multiarray", "_reconstruct"): _Array, ("numpy._core.multiarray", "_reconstruct"): _Array,
    ("numpy", "ndarray"): _NDArrayType, ("numpy", "dtype"): _DType,
    ("numpy.core.multiarray", "scalar"): _scalar, ("numpy._core.multiarray", "scalar"): _scalar,
    ("_codecs", "encode"): _codecs_encode,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, where: str):
        super().__init__(f, encoding="latin1")
        self.where = where

    def find_class(self, module, name):
        try:
            return _STAND_INS[(module, name)]
        except KeyError:
            raise DataFileError(f"{self.where}: the pickle refers to {module}.{name}, which is not part of a dataset "
                                f"batch; refusing to load it") from None


def _as_bytes(raw) -> bytes:
    return raw.encode("latin-1") if isinstance(raw, str) else bytes(raw)


def _build(obj, where: str):
    if isinstance(obj, _Array):
        if obj.state is None:
            raise DataFileError(f"{where}: an array without its data")
        state = obj.state[1:] if len(obj.state) == 5 else obj.state
        shape, dtype, fortran, raw = state
        dt = dtype.resolve(where)
        raw = _as_bytes(raw)
        count = int(np.prod(shape, dtype=np.int64))
        if len(raw) != count * dt.itemsize:
            raise DataFileError(f"{where}: array of shape {tuple(shape)} needs {count * dt.itemsize} bytes, the file "
                                f"holds {len(raw)}")
        arr = np.frombuffer(raw, dtype=dt).reshape(shape, order="F" if fortran else "C")
        return arr.astype(dt.newbyteorder("="), copy=False)
    if isinstance(obj, tuple) and len(obj) == 3 and obj[0] == "scalar" and isinstance(obj[1], _DType):
        return np.frombuffer(_as_bytes(obj[2]), dtype=obj[1].resolve(where))[0]
    if isinstance(obj, dict):
        return {(k.decode("latin-1") if isinstance(k, bytes) else k): _build(v, where) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_build(v, where) for v in obj]
    if isinstance(obj, (_DType, _NDArrayType)) or obj is _NDArrayType:
        raise DataFileError(f"{where}: a stray NumPy type object in the pickle")
    return obj


def load(data: bytes, where: str):
    """The object pickled in ``data``, with NumPy arrays rebuilt safely; ``where`` names the file in errors."""
    try:
        obj = _Unpickler(io.BytesIO(data), where).load()
    except DataFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise DataFileError(f"{where}: not a readable pickle ({type(exc).__name__}: {exc}); the file is truncated "
                            f"or damaged") from None
    return _build(obj, where)
