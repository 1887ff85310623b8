"""The training loop behind ``tinycnn train`` (its parts are built in ``builders.py``; ``tinycnn eval`` is in
``evaluation.py``).

``train(config)`` runs one training in its run folder, in this order: every setting is checked
(``TrainConfig.validate``, declared in ``train_settings.py``); the run folder is claimed and locked
(``run_folder.py``: a new run never writes into another run's folder); the model is built, its
``--pretrained`` weights loaded and the input size tried on it; the data is loaded; ``config.json`` records
the settings; and only then does the first epoch start. So a mistake in any argument stops the run before
any work, with a ``ConfigError`` or ``RunError`` naming it. After every epoch the folder gets:

- ``last.npz`` (resumable: model, optimizer, scheduler, epoch, RNG and data-order state) and ``best.npz``
  (the best test accuracy so far), written atomically: a failed write (a full disk) leaves the previous
  file intact and stops the run with a message that names the file and says how to resume;
- ``metrics.json``: ``{"tinycnn_version", "config", "input_size", "kernels", ..., "epochs": [{"epoch",
  "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"}, ...]}``;
- ``curves.png``: loss and accuracy per epoch.

``train(config, resume=True)`` continues from ``last.npz`` with the settings the folder recorded; a setting
given that differs from the recorded one is refused unless it may change (``--epochs``...). On the CPU it
ends with the same weights bit for bit as an uninterrupted run with the same seed, because every source of
randomness (initialisation, shuffling, dropout, augmentation) is drawn from generators whose states the
checkpoint restores.
"""
from __future__ import annotations

import math
import os
import time
from typing import Iterable

from . import __version__, accel, backend, kernels
from .builders import (CHECKPOINT_FORMAT, build_datasets, build_model, build_optimizer, build_scheduler,
                       build_transfer_model,
                       check_input_size, compute_loss, dataset_classes, eval_preprocessing, evaluate,
                       first_conv_channels, load_training_checkpoint, num_classes_of, replace_head, trains_batchnorm)
from .utils.data import DataLoader
from .evaluation import evaluate_checkpoint
from .run_errors import ConfigError, RunError, describe_os_error, is_out_of_space
from .run_folder import LAST, RunFolder
from .train_logs import TrainingLogs
from .train_settings import (DATASETS, DEFAULT_LR, OPTIMIZERS, SCHEDULERS, TrainConfig, check_setting, describe,
                             settings_for_resume)
from .utils.atomic import link_or_copy
from .utils.serialization import save
from .utils.transfer import InitReport, freeze_norm_stats
from .vision import transforms


class TrainingError(RuntimeError):
    """Training cannot go on: the loss became NaN or infinite (the message names the epoch and the step)."""


def describe_transfer(report: dict) -> list[str]:
    """The lines ``tinycnn train`` prints about the weights it reused (``report``: transfer.json's content)."""
    lines = []
    if "pretrained" in report:
        heads = report.get("new_heads")
        lines.append(f"loaded every layer of {report['pretrained']}"
                     + (f"; a fresh head for the data set's classes: {', '.join(heads)}" if heads else ""))
    elif "copied" in report:
        copied = InitReport([tuple(row) for row in report["copied"]], report["kept"], report["unused"])
        lines.append(f"--init-from {report['init_from']}: " + str(copied).removeprefix("init_from: "))
    if report["frozen"]:
        lines.append(f"training only {', '.join(report['trainable'])}; frozen: {', '.join(report['frozen'])}")
    return lines


# ---- the trainer -----------------------------------------------------------------------------------------
class Trainer:
    """One training run: the model, data, optimizer and schedule of a ``TrainConfig``, built and checked
    here; ``fit`` trains it in its run folder. Building writes nothing."""

    def __init__(self, config: TrainConfig, load_pretrained: bool = True, weights: dict | None = None):
        """``load_pretrained=False``: the model of a checkpoint whose state dict ``weights`` will be restored
        (--pretrained's or --init-from's file is not read again)."""
        config.validate(need_pretrained=load_pretrained)
        self.config = config = config.resolved()
        self.run: RunFolder | None = None
        self.changes: dict = {}           # settings a resume changed: {name: (saved, given)}
        backend.manual_seed(config.seed)
        # transfer: what --pretrained / --init-from and the freezing did (None without them), for transfer.json
        self.model, self.transfer = build_transfer_model(config, num_classes_of(config),
                                                         load_pretrained=load_pretrained, weights=weights)
        if config.device == "cpu":      # on a fresh install, compile the model's kernels while the data loads
            kernels.prepare("float32", self.model)
        self.in_channels = first_conv_channels(self.model) or 1
        check_input_size(self.model, config, self.in_channels)
        if not config.log_grads:    # --log-grads records every layer's activations: keep them apart
            accel.fuse(self.model)  # Conv2d -> ReLU -> MaxPool2d as one layer: the same numbers, one pass
        self.train_set, self.test_set = build_datasets(config, self.in_channels)
        # what `tinycnn predict` needs to use the model on new images
        self.classes = dataset_classes(self.train_set)
        self.preprocessing = transforms.describe(eval_preprocessing(config, self.in_channels))
        self.train_loader = DataLoader(self.train_set, batch_size=config.batch_size, shuffle=True,
                                       seed=config.seed, drop_last=self._drop_lone_last_image())
        self.test_loader = DataLoader(self.test_set, batch_size=1000)
        trainable = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(config, trainable)
        self.scheduler = build_scheduler(config, self.optimizer)
        self.kernels = "cupy" if config.device == "cuda" else kernels.get_kernels_name()
        self.network = self.model   # what the training steps call (a DistributedDataParallel around it: distributed)
        self.history: list[dict] = []
        self.epoch = 0
        self.best_accuracy = -1.0
        self.logs: TrainingLogs | None = None     # --log-grads, --tensorboard: open while fit() trains

    def _drop_lone_last_image(self, n: int | None = None) -> bool:
        """BatchNorm cannot train on a batch of one image: refuse settings that make every batch one image,
        and leave out a last batch of one (as ``drop_last`` does) rather than fail at the end of an epoch.
        ``n``: the images this process trains on in an epoch (default: the whole training set)."""
        cfg = self.config
        n = len(self.train_set) if n is None else n
        if not trains_batchnorm(self.model, cfg):
            return False
        why = f"{cfg.model} has BatchNorm layers, which cannot train on a batch of one image"
        if cfg.batch_size == 1:
            raise ConfigError("batch_size", f"expected at least 2: {why}")
        if n == 1:
            raise ConfigError("train_limit", f"expected at least 2 images: {why}")
        if n % cfg.batch_size == 1:
            print(f"note: {n} training images in batches of {cfg.batch_size} leave a last batch of one image; "
                  f"{why}, so each epoch leaves it out")
            return True
        return False

    # checkpoints
    def path(self, name: str) -> str:
        return os.path.join(self.run.path if self.run else self.config.out, name)

    def checkpoint(self) -> dict:
        return {"format": CHECKPOINT_FORMAT, "config": self.config.to_dict(), "epoch": self.epoch,
                "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "rng": backend.get_rng_state(), "loader": self.train_loader.state_dict(),
                "history": self.history, "best_accuracy": self.best_accuracy, "classes": self.classes,
                "preprocessing": self.preprocessing, "input_channels": self.in_channels}

    def restore(self, checkpoint) -> None:
        """Continue from a checkpoint: a path, or the dict ``load_training_checkpoint`` returned."""
        state = load_training_checkpoint(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else checkpoint
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
        freeze_norm_stats(model)     # the BatchNorm layers of frozen layers keep their loaded statistics
        seen = correct = 0
        loss_sum = 0.0
        start = time.perf_counter()
        if hasattr(self.train_loader.sampler, "set_epoch"):    # a DistributedSampler: this epoch's order
            self.train_loader.sampler.set_epoch(self.epoch)
        bar = tqdm(self.train_loader, desc=f"epoch {self.epoch + 1}/{cfg.epochs}", unit="batch",
                   disable=not cfg.progress, leave=False, dynamic_ncols=True)
        for step, (images, labels) in enumerate(bar, 1):
            images, labels = images.to(cfg.device), labels.to(cfg.device)
            logits, loss = compute_loss(self.network(images), labels, cfg.aux_weight)
            loss_value = loss.item()
            if not self._all_finite(loss_value):
                kept = (f"the last good checkpoint is kept in {self.path(LAST)}"
                        if os.path.exists(self.path(LAST)) else "no epoch had completed, so no checkpoint")
                raise TrainingError(f"non-finite loss ({loss_value}) at epoch {self.epoch + 1}, step {step}: "
                                    f"training stopped; {kept} (try a smaller --lr)")
            self.optimizer.zero_grad()
            loss.backward()
            if self.logs is not None:
                self.logs.after_backward(loss_value, float(self.optimizer.param_groups[0]["lr"]))
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
        seen, loss_sum, correct = self._epoch_totals(seen, loss_sum, correct)
        return loss_sum / max(seen, 1), correct / max(seen, 1)

    # what a distributed trainer (train_distributed.py) combines across its processes
    def _all_finite(self, loss_value: float) -> bool:
        return math.isfinite(loss_value)

    def _epoch_totals(self, seen: int, loss_sum: float, correct: int) -> tuple[int, float, int]:
        return seen, loss_sum, correct

    def _evaluate(self) -> tuple:
        """Test loss, accuracy, predictions and labels of the model now."""
        return evaluate(self.model, self.test_loader, self.config.device)

    # the run
    def _claim(self, resume: bool) -> None:
        """The Python API's way in (``train`` claims the folder before building the trainer): claim the run
        folder and, on resume, check that this trainer's settings are the saved ones."""
        cfg = self.config
        if resume:
            self.run = RunFolder.claim_existing(cfg.out, cfg.model)
            try:
                saved = TrainConfig.from_dict(self.run.saved_config())
                _, self.changes = settings_for_resume(saved, cfg, where=self.run.path)
                if os.path.isfile(self.run.file(LAST)):
                    self.restore(self.run.file(LAST))
            except BaseException:
                self.run.release()
                raise
        else:
            self.run = RunFolder.claim_new(cfg.out, cfg.model)
        cfg.out = self.run.path

    def fit(self, resume: bool = False) -> list[dict]:
        """Train until ``config.epochs`` in the run folder; ``resume`` continues the run saved there."""
        if self.run is None:
            self._claim(resume)
        run, cfg = self.run, self.config
        run.relock()
        try:
            for note in run.notes:
                print(note)
            run.notes.clear()
            if resume and not run.started:
                self._report_resume()
                if self.epoch >= cfg.epochs:
                    return self.history
                run.record_resume(cfg.to_dict(), __version__, self.epoch, self.changes)
            elif not run.started:
                run.record_start(cfg.to_dict(), __version__)
                if self.transfer is not None:
                    run.write_json("transfer.json", self.transfer)
                    print("\n".join(describe_transfer(self.transfer)))
                print(f"training {cfg.model} on {cfg.dataset} for {cfg.epochs} epoch{'s' if cfg.epochs > 1 else ''} "
                      f"in {run.path}/")
            self.logs = TrainingLogs.open(self, resumed=resume)
            self._train_epochs()
        finally:
            if self.logs is not None:
                self.logs.close()
                self.logs = None
            run.release()
        return self.history

    def _report_resume(self) -> None:
        cfg, run = self.config, self.run
        changed = ", ".join(f"{name} {old} -> {new}" for name, (old, new) in self.changes.items())
        where = (f"from {run.file(LAST)} after epoch {self.epoch}" if self.epoch
                 else "from the start: no epoch of it had finished")
        print(f"resumed {run.path} {where}" + (f"; changed: {changed}" if changed else "")
              + f"; kept the saved settings: {describe(cfg)}")
        if self.epoch >= cfg.epochs:
            print(f"nothing to train: the run has done its {cfg.epochs} epoch{'s' if cfg.epochs > 1 else ''} "
                  f"(resume with a larger --epochs to train on)")

    def _train_epochs(self) -> None:
        cfg = self.config
        try:
            while self.epoch < cfg.epochs:
                start = time.perf_counter()
                lr = float(self.optimizer.param_groups[0]["lr"])
                train_loss, train_acc = self.train_epoch()
                test_loss, test_acc, predictions, labels = self._evaluate()
                if self.scheduler:
                    self.scheduler.step()
                self.epoch += 1
                row = {"epoch": self.epoch, "lr": lr, "train_loss": train_loss, "train_accuracy": train_acc,
                       "test_loss": test_loss, "test_accuracy": test_acc, "seconds": time.perf_counter() - start}
                self.history.append(row)
                if self.logs is not None:    # before the checkpoint: a resume drops records past it
                    try:
                        self.logs.end_epoch(row, predictions, labels)
                    except OSError as exc:
                        raise self._storage_error(exc, self.epoch - 1) from None
                self._save_epoch(test_acc)
                print(f"epoch {self.epoch:3d}/{cfg.epochs}  train loss {train_loss:.4f} acc {100 * train_acc:.2f}%"
                      f"  test loss {test_loss:.4f} acc {100 * test_acc:.2f}%  ({row['seconds']:.1f} s)",
                      flush=True)
        except KeyboardInterrupt:
            self._save_interrupted()
            raise

    def _save_interrupted(self) -> None:
        try:
            save(self.checkpoint(), self.path("interrupted.npz"))
            saved = f"the model as it was is saved in {self.path('interrupted.npz')}"
        except OSError as exc:
            saved = f"the model as it was could not be saved ({describe_os_error(exc)})"
        print(f"\ninterrupted during epoch {self.epoch + 1}: {saved}; {self.path(LAST)} holds the last complete "
              f"epoch (continue with --resume)", flush=True)

    def metrics(self) -> dict:
        """What metrics.json holds: the run's settings and what it ran on, and one row per epoch."""
        cfg = self.config
        return {"tinycnn_version": __version__, "config": cfg.to_dict(), "model": cfg.model,
                "dataset": cfg.dataset, "input_size": cfg.input_size, "input_channels": self.in_channels,
                "device": cfg.device, "kernels": self.kernels, "train_images": len(self.train_set),
                "test_images": len(self.test_set), "classes": self.classes, "preprocessing": self.preprocessing,
                "epochs": self.history}

    def _save_epoch(self, test_acc: float) -> None:
        """Write the epoch's files. best.npz before last.npz: if the disk fills up between the two, last.npz
        still holds the previous epoch and a resume redoes this one, writing both again."""
        from .utils.plotting import plot_curves  # noqa: PLC0415  (matplotlib only when a run writes)
        state = self.checkpoint()
        improved = test_acc > self.best_accuracy
        if improved:
            self.best_accuracy = state["best_accuracy"] = test_acc
        saved_epoch = self.epoch - 1
        try:
            if improved:
                save(state, self.path("best.npz"))
                link_or_copy(self.path("best.npz"), self.path(LAST))
            else:
                save(state, self.path(LAST))
            saved_epoch = self.epoch
            self.run.write_json("metrics.json", self.metrics())
            plot_curves(self.history, self.path("curves.png"))
        except OSError as exc:
            raise self._storage_error(exc, saved_epoch) from None

    def _storage_error(self, exc: OSError, saved_epoch: int) -> RunError:
        last = self.path(LAST)
        if saved_epoch == self.epoch:
            kept = f"epoch {self.epoch} is saved in {last}, but not all of its metrics and plots"
        elif saved_epoch >= 1:
            kept = f"epoch {self.epoch} could not be saved; {last} still holds epoch {saved_epoch}, intact"
        else:
            kept = f"epoch {self.epoch} could not be saved, and no epoch before it was"
        fix = "free some space" if is_out_of_space(exc) else "make the folder writable"
        return RunError(f"{describe_os_error(exc)}: {kept}; {fix}, then continue with "
                        f"`tinycnn train --out {self.run.path} --resume`")


def train(config: TrainConfig, resume: bool = False, given: Iterable[str] | None = None) -> list[dict]:
    """Train (or resume) the run ``config`` describes in its run folder; returns the per-epoch rows.

    ``given`` names the settings the user chose (the command line's); on resume only those are compared with
    the saved settings (None: all of ``config``'s). Afterwards ``config.out`` is the run folder. Raises
    ``ConfigError`` / ``RunError`` before any work for a setting, folder or file that is wrong, and
    ``TrainingError`` if the loss stops being finite."""
    run = claim_run(config, resume, given)
    with run:
        config, changes, checkpoint = prepare_run(run, config, resume, given)
        trainer = Trainer(config, load_pretrained=checkpoint is None,
                          weights=checkpoint["model"] if checkpoint is not None else None)
        trainer.run, trainer.changes = run, changes
        if checkpoint is not None:
            trainer.restore(checkpoint)
        return trainer.fit(resume=resume)


def claim_run(config: TrainConfig, resume: bool, given: Iterable[str] | None) -> RunFolder:
    """Check the settings that make sense on their own, then claim (lock) the run folder."""
    if not resume:
        config.validate()
        return RunFolder.claim_new(config.out, config.model)
    for name in given if given is not None else ():   # what was typed must make sense on its own
        check_setting(name, getattr(config, name))
    return RunFolder.claim_existing(config.out, config.model)


def prepare_run(run: RunFolder, config: TrainConfig, resume: bool, given: Iterable[str] | None,
                world_size: int = 1) -> tuple[TrainConfig, dict, dict | None]:
    """The settings the run trains with, what a resume changes, and the checkpoint to continue from (None:
    a fresh start). A run resumes only with the number of processes it was trained with (``world_size``):
    the data order and the batches depend on it."""
    requested, checkpoint, changes = config, None, {}
    if resume:
        saved = TrainConfig.from_dict(run.saved_config())
        config, changes = settings_for_resume(saved, config, given, where=run.path)
        if os.path.isfile(run.file(LAST)):
            checkpoint = load_training_checkpoint(run.file(LAST))
            if int(checkpoint["epoch"]) > config.epochs:
                raise ConfigError("epochs", f"the run has already trained {checkpoint['epoch']} epochs; give "
                                            f"--epochs {checkpoint['epoch']} or more")
            trained_with = int(checkpoint.get("world_size", 1))
            if trained_with != world_size:
                how = f"with --nproc {trained_with}" if trained_with > 1 else "without --nproc or --distributed"
                raise RunError(f"--resume: {run.path} was trained by {trained_with} process"
                               f"{'es' if trained_with > 1 else ''}, this run has {world_size}: resume it {how} "
                               f"(the data order and the batches depend on the number of processes)")
        config.validate(need_pretrained=checkpoint is None)
    config.out = requested.out = run.path
    return config, changes, checkpoint


__all__ = ["TrainConfig", "Trainer", "TrainingError", "train", "evaluate", "evaluate_checkpoint", "build_model",
           "build_datasets", "build_optimizer", "build_scheduler", "check_input_size", "replace_head",
           "compute_loss", "load_training_checkpoint", "CHECKPOINT_FORMAT", "DATASETS", "OPTIMIZERS", "SCHEDULERS",
           "DEFAULT_LR"]
