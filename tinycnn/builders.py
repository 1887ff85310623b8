"""The parts of a training run, built from its ``TrainConfig``: the data sets, the model (with its
``--pretrained`` weights and a new head), the optimizer, the learning-rate schedule, the loss, and the
evaluation over a loader. ``tinycnn.train`` puts them together; ``tinycnn.evaluation`` rebuilds a run's model
and test set from a checkpoint.

Every failure that comes from the user's settings or files is raised as a ``ConfigError`` or ``RunError``
(``run_errors.py``) naming the setting or the file, before any training.
"""
from __future__ import annotations

import inspect

import numpy as np

from . import backend, nn, optim
from .autograd import Tensor, no_grad
from .utils.data import DataLoader, Subset
from .vision import datasets, presets
from .vision.datasets import DownloadError
from .models import MODELS, get_model, googlenet_loss, inception_v3_loss
from .nn import functional as F
from .run_errors import ConfigError, RunError, numba_cache_problem
from .train_settings import TrainConfig
from .utils import transfer
from .utils.serialization import CheckpointError, load

CHECKPOINT_FORMAT = "tinycnn-checkpoint-1"


def first_conv_channels(model: nn.Module) -> int | None:
    for m in model.modules():
        if hasattr(m, "in_channels") and hasattr(m, "kernel_size"):
            return m.in_channels
    return None


def build_datasets(config: TrainConfig, in_channels: int = 1):
    """The training and test sets of ``config`` (normalised, resized to the input size, grey repeated to
    three channels for ImageNet-style models or colour made grey for one-channel ones, the training set
    augmented with ``--augment``, cut to the limits)."""
    cfg = config.resolved()
    train_tf = presets.train_transform(cfg.dataset, cfg.input_size, in_channels, augment=cfg.augment)
    test_tf = eval_preprocessing(cfg, in_channels)
    if cfg.dataset == "folder":
        try:
            train, test = presets.folder_splits(cfg.data_root, train_tf, test_tf, val_fraction=cfg.val_fraction,
                                                seed=cfg.seed)
        except ValueError as exc:               # train/ and val/ with different classes
            raise RunError(f"--data-dir {exc}") from None
    else:
        train = _load_downloading(cfg, True, train_tf)
        test = presets.load_dataset(cfg.dataset, cfg.data_root, train=False, transform=test_tf)
    if config.train_limit:
        train = Subset(train, np.arange(min(config.train_limit, len(train))))
    if config.test_limit:
        test = Subset(test, np.arange(min(config.test_limit, len(test))))
    return train, test


def eval_preprocessing(config: TrainConfig, in_channels: int):
    """The test images' transform, which a checkpoint records (described) for predicting new images."""
    return presets.eval_transform(config.dataset, config.resolved().input_size, in_channels)


def _load_downloading(cfg: TrainConfig, train: bool, transform):
    try:
        return presets.load_dataset(cfg.dataset, cfg.data_root, train=train, transform=transform,
                                    download=cfg.download)
    except FileNotFoundError as exc:
        if exc.filename is not None or "pass download=True" not in str(exc):
            raise
        raise RunError(str(exc).replace("pass download=True", "give --download")) from None     # the CLI's name
    except DownloadError as exc:
        cls = getattr(datasets, presets.dataset_info(cfg.dataset).dataset)
        root = cfg.data_root or datasets.cache_dir()
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise RunError(f"--download: could not fetch {cls.filename} ({first}); without a network, download it from "
                       f"{cls.url} elsewhere and place it in {root}/ (tinycnn verifies and unpacks it)") from None


def dataset_classes(dataset) -> list[str] | None:
    """The class names of a data set (through ``Subset`` views), or None when it has none."""
    while isinstance(dataset, Subset):
        dataset = dataset.dataset
    classes = getattr(dataset, "classes", None)
    return [str(c) for c in classes] if classes else None


def num_classes_of(config: TrainConfig) -> int:
    """How many classes ``config``'s data set has (an image folder: its class folders), before loading it."""
    known = presets.dataset_info(config.dataset).num_classes
    if known is not None:
        return known
    train_dir, _ = presets.folder_layout(config.data_root)
    return len(datasets.find_classes(train_dir)[0])


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """Swap the model's last ``Linear`` for a fresh one with ``num_classes`` outputs (transfer learning)."""
    name = transfer.replace_head(model, num_classes)
    return model.get_submodule(name)


def _load_weights(path: str, flag: str = "--pretrained") -> dict:
    """The state dict in a weights file or run folder; any failure to read it is the file's, and names it."""
    try:
        return transfer.load_weights(path)
    except CheckpointError as exc:
        raise RunError(f"{flag}: {exc}") from None
    except Exception as exc:  # noqa: BLE001  (a damaged or foreign pickle raises almost anything)
        raise RunError(f"{flag} {path}: cannot read the weights ({type(exc).__name__}: {exc})") from None


def _classes_of_weights(model: nn.Module, weights: dict) -> int | None:
    """The class count of ``weights`` for ``model``'s architecture: the rows of its last Linear's weight."""
    found = transfer.last_linear(model)
    value = weights.get(f"{found[0]}.weight") if found else None
    return int(value.shape[0]) if value is not None and len(value.shape) == 2 else None


def build_model(config: TrainConfig, num_classes: int = 10, load_pretrained: bool = True,
                in_channels: int | None = None, weights: dict | None = None) -> nn.Module:
    """The model of ``config``, with its ``--pretrained`` weights and a new head when it has them
    (``load_pretrained=False``: the same model, for the state dict ``weights`` of a checkpoint, loaded
    afterwards). A model whose builder takes ``in_channels`` gets the data set's (or ``in_channels``), unless it
    starts from weights."""
    return build_transfer_model(config, num_classes, load_pretrained, in_channels, weights)[0]


def build_transfer_model(config: TrainConfig, num_classes: int = 10, load_pretrained: bool = True,
                         in_channels: int | None = None, weights: dict | None = None) -> tuple:
    """``build_model`` and what its reuse of weights did: ``(model, report)``, ``report`` a dict for the run
    folder's transfer.json (None without --pretrained or --init-from). See ``tinycnn.utils.transfer`` for the
    modes: --pretrained or --init-from, then --train-last / --train-only / --freeze-backbone or --add-head."""
    kwargs = {"variant": config.variant} if config.variant else {}
    if "in_channels" in inspect.signature(MODELS[config.model]).parameters:
        if in_channels is None and not config.pretrained:
            in_channels = presets.dataset_info(config.dataset).channels     # CIFAR's colour to LeNet too
        if in_channels is not None:
            kwargs["in_channels"] = in_channels
    model = _get_model(config, {} if config.pretrained else {"num_classes": num_classes}, kwargs)
    report = None
    if config.pretrained:
        # Built with the class count of the weights, which the file has; rebuilt for a checkpoint's weights,
        # the heads replaced below make it the data set's, except under --add-head's layer on top.
        loaded = _load_weights(config.pretrained) if load_pretrained else None
        if loaded is not None:
            classes = _classes_of_weights(model, loaded)
        elif config.add_head:
            head = (weights or {}).get("head.weight")
            classes = int(head.shape[1]) if head is not None else None
        else:
            classes = num_classes
        if classes is not None and classes != _classes_of_model(model):
            model = _get_model(config, {"num_classes": classes}, kwargs)
        if loaded is not None:
            try:
                model.load_state_dict(loaded)
            except (RuntimeError, ValueError, TypeError, AttributeError) as exc:
                detail = " ".join(str(exc).split())
                raise RunError(f"--pretrained {config.pretrained}: the weights do not fit {config.model}: "
                               f"{detail}") from None
        report = {"pretrained": config.pretrained}
        if config.freeze_backbone:
            model.requires_grad_(False)
        if not config.add_head:
            try:
                head = transfer.replace_head(model, num_classes)
            except ValueError as exc:
                raise ConfigError("pretrained", f"cannot fine-tune {config.model}: {exc}") from None
            report["new_heads"] = [head] + [name for name, _ in transfer.aux_heads(model)]
    elif config.init_from:
        report = {"init_from": config.init_from}
        if load_pretrained:
            copied = transfer.init_from(model, _load_weights(config.init_from, "--init-from"))
            report.update(copied=[list(row) for row in copied.copied], kept=copied.kept, unused=copied.unused)
    if report is not None:
        model, report["trainable"] = _freeze(model, config, num_classes)
        params = dict(model.named_parameters())
        report["frozen"] = [layer.name for layer in transfer.layers_of(model)
                            if any(k in params for k in layer.keys)
                            and not any(params[k].requires_grad for k in layer.keys if k in params)]
    return model.to(config.device), report


def _get_model(config: TrainConfig, classes: dict, kwargs: dict) -> nn.Module:
    try:
        return get_model(config.model, **classes, **kwargs)
    except ValueError as exc:
        raise ConfigError("variant" if config.variant else "model", str(exc)) from None


def _classes_of_model(model: nn.Module) -> int | None:
    found = transfer.last_linear(model)
    return found[1].out_features if found else None


def _freeze(model: nn.Module, config: TrainConfig, num_classes: int) -> tuple:
    """Apply --train-last, --train-only or --add-head: (the model to train, the names of its trainable layers)."""
    if config.add_head:
        try:
            model = transfer.add_head(model, num_classes)
        except ValueError as exc:
            raise ConfigError("add_head", f"cannot put a layer on {config.model}: {exc}") from None
        return model, ["head"]
    if config.train_last or config.train_only:
        try:
            names = transfer.freeze(model, train_last=config.train_last,
                                    train_only=config.train_only.split(",") if config.train_only else None)
        except ValueError as exc:
            name = "train_last" if config.train_last else "train_only"
            detail = (str(exc).removeprefix("freeze: ").replace("train_last must be", "expected")
                      .replace(type(model).__name__, config.model))
            raise ConfigError(name, detail) from None
        if config.pretrained:      # the heads --pretrained replaced are new: they learn whatever else is frozen
            for head, module in [transfer.last_linear(model), *transfer.aux_heads(model)]:
                module.requires_grad_(True)
                names += [] if head in names else [head]
        return model, names
    params = dict(model.named_parameters())
    return model, [layer.name for layer in transfer.layers_of(model)
                   if any(params[k].requires_grad for k in layer.keys if k in params)]


def check_input_size(model: nn.Module, config: TrainConfig, channels: int) -> None:
    """Run one blank image through ``model`` so that an input it cannot take is named before training."""
    size = config.resolved().input_size
    xp = np if config.device == "cpu" else backend.cupy_module()
    x = Tensor(xp.zeros((1, channels, size, size), dtype=np.float32))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(x)
    except ValueError as exc:
        if numba_cache_problem(exc):      # a damaged kernel cache can raise a ValueError (a decoding error)
            raise
        raise ConfigError("input_size", f"{config.model} cannot take {size}x{size} images: {exc}") from None
    finally:
        model.train(was_training)


def trains_batchnorm(model: nn.Module, config: TrainConfig) -> bool:
    """Whether a BatchNorm layer of ``model`` learns (those of frozen layers keep their statistics)."""
    return any("BatchNorm" in type(m).__name__ and any(p.requires_grad for p in m.parameters())
               for m in model.modules())


def build_optimizer(config: TrainConfig, params):
    config = config.resolved()
    lr, wd = config.lr, config.weight_decay
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if config.optimizer == "momentum":
        return optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd)
    if config.optimizer == "adagrad":
        return optim.Adagrad(params, lr=lr, weight_decay=wd)
    if config.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    return optim.AdamW(params, lr=lr, weight_decay=wd)


def build_scheduler(config: TrainConfig, optimizer):
    if config.scheduler == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    if config.scheduler == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=max(1, config.epochs // 3), gamma=0.1)
    if config.scheduler == "multistep":
        return optim.lr_scheduler.MultiStepLR(optimizer, [config.epochs // 2, 3 * config.epochs // 4], 0.1)
    if config.scheduler == "exponential":
        return optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.8)
    return None


def compute_loss(outputs, labels: Tensor, aux_weight: float):
    """(main logits, loss): cross-entropy; the training outputs of GoogLeNet (two auxiliary classifiers) and
    Inception v3 (one) add their auxiliary losses weighted by ``aux_weight``, as their models' losses define."""
    if hasattr(outputs, "aux_logits1"):
        return outputs.logits, googlenet_loss(outputs, labels, aux_weight)
    if hasattr(outputs, "aux_logits"):
        return outputs.logits, inception_v3_loss(outputs, labels, aux_weight)
    return outputs, F.cross_entropy(outputs, labels)


def evaluate(model: nn.Module, loader: DataLoader, device: str = "cpu", ranks: int = 1):
    """Mean loss, accuracy, the predictions and the labels of every sample, in eval mode without a graph.
    ``ranks > 1``: the predictions are the ``ranks`` most likely classes of each sample, most likely first
    (N, ranks); else the most likely class (N,)."""
    was_training = model.training
    model.eval()
    total_loss, predictions, labels_all = 0.0, [], []
    with no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
            if ranks > 1:
                # stable: among equal scores the lowest class first, as argmax has it
                scores = backend.to_device(logits.array, "cpu")
                predictions.append(np.argsort(-scores, axis=1, kind="stable")[:, :ranks])
            else:
                predictions.append(logits.array.argmax(axis=1))
            labels_all.append(labels.array)
    model.train(was_training)
    def joined(arrays):     # on the CPU (ranked predictions are there already, the labels may be on the GPU)
        return backend.to_device(backend.get_array_module(arrays[0]).concatenate(arrays), "cpu") if arrays \
            else np.zeros(0, np.int64)
    preds, labels_np = joined(predictions), joined(labels_all)
    n = max(len(labels_np), 1)
    top1 = preds[:, 0] if preds.ndim == 2 else preds
    return total_loss / n, float((top1 == labels_np).mean()), preds, labels_np


def load_training_checkpoint(path: str) -> dict:
    """A checkpoint written by ``tinycnn train`` (last.npz, best.npz, interrupted.npz), or a named error."""
    state = load(path, as_tensors=False)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise RunError(f"{path}: a tinycnn file, but not a training checkpoint (those are the last.npz, best.npz "
                       f"and interrupted.npz that tinycnn train writes)")
    return state
