"""``tinycnn.save`` / ``tinycnn.load``: state dicts and checkpoints in a format that never runs code.

The file is a NumPy ``.npz`` archive (a zip with a CRC-32 per member), read with ``allow_pickle=False``:
every array (or Tensor) of a nested structure of dicts, lists, numbers and strings becomes a member, and the
structure itself is a JSON document stored as a member ``__structure__`` (a byte array), with each array
replaced by a ``{"__array__": name}`` reference. A SHA-256 of all members is stored too, so a truncated or
altered file is detected and named instead of being half-loaded.

Writes are atomic (``tinycnn/utils/atomic.py``): the archive is written to a temporary file in the same folder,
flushed to disk, then renamed over the target, so an interrupted or failed save (a full disk) leaves the
previous file intact, and the one ``OSError`` it raises names the file.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from collections import OrderedDict

import numpy as np

from ..autograd import Tensor
from ..backend import to_device
from .atomic import atomic_write

FORMAT = "tinycnn-npz-1"


class CheckpointError(RuntimeError):
    """A saved file is missing, truncated, altered or not a tinycnn file (the message names the file)."""


def _flatten(obj, arrays: dict):
    """Return a JSON-able skeleton of ``obj``, moving its arrays into ``arrays``."""
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = to_device(obj.array, "cpu")
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray) or type(obj).__module__.startswith("cupy"):
        key = f"a{len(arrays)}"
        arrays[key] = to_device(obj, "cpu")
        if arrays[key].dtype == object:
            raise TypeError("save: object arrays cannot be saved without pickle")
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        items = [[_check_key(k), _flatten(v, arrays)] for k, v in obj.items()]
        return {"__dict__": items, "ordered": isinstance(obj, OrderedDict)}
    if isinstance(obj, (list, tuple)):
        return {"__list__": [_flatten(v, arrays) for v in obj], "tuple": isinstance(obj, tuple)}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        if isinstance(obj, float) and not np.isfinite(obj):
            return {"__float__": repr(obj)}
        return obj
    raise TypeError(f"save: cannot store an object of type {type(obj).__name__} "
                    f"(tensors, arrays, dicts, lists, numbers and strings only)")


def _check_key(k):
    if isinstance(k, (str, int)):
        return k
    raise TypeError(f"save: dict keys must be str or int, got {type(k).__name__}")


def _unflatten(node, arrays, as_tensor: bool):
    if isinstance(node, dict):
        if "__tensor__" in node:
            arr = arrays[node["__tensor__"]]
            return Tensor(arr) if as_tensor else arr
        if "__array__" in node:
            return arrays[node["__array__"]]
        if "__dict__" in node:
            cls = OrderedDict if node.get("ordered") else dict
            return cls((k, _unflatten(v, arrays, as_tensor)) for k, v in node["__dict__"])
        if "__list__" in node:
            items = [_unflatten(v, arrays, as_tensor) for v in node["__list__"]]
            return tuple(items) if node.get("tuple") else items
        if "__float__" in node:
            return float(node["__float__"])
    return node


def _digest(arrays: dict, structure: bytes) -> str:
    h = hashlib.sha256(structure)
    for key in sorted(arrays):
        arr = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(arr.dtype).encode() + str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def write_bytes_atomically(path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a reader sees the old file or the whole new one, never a part
    (``atomic.atomic_write``)."""
    with atomic_write(path) as f:
        f.write(data)


def save(obj, path) -> None:
    """Save a state dict (or a nested dict of tensors, arrays, numbers, strings) to ``path`` atomically.

    A write that fails (no space left, no permission) raises one ``OSError`` whose ``filename`` is ``path``;
    the file that was there before is unchanged."""
    path = os.fspath(path)
    arrays: dict = {}
    skeleton = _flatten(obj, arrays)
    structure = json.dumps({"format": FORMAT, "root": skeleton}).encode()
    header = json.dumps({"sha256": _digest(arrays, structure)}).encode()
    with atomic_write(path) as f:
        np.savez(f, __structure__=np.frombuffer(structure, dtype=np.uint8),
                 __header__=np.frombuffer(header, dtype=np.uint8), **arrays)


def load(path, as_tensors: bool = True):
    """Load what ``save`` wrote. Tensors come back as Tensors (``as_tensors=False``: NumPy arrays).

    Raises ``CheckpointError`` naming the file when it is missing, truncated, altered or not ours.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not b"PK\x03\x04".startswith(raw[:4]):       # a shorter prefix of it may be a truncated archive
        raise CheckpointError(f"{path}: not a tinycnn file (a tinycnn file is an .npz archive, which begins with "
                              f"the zip signature PK; this one begins with {raw[:8]!r})")
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            members = {k: npz[k] for k in npz.files}
    except Exception as exc:  # noqa: BLE001  a damaged zip raises almost anything (NotImplementedError for a
        # flipped version byte, struct.error, MemoryError for an absurd header...): all mean "unreadable"
        raise CheckpointError(f"{path}: not a readable tinycnn file (truncated or corrupted?): "
                              f"{type(exc).__name__}: {exc}") from None
    try:
        structure = members.pop("__structure__").tobytes()
        header = json.loads(members.pop("__header__").tobytes())
        doc = json.loads(structure)
        if not isinstance(header, dict) or not isinstance(doc, dict):
            raise ValueError("the header and structure must be JSON objects")
    except (KeyError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a tinycnn file (missing or unreadable structure: {exc})") from None
    if doc.get("format") != FORMAT:
        raise CheckpointError(f"{path}: unknown format {doc.get('format')!r}, expected {FORMAT!r}")
    if _digest(members, structure) != header.get("sha256"):
        raise CheckpointError(f"{path}: checksum mismatch: the file was altered or damaged after it was saved")
    return _unflatten(doc["root"], members, as_tensors)
