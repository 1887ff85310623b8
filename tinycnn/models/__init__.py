"""Model zoo: one file per family, built only from ``tinycnn.nn``.

``get_model(name, **kwargs)`` builds a registered model by name, ``list_models()`` lists the names and
``describe_model(name)`` gives the one-line description (its builder's docstring). Three kinds of builders:

* torchvision's models, identical to them (parameter count, state-dict keys and shapes, outputs);
* the papers' own versions where torchvision's differ (``alexnet_2012``, ``zfnet``, ``googlenet_2014``,
  ``lenet5_1998``) and the blocks the GoogLeNet paper compares (``NaiveInception`` beside ``InceptionBlock``);
* d2l.ai's small variants for 1-channel Fashion-MNIST (``*_d2l``, ``*_small``, ``nin``, ``lenet5``).
"""
from __future__ import annotations

from .alexnet import AlexNet, AlexNet2012, alexnet, alexnet_2012, alexnet_d2l, alexnet_small, paper_lrn
from .densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121, densenet161, densenet169, densenet201
from .efficientnet import (EFFICIENTNET_SCALES, EfficientNet, EfficientNetScale, MBConv, StochasticDepth,
                           build_efficientnet, compound_scaling, efficientnet_b0, efficientnet_b1, efficientnet_b2,
                           efficientnet_b3, efficientnet_b4, efficientnet_b5, efficientnet_b6, efficientnet_b7,
                           scale_b0)
from .googlenet import (BasicConv2d, GoogLeNet, GoogLeNetOutputs, Inception, InceptionAux, googlenet,
                        googlenet_loss)
from .googlenet_paper import (GOOGLENET_TABLE1, GoogLeNet2014, InceptionAux2014, InceptionBlock, NaiveInception,
                              Table1Row, googlenet_2014, googlenet_d2l)
from .inception import Inception3, InceptionOutputs, inception_v3, inception_v3_loss
from .lenet import lenet5
from .lenet_paper import C3_TABLE, EuclideanRBF, LeNet5_1998, PartialConv2d, ScaledTanh, Subsampling, lenet5_1998
from .mobilenet import (DepthwiseSeparableConv, InvertedResidual, SqueezeExcitation, mobilenet_v1, mobilenet_v2,
                        mobilenet_v3_large, mobilenet_v3_small)
from .nin import nin, nin_block
from .resnet import (BasicBlock, Bottleneck, ResNet, resnet18, resnet18_small, resnet34, resnet50, resnet101,
                     resnet152, resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2,
                     wide_resnet101_2)
from .shufflenet import (shufflenet_v1, shufflenet_v2_x0_5, shufflenet_v2_x1_0, shufflenet_v2_x1_5,
                         shufflenet_v2_x2_0)
from .vgg import (VGG, cfgs, make_layers, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn,
                  vgg_block, vgg_small)
from .zfnet import ZFNet, zfnet

MODELS: dict = {builder.__name__: builder for builder in (
    lenet5, lenet5_1998,
    alexnet, alexnet_2012, alexnet_d2l, zfnet,
    vgg11, vgg13, vgg16, vgg19, vgg11_bn, vgg13_bn, vgg16_bn, vgg19_bn, vgg_small,
    nin,
    googlenet, googlenet_2014, googlenet_d2l, inception_v3,
    resnet18, resnet34, resnet50, resnet101, resnet152, resnet18_small,
    resnext50_32x4d, resnext101_32x8d, resnext101_64x4d, wide_resnet50_2, wide_resnet101_2,
    densenet121, densenet161, densenet169, densenet201,
    mobilenet_v1, mobilenet_v2, mobilenet_v3_small, mobilenet_v3_large,
    shufflenet_v1, shufflenet_v2_x0_5, shufflenet_v2_x1_0, shufflenet_v2_x1_5, shufflenet_v2_x2_0,
    efficientnet_b0, efficientnet_b1, efficientnet_b2, efficientnet_b3, efficientnet_b4, efficientnet_b5,
    efficientnet_b6, efficientnet_b7,
)}
MODELS["alexnet_small"] = alexnet_small  # d2l's AlexNet under its older name


# The input each model is defined for, where it is not ImageNet's 3x224x224.
_INPUT_SIZES = {
    "lenet5": (1, 28, 28), "lenet5_1998": (1, 28, 28), "alexnet_2012": (3, 227, 227),
    "alexnet_d2l": (1, 224, 224), "alexnet_small": (1, 224, 224), "vgg_small": (1, 224, 224), "nin": (1, 224, 224),
    "googlenet_d2l": (1, 96, 96), "resnet18_small": (1, 96, 96), "inception_v3": (3, 299, 299),
    **{f"efficientnet_{v}": (3, s.resolution, s.resolution) for v, s in EFFICIENTNET_SCALES.items()},
}


# The square sides the models that do not take any image from a small side up train on: (smallest, largest),
# None where unbounded. The paper networks that check their input take only their own side; d2l's AlexNet and
# VGG end in a Linear sized for the last feature map (5x5, 7x7), which a range of sides gives; Inception v3
# trains from 299x299 up, where its auxiliary classifier's 5x5 conv still gets a 5x5 map (the 17x17 grid
# pooled 5/3), though in eval mode it takes 75x75.
_TRAINING_SIDES = {
    "alexnet_2012": (227, 227), "zfnet": (224, 224), "googlenet_2014": (224, 224), "lenet5_1998": (28, 28),
    "alexnet_d2l": (193, 224), "alexnet_small": (193, 224), "vgg_small": (224, 255), "inception_v3": (299, None),
}


def training_sides(name: str) -> tuple:
    """(smallest, largest) square side the model trains on where it is bounded (None: no known bound)."""
    _builder(name)
    return _TRAINING_SIDES.get(name, (None, None))


def default_input_size(name: str) -> tuple:
    """(C, H, W) of the input the model is defined for: its paper's, torchvision's or d2l's."""
    _builder(name)
    return _INPUT_SIZES.get(name, (3, 224, 224))


def list_models() -> list:
    """Names accepted by ``get_model``, sorted."""
    return sorted(MODELS)


def describe_model(name: str) -> str:
    """The first sentence of the builder's docstring (what ``tinycnn summary --list`` prints)."""
    doc = (_builder(name).__doc__ or "").strip()
    return " ".join(doc.split("\n\n")[0].split())


def _builder(name: str):
    try:
        return MODELS[name]
    except KeyError:
        raise ValueError(f"get_model: unknown model {name!r}; available: {', '.join(list_models())}") from None


def get_model(name: str, **kwargs):
    """Build the model registered as ``name`` (keyword arguments go to its builder)."""
    return _builder(name)(**kwargs)
