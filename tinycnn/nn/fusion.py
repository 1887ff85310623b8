"""Which runs of layers ``Sequential`` computes as one fused op (``tinycnn/ops/fused.py``).

A ``Conv2d``, ``ReLU``, ``MaxPool2d`` run (LeNet, AlexNet, VGG) becomes one ``conv2d_relu_max_pool2d`` call:
the same numbers as the three layers one after another, in one pass where the fused kernel applies. Only
those exact classes are matched, and only while their ``forward`` is the class's own and no hook watches them:
a subclass, a tool that wraps an instance's ``forward`` to watch it (``utils.summary``, ``receptive_field``),
or a module hook sees every layer called. A ``MaxPool2d`` that returns its indices, and a ``Conv2d`` whose
``padding_mode`` is not "zeros", are left alone. ``tinycnn.ops.fused.set_fusion(False)`` turns
fusion off.
"""
from __future__ import annotations

from ..ops.fused import conv2d_relu_max_pool2d
from .layers.activation import ReLU
from .layers.conv import Conv2d
from .layers.pooling import MaxPool2d


def _plain(module, cls) -> bool:
    return type(module) is cls and "forward" not in module.__dict__ and not module._has_hooks()


def fused_call(modules, i, x):
    """(output, number of modules consumed) when modules[i:] starts a fusable run, else None."""
    conv = modules[i]
    if not _plain(conv, Conv2d) or conv.padding_mode != "zeros" or i + 2 >= len(modules):
        return None
    act, pool = modules[i + 1], modules[i + 2]
    if not _plain(act, ReLU) or not _plain(pool, MaxPool2d) or pool.return_indices:
        return None
    y = conv2d_relu_max_pool2d(
        x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups,
        pool_kernel_size=pool.kernel_size, pool_stride=pool.stride, pool_padding=pool.padding,
        pool_dilation=pool.dilation, ceil_mode=pool.ceil_mode,
        _layer=f"Conv2d({conv.in_channels}, {conv.out_channels})", _pool_layer=f"MaxPool2d({pool.extra_repr()})")
    return y, 3
