"""Resampling one axis as a matrix: output = W @ input, W of shape (n_out, n_in), as PyTorch interpolates.

Coordinates are pixel centres (``align_corners=False``): output pixel i sits at input coordinate
s_i = (i + 0.5) * scale - 0.5 with scale = n_in / n_out.

* nearest: input pixel floor(i * scale) (PyTorch's legacy "nearest"); nearest-exact: floor((i + 0.5) * scale).
* bilinear / bicubic without antialias: the 2 (4) neighbours of s_i, edge pixels repeated, with the linear
  weights 1 - t, t or Keys' cubic weights (a = -0.75), t = s_i - floor(s_i).
* antialias (bilinear / bicubic): the filter is stretched by ``scale`` when shrinking, so every input pixel
  under output pixel i contributes: centre c = (i + 0.5) * scale, support r = (1 or 2) * max(scale, 1),
  weights f((j - c + 0.5) / max(scale, 1)) for j in [c - r, c + r), normalised to sum to 1, with f the tent
  (1 - |x|) or Keys' cubic with a = -0.5 (PIL's filters). Shrinking by 2 with bilinear averages a 4-tap
  triangle instead of picking 2 pixels, which is what keeps thin lines from flickering.
"""
from __future__ import annotations

import functools
import math

import numpy as np


def _cubic(x: np.ndarray, a: float) -> np.ndarray:
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1, near, np.where(x < 2, far, 0.0))


def _tent(x: np.ndarray) -> np.ndarray:
    return np.maximum(1 - np.abs(x), 0.0)


def resize_matrix(n_in: int, n_out: int, interpolation: str, antialias: bool) -> np.ndarray:
    """The (n_out, n_in) float64 resampling matrix of one axis (cached and read-only: it depends only on the
    sizes and the mode)."""
    return _matrix(int(n_in), int(n_out), interpolation, bool(antialias))


@functools.lru_cache(maxsize=256)
def _matrix(n_in: int, n_out: int, interpolation: str, antialias: bool) -> np.ndarray:
    w = _build(n_in, n_out, interpolation, antialias)
    w.setflags(write=False)
    return w


def _build(n_in: int, n_out: int, interpolation: str, antialias: bool) -> np.ndarray:
    scale = n_in / n_out
    out = np.arange(n_out)
    w = np.zeros((n_out, n_in))
    if interpolation in ("nearest", "nearest-exact"):
        offset = 0.5 if interpolation == "nearest-exact" else 0.0
        src = np.minimum(np.floor((out + offset) * np.float32(scale)).astype(np.int64), n_in - 1)
        w[out, src] = 1.0
        return w
    if interpolation not in ("bilinear", "bicubic"):
        raise ValueError(f"resize: interpolation {interpolation!r} is not supported for tensors (nearest, "
                         f"nearest-exact, bilinear, bicubic)")
    if antialias:
        support = (1.0 if interpolation == "bilinear" else 2.0) * max(scale, 1.0)
        inv = 1.0 / max(scale, 1.0)
        for i in range(n_out):
            centre = scale * (i + 0.5)
            lo = max(math.trunc(centre - support + 0.5), 0)
            hi = min(math.trunc(centre + support + 0.5), n_in)
            taps = np.arange(lo, hi)
            x = (taps - centre + 0.5) * inv
            f = _tent(x) if interpolation == "bilinear" else _cubic(x, -0.5)
            total = f.sum()
            w[i, lo:hi] = f / total if total != 0 else f
        return w
    src = (out + 0.5) * scale - 0.5
    if interpolation == "bilinear":
        src = np.maximum(src, 0.0)
        i0 = np.floor(src).astype(np.int64)
        t = src - i0
        i1 = np.minimum(i0 + 1, n_in - 1)
        np.add.at(w, (out, i0), 1 - t)
        np.add.at(w, (out, i1), t)
        return w
    i0 = np.floor(src).astype(np.int64)
    t = src - i0
    taps = (_cubic(t + 1, -0.75), _cubic(t, -0.75), _cubic(1 - t, -0.75), _cubic(2 - t, -0.75))
    for k, weight in zip(range(-1, 3), taps):
        np.add.at(w, (out, np.clip(i0 + k, 0, n_in - 1)), weight)
    return w
