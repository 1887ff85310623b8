"""Read a PyTorch ``state_dict`` file (``torch.save(model.state_dict(), path)``) without PyTorch.

A ``.pth`` file is a pickle, and unpickling runs whatever callable the file names: a crafted file can
call ``os.system``. So the pickle is read by an ``Unpickler`` whose ``find_class`` knows only the few
globals a state dict needs and refuses every other one *before* it is looked up:

    collections.OrderedDict                      the dict itself
    torch._utils._rebuild_tensor_v2              (storage, offset, size, stride, requires_grad, hooks)
    torch._utils._rebuild_parameter              (tensor, requires_grad, hooks)
    torch.FloatStorage, torch.LongStorage, ...   storage types, named in the persistent ids
    torch.storage.UntypedStorage / _load_from_bytes

None of these is imported from PyTorch: each name maps to a small NumPy stand-in defined here.

Two layouts exist:

* zip (PyTorch >= 1.6, the default): ``<name>/data.pkl`` is the pickle; tensors refer to storages by
  persistent id ``('storage', StorageType, key, location, numel)``, and the raw little-endian bytes of
  storage ``key`` are the member ``<name>/data/<key>``.
* legacy (``_use_new_zipfile_serialization=False``): four pickles in a row (magic number, protocol
  version, system info, the object) then a pickle of the storage keys and, per key, an int64 element count
  followed by the raw bytes.

A tensor is rebuilt as ``as_strided(storage[offset:], size, stride)`` (strides in elements) and copied
to a contiguous array; the result is an ``OrderedDict`` name -> ``numpy.ndarray``. A tensor with more
elements than the storage span it reads (an expanded tensor: a stride of 0) stays a read-only view of its
storage instead, so a small file cannot expand into gigabytes.
"""
from __future__ import annotations

import collections
import io
import math
import os
import pickle
import struct
import sys
import zipfile

import numpy as np

_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "UntypedStorage": np.uint8,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """Stands in for ``torch.FloatStorage`` & co.: only remembers the element dtype."""

    def __init__(self, name):
        self.name = name
        self.dtype = _DTYPES[name]


def _bytes_to_array(raw: bytes, dtype) -> np.ndarray:
    if isinstance(dtype, str):  # bfloat16 has no NumPy dtype: it is the top half of a float32
        return (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
    if sys.byteorder == "little":
        return np.frombuffer(raw, np.dtype(dtype))
    return np.frombuffer(raw, np.dtype(dtype).newbyteorder("<")).astype(dtype)  # to native order


class _Pending:
    """Legacy files: a storage whose bytes come after the object pickle."""

    def __init__(self, key):
        self.key = key


class _PendingTensor:
    def __init__(self, storage, storage_offset, size, stride):
        self.args = (storage, storage_offset, size, stride)


def _itemsize(dtype) -> int:
    return 2 if isinstance(dtype, str) else np.dtype(dtype).itemsize


def _checked(raw: bytes, dtype, numel, where) -> np.ndarray:
    if len(raw) < numel * _itemsize(dtype):
        raise ValueError(f"load_torch_state_dict: {where} is truncated: {len(raw)} bytes for {numel} elements "
                         f"of {_itemsize(dtype)} bytes")
    return _bytes_to_array(raw[: numel * _itemsize(dtype)], dtype)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    if isinstance(storage, _Pending):
        return _PendingTensor(storage, storage_offset, size, stride)
    return _view(storage, storage_offset, size, stride)


def _view(storage, storage_offset, size, stride):
    """``as_strided`` on the storage, after checking every index stays inside it: ``as_strided`` itself
    does not check, so a crafted file could otherwise make it read memory outside the buffer."""
    sequences = isinstance(size, (tuple, list)) and isinstance(stride, (tuple, list)) and len(size) == len(stride)
    if not (isinstance(storage, np.ndarray) and sequences and
            all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (storage_offset, *size, *stride))):
        raise pickle.UnpicklingError(f"load_torch_state_dict: malformed tensor record (offset {storage_offset!r}, "
                                     f"size {size!r}, stride {stride!r})")
    size, stride = tuple(size), tuple(stride)
    numel = math.prod(size)
    span = 0
    if numel:
        last = storage_offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= storage.size:
            raise pickle.UnpicklingError(f"load_torch_state_dict: tensor of size {size}, stride {stride}, offset "
                                         f"{storage_offset} reaches element {last} of a storage of "
                                         f"{storage.size} elements")
        span = last - storage_offset + 1
    base = storage[storage_offset:]
    view = np.lib.stride_tricks.as_strided(base, shape=size, strides=tuple(st * base.itemsize for st in stride),
                                           writeable=False)
    if numel > span:
        # More elements than the storage it reads (an expanded tensor, stride 0): a copy could be any size
        # (a 4-byte storage expanded to (50000, 50000) is 10 GB), so it stays a read-only view, as torch.load
        # keeps it expanded. load_state_dict copies it into the parameter of that shape.
        return view
    return np.array(view, order="C")  # a writable copy that owns its memory (at most the storage's size)


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, *rest):
    return data


def _load_from_bytes(raw):
    raise pickle.UnpicklingError("load_torch_state_dict: storages pickled with torch.storage._load_from_bytes "
                                 "(a nested torch.save inside the pickle) are not supported")


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
    ("torch.storage", "UntypedStorage"): _StorageType("UntypedStorage"),
    ("torch", "UntypedStorage"): _StorageType("UntypedStorage"),
}
_ALLOWED.update({("torch", name): _StorageType(name) for name in _DTYPES if name != "UntypedStorage"})


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals in ``_ALLOWED``; storages come from ``read_storage(key, type, numel)``."""

    def __init__(self, file, read_storage, source):
        super().__init__(file)
        self._read_storage = read_storage
        self._source = source
        self._storages = {}

    def find_class(self, module, name):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"load_torch_state_dict: refusing to load global '{module}.{name}' from {self._source}: "
                f"only tensors, storages and OrderedDict are allowed in a state-dict file (a pickle that "
                f"names other globals can run arbitrary code)") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"load_torch_state_dict: unexpected persistent id {pid!r} "
                                         f"in {self._source}")
        storage_type, key, numel = pid[1], str(pid[2]), pid[4]
        if key not in self._storages:
            self._storages[key] = self._read_storage(key, storage_type, numel)
        return self._storages[key]


def _to_plain(obj):
    """dict-like results become OrderedDicts of arrays (torch's ``_metadata`` attribute is dropped)."""
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _to_plain(v)) for k, v in obj.items())
    return obj


def _load_zip(path, zf: zipfile.ZipFile):
    names = zf.namelist()
    pkl = [n for n in names if n == "data.pkl" or n.endswith("/data.pkl")]
    if not pkl:
        raise ValueError(f"load_torch_state_dict: {path} is a zip file but has no data.pkl "
                         f"(members: {names[:5]}...); not a torch.save file")
    prefix = pkl[0][: -len("data.pkl")]
    byteorder = prefix + "byteorder"
    if byteorder in names and zf.read(byteorder).decode().strip() != "little":
        raise ValueError(f"load_torch_state_dict: {path} was saved on a big-endian machine; unsupported")

    def read_storage(key, storage_type, numel):
        member = f"{prefix}data/{key}"
        if member not in names:
            raise ValueError(f"load_torch_state_dict: {path} lacks the storage member {member!r}")
        return _checked(zf.read(member), storage_type.dtype, numel, f"{path}:{member}")

    return _RestrictedUnpickler(io.BytesIO(zf.read(pkl[0])), read_storage, path).load()


def _load_legacy(path, f):
    def plain_pickle():
        return _RestrictedUnpickler(f, None, path).load()

    if plain_pickle() != _LEGACY_MAGIC:
        raise ValueError(f"load_torch_state_dict: {path} is neither a zip archive nor a legacy torch.save "
                         f"file (wrong magic number)")
    plain_pickle()                    # protocol version
    info = plain_pickle()             # {'little_endian': ..., 'type_sizes': ...}
    if isinstance(info, dict) and not info.get("little_endian", True):
        raise ValueError(f"load_torch_state_dict: {path} was saved on a big-endian machine; unsupported")
    wanted = {}

    def note_storage(key, storage_type, numel):
        # The bytes follow the object pickle: hand out a placeholder and fill it in afterwards.
        wanted[key] = storage_type
        return _Pending(key)

    obj = _RestrictedUnpickler(f, note_storage, path).load()
    keys = plain_pickle()
    arrays = {}
    for key in keys:
        (numel,) = struct.unpack("<q", f.read(8))
        dtype = wanted.get(str(key), _StorageType("ByteStorage")).dtype
        arrays[str(key)] = _checked(f.read(numel * _itemsize(dtype)), dtype, numel, f"{path} storage {key}")
    return _resolve_pending(obj, arrays)


def _resolve_pending(obj, arrays):
    """Legacy files: tensors were rebuilt around placeholders; rebuild them again on the real bytes."""
    if isinstance(obj, _PendingTensor):
        return _view(arrays[obj.args[0].key], *obj.args[1:])
    if isinstance(obj, dict):
        return collections.OrderedDict((k, _resolve_pending(v, arrays)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve_pending(v, arrays) for v in obj)
    return obj


def load_torch_state_dict(path) -> "collections.OrderedDict[str, np.ndarray]":
    """Load ``torch.save(model.state_dict(), path)`` as an OrderedDict of NumPy arrays, without PyTorch.

    Raises ``pickle.UnpicklingError`` naming the global if the file refers to anything but tensors,
    storages and OrderedDict (a malicious pickle cannot run code here), and ``ValueError`` for files that
    are not ``torch.save`` output.
    """
    path = os.fspath(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            obj = _load_zip(path, zf)
    else:
        with open(path, "rb") as f:
            try:
                obj = _load_legacy(path, f)
            except (EOFError, struct.error) as exc:
                raise ValueError(f"load_torch_state_dict: {path} is truncated or not a torch.save file "
                                 f"({exc})") from None
    return _to_plain(obj)
