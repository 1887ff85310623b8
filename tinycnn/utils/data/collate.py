"""``default_collate`` and ``default_convert``: samples -> batch, with PyTorch's rules.

``default_collate`` stacks a list of samples field by field, recursing into their structure:

| element of the samples              | becomes                                               |
|-------------------------------------|-------------------------------------------------------|
| Tensor / NumPy array (shape S)       | Tensor of shape (N, *S), the arrays' dtype            |
| Python int / bool / float            | int64 / bool / float64 Tensor of shape (N,)           |
| NumPy scalar                         | Tensor of shape (N,) of its dtype                     |
| str / bytes                          | the sequence of them, unchanged                       |
| dict                                 | dict of the collated values, key by key               |
| namedtuple                           | the same namedtuple of collated fields                |
| tuple / list                         | a list of collated fields (a tuple of samples gives a list, as in PyTorch) |
"""
from __future__ import annotations

import collections.abc

import numpy as np

from ... import backend
from ...autograd import Tensor

_UNSUPPORTED = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _stack(arrays: list, shapes_of) -> Tensor:
    shapes = [a.shape for a in arrays]
    for k, s in enumerate(shapes):
        if s != shapes[0]:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but got "
                               f"{list(shapes_of(shapes[0]))} at entry 0 and {list(shapes_of(s))} at entry {k}")
    xp = backend.get_array_module(arrays[0])
    return Tensor(xp.stack(arrays))


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def default_collate(batch):
    """Stack a list of samples into a batch (see the table in this module's docstring)."""
    if not isinstance(batch, collections.abc.Sequence) or isinstance(batch, (str, bytes)) or not len(batch):
        raise TypeError(f"default_collate: expected a non-empty list of samples, got "
                        f"{type(batch).__name__}{' (empty)' if isinstance(batch, list) else ''}")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack([t.array if isinstance(t, Tensor) else np.asarray(t) for t in batch], tuple)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(_UNSUPPORTED.format(f"a NumPy array of dtype {elem.dtype}"))
        return _stack([np.asarray(a) for a in batch], tuple)
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return Tensor(np.asarray(batch))
    if isinstance(elem, bool):
        return Tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, int):
        return Tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, float):
        return Tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        collated = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(collated)
        except TypeError:
            return collated
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(s) != len(elem) for s in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size, got "
                               f"lengths {sorted({len(s) for s in batch})}")
        fields = [default_collate(samples) for samples in zip(*batch)]
        if isinstance(elem, tuple):
            return fields
        try:
            return type(elem)(fields)
        except TypeError:
            return fields
    hint = (" (the dataset returns PIL images: add transforms.ToTensor() to its transform)"
            if type(elem).__module__.startswith("PIL.") else "")
    raise TypeError(_UNSUPPORTED.format(type(elem)) + hint)


def default_convert(data):
    """Turn NumPy arrays into Tensors through dicts, namedtuples and sequences (``batch_size=None``)."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OSUV" else Tensor(data)
    if isinstance(data, collections.abc.Mapping):
        converted = {key: default_convert(v) for key, v in data.items()}
        try:
            return type(data)(converted)
        except TypeError:
            return converted
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
