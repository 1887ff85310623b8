"""The settings of a training run, declared once: ``TrainConfig``.

Each field of ``TrainConfig`` is one setting, declared with ``setting(default, help, ...)``. That one line
says everything the rest of the code needs to know about it:

* its default and its help text (``tinycnn train --help`` shows both);
* how it is written on the command line (``--batch-size``; ``cli=None`` keeps it off the command line);
* how it is checked (``choices``, ``check``): ``TrainConfig.validate`` raises a ``ConfigError`` naming it;
* whether it may change when a run is resumed (``resumable=True``, e.g. ``epochs``): ``tinycnn train
  --resume`` refuses any other setting that differs from the one the run folder recorded.

Adding a setting is adding a field here (and using it in the trainer). Defaults that depend on other
settings (the learning rate on the optimizer, the image size on the model) are ``None`` here and filled in
by ``TrainConfig.resolved()``; a run folder records the resolved values, so what is saved is what ran.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import inspect
import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from . import backend
from .models import MODELS, default_input_size, list_models, training_sides
from .run_errors import ConfigError, RunError
from .train_logs import LOG_GRADS_EVERY, TENSORBOARD_IN_RUN, log_folder, tensorboard_missing

# the data sets `tinycnn train` takes (their defaults: tinycnn.vision.presets)
DATASETS = ("mnist", "fashion-mnist", "cifar10", "cifar100", "folder")
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam", "adamw")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.01, "rmsprop": 1e-3, "adam": 2e-3, "adamw": 2e-3}
DEFAULT_WEIGHT_DECAY = {"adamw": 1e-2}          # the others: 0
# The auxiliary classifiers' share of the training loss: GoogLeNet's paper (Szegedy et al. 2014, Section 5)
# weighs each of its two by 0.3; torchvision's Inception v3 recipe its one by 0.4.
DEFAULT_AUX_WEIGHT = {"inception_v3": 0.4}
SCHEDULERS = ("none", "cosine", "step", "exponential", "multistep")
# Image side each model is trained at when --input-size is not given: MNIST's own 28 where the model takes
# it, otherwise the smallest convenient size that survives the model's downsampling (d2l resizes likewise);
# photos of an image folder are cut to the size the model is defined for (224 for torchvision's).
DEFAULT_INPUT_SIZE = {"lenet5": 28, "resnet18_small": 28, "nin": 96, "alexnet_d2l": 224, "alexnet_small": 224}
FALLBACK_INPUT_SIZE = 64
MAX_INPUT_SIZE = 1024


@dataclass(frozen=True)
class Setting:
    """How one ``TrainConfig`` field appears on the command line, is checked, and behaves on resume."""

    help: str
    default_text: str | None = None     # the default as --help shows it, when it is not the value itself
    choices: tuple | None = None
    check: Callable[[Any], str | None] | None = None   # None when the value is good, else what was expected
    resumable: bool = False             # may differ from the saved value on --resume
    cli: str | None = ""                # "" -> --name-with-dashes; None -> not on the command line
    switch: bool = False                # an on/off flag that takes no value (store_true / store_false)
    parse: Callable[[str], Any] | None = None          # from the command-line string (default: the type)
    metavar: str | None = None
    aliases: tuple[str, ...] = ()       # other spellings on the command line
    const: Any = None                   # the value of the flag given without one (its value is optional)


def setting(default, help: str, **spec) -> Any:
    """A ``TrainConfig`` field with its ``Setting`` (see the module docstring)."""
    return dataclasses.field(default=default, metadata={"setting": Setting(help, **spec)})


# ---- checks: each returns None for a good value, else "expected ..., got ..." ---------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def positive_int(what: str = "a positive integer"):
    return lambda v: None if _is_int(v) and v >= 1 else f"expected {what}, got {v!r}"


def positive_number(v):
    return None if _is_number(v) and v > 0 else f"expected a positive finite number, got {v!r}"


def non_negative_number(v):
    return None if _is_number(v) and v >= 0 else f"expected a finite number >= 0, got {v!r}"


def seed_value(v):
    return None if _is_int(v) and 0 <= v < 2 ** 63 else f"expected an integer from 0 to 2**63 - 1, got {v!r}"


def input_size_value(v):
    ok = _is_int(v) and 1 <= v <= MAX_INPUT_SIZE
    return None if ok else f"expected an image side from 1 to {MAX_INPUT_SIZE} pixels, got {v!r}"


def known_model(v):
    if v in MODELS:
        return None
    close = difflib.get_close_matches(str(v), list(MODELS), n=3)
    guess = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown model {v!r}{guess} (`tinycnn summary --list` lists the models)"


def existing_folder(v):
    return None if os.path.isdir(v) else f"expected an existing folder, got {v!r} (no such folder)"


def existing_file(v):
    return None if os.path.isfile(v) else f"expected an existing weights file, got {v!r} (no such file)"


def existing_weights(v):
    ok = os.path.isfile(v) or os.path.isdir(v)
    return None if ok else f"expected a run folder or a weights file, got {v!r} (no such file or folder)"


def layer_names(v):
    names = [n.strip() for n in str(v).split(",")]
    ok = isinstance(v, str) and all(names)
    return None if ok else f"expected layer names separated by commas, got {v!r}"


def fraction(v):
    return None if _is_number(v) and 0 < v < 1 else f"expected a fraction between 0 and 1, got {v!r}"


def device_name(v):
    try:
        backend.normalize_device(v)
    except ValueError:
        return f"expected cpu or cuda, got {v!r}"
    return None


# ---- the table ------------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    model: str = setting("lenet5", "model to train", check=known_model, cli="MODEL",
                         default_text="lenet5; `tinycnn summary --list` lists them")
    variant: str | None = setting(None, "variant of the model (lenet5: classic or modern)",
                                  default_text="the model's own: modern for lenet5", metavar="NAME")
    dataset: str = setting("mnist", "data set", choices=tuple(DATASETS))
    data_root: str | None = setting(None, "folder holding the data set: MNIST's IDX .gz files, CIFAR's archive or "
                                          "its unpacked folder, the class folders of --dataset folder (or its "
                                          "train/ and val/)", default_text="the shipped MNIST, or the usual "
                                          "places; required for folder", check=existing_folder, resumable=True,
                                    metavar="DIR", aliases=("--data-dir",))
    epochs: int = setting(10, "number of epochs in all (resuming with more trains on)",
                          check=positive_int(), resumable=True, metavar="N")
    batch_size: int = setting(128, "images per training step, in each process with --nproc/--distributed",
                              check=positive_int(), metavar="N")
    optimizer: str = setting("adam", "optimizer", choices=OPTIMIZERS)
    lr: float | None = setting(None, "learning rate", check=positive_number, parse=float,
                               default_text=", ".join(f"{k} {v}" for k, v in DEFAULT_LR.items()))
    momentum: float = setting(0.9, "momentum of the 'momentum' optimizer (SGD with momentum)",
                              check=non_negative_number, cli=None)
    weight_decay: float | None = setting(None, "L2 weight decay (decoupled for adamw)", check=non_negative_number,
                                         parse=float, default_text="0.01 for adamw, else 0", metavar="WD")
    scheduler: str = setting("cosine", "learning-rate schedule over the epochs", choices=SCHEDULERS)
    seed: int = setting(0, "seed of initialisation, shuffling, dropout, augmentation and a folder's split",
                        check=seed_value, metavar="N")
    out: str | None = setting(None, "run folder (a new run refuses one that holds another run)",
                              default_text="a fresh runs/MODEL, runs/MODEL-2, ...; with --resume the latest",
                              resumable=True, metavar="DIR")
    device: str = setting("cpu", "where to train", check=device_name, resumable=True, metavar="cpu|cuda")
    input_size: int | None = setting(None, "resize the images to this side",
                                     default_text="28 for lenet5, else a size the model accepts; for "
                                                  "--dataset folder the model's own, 224 for most",
                                     check=input_size_value, parse=int, metavar="N")
    pretrained: str | None = setting(None, "weights to start from (.npz from tinycnn, or a torch .pth)",
                                     default_text="none: random initialisation", check=existing_file,
                                     metavar="PATH")
    freeze_backbone: bool = setting(False, "train only the new head of the --pretrained model", switch=True)
    init_from: str | None = setting(None, "copy the layers that match by position and shape from a trained run "
                                          "or weights file (VGG's start of a deeper net from a shallower one: "
                                          "vgg13 --init-from runs/vgg11)", default_text="none",
                                    check=existing_weights, metavar="RUN_OR_CHECKPOINT")
    train_last: int | None = setting(None, "train only the last N weight layers (each with its BatchNorm) of the "
                                           "--pretrained or --init-from model; the others are frozen, BatchNorm "
                                           "statistics included",
                                     default_text="all", check=positive_int("a positive number of layers"),
                                     parse=int, metavar="N")
    train_only: str | None = setting(None, "train only these layers or modules of the --pretrained or --init-from "
                                           "model (e.g. layer4,fc), and the new head of --pretrained; the others "
                                           "are frozen, BatchNorm statistics included", default_text="all",
                                     check=layer_names, metavar="NAME[,NAME...]")
    add_head: bool = setting(False, "keep the --pretrained or --init-from network whole, its outputs included, "
                                    "and train only a new Linear layer put on top of them", switch=True)
    aux_weight: float | None = setting(None, "weight of the auxiliary classifiers' losses in training",
                                       default_text="0.4 for inception_v3, 0.3 for googlenet",
                                       check=non_negative_number, parse=float, metavar="W")
    train_limit: int | None = setting(None, "use only the first N training images",
                                      default_text="all", check=positive_int("a positive number of images"),
                                      parse=int, metavar="N")
    test_limit: int | None = setting(None, "use only the first N test images",
                                     default_text="all", check=positive_int("a positive number of images"),
                                     parse=int, metavar="N")
    download: bool = setting(False, "fetch the CIFAR archive into --data-dir if it is not there", switch=True)
    augment: bool = setting(False, "the data set's standard augmentation (CIFAR: 4-pixel shifts and mirroring; "
                                   "folder: random resized crops and mirroring; MNIST: 2-pixel shifts)", switch=True)
    val_fraction: float = setting(0.2, "share of each class held out for testing, when a --dataset folder has "
                                       "no train/ and val/ subfolders", check=fraction, metavar="F")
    progress: bool = setting(True, "no progress bars", cli="--no-progress", switch=True, resumable=True)
    log_grads: bool = setting(False, "record per-layer gradient and activation statistics into the run folder's "
                                     "gradflow.json and plot gradflow.png after each epoch", switch=True,
                              resumable=True)
    log_grads_every: int = setting(LOG_GRADS_EVERY, "with --log-grads: record one training step in N",
                                   check=positive_int(), resumable=True, metavar="N")
    tensorboard: str | None = setting(None, "log loss, accuracy, learning rate, weight and gradient histograms "
                                            "and sample predictions for TensorBoard into DIR",
                                      default_text="off; DIR: the run folder's tensorboard/", check=log_folder,
                                      resumable=True, metavar="DIR", const=TENSORBOARD_IN_RUN)

    def validate(self, need_pretrained: bool = True) -> None:
        """Raise ``ConfigError`` naming the first setting whose value it cannot take. ``need_pretrained=False``
        (a model rebuilt from a checkpoint, which holds the weights) lets the --pretrained and --init-from
        files be gone."""
        for field in dataclasses.fields(self):
            if field.name not in ("pretrained", "init_from") or need_pretrained:
                check_setting(field.name, getattr(self, field.name))
        self._check_transfer()
        self._check_input_size()
        if self.dataset == "folder" and self.data_root is None:
            raise ConfigError("data_root", "missing: --dataset folder reads its images from --data-root DIR (or "
                                           "--data-dir DIR), a folder of class folders or of train/ and val/ "
                                           "holding them")
        if self.download and not self.dataset.startswith("cifar"):
            raise ConfigError("download", f"only the CIFAR archives are downloaded (--dataset cifar10 or "
                                          f"cifar100), not {self.dataset}")
        if self.variant is not None and "variant" not in inspect.signature(MODELS[self.model]).parameters:
            raise ConfigError("variant", f"{self.model} has no variants (it is for lenet5: classic or modern)")
        if self.tensorboard is not None and (missing := tensorboard_missing()):
            raise ConfigError("tensorboard", missing)
        if backend.normalize_device(self.device) == "cuda" and not backend.cuda_is_available():
            raise ConfigError("device", "cuda needs a GPU and CuPy (pip install 'tinycnn[gpu]'), and none was "
                                        "found; use --device cpu")

    def _check_transfer(self) -> None:
        """The ways of reusing weights that exclude each other, or need weights to reuse."""
        if self.pretrained and self.init_from:
            raise ConfigError("init_from", "cannot be combined with --pretrained (which loads every layer, where "
                                           "--init-from copies those that match); give one of them")
        freezing = [name for name in ("freeze_backbone", "train_last", "train_only") if getattr(self, name)]
        if self.add_head and freezing:
            raise ConfigError("add_head", f"cannot be combined with {label(freezing[0])}: --add-head trains only "
                                          f"the new layer on top; give one of them")
        if len(freezing) > 1:
            raise ConfigError(freezing[0], f"cannot be combined with {label(freezing[1])}: each says which "
                                           f"layers train; give one of them")
        if self.freeze_backbone and not self.pretrained:
            raise ConfigError("freeze_backbone", "needs --pretrained weights: without them there is no trained "
                                                 "backbone to freeze")
        for name in ("train_last", "train_only", "add_head"):
            if getattr(self, name) and not (self.pretrained or self.init_from):
                raise ConfigError(name, "needs --pretrained or --init-from weights: without them there is no "
                                        "trained network to keep")

    def resolved(self) -> TrainConfig:
        """A copy with the defaults that depend on other settings filled in (what the run really uses)."""
        variant = self.variant
        if variant is None:
            param = inspect.signature(MODELS[self.model]).parameters.get("variant")
            variant = param.default if param is not None and param.default is not inspect.Parameter.empty else None
        return dataclasses.replace(
            self, variant=variant, device=backend.normalize_device(self.device),
            lr=self.lr if self.lr is not None else DEFAULT_LR[self.optimizer],
            aux_weight=self.aux_weight if self.aux_weight is not None else DEFAULT_AUX_WEIGHT.get(self.model, 0.3),
            weight_decay=(self.weight_decay if self.weight_decay is not None
                          else DEFAULT_WEIGHT_DECAY.get(self.optimizer, 0.0)),
            input_size=self.input_size if self.input_size is not None else self._default_input_size())

    def _default_input_size(self) -> int:
        if self.model in DEFAULT_INPUT_SIZE:
            return DEFAULT_INPUT_SIZE[self.model]
        own = default_input_size(self.model)[1]
        low, high = training_sides(self.model)
        fits = (low is None or low <= FALLBACK_INPUT_SIZE) and (high is None or FALLBACK_INPUT_SIZE <= high)
        return own if self.dataset == "folder" or not fits else FALLBACK_INPUT_SIZE

    def _check_input_size(self) -> None:
        """An --input-size the model cannot train on, named with the sides it takes."""
        low, high = training_sides(self.model)
        size = self.input_size
        if size is None or ((low is None or size >= low) and (high is None or size <= high)):
            return
        takes = (f"only {low}x{low} images" if low == high else f"images of at least {low}x{low} in training"
                 if high is None else f"images from {low}x{low} to {high}x{high}")
        raise ConfigError("input_size", f"{self.model} takes {takes}, got {size}x{size}; leave --input-size out "
                                        f"to resize the images to {default_input_size(self.model)[1]}")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """From a saved ``to_dict()``; keys this version does not know are ignored, missing ones default."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


def check_setting(name: str, value) -> None:
    """Raise ``ConfigError`` if setting ``name`` cannot take ``value`` (its own checks, not those that
    compare it with other settings)."""
    field = next(f for f in dataclasses.fields(TrainConfig) if f.name == name)
    spec: Setting = field.metadata["setting"]
    if value is None and field.default is None:
        return                              # not set: its default applies
    if spec.switch and not isinstance(value, bool):
        raise ConfigError(name, f"expected True or False, got {value!r}")
    if spec.choices and value not in spec.choices:
        raise ConfigError(name, f"expected one of {', '.join(spec.choices)}, got {value!r}")
    problem = spec.check(value) if spec.check else None
    if problem:
        raise ConfigError(name, problem)


def specs() -> dict[str, Setting]:
    return {f.name: f.metadata["setting"] for f in dataclasses.fields(TrainConfig)}


def label(name: str) -> str:
    """How the command line spells a setting: ``--batch-size``, ``--no-progress``, ``MODEL``."""
    spec = specs().get(name)
    if spec is None or spec.cli is None:
        return name
    return spec.cli or "--" + name.replace("_", "-")


# ---- the command line ------------------------------------------------------------------------------------------
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One argument per setting, none with a default: the namespace holds only what was typed, so
    ``given(args)`` tells typed settings from defaults (what ``--resume`` compares)."""
    for field in dataclasses.fields(TrainConfig):
        spec: Setting = field.metadata["setting"]
        if spec.cli is None:
            continue
        text = spec.help
        if not spec.switch:
            text += f" (default: {spec.default_text or field.default})"
        if spec.resumable and field.name not in ("out", "progress"):
            text += "; may change on --resume"
        kwargs: dict = {"dest": field.name, "default": argparse.SUPPRESS, "help": text}
        flag = label(field.name)
        if not flag.startswith("-"):            # the positional MODEL
            parser.add_argument(field.name, nargs="?", metavar=flag, default=argparse.SUPPRESS, help=text)
            continue
        if spec.switch:
            kwargs["action"] = "store_false" if field.default else "store_true"
        else:
            kwargs["type"] = spec.parse or (str if field.default is None else type(field.default))
            kwargs["choices"] = spec.choices
            kwargs["metavar"] = spec.metavar or ("|".join(spec.choices) if spec.choices else None)
            if spec.const is not None:
                kwargs.update(nargs="?", const=spec.const)
        parser.add_argument(flag, *spec.aliases, **kwargs)


def given(args: argparse.Namespace) -> dict:
    """The settings typed on the command line (``add_arguments`` gives the others no value)."""
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


# ---- resuming ----------------------------------------------------------------------------------------------------
def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return _is_number(a) and _is_number(b) and float(a) == float(b)
    return a == b


def _show(value) -> str:
    return "(none)" if value is None else str(value)


def settings_for_resume(saved: TrainConfig, requested: TrainConfig, names: Iterable[str] | None = None,
                        where: str = "the run") -> tuple[TrainConfig, dict]:
    """The configuration a resumed run continues with, and the settings that change ({name: (old, new)}).

    ``saved`` is what the run folder recorded; ``names`` are the settings the user gave (None: every setting
    of ``requested``, as when the Python API passes a whole configuration). A given setting that may change
    on resume replaces the saved one; any other given setting must equal the saved one, or ``RunError``
    lists each difference with both values."""
    saved = saved.resolved()
    spec = specs()
    if names is None:
        requested = requested.resolved()
        names = list(spec)
    names = [name for name in spec if name in set(names)]      # in the table's order, for a stable message
    changes, refused = {}, []
    for name in names:
        if name == "out":
            continue
        old, new = getattr(saved, name), getattr(requested, name)
        if _same(old, new):
            continue
        if spec[name].resumable:
            changes[name] = (old, new)
        else:
            refused.append(f"{label(name)} saved {_show(old)}, given {_show(new)}")
    if refused:
        may = ", ".join(label(n) for n, s in spec.items() if s.resumable and s.cli is not None and n != "out")
        raise RunError(f"--resume: {where} was trained with other settings: {'; '.join(refused)}. Leave them out to "
                       f"resume with the saved ones (only {may} may change), or start a new run in another "
                       f"--out")
    merged = dataclasses.replace(saved, **{name: new for name, (_, new) in changes.items()})
    merged.out = requested.out if requested.out is not None else saved.out
    return merged, changes


def describe(config: TrainConfig, skip: Iterable[str] = ()) -> str:
    """``model=lenet5 dataset=mnist ...``: the command-line settings that define a run (not the resumable)."""
    spec = specs()
    return " ".join(f"{n}={_show(getattr(config, n))}" for n in spec
                    if not spec[n].resumable and spec[n].cli is not None and n not in skip)


__all__ = ["TrainConfig", "Setting", "setting", "add_arguments", "given", "label", "settings_for_resume",
           "describe", "specs", "list_models", "DATASETS", "OPTIMIZERS", "SCHEDULERS", "DEFAULT_LR"]
