"""Turning a projection, a gradient or a saliency map into an image file."""
from __future__ import annotations

import os

import numpy as np

from ..atomic import atomic_write


def to_display(array, signed: bool | None = None) -> np.ndarray:
    """An (H, W) or (C, H, W) map as an image in [0, 1]: (H, W) for one channel, (H, W, 3) for three.

    A signed map (projections, gradients; the default when it has negative values) is scaled around grey:
    0.5 + x / (2 max|x|), so zero is mid-grey and the sign shows; a non-negative one (a saliency map) is
    x / max x. An all-zero map is mid-grey or black."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim == 3:
        if a.shape[0] not in (1, 3):
            raise ValueError(f"to_display: expected 1 or 3 channels, got an array of shape {a.shape}")
        a = a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)
    elif a.ndim != 2:
        raise ValueError(f"to_display: expected (H, W) or (C, H, W), got an array of shape {a.shape}")
    signed = bool((a < 0).any()) if signed is None else signed
    peak = np.abs(a).max()
    if signed:
        return 0.5 + a / (2 * peak) if peak > 0 else np.full(a.shape, 0.5)
    return a / peak if peak > 0 else np.zeros(a.shape)


def save_png(image, path, force: bool = False) -> None:
    """Write ``image`` (as ``to_display`` returns it: values in [0, 1]) as an 8-bit PNG, atomically. An existing
    file is kept (``FileExistsError`` naming it) unless ``force``."""
    from PIL import Image  # noqa: PLC0415  (Pillow is needed only to write pictures)
    path = os.fspath(path)
    if not force and os.path.exists(path):
        raise FileExistsError(f"{path} exists; pass force=True (--force) to replace it")
    pixels = np.clip(np.round(np.asarray(image) * 255), 0, 255).astype(np.uint8)
    with atomic_write(path) as f:
        Image.fromarray(pixels).save(f, format="PNG")


def save_overview(pictures, titles, path, title: str | None = None, columns: int = 5) -> None:
    """One figure of ``pictures`` (as ``to_display`` returns them) side by side, each titled, on the same
    [0, 1] scale (so mid-grey is zero in every signed map), written atomically."""
    from ..plotting import _pyplot, _save_atomically  # noqa: PLC0415  (matplotlib only when a figure is made)
    plt = _pyplot()
    columns = max(1, min(columns, len(pictures)))
    rows = -(-len(pictures) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.8, rows * 1.9 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, picture, name in zip(axes.flat, pictures, titles):
        ax.imshow(picture, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_atomically(fig, os.fspath(path))
    plt.close(fig)
