"""``tinycnn eval``: the test accuracy (top-1, and top-5 where there are more than five classes), confusion
matrix and misclassified images of a training checkpoint."""
from __future__ import annotations

import os

import numpy as np

from .builders import (build_datasets, build_model, dataset_classes, evaluate, first_conv_channels,
                       load_training_checkpoint)
from .utils.data import DataLoader, Subset
from .run_errors import RunError, describe_os_error
from .train_settings import TrainConfig


def _class_name(names, i: int) -> str:
    if not names:
        return str(i)
    name = str(names[i])
    return name.split(" - ")[0] if " - " in name else name      # MNIST's "7 - seven" -> "7"


TOP_K = 5      # eval's second accuracy: the true class among the five most likely (with more than five classes)


def num_classes(state: dict) -> int:
    """The number of classes of a checkpoint's model (a checkpoint from before class names were kept: 10)."""
    return len(state["classes"]) if state.get("classes") else 10


def model_of_checkpoint(path: str, state: dict, config: TrainConfig):
    """The trained model of a checkpoint ``state`` (read from ``path``), built from its resolved ``config``."""
    model = build_model(config, num_classes(state), load_pretrained=False, in_channels=state.get("input_channels"),
                        weights=state["model"])
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise RunError(f"{path}: its weights do not fit {config.model}: {' '.join(str(exc).split())}") from None
    return model


def _images(test_set, rows) -> np.ndarray:
    """The stored test images at ``rows`` (HW or HWC uint8), for the grid of misclassified ones; image
    folders' files are read and shrunk to 64 x 64."""
    base = test_set
    while isinstance(base, Subset):
        rows, base = np.asarray(base.indices)[rows], base.dataset
    if hasattr(base, "data"):
        return np.asarray(base.data[rows])
    if hasattr(base, "samples"):
        return np.stack([np.asarray(base.loader(base.samples[i][0]).resize((64, 64))) for i in rows]) \
            if len(rows) else np.zeros((0, 64, 64, 3), np.uint8)
    return np.zeros((0, 28, 28))


def evaluate_checkpoint(path: str, out: str | None = None, device: str = "cpu", test_limit: int | None = None,
                        data_root: str | None = None) -> dict:
    """Test accuracy and confusion matrix of a checkpoint written by ``tinycnn train``; saves
    ``<checkpoint>-confusion.png`` and ``<checkpoint>-misclassified.png`` (beside it, or in ``out``)."""
    from .utils.plotting import confusion_matrix, plot_confusion, plot_image_grid  # noqa: PLC0415  (matplotlib on demand)
    path = os.fspath(path)
    for name, value in (("test_limit", test_limit), ("device", device), ("data_root", data_root)):
        if value is not None:
            TrainConfig(**{name: value}).validate()
    state = load_training_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    config.device, config.test_limit = device, test_limit    # the weights: the checkpoint's, not --pretrained's
    if data_root is not None:
        config.data_root = data_root
    elif config.data_root and not os.path.isdir(config.data_root):
        raise RunError(f"{path} was trained on data in {config.data_root}, which no longer exists; give the "
                       f"data's folder with --data-root")
    config.out, config.download = None, False
    config.validate(need_pretrained=False)
    config = config.resolved()
    model = model_of_checkpoint(path, state, config)
    _, test_set = build_datasets(config, first_conv_channels(model) or 1)
    classes = state.get("classes") or dataset_classes(test_set)
    n_classes = num_classes(state)
    loss, accuracy, ranks, labels = evaluate(model, DataLoader(test_set, batch_size=1000), device, ranks=TOP_K)
    preds = ranks[:, 0]
    top5 = float((ranks == labels[:, None]).any(axis=1).mean()) if n_classes > TOP_K else None
    cm = confusion_matrix(labels, preds, n_classes)
    out = out or os.path.dirname(path) or "."
    stem = os.path.splitext(os.path.basename(path))[0]
    files = {"confusion": os.path.join(out, f"{stem}-confusion.png"),
             "misclassified": os.path.join(out, f"{stem}-misclassified.png")}
    names = classes if classes and len(classes) == n_classes else None
    wrong = np.flatnonzero(preds != labels)[:32]
    images = _images(test_set, wrong)
    titles = [f"true {_class_name(names, labels[i])}\npred {_class_name(names, preds[i])}" for i in wrong]
    try:
        plot_confusion(cm, files["confusion"], names)
        plot_image_grid(images, titles, files["misclassified"],
                        title=f"{len(wrong)} of {int((preds != labels).sum())} misclassified test images: "
                              f"true label and predicted label")
    except OSError as exc:
        raise RunError(f"{describe_os_error(exc)}: choose a folder you can write to with --out") from None
    return {"loss": loss, "accuracy": accuracy, "top5_accuracy": top5, "confusion": cm,
            "misclassified": int((preds != labels).sum()), "files": files}
