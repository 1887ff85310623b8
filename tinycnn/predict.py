"""``tinycnn predict``: the most likely classes of image files, by a model that ``tinycnn train`` saved.

The checkpoint holds what predicting needs besides the weights: the class names and the test images'
preprocessing (``transforms.describe`` of it), so a new image goes through exactly what the test images went
through. A checkpoint saved before they were kept gets its data set's defaults (MNIST's), said on stderr.
Images are read with Pillow and converted to what the model takes (grey or colour); for the data sets of
fixed-size images (MNIST, CIFAR) an image of another size is first resized to theirs. Nothing is written.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from .autograd import Tensor, no_grad
from .builders import first_conv_channels, load_training_checkpoint
from .evaluation import model_of_checkpoint
from .nn import functional as F
from .run_errors import RunError
from .run_folder import LAST
from .train_settings import TrainConfig
from .vision import presets, transforms as T
from .vision.datasets import pil_loader


def checkpoint_file(path: str) -> str:
    """``path`` itself, or for a run folder its best.npz (else its last.npz)."""
    if not os.path.isdir(path):
        return path
    for name in ("best.npz", LAST):
        if os.path.isfile(os.path.join(path, name)):
            return os.path.join(path, name)
    raise RunError(f"{path}: a folder without best.npz or last.npz (expected a checkpoint, or a run folder of "
                   f"tinycnn train)")


def _read_images(paths) -> list:
    images = []
    for path in paths:
        if os.path.isdir(path):
            raise RunError(f"{path}: a folder, expected an image file (PNG, JPEG or another format Pillow reads)")
        images.append(pil_loader(path))
    return images


def predict(checkpoint: str, image_paths, topk: int = 5, device: str = "cpu") -> list[list[tuple[str, float]]]:
    """For each image, its ``topk`` most likely classes as (name, probability), most likely first."""
    if isinstance(topk, bool) or not isinstance(topk, int) or topk < 1:
        raise RunError(f"--topk: expected a positive number of classes, got {topk!r}")
    TrainConfig(device=device).validate()
    path = checkpoint_file(os.fspath(checkpoint))
    images = _read_images(image_paths)            # every file checked before any work
    state = load_training_checkpoint(path)
    config = TrainConfig.from_dict(state["config"])
    config.device = device          # the weights: the checkpoint's (model_of_checkpoint reads no --pretrained file)
    config = config.resolved()
    model = model_of_checkpoint(path, state, config)
    model.eval()
    preprocess, classes = state.get("preprocessing"), state.get("classes")
    if not preprocess or not classes:
        print(f"tinycnn predict: {path} does not record its preprocessing and class names (saved by an older "
              f"tinycnn); using {config.dataset}'s defaults", file=sys.stderr)
    transform = T.rebuild(preprocess) if preprocess else \
        presets.eval_transform(config.dataset, config.input_size, first_conv_channels(model) or 1)
    classes = classes or list(presets.dataset_info(config.dataset).classes or [])
    side = presets.dataset_info(config.dataset).image_size
    fixed = config.dataset != "folder"            # folders' pipelines resize and crop any image themselves
    batch = [transform(T.Resize([side, side])(im) if fixed and im.size != (side, side) else im) for im in images]
    with no_grad():
        logits = model(Tensor(np.stack([b.numpy() for b in batch])).to(device))
        probs = F.softmax(logits, dim=1).numpy()
    k = min(topk, probs.shape[1])
    names = [str(c) for c in classes] if len(classes) == probs.shape[1] else [str(i) for i in range(probs.shape[1])]
    order = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [[(names[j], float(p[j])) for j in row] for p, row in zip(probs, order)]


__all__ = ["predict", "checkpoint_file"]
