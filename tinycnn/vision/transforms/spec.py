"""Describing a transform pipeline as plain data, and rebuilding it: what a checkpoint records.

``describe(t)`` gives ``{"name": "Resize", "args": {"size": 256, "interpolation": "bilinear", ...}}`` (nested
for Compose and RandomApply), made only of dicts, lists, strings, numbers, booleans and None, so it can be
stored with ``tinycnn.save`` or as JSON. ``rebuild(spec)`` makes the same pipeline again: a program that
predicts with a trained model re-creates the exact preprocessing the model was trained with.
"""
from __future__ import annotations

import numbers
from enum import Enum

from . import random as _random
from . import transforms as _transforms
from .transforms import Transform

_CLASSES: dict[str, type] = {}
for _module in (_transforms, _random):
    for _name, _obj in vars(_module).items():
        if isinstance(_obj, type) and issubclass(_obj, Transform) and _obj is not Transform:
            _CLASSES[_name] = _obj


def register_transform(cls: type) -> type:
    """Make a Transform subclass of your own rebuildable by name (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Transform)):
        raise TypeError(f"register_transform: expected a subclass of tinycnn.vision.transforms.Transform, got {cls!r}")
    _CLASSES[cls.__name__] = cls
    return cls


def _encode(value, where: str):
    if isinstance(value, Transform):
        return describe(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_encode(v, where) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if callable(value):
        raise ValueError(f"describe: {where} holds {type(value).__name__}, which cannot be described: use the "
                         f"named transforms (tinycnn.vision.transforms) for a pipeline that is to be recorded")
    raise ValueError(f"describe: {where} holds a {type(value).__name__}, which cannot be described")


def describe(transform) -> dict:
    """The name and constructor arguments of ``transform`` (recursively), as plain data."""
    if not isinstance(transform, Transform) or isinstance(transform, _transforms.Lambda):
        raise ValueError(f"describe: {type(transform).__name__} cannot be described (a Lambda or another callable "
                         f"holds arbitrary code): use the named transforms of tinycnn.vision.transforms")
    name = type(transform).__name__
    return {"name": name, "args": {k: _encode(v, f"{name}.{k}") for k, v in transform.spec_args().items()}}


def _decode(value):
    if isinstance(value, dict) and set(value) == {"name", "args"}:
        return rebuild(value)
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def rebuild(spec: dict):
    """The transform that :func:`describe` described."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError(f"rebuild: expected a dict with 'name' and 'args' (from describe), got {spec!r}")
    cls = _CLASSES.get(spec["name"])
    if cls is None:
        raise ValueError(f"rebuild: unknown transform {spec['name']!r}; known: {', '.join(sorted(_CLASSES))} (a "
                         f"transform class of your own needs register_transform)")
    return cls(**{k: _decode(v) for k, v in dict(spec.get("args") or {}).items()})
