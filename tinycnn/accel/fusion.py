"""``fuse(model)``: replace each ``Conv2d``, ``ReLU``, ``MaxPool2d`` run inside a ``Sequential`` by one
``FusedConv2dReLUMaxPool2d`` layer (the pattern of LeNet, AlexNet and VGG), which computes the three in one
pass where the fused Numba kernel applies (``tinycnn/ops/fused.py``).

Nothing is fused behind the user's back: a model runs a fused layer only when ``fuse`` put one in it, and
``print(model)`` shows it. The fused layer holds the convolution's own ``weight`` and ``bias`` Parameters
under the convolution's name, and ReLU and max pooling have no state, so the model's ``state_dict`` keys,
its parameters and an optimizer built on them are the same before and after: checkpoints of either load into
the other. Outputs and gradients are the same numbers, bit for bit (tests check it).

Only those exact classes are matched, and only while their ``forward`` is the class's own and no hook
watches them (a hook or a wrapped ``forward`` means someone wants to see each layer called). A
``MaxPool2d`` that returns its indices and a ``Conv2d`` whose ``padding_mode`` is not "zeros" are left
alone. ``tinycnn.config(fusion=False)`` makes a fused layer run its three ops one after another.
"""
from __future__ import annotations

from ..nn.containers import Sequential
from ..nn.layers.activation import ReLU
from ..nn.layers.conv import Conv2d
from ..nn.layers.pooling import MaxPool2d
from ..nn.module import Module
from ..ops.fused import conv2d_relu_max_pool2d


class FusedConv2dReLUMaxPool2d(Module):
    """``max_pool2d(relu(conv2d(x)))`` as one layer, made by ``fuse`` from a Conv2d, ReLU, MaxPool2d run.

    ``weight`` and ``bias`` are the convolution's Parameters (the same objects); the other attributes are
    the convolution's (``stride``, ``padding``...) and the pooling's (``pool_kernel_size``, ``pool_stride``...).
    """

    def __init__(self, conv: Conv2d, pool: MaxPool2d):
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = conv.in_channels, conv.out_channels, conv.kernel_size
        self.stride, self.padding, self.dilation, self.groups = conv.stride, conv.padding, conv.dilation, conv.groups
        self.weight = conv.weight
        self.register_parameter("bias", conv.bias)
        self.pool_kernel_size, self.pool_stride, self.pool_padding = pool.kernel_size, pool.stride, pool.padding
        self.pool_dilation, self.ceil_mode = pool.dilation, pool.ceil_mode
        self._conv_repr, self._pool_repr = conv.extra_repr(), pool.extra_repr()
        self._conv_label = conv._label()
        self._pool_label = f"MaxPool2d({pool.extra_repr()})"

    def forward(self, input):
        return conv2d_relu_max_pool2d(
            input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups,
            pool_kernel_size=self.pool_kernel_size, pool_stride=self.pool_stride, pool_padding=self.pool_padding,
            pool_dilation=self.pool_dilation, ceil_mode=self.ceil_mode, _layer=self._conv_label,
            _pool_layer=self._pool_label)

    def extra_repr(self) -> str:
        return f"Conv2d({self._conv_repr}) -> ReLU -> MaxPool2d({self._pool_repr})"


def _plain(module, cls) -> bool:
    return type(module) is cls and "forward" not in module.__dict__ and not module._has_hooks()


def _fusable(conv, act, pool) -> bool:
    return (_plain(conv, Conv2d) and conv.padding_mode == "zeros" and _plain(act, ReLU)
            and _plain(pool, MaxPool2d) and not pool.return_indices)


def _fuse_sequential(seq: Sequential) -> int:
    items = list(seq._modules.items())
    kept, fused, i = [], 0, 0
    while i < len(items):
        run = [m for _, m in items[i:i + 3]]
        if len(run) == 3 and _fusable(*run):
            kept.append((items[i][0], FusedConv2dReLUMaxPool2d(run[0], run[2])))   # under the conv's name
            fused, i = fused + 1, i + 3
        else:
            kept.append(items[i])
            i += 1
    if fused:
        seq._modules.clear()
        seq._modules.update(kept)
    return fused


def fuse(model: Module) -> Module:
    """Fuse every Conv2d -> ReLU -> MaxPool2d run in every ``Sequential`` of ``model`` (module docstring), in
    place; returns ``model``. Fusing a fused model changes nothing."""
    if not isinstance(model, Module):
        raise TypeError(f"tinycnn.accel.fuse: expected a tinycnn.nn.Module, got {type(model).__name__}")
    for module in list(model.modules()):
        if isinstance(module, Sequential):
            _fuse_sequential(module)
    return model
