"""The speed layer: everything that makes tinycnn fast and nothing it needs to be correct.

* ``fuse(model)``: an explicit pass that replaces Conv2d -> ReLU -> MaxPool2d runs by one fused layer
  (``fusion.py``); ``tinycnn train`` calls it, a model built by hand runs unfused until it is fused.

The textbook path (``tinycnn.config(kernels="numpy", conv_backward="rot180", fusion=False)``) runs none of it.
"""
from .fusion import FusedConv2dReLUMaxPool2d, fuse

__all__ = ["fuse", "FusedConv2dReLUMaxPool2d"]
