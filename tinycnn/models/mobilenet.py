"""MobileNet V1, V2 and V3 in one import (each family lives in its own file)."""
from .mobilenet_common import Conv2dNormActivation, SqueezeExcitation, make_divisible
from .mobilenet_v1 import DepthwiseSeparableConv, MobileNetV1, mobilenet_v1
from .mobilenet_v2 import InvertedResidual, MobileNetV2, mobilenet_v2
from .mobilenet_v3 import MobileNetV3, mobilenet_v3_large, mobilenet_v3_small
from .mobilenet_v3 import InvertedResidual as InvertedResidualV3
