"""Model zoo: one file per family, built only from ``tinycnn.nn``.

``get_model(name, **kwargs)`` builds a registered model by name, ``list_models()`` lists the names; each
section below adds its builders to ``MODELS``.
"""
from __future__ import annotations

MODELS: dict = {}


def list_models() -> list:
    """Names accepted by ``get_model``, sorted."""
    return sorted(MODELS)


def get_model(name: str, **kwargs):
    """Build the model registered as ``name`` (keyword arguments go to its builder)."""
    try:
        builder = MODELS[name]
    except KeyError:
        raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(list_models())}") from None
    return builder(**kwargs)


# --- part A ---
from .alexnet import AlexNet, alexnet, alexnet_d2l, alexnet_small  # noqa: E402
from .densenet import DenseBlock, DenseLayer, DenseNet, Transition  # noqa: E402
from .densenet import densenet121, densenet161, densenet169, densenet201  # noqa: E402
from .googlenet import (BasicConv2d, GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux,  # noqa: E402
                        googlenet, googlenet_loss)
from .nin import nin, nin_block  # noqa: E402
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet18, resnet18_small, resnet34,  # noqa: E402
                     resnet50, resnet101, resnet152, resnext50_32x4d)
from .vgg import (VGG, cfgs, make_layers, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn,  # noqa: E402
                  vgg19, vgg19_bn, vgg_block, vgg_small)

MODELS.update({
    "alexnet": alexnet, "alexnet_d2l": alexnet_d2l, "alexnet_small": alexnet_small,
    "vgg11": vgg11, "vgg13": vgg13, "vgg16": vgg16, "vgg19": vgg19,
    "vgg11_bn": vgg11_bn, "vgg13_bn": vgg13_bn, "vgg16_bn": vgg16_bn, "vgg19_bn": vgg19_bn,
    "vgg_small": vgg_small, "nin": nin, "googlenet": googlenet,
    "resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50, "resnet101": resnet101,
    "resnet152": resnet152, "resnext50_32x4d": resnext50_32x4d, "resnet18_small": resnet18_small,
    "densenet121": densenet121, "densenet161": densenet161, "densenet169": densenet169,
    "densenet201": densenet201,
})
# --- end part A ---

# --- part B ---
from .efficientnet import MBConv, StochasticDepth, efficientnet_b0  # noqa: E402
from .mobilenet import (DepthwiseSeparableConv, InvertedResidual, SqueezeExcitation,  # noqa: E402
                        mobilenet_v1, mobilenet_v2, mobilenet_v3_large, mobilenet_v3_small)
from .shufflenet import shufflenet_v1, shufflenet_v2_x0_5, shufflenet_v2_x1_0  # noqa: E402

MODELS.update({
    "mobilenet_v1": mobilenet_v1, "mobilenet_v2": mobilenet_v2,
    "mobilenet_v3_small": mobilenet_v3_small, "mobilenet_v3_large": mobilenet_v3_large,
    "shufflenet_v1": shufflenet_v1, "shufflenet_v2_x0_5": shufflenet_v2_x0_5,
    "shufflenet_v2_x1_0": shufflenet_v2_x1_0, "efficientnet_b0": efficientnet_b0,
})
# --- end part B ---

# --- lenet (lead) ---
from .lenet import lenet5  # noqa: E402

MODELS["lenet5"] = lenet5
# --- end lenet ---
