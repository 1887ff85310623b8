"""conv2d -> relu -> max_pool2d as one ``Function``: the pattern of LeNet, AlexNet and VGG, in one pass.

``tinycnn.accel.fuse(model)`` puts a layer that calls ``conv2d_relu_max_pool2d`` where a model has a
``Conv2d``, ``ReLU``, ``MaxPool2d`` run. The function always returns ``max_pool2d(relu(conv2d(x, w, b)))``:
where the fused Numba kernel applies (the direct convolution's layers: stride 1, few channels; pooling without
padding, dilation or ceil_mode) it computes that in one pass, elsewhere, and under
``tinycnn.config(fusion=False)``, it runs the three ops one after another. Fused and separate give the same
numbers, bit for bit (tests check it).
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..config import get_config
from ..kernels import get_kernels
from ..kernels.numpy_kernels import conv_out_size
from ._args import array_of
from ._sizes import _pair, conv_padding
from .activation import relu
from .conv import check_conv_args, conv2d
from .pooling import max_pool2d

class Conv2dReLUMaxPool2dFunction(Function):
    r"""y = max_pool2d(relu(conv2d(x, w, b))), stride-1 convolution, pooling windows inside the conv output.

    Forward, per image: z = conv2d(x, w, b) (Cout, OH, OW) block by block of channels (``Conv2dFunction``'s
    sums, the same kernel); r = max(z, 0); y[o, a, c] = max of r over window (a, c), and m(a, c) = the
    position of that maximum in the window (the first one in row-major order, as ``MaxPool2dFunction``).
    z and r are never stored: only y and m.

    Backward, the chain rule through the three ops, with gy = dL/dy (N, Cout, PH, PW):
    * max pooling: dL/dr[p] = sum of gy[a, c] over the windows whose argmax m(a, c) is p;
    * ReLU: dL/dz = dL/dr * [z > 0]. At p = m(a, c), r[p] = y[a, c], and z[p] > 0 exactly when y[a, c] > 0, so
      the forward stores m(a, c) only where y[a, c] > 0 (else -1) and gz[m(a, c)] += gy[a, c] there; gz is 0
      everywhere else;
    * convolution (``Conv2dFunction``): gb[o] = sum gz[o], gw = x correlated with gz, gx = the full
      correlation of gz with the 180-degree-rotated kernel. The direct kernels lay gz out from (gy, m) per
      image as they go, so the full-size gz is never stored either.
    """

    def forward(self, x, w, b=None, *, padding, pool_kernel, pool_stride):
        y, self.idx, self.conv_hw = get_kernels(x).conv2d_direct_relu_maxpool(x, w, b, padding, pool_kernel,
                                                                               pool_stride)
        self.x, self.w, self.padding = x, w, padding
        return y

    def backward(self, gy):
        kern = get_kernels(gy)
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        gx, gw, gb = kern.conv2d_direct_backward(None, self.x, self.w, self.x.shape, self.padding, need_x=need_x,
                                                 need_w=need_w or need_b, pooled=(gy, self.idx, self.conv_hw))
        return gx, (gw if need_w else None), (gb if need_b else None)



def _fused_args(input, weight, bias, stride, padding, dilation, groups, pool, layer):
    """The fused kernel's (padding4, pool kernel, pool stride) when it applies to these arguments, else None."""
    if not get_config().fusion:
        return None
    x, w = array_of(input), array_of(weight)
    if get_array_module(x) is not get_array_module(w) or "fused_conv_relu_maxpool" not in get_kernels(x).PROVIDES:
        return None
    if x.ndim != 4 or w.ndim != 4 or x.dtype != w.dtype or (bias is not None and array_of(bias).dtype != x.dtype):
        return None                      # the separate ops raise the right error
    kernels = get_kernels(x)
    stride, dilation = _pair(stride, "stride", layer), _pair(dilation, "dilation", layer)
    pad4 = conv_padding(padding, w.shape[2:], stride, dilation, layer)
    check_conv_args(x.shape, w.shape, groups, pad4, dilation, layer, None if bias is None else array_of(bias).shape)
    if not kernels.direct_conv_applies(x.shape, w.shape, stride, dilation, groups):
        return None
    kernel_size, pool_stride, pool_padding, pool_dilation, ceil_mode = pool
    pk = _pair(kernel_size, "kernel_size", layer)
    ps = pk if pool_stride is None else _pair(pool_stride, "stride", layer)
    if _pair(pool_padding, "padding", layer, allow_zero=True) != (0, 0) or _pair(pool_dilation, "dilation",
                                                                                  layer) != (1, 1) or ceil_mode:
        return None
    oh = conv_out_size(x.shape[2], w.shape[2], 1, pad4[0] + pad4[1], 1)
    ow = conv_out_size(x.shape[3], w.shape[3], 1, pad4[2] + pad4[3], 1)
    if oh < pk[0] or ow < pk[1]:
        return None
    return pad4, pk, ps


def conv2d_relu_max_pool2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                           pool_kernel_size, pool_stride=None, pool_padding=0, pool_dilation=1,
                           ceil_mode=False, _layer="conv2d", _pool_layer="max_pool2d"):
    """``max_pool2d(relu(conv2d(input, weight, bias, ...)), pool_kernel_size, pool_stride, ...)`` with
    ``F.conv2d``'s and ``F.max_pool2d``'s arguments; one fused pass where the kernel applies (module doc)."""
    pool = (pool_kernel_size, pool_stride, pool_padding, pool_dilation, ceil_mode)
    fused = _fused_args(input, weight, bias, stride, padding, dilation, groups, pool, _layer)
    if fused is None:
        z = conv2d(input, weight, bias, stride, padding, dilation, groups, _layer=_layer)
        return max_pool2d(relu(z), pool_kernel_size, pool_stride, pool_padding, pool_dilation, ceil_mode,
                          _layer=_pool_layer)
    pad4, pk, ps = fused
    return Conv2dReLUMaxPool2dFunction.apply(input, weight, bias, padding=pad4, pool_kernel=pk, pool_stride=ps)
