"""Plots for training runs: learning curves, confusion matrix, misclassified images (matplotlib, no screen)."""
from __future__ import annotations

import os
import tempfile

import numpy as np


def _pyplot():
    import matplotlib  # noqa: PLC0415  (imported on demand: the engine itself needs no plotting)
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415
    return plt


def _save_atomically(fig, path: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=folder)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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


def plot_confusion(cm: np.ndarray, path: str, class_names=None) -> None:
    plt = _pyplot()
    n = cm.shape[0]
    names = class_names or [str(i) for i in range(n)]
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    im = ax.imshow(cm, cmap="Blues")
    fig.colorbar(im, ax=ax)
    ax.set(xticks=range(n), yticks=range(n), xticklabels=names, yticklabels=names,
           xlabel="predicted", ylabel="true", title="Confusion matrix")
    threshold = cm.max() / 2
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > threshold else "black")
    _save_atomically(fig, path)
    plt.close(fig)


def plot_image_grid(images: np.ndarray, titles: list[str], path: str, columns: int = 8) -> None:
    """A grid of grey images (N, 1, H, W) or (N, H, W) with a title each (e.g. "7 -> 1")."""
    plt = _pyplot()
    images = np.asarray(images)
    if images.ndim == 4:
        images = images[:, 0]
    n = max(len(images), 1)
    rows = (n + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.3, rows * 1.5), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(images):
            ax.imshow(images[k], cmap="gray")
            ax.set_title(titles[k], fontsize=8)
    _save_atomically(fig, path)
    plt.close(fig)
