"""``torchvision.models`` for tinycnn: the zoo's builders with torchvision's arguments.

    from tinycnn.vision import models
    model = models.resnet18(weights=None, num_classes=10)
    model = models.resnet18(weights=models.ResNet18_Weights.DEFAULT)      # downloads torchvision's file once
    model = models.resnet18(weights="resnet18-f37072fd.pth")               # or reads one already on disk
    preprocess = models.ResNet18_Weights.DEFAULT.transforms()

``weights`` is None (random initialisation), a weights enum member or its name (``"IMAGENET1K_V1"``,
``"DEFAULT"``), or the path of a state dict (a ``.pth`` written by ``torch.save(model.state_dict())``, read
without PyTorch, or a ``.npz`` from ``tinycnn.save``). Named weights are fetched from torchvision's URL into
``cache_dir()/hub/checkpoints/`` (atomically; the file name ends in the first hex digits of its SHA-256,
which is checked, as torchvision checks it) and need ``num_classes=1000``. The URLs and evaluation sizes
below are those of torchvision 0.29's weights enums. ``progress`` shows the download's progress bar.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from .. import models as _zoo
from ..utils.serialization import load as _load_npz
from ..utils.torch_loader import load_torch_state_dict
from . import transforms as T
from .datasets.utils import DataFileError, cache_dir, download_file, file_digest
from .presets import IMAGENET_MEAN, IMAGENET_STD

_BASE = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class Weights:
    """One set of pretrained weights: where it is, and the preprocessing it was evaluated with."""
    url: str
    crop_size: int = 224
    resize_size: int = 256
    interpolation: str = "bilinear"
    num_classes: int = 1000

    @property
    def filename(self) -> str:
        return self.url.rsplit("/", 1)[-1]

    def transforms(self) -> T.Compose:
        """Resize, centre crop, ToTensor and ImageNet normalisation, as torchvision's ImageClassification."""
        return T.Compose([T.Resize(self.resize_size, interpolation=self.interpolation), T.CenterCrop(self.crop_size),
                          T.ToTensor(), T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])

    def get_state_dict(self, progress: bool = True, model_dir=None) -> dict:
        folder = Path(model_dir) if model_dir is not None else cache_dir() / "hub" / "checkpoints"
        path = folder / self.filename
        if not path.is_file():
            download_file(self.filename, folder, [self.url], lambda tmp: check_hash_prefix(tmp, self.filename),
                          progress=progress)
        return load_torch_state_dict(path)


def check_hash_prefix(path: Path, name: str) -> None:
    """torchvision's files are named <model>-<first hex digits of their SHA-256>.pth: check that they are."""
    match = re.search(r"-([a-f0-9]{6,})\.", name)
    if match is None:
        return
    digest = file_digest(path)
    if not digest.startswith(match.group(1)):
        raise DataFileError(f"{name}: SHA-256 {digest} does not start with {match.group(1)}, as its name says")


class WeightsEnum(Enum):
    """Base of the per-model weights enums (``ResNet18_Weights.IMAGENET1K_V1``, ``.DEFAULT``)."""

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def meta(self) -> dict:
        return {"num_classes": self.value.num_classes, "crop_size": self.value.crop_size,
                "resize_size": self.value.resize_size}

    def transforms(self) -> T.Compose:
        return self.value.transforms()

    def get_state_dict(self, progress: bool = True, model_dir=None) -> dict:
        return self.value.get_state_dict(progress, model_dir)


# name -> (weights enum name, {weights name: (file, crop, resize, interpolation)}, default weights name)
_TABLE = {
    "alexnet": ("AlexNet_Weights", {"IMAGENET1K_V1": ("alexnet-owt-7be5be79.pth",)}, "IMAGENET1K_V1"),
    "vgg11": ("VGG11_Weights", {"IMAGENET1K_V1": ("vgg11-8a719046.pth",)}, "IMAGENET1K_V1"),
    "vgg13": ("VGG13_Weights", {"IMAGENET1K_V1": ("vgg13-19584684.pth",)}, "IMAGENET1K_V1"),
    "vgg16": ("VGG16_Weights", {"IMAGENET1K_V1": ("vgg16-397923af.pth",)}, "IMAGENET1K_V1"),
    "vgg19": ("VGG19_Weights", {"IMAGENET1K_V1": ("vgg19-dcbb9e9d.pth",)}, "IMAGENET1K_V1"),
    "vgg11_bn": ("VGG11_BN_Weights", {"IMAGENET1K_V1": ("vgg11_bn-6002323d.pth",)}, "IMAGENET1K_V1"),
    "vgg13_bn": ("VGG13_BN_Weights", {"IMAGENET1K_V1": ("vgg13_bn-abd245e5.pth",)}, "IMAGENET1K_V1"),
    "vgg16_bn": ("VGG16_BN_Weights", {"IMAGENET1K_V1": ("vgg16_bn-6c64b313.pth",)}, "IMAGENET1K_V1"),
    "vgg19_bn": ("VGG19_BN_Weights", {"IMAGENET1K_V1": ("vgg19_bn-c79401a0.pth",)}, "IMAGENET1K_V1"),
    "googlenet": ("GoogLeNet_Weights", {"IMAGENET1K_V1": ("googlenet-1378be20.pth",)}, "IMAGENET1K_V1"),
    "resnet18": ("ResNet18_Weights", {"IMAGENET1K_V1": ("resnet18-f37072fd.pth",)}, "IMAGENET1K_V1"),
    "resnet34": ("ResNet34_Weights", {"IMAGENET1K_V1": ("resnet34-b627a593.pth",)}, "IMAGENET1K_V1"),
    "resnet50": ("ResNet50_Weights", {"IMAGENET1K_V1": ("resnet50-0676ba61.pth",),
                                      "IMAGENET1K_V2": ("resnet50-11ad3fa6.pth", 224, 232)}, "IMAGENET1K_V2"),
    "resnet101": ("ResNet101_Weights", {"IMAGENET1K_V1": ("resnet101-63fe2227.pth",),
                                        "IMAGENET1K_V2": ("resnet101-cd907fc2.pth", 224, 232)}, "IMAGENET1K_V2"),
    "resnet152": ("ResNet152_Weights", {"IMAGENET1K_V1": ("resnet152-394f9c45.pth",),
                                        "IMAGENET1K_V2": ("resnet152-f82ba261.pth", 224, 232)}, "IMAGENET1K_V2"),
    "resnext50_32x4d": ("ResNeXt50_32X4D_Weights", {"IMAGENET1K_V1": ("resnext50_32x4d-7cdf4587.pth",),
                                                    "IMAGENET1K_V2": ("resnext50_32x4d-1a0047aa.pth", 224, 232)},
                        "IMAGENET1K_V2"),
    "densenet121": ("DenseNet121_Weights", {"IMAGENET1K_V1": ("densenet121-a639ec97.pth",)}, "IMAGENET1K_V1"),
    "densenet161": ("DenseNet161_Weights", {"IMAGENET1K_V1": ("densenet161-8d451a50.pth",)}, "IMAGENET1K_V1"),
    "densenet169": ("DenseNet169_Weights", {"IMAGENET1K_V1": ("densenet169-b2777c0a.pth",)}, "IMAGENET1K_V1"),
    "densenet201": ("DenseNet201_Weights", {"IMAGENET1K_V1": ("densenet201-c1103571.pth",)}, "IMAGENET1K_V1"),
    "mobilenet_v2": ("MobileNet_V2_Weights", {"IMAGENET1K_V1": ("mobilenet_v2-b0353104.pth",),
                                              "IMAGENET1K_V2": ("mobilenet_v2-7ebf99e0.pth", 224, 232)},
                     "IMAGENET1K_V2"),
    "mobilenet_v3_small": ("MobileNet_V3_Small_Weights", {"IMAGENET1K_V1": ("mobilenet_v3_small-047dcff4.pth",)},
                           "IMAGENET1K_V1"),
    "mobilenet_v3_large": ("MobileNet_V3_Large_Weights", {"IMAGENET1K_V1": ("mobilenet_v3_large-8738ca79.pth",),
                                                          "IMAGENET1K_V2": ("mobilenet_v3_large-5c1a4163.pth", 224,
                                                                            232)}, "IMAGENET1K_V2"),
    "shufflenet_v2_x0_5": ("ShuffleNet_V2_X0_5_Weights", {"IMAGENET1K_V1": ("shufflenetv2_x0.5-f707e7126e.pth",)},
                           "IMAGENET1K_V1"),
    "shufflenet_v2_x1_0": ("ShuffleNet_V2_X1_0_Weights", {"IMAGENET1K_V1": ("shufflenetv2_x1-5666bf0f80.pth",)},
                           "IMAGENET1K_V1"),
    "efficientnet_b0": ("EfficientNet_B0_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b0_rwightman-7f5810bc.pth", 224, 256, "bicubic")},
                        "IMAGENET1K_V1"),
    "inception_v3": ("Inception_V3_Weights", {"IMAGENET1K_V1": ("inception_v3_google-0cc3c7bd.pth", 299, 342)},
                     "IMAGENET1K_V1"),
    "wide_resnet50_2": ("Wide_ResNet50_2_Weights", {"IMAGENET1K_V1": ("wide_resnet50_2-95faca4d.pth",),
                                                    "IMAGENET1K_V2": ("wide_resnet50_2-9ba9bcbe.pth", 224, 232)},
                        "IMAGENET1K_V2"),
    "wide_resnet101_2": ("Wide_ResNet101_2_Weights", {"IMAGENET1K_V1": ("wide_resnet101_2-32ee1156.pth",),
                                                      "IMAGENET1K_V2": ("wide_resnet101_2-d733dc28.pth", 224, 232)},
                         "IMAGENET1K_V2"),
    "resnext101_32x8d": ("ResNeXt101_32X8D_Weights", {"IMAGENET1K_V1": ("resnext101_32x8d-8ba56ff5.pth",),
                                                      "IMAGENET1K_V2": ("resnext101_32x8d-110c445d.pth", 224, 232)},
                         "IMAGENET1K_V2"),
    "resnext101_64x4d": ("ResNeXt101_64X4D_Weights", {"IMAGENET1K_V1": ("resnext101_64x4d-173b62eb.pth", 224, 232)},
                         "IMAGENET1K_V1"),
    "shufflenet_v2_x1_5": ("ShuffleNet_V2_X1_5_Weights",
                           {"IMAGENET1K_V1": ("shufflenetv2_x1_5-3c479a10.pth", 224, 232)}, "IMAGENET1K_V1"),
    "shufflenet_v2_x2_0": ("ShuffleNet_V2_X2_0_Weights",
                           {"IMAGENET1K_V1": ("shufflenetv2_x2_0-8be3c8ee.pth", 224, 232)}, "IMAGENET1K_V1"),
    "efficientnet_b1": ("EfficientNet_B1_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b1_rwightman-bac287d4.pth", 240, 256, "bicubic"),
                         "IMAGENET1K_V2": ("efficientnet_b1-c27df63c.pth", 240, 255)}, "IMAGENET1K_V2"),
    "efficientnet_b2": ("EfficientNet_B2_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b2_rwightman-c35c1473.pth", 288, 288, "bicubic")},
                        "IMAGENET1K_V1"),
    "efficientnet_b3": ("EfficientNet_B3_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b3_rwightman-b3899882.pth", 300, 320, "bicubic")},
                        "IMAGENET1K_V1"),
    "efficientnet_b4": ("EfficientNet_B4_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b4_rwightman-23ab8bcd.pth", 380, 384, "bicubic")},
                        "IMAGENET1K_V1"),
    "efficientnet_b5": ("EfficientNet_B5_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b5_lukemelas-1a07897c.pth", 456, 456, "bicubic")},
                        "IMAGENET1K_V1"),
    "efficientnet_b6": ("EfficientNet_B6_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b6_lukemelas-24a108a5.pth", 528, 528, "bicubic")},
                        "IMAGENET1K_V1"),
    "efficientnet_b7": ("EfficientNet_B7_Weights",
                        {"IMAGENET1K_V1": ("efficientnet_b7_lukemelas-c5b4e57e.pth", 600, 600, "bicubic")},
                        "IMAGENET1K_V1"),
}
# Their pretrained weights were trained on inputs normalised inside the network and with the auxiliary heads,
# which torchvision then drops unless asked for: the same defaults here.
_AUX_HEADS = {"googlenet": ("aux1", "aux2"), "inception_v3": ("AuxLogits",)}


def _make_enum(enum_name: str, entries: dict, default: str):
    members = []
    for key, (filename, *sizes) in entries.items():
        crop, resize, interp = (sizes + [224, 256, "bilinear"][len(sizes):])[:3]
        members.append((key, Weights(_BASE + filename, crop, resize, interp)))
    members.append(("DEFAULT", dict(members)[default]))       # an alias, as in torchvision
    return WeightsEnum(enum_name, members)


def _resolve(name: str, enum_cls, weights):
    """None, a member of ``enum_cls``, or a path to a state dict file."""
    if weights is None or isinstance(weights, enum_cls):
        return weights
    if isinstance(weights, WeightsEnum):
        raise ValueError(f"{name}: weights {weights!r} belong to another model; expected a member of "
                         f"{enum_cls.__name__}")
    if isinstance(weights, str):
        key = weights.split(".", 1)[1] if weights.startswith(enum_cls.__name__ + ".") else weights
        if key in enum_cls.__members__:
            return enum_cls[key]
    if isinstance(weights, (str, os.PathLike)) and Path(weights).expanduser().is_file():
        return Path(weights).expanduser()
    raise ValueError(f"{name}: weights={weights!r} is neither one of {list(enum_cls.__members__)} nor an existing "
                     f"state dict file (.pth or .npz)")


def _state_dict_from_file(path: Path) -> dict:
    if path.suffix == ".npz":
        state = _load_npz(path, as_tensors=False)
        return state["model"] if isinstance(state, dict) and "model" in state and "format" in state else state
    return load_torch_state_dict(path)


def _make_builder(name: str, enum_cls):
    zoo_builder = _zoo.MODELS[name]

    def build(*, weights=None, progress: bool = True, **kwargs):
        if kwargs.pop("pretrained", False):      # torchvision's older argument
            weights = weights if weights is not None else enum_cls.DEFAULT
        chosen = _resolve(name, enum_cls, weights)
        keep_aux = kwargs.get("aux_logits", False)
        if isinstance(chosen, WeightsEnum):
            wanted = chosen.value.num_classes
            if kwargs.setdefault("num_classes", wanted) != wanted:
                raise ValueError(f"{name}: the parameter 'num_classes' expected value {wanted} with weights "
                                 f"{chosen.name} but got {kwargs['num_classes']} instead (load them with "
                                 f"{wanted} classes, then replace the head)")
            if name in _AUX_HEADS:
                kwargs.setdefault("transform_input", True)
                kwargs["aux_logits"] = True
        model = zoo_builder(**kwargs)
        if chosen is not None:
            state = chosen.get_state_dict(progress) if isinstance(chosen, WeightsEnum) else \
                _state_dict_from_file(chosen)
            model.load_state_dict(state)
            if isinstance(chosen, WeightsEnum) and name in _AUX_HEADS and not keep_aux:
                model.aux_logits = False
                for head in _AUX_HEADS[name]:
                    setattr(model, head, None)
        return model

    build.__name__ = build.__qualname__ = name
    build.__doc__ = (f"{name}(*, weights=None, progress=True, **kwargs): tinycnn.models.{name} with torchvision's "
                     f"arguments; weights from {enum_cls.__name__} or a state dict file.")
    return build


_BUILDERS: dict = {}
_ENUMS: dict = {}
for _name, (_enum_name, _entries, _default) in _TABLE.items():
    if _name not in _zoo.MODELS:
        continue
    _ENUMS[_name] = globals()[_enum_name] = _make_enum(_enum_name, _entries, _default)
    _BUILDERS[_name] = globals()[_name] = _make_builder(_name, _ENUMS[_name])


def list_models() -> list[str]:
    """The torchvision model names this module builds."""
    return sorted(_BUILDERS)


def get_model(name: str, **config):
    """``get_model("resnet18", weights=None, num_classes=10)``, as torchvision's."""
    if name not in _BUILDERS:
        raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(list_models())}")
    return _BUILDERS[name](**config)


def get_model_weights(name: str):
    """The weights enum of model ``name``."""
    if name not in _ENUMS:
        raise ValueError(f"get_model_weights: unknown model {name!r}; available: {', '.join(list_models())}")
    return _ENUMS[name]


def get_weight(name: str):
    """The weights member named ``"<Enum>.<member>"``, for example ``"ResNet18_Weights.IMAGENET1K_V1"``."""
    enum_name, _, member = name.partition(".")
    for enum_cls in _ENUMS.values():
        if enum_cls.__name__ == enum_name and member in enum_cls.__members__:
            return enum_cls[member]
    raise ValueError(f"get_weight: unknown weights {name!r}")


__all__ = ["Weights", "WeightsEnum", "list_models", "get_model", "get_model_weights", "get_weight",
           *_BUILDERS, *(e.__name__ for e in _ENUMS.values())]
