"""A transform pipeline applied to a whole batch at once, for array-backed datasets (MNIST, CIFAR).

A dataset that stores its images as one uint8 array passes the DataLoader a batch of "PIL-stage" images:
an (N, H, W) array for grey images or (N, H, W, C) for colour ones, the pixels that ``Image.fromarray``
would wrap. Each transform that can, maps such a batch (or, after ``ToTensor``, an (N, C, H, W) "tensor
stage" array) to the batch of what it would have made of every image separately: the same pixels for the
deterministic transforms, and for the random ones the same per-image distribution, each image drawing its
own parameters (vectorised, so the random stream differs from a sample-by-sample pass). A transform that
cannot (a ``Lambda``, a PIL resampling filter) makes :func:`apply_batched` return None, and the dataset
falls back to transforming its samples one by one.
"""
from __future__ import annotations

import numpy as np


class NotBatchable(Exception):
    """Raised by a transform's ``batched`` when it cannot treat this batch in one step."""


def apply_batched(transform, images: np.ndarray) -> np.ndarray | None:
    """The transformed batch as an (N, ...) array, or None when the pipeline cannot be batched."""
    if transform is None:
        return None
    batched = getattr(transform, "batched", None)
    if batched is None:
        return None
    try:
        out, pil = batched(images, True)
    except NotBatchable:
        return None
    return None if pil else out   # still PIL images: the sample-by-sample path gives the right error


def spatial_last(x: np.ndarray, pil: bool, fn):
    """Apply ``fn`` (written for (..., H, W) arrays) to a batch in either stage's layout."""
    if pil and x.ndim == 4:
        return fn(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    return fn(x)


def channels_of(x: np.ndarray, pil: bool) -> int:
    if pil:
        return 1 if x.ndim == 3 else x.shape[-1]
    return x.shape[1]


def gather_windows(x: np.ndarray, tops: np.ndarray, lefts: np.ndarray, h: int, w: int) -> np.ndarray:
    """Window k = x[k, ..., tops[k]:tops[k]+h, lefts[k]:lefts[k]+w] of an (N, ..., H, W) array, all at once."""
    n = x.shape[0]
    rows = tops[:, None] + np.arange(h)                 # (N, h)
    cols = lefts[:, None] + np.arange(w)                # (N, w)
    moved = np.moveaxis(x, (-2, -1), (1, 2))            # (N, H, W, ...)
    out = moved[np.arange(n)[:, None, None], rows[:, :, None], cols[:, None, :]]   # (N, h, w, ...)
    return np.moveaxis(out, (1, 2), (-2, -1))


def flip_some(x: np.ndarray, which: np.ndarray, axis: int) -> np.ndarray:
    out = x.copy()
    if which.any():
        out[which] = np.flip(x[which], axis=axis)
    return out
