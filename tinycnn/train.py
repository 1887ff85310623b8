"""The training loop behind ``tinycnn train`` and ``tinycnn eval``.

A run writes into its ``out`` folder, after every epoch:
- ``metrics.json``: ``{"epochs": [{"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
  "seconds"}, ...]}``;
- ``last.npz`` (resumable: model, optimizer, scheduler, epoch, RNG and data-order state) and ``best.npz`` (the
  best test accuracy so far), both written atomically by ``tinycnn.save``;
- ``curves.png``: loss and accuracy per epoch.

``--resume`` continues from ``last.npz`` and, on the CPU, ends with the same weights bit for bit as an
uninterrupted run with the same seed, because every source of randomness (initialisation, shuffling,
dropout, augmentation) is drawn from generators whose states the checkpoint restores.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass

import numpy as np

from . import backend, kernels, nn, optim
from .autograd import Tensor, no_grad
from .models import get_model
from .nn import functional as F
from .utils.data import DataLoader, Subset
from .utils.serialization import load, save
from .vision import presets

DATASETS = ("mnist", "fashion-mnist")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.01, "rmsprop": 1e-3, "adam": 2e-3, "adamw": 2e-3}
SCHEDULERS = ("none", "cosine", "step", "exponential", "multistep")
CHECKPOINT_FORMAT = "tinycnn-checkpoint-1"
# Image side each model is trained at when --input-size is not given: MNIST's own 28 where the model takes
# it, otherwise the smallest convenient size that survives the model's downsampling (d2l resizes likewise).
DEFAULT_INPUT_SIZE = {"lenet5": 28, "resnet18_small": 28, "nin": 96, "alexnet_d2l": 224, "alexnet_small": 224}
FALLBACK_INPUT_SIZE = 64


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss, a checkpoint from another run...)."""


@dataclass
class TrainConfig:
    model: str = "lenet5"
    variant: str | None = None          # lenet5: "classic" or "modern" (default modern)
    dataset: str = "mnist"
    data_root: str | None = None
    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float | None = None             # None: DEFAULT_LR[optimizer]
    momentum: float = 0.9               # for optimizer "momentum" (SGD with momentum) and rmsprop
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    seed: int = 0
    out: str = "runs/lenet5"
    device: str = "cpu"
    input_size: int | None = None       # resize the 28x28 images (d2l trains AlexNet on 224x224 MNIST)
    pretrained: str | None = None       # weights file (.npz from tinycnn.save, or a torch .pth state dict)
    freeze_backbone: bool = False
    aux_weight: float = 0.3             # GoogLeNet's auxiliary classifiers' loss weight
    train_limit: int | None = None      # use the first N training images (quick runs)
    test_limit: int | None = None
    progress: bool = True

    def validate(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {sorted(DATASETS)}, got {self.dataset!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer: expected one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler: expected one of {SCHEDULERS}, got {self.scheduler!r}")
        for name in ("epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)}")
        if self.lr is not None and not self.lr > 0:
            raise ValueError(f"lr: expected a positive learning rate, got {self.lr}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]


# ---- building blocks of a run ----------------------------------------------------------------------------
def _first_conv_channels(model: nn.Module) -> int | None:
    for m in model.modules():
        if hasattr(m, "in_channels") and hasattr(m, "kernel_size"):
            return m.in_channels
    return None


def build_datasets(config: TrainConfig, in_channels: int = 1):
    size = config.input_size or DEFAULT_INPUT_SIZE.get(config.model, FALLBACK_INPUT_SIZE)
    # ImageNet-style models take three channels: the grey one is repeated
    transform = presets.eval_transform(config.dataset, input_size=size, channels=in_channels)
    train = presets.load_dataset(config.dataset, config.data_root, train=True, transform=transform)
    test = presets.load_dataset(config.dataset, config.data_root, train=False, transform=transform)
    if config.train_limit:
        train = Subset(train, np.arange(min(config.train_limit, len(train))))
    if config.test_limit:
        test = Subset(test, np.arange(min(config.test_limit, len(test))))
    return train, test


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """Swap the model's last ``Linear`` for a fresh one with ``num_classes`` outputs (transfer learning)."""
    last = None
    for name, m in model.named_modules():
        if isinstance(m, nn.Linear):
            last = name
    if last is None:
        raise ValueError(f"{type(model).__name__} has no Linear layer to replace")
    parent = model
    *path, attr = last.split(".")
    for part in path:
        parent = getattr(parent, part) if not part.isdigit() else parent[int(part)]
    old = getattr(parent, attr) if not attr.isdigit() else parent[int(attr)]
    head = nn.Linear(old.in_features, num_classes)
    if attr.isdigit():
        parent[int(attr)] = head
    else:
        setattr(parent, attr, head)
    return head


def _load_weights(path: str) -> dict:
    if path.endswith((".pth", ".pt")):
        from .utils.torch_loader import load_torch_state_dict  # noqa: PLC0415
        return load_torch_state_dict(path)
    state = load(path, as_tensors=False)
    return state["model"] if isinstance(state, dict) and "model" in state else state


def build_model(config: TrainConfig, num_classes: int = 10) -> nn.Module:
    kwargs = {}
    if config.variant:
        kwargs["variant"] = config.variant
    if config.pretrained:
        model = get_model(config.model, **kwargs)
        model.load_state_dict(_load_weights(config.pretrained))
        if config.freeze_backbone:
            model.requires_grad_(False)
        replace_head(model, num_classes)
    else:
        model = get_model(config.model, num_classes=num_classes, **kwargs)
    return model.to(config.device)


def build_optimizer(config: TrainConfig, params):
    lr, wd = config.learning_rate, config.weight_decay
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
    return optim.AdamW(params, lr=lr, weight_decay=wd if wd else 1e-2)


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
    """Cross-entropy; GoogLeNet's training outputs add its auxiliary losses weighted by ``aux_weight``."""
    if hasattr(outputs, "aux_logits1"):
        logits = outputs.logits
        loss = F.cross_entropy(logits, labels)
        for aux in (outputs.aux_logits1, outputs.aux_logits2):
            if aux is not None:
                loss = loss + aux_weight * F.cross_entropy(aux, labels)
        return logits, loss
    return outputs, F.cross_entropy(outputs, labels)


def _write_json_atomically(obj, path: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=os.path.dirname(os.path.abspath(path)))
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


def evaluate(model: nn.Module, loader: DataLoader, device: str = "cpu"):
    """Mean loss, accuracy, and the predictions of every sample, in eval mode without a graph."""
    was_training = model.training
    model.eval()
    total_loss, predictions, labels_all = 0.0, [], []
    with no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels, reduction="sum").item()
            predictions.append(logits.array.argmax(axis=1))
            labels_all.append(labels.array)
    model.train(was_training)
    xp = backend.get_array_module(predictions[0]) if predictions else np
    preds = backend.to_device(xp.concatenate(predictions), "cpu")
    labels_np = backend.to_device(xp.concatenate(labels_all), "cpu")
    n = max(len(labels_np), 1)
    return total_loss / n, float((preds == labels_np).mean()), preds, labels_np


# ---- the trainer -----------------------------------------------------------------------------------------
class Trainer:
    def __init__(self, config: TrainConfig):
        config.validate()
        self.config = config
        if config.device == "cpu":      # on a fresh install, compile the kernels while the data loads
            kernels.prepare("float32")
        backend.manual_seed(config.seed)
        self.model = build_model(config)
        in_channels = _first_conv_channels(self.model) or 1
        self.train_set, self.test_set = build_datasets(config, in_channels)
        self.train_loader = DataLoader(self.train_set, batch_size=config.batch_size, shuffle=True,
                                       seed=config.seed)
        self.test_loader = DataLoader(self.test_set, batch_size=1000)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(config, trainable)
        self.scheduler = build_scheduler(config, self.optimizer)
        self.history: list[dict] = []
        self.epoch = 0
        self.best_accuracy = -1.0
        os.makedirs(config.out, exist_ok=True)

    # checkpoints
    def path(self, name: str) -> str:
        return os.path.join(self.config.out, name)

    def checkpoint(self) -> dict:
        return {"format": CHECKPOINT_FORMAT, "config": dataclasses.asdict(self.config), "epoch": self.epoch,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "rng": backend.get_rng_state(), "loader": self.train_loader.state_dict(),
                "history": self.history, "best_accuracy": self.best_accuracy}

    def restore(self, path: str) -> None:
        state = load(path, as_tensors=False)
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise TrainingError(f"{path}: not a tinycnn training checkpoint")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.history, self.epoch = list(state["history"]), int(state["epoch"])
        if self.scheduler and state["scheduler"] is not None:
            if state["config"].get("epochs") == self.config.epochs:
                self.scheduler.load_state_dict(state["scheduler"])
            else:
                # A run extended (or shortened) with --epochs: the schedule depends on the total number of
                # epochs, so replay the new schedule up to the resumed epoch, as an uninterrupted run has it.
                for group in self.optimizer.param_groups:
                    group["lr"] = group["initial_lr"]
                for _ in range(self.epoch):
                    self.scheduler.step()
        backend.set_rng_state(state["rng"])
        self.train_loader.load_state_dict(state["loader"])
        self.best_accuracy = float(state["best_accuracy"])

    # one epoch
    def train_epoch(self) -> tuple[float, float]:
        from tqdm import tqdm  # noqa: PLC0415  (only the training loop shows progress bars)
        cfg, model = self.config, self.model
        model.train()
        if cfg.freeze_backbone:  # frozen BatchNorm layers keep their pretrained statistics
            for m in model.modules():
                if "BatchNorm" in type(m).__name__:
                    m.eval()
        seen = correct = 0
        loss_sum = 0.0
        start = time.perf_counter()
        bar = tqdm(self.train_loader, desc=f"epoch {self.epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=not cfg.progress, leave=False, dynamic_ncols=True)
        for step, (images, labels) in enumerate(bar, 1):
            images, labels = images.to(cfg.device), labels.to(cfg.device)
            logits, loss = compute_loss(model(images), labels, cfg.aux_weight)
            loss_value = loss.item()
            if not math.isfinite(loss_value):
                kept = (f"the last good checkpoint is kept in {self.path('last.npz')}"
                        if os.path.exists(self.path("last.npz")) else "no epoch had completed, so no checkpoint")
                raise TrainingError(f"non-finite loss ({loss_value}) at epoch {self.epoch + 1}, step {step}: "
                                    f"training stopped; {kept} (try a smaller --lr)")
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            n = labels.shape[0]
            seen += n
            loss_sum += loss_value * n
            correct += int((logits.array.argmax(axis=1) == labels.array).sum())
            if step % 20 == 0 or step == len(self.train_loader):
                rate = seen / max(time.perf_counter() - start, 1e-9)
                bar.set_postfix(loss=f"{loss_sum / seen:.4f}", acc=f"{correct / seen:.4f}",
                                img_s=f"{rate:.0f}")
        bar.close()
        return loss_sum / max(seen, 1), correct / max(seen, 1)

    def fit(self, resume: bool = False) -> list[dict]:
        cfg = self.config
        if resume:
            if not os.path.exists(self.path("last.npz")):
                raise TrainingError(f"--resume: no checkpoint {self.path('last.npz')} to resume from")
            self.restore(self.path("last.npz"))
            print(f"resumed from {self.path('last.npz')} after epoch {self.epoch}")
        try:
            while self.epoch < cfg.epochs:
                start = time.perf_counter()
                train_loss, train_acc = self.train_epoch()
                test_loss, test_acc, _, _ = evaluate(self.model, self.test_loader, cfg.device)
                if self.scheduler:
                    self.scheduler.step()
                self.epoch += 1
                row = {"epoch": self.epoch, "train_loss": train_loss, "train_accuracy": train_acc,
                       "test_loss": test_loss, "test_accuracy": test_acc,
                       "seconds": time.perf_counter() - start}
                self.history.append(row)
                self._save_epoch(test_acc)
                print(f"epoch {self.epoch:3d}/{cfg.epochs}  train loss {train_loss:.4f} acc {100 * train_acc:.2f}%"
                      f"  test loss {test_loss:.4f} acc {100 * test_acc:.2f}%  ({row['seconds']:.1f} s)",
                      flush=True)
        except KeyboardInterrupt:
            save(self.checkpoint(), self.path("interrupted.npz"))
            print(f"\ninterrupted during epoch {self.epoch + 1}: the model as it was is saved in "
                  f"{self.path('interrupted.npz')}; {self.path('last.npz')} holds the last complete epoch "
                  f"(continue with --resume)", flush=True)
            raise
        return self.history

    def _save_epoch(self, test_acc: float) -> None:
        from .utils.plotting import plot_curves  # noqa: PLC0415
        state = self.checkpoint()
        if test_acc > self.best_accuracy:
            self.best_accuracy = test_acc
            state["best_accuracy"] = test_acc
            save(state, self.path("best.npz"))
        save(state, self.path("last.npz"))
        _write_json_atomically({"config": dataclasses.asdict(self.config), "epochs": self.history},
                               self.path("metrics.json"))
        plot_curves(self.history, self.path("curves.png"))


def train(config: TrainConfig, resume: bool = False) -> list[dict]:
    return Trainer(config).fit(resume=resume)


def evaluate_checkpoint(path: str, out: str | None = None, device: str = "cpu", test_limit: int | None = None):
    """Test accuracy and confusion matrix of a checkpoint; saves confusion.png and misclassified.png."""
    from .utils.plotting import confusion_matrix, plot_confusion, plot_image_grid  # noqa: PLC0415
    state = load(path, as_tensors=False)
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise TrainingError(f"{path}: not a tinycnn training checkpoint")
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in state["config"].items() if k in fields})
    config.pretrained, config.device, config.test_limit = None, device, test_limit
    model = build_model(config)
    model.load_state_dict(state["model"])
    _, test_set = build_datasets(config, _first_conv_channels(model) or 1)
    loss, accuracy, preds, labels = evaluate(model, DataLoader(test_set, batch_size=1000), device)
    cm = confusion_matrix(labels, preds, 10)
    out = out or os.path.dirname(os.path.abspath(path))
    os.makedirs(out, exist_ok=True)
    names = getattr(test_set, "classes", None)
    plot_confusion(cm, os.path.join(out, "confusion.png"), names if names and len(names) == 10 else None)
    wrong = np.flatnonzero(preds != labels)[:32]
    base = test_set.dataset if isinstance(test_set, Subset) else test_set
    images = base.data[wrong] if hasattr(base, "data") else np.zeros((0, 28, 28))
    plot_image_grid(images, [f"{labels[i]} -> {preds[i]}" for i in wrong], os.path.join(out, "misclassified.png"))
    return {"loss": loss, "accuracy": accuracy, "confusion": cm, "misclassified": int((preds != labels).sum())}
