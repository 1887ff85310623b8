"""``tinycnn eval``: the test accuracy, confusion matrix and misclassified images of a training checkpoint."""
from __future__ import annotations

import os

import numpy as np

from .builders import build_datasets, build_model, evaluate, first_conv_channels, load_training_checkpoint
from .utils.data import DataLoader, Subset
from .run_errors import RunError, describe_os_error
from .train_settings import TrainConfig


def _class_name(names, i: int) -> str:
    if not names:
        return str(i)
    name = str(names[i])
    return name.split(" - ")[0] if " - " in name else name      # MNIST's "7 - seven" -> "7"


def evaluate_checkpoint(path: str, out: str | None = None, device: str = "cpu", test_limit: int | None = None,
                        data_root: str | None = None) -> dict:
    """Test accuracy and confusion matrix of a checkpoint written by ``tinycnn train``; saves
    ``<checkpoint>-confusion.png`` and ``<checkpoint>-misclassified.png`` (beside it, or in ``out``)."""
    from .utils.plotting import confusion_matrix, plot_confusion, plot_image_grid  # noqa: PLC0415
    path = os.fspath(path)
    for name, value in (("test_limit", test_limit), ("device", device), ("data_root", data_root)):
        if value is not None:
            TrainConfig(**{name: value}).validate()
    state = load_training_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    config.pretrained, config.freeze_backbone, config.device, config.test_limit = None, False, device, test_limit
    if data_root is not None:
        config.data_root = data_root
    elif config.data_root and not os.path.isdir(config.data_root):
        raise RunError(f"{path} was trained on data in {config.data_root}, which no longer exists; give the "
                       f"data's folder with --data-root")
    config.out = None
    config.validate()
    config = config.resolved()
    model = build_model(config)
    try:
        model.load_state_dict(state["model"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise RunError(f"{path}: its weights do not fit {config.model}: {' '.join(str(exc).split())}") from None
    _, test_set = build_datasets(config, first_conv_channels(model) or 1)
    loss, accuracy, preds, labels = evaluate(model, DataLoader(test_set, batch_size=1000), device)
    cm = confusion_matrix(labels, preds, 10)
    out = out or os.path.dirname(path) or "."
    stem = os.path.splitext(os.path.basename(path))[0]
    files = {"confusion": os.path.join(out, f"{stem}-confusion.png"),
             "misclassified": os.path.join(out, f"{stem}-misclassified.png")}
    names = getattr(test_set, "classes", None)
    names = names if names and len(names) == 10 else None
    wrong = np.flatnonzero(preds != labels)[:32]
    base = test_set.dataset if isinstance(test_set, Subset) else test_set
    rows = test_set.indices[wrong] if isinstance(test_set, Subset) else wrong
    images = base.data[rows] if hasattr(base, "data") else np.zeros((0, 28, 28))
    titles = [f"true {_class_name(names, labels[i])}\npred {_class_name(names, preds[i])}" for i in wrong]
    try:
        plot_confusion(cm, files["confusion"], names)
        plot_image_grid(images, titles, files["misclassified"],
                        title=f"{len(wrong)} of {int((preds != labels).sum())} misclassified test images: "
                              f"true label and predicted label")
    except OSError as exc:
        raise RunError(f"{describe_os_error(exc)}: choose a folder you can write to with --out") from None
    return {"loss": loss, "accuracy": accuracy, "confusion": cm, "misclassified": int((preds != labels).sum()),
            "files": files}
