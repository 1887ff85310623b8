"""Plots for training runs: learning curves, confusion matrix, misclassified images (matplotlib, no screen)."""
from __future__ import annotations

import os

import numpy as np

from .atomic import atomic_write


def _pyplot():
    import matplotlib  # noqa: PLC0415  (imported on demand: the engine itself needs no plotting)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    return plt


def _save_atomically(fig, path: str) -> None:
    with atomic_write(path) as f:
        fig.savefig(f, format=os.path.splitext(path)[1][1:] or "png", dpi=110, bbox_inches="tight")


def plot_curves(epochs: list[dict], path: str) -> None:
    """Loss and accuracy per epoch (train and test) from ``metrics.json``'s ``epochs`` rows."""
    plt = _pyplot()
    x = [e["epoch"] for e in epochs]
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(x, [e["train_loss"] for e in epochs], "o-", label="train")
    ax_loss.plot(x, [e["test_loss"] for e in epochs], "s-", label="test")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="Loss")
    ax_acc.plot(x, [100 * e["train_accuracy"] for e in epochs], "o-", label="train")
    ax_acc.plot(x, [100 * e["test_accuracy"] for e in epochs], "s-", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    _save_atomically(fig, path)
    plt.close(fig)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``cm[i, j]`` = number of samples of true class i predicted as j."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(labels), np.asarray(predictions)), 1)
    return cm


def _short(name: str, limit: int = 18) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def plot_confusion(cm: np.ndarray, path: str, class_names=None) -> None:
    """The confusion matrix as a heat map with the counts written in (up to 30 classes: past that the
    colours alone, as the counts would take long to draw and be too small to read); long class names are
    slanted and, past 18 characters, shortened with an ellipsis, and the figure grows with them, so none
    overlaps."""
    plt = _pyplot()
    n = cm.shape[0]
    names = [_short(str(c)) for c in class_names] if class_names else [str(i) for i in range(n)]
    longest = max(len(c) for c in names)
    slant = longest > 2
    side = max(5.5, 0.45 * n + 0.09 * longest)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted class", ylabel="true class",
           title="Confusion matrix (rows: true, columns: predicted)")
    ax.set_xticklabels(names, rotation=45 if slant else 0, ha="right" if slant else "center",
                       rotation_mode="anchor")
    ax.set_yticklabels(names)
    threshold = cm.max() / 2
    for i in range(n if n <= 30 else 0):
        for j in range(n):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > threshold else "black")
    _save_atomically(fig, path)
    plt.close(fig)


def plot_image_grid(images: np.ndarray, titles: list[str], path: str, columns: int = 8,
                    title: str | None = None) -> None:
    """A grid of grey images (N, 1, H, W) or (N, H, W), or colour ones (N, H, W, 3), with a title each
    (e.g. "true 7\npred 1")."""
    plt = _pyplot()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] != 3:
        images = images[:, 0]
    n = max(len(images), 1)
    rows = (n + columns - 1) // columns
    lines = max([t.count("\n") + 1 for t in titles] or [1])
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.4, rows * (1.3 + 0.25 * lines)), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap="gray")
            ax.set_title(titles[k], fontsize=7)
    if not len(images):
        axes.flat[0].text(0, 0.5, "no images", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save_atomically(fig, path)
    plt.close(fig)
