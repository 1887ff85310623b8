"""Transposed 2-D convolution (``F.conv_transpose2d``): the convolution's input gradient used as a layer.

Notation (one group; groups repeat it on channel blocks): input x (N, Cin, H, W), weight w (Cin, Cout, kh,
kw) -- note the order, it is the weight of the convolution that maps the *output* space back to the input
space --, stride s, padding p, dilation d, output_padding q, output y (N, Cout, OH, OW) with
OH = (H - 1)s - 2p + d(kh - 1) + q + 1 (``_sizes.conv_transpose_output_size``).
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import get_array_module
from ..config import get_config
from ..kernels import get_kernels
from ..accel.blas import matmul
from ._args import array_of
from ._sizes import _pair, conv_transpose_output_size, shape_str
from .conv import conv_input_grad_rot180


def _canvas(out_hw, padding, output_padding):
    """The part of y that a convolution with this geometry reads, and that convolution's 4-sided padding.

    A convolution over y with padding p reads rows -p .. (H-1)s - p + d(k-1). The output_padding q adds q
    rows after them: q <= p of them fall in the bottom padding (which shrinks to p - q), the rest (q - p
    when q > p) are rows no window reaches -- y is 0 (plus the bias) there and they get no gradient.
    """
    (oh, ow), (ph, pw), (qh, qw) = out_hw, padding, output_padding
    bottom, right = ph - qh, pw - qw
    canvas = (oh + min(bottom, 0), ow + min(right, 0))
    return canvas, (ph, max(bottom, 0), pw, max(right, 0))


class ConvTranspose2dFunction(Function):
    r"""y = conv_transpose2d(x, w, b): scatter each input pixel, times the kernel, onto the output.

    Forward: every input pixel x[n, ci, a, b] adds x * w[ci, co, i, j] to y[n, co, a*s - p + i*d,
    b*s - p + j*d]. For a convolution C (weight w, same s, p, d) from y's space to x's space,
        C(y)[n, ci, a, b] = sum_{co,i,j} w[ci, co, i, j] * ypad[n, co, a*s + i*d, b*s + j*d],
    that is exactly y = C^T x: **the forward pass is the convolution's input gradient** with x in the role
    of the output gradient. So it is computed the two ways ``Conv2dFunction`` computes that gradient
    (the ``conv_backward`` setting of ``tinycnn.config`` chooses for both):
    * "col2im": cols = W2^T @ X  ((Cout*kh*kw, Cin) @ (Cin, N*H*W)), then col2im adds every column entry
      onto the output pixel it belongs to;
    * "rot180": the full correlation of the stride-dilated x with the rotated, channel-swapped kernel.

    Backward, with gy = dL/dy: since y = C^T x is linear in x and C is linear in w,
    * input:  gx = C(gy) -- **the backward pass is the convolution** of gy with w (im2col(gy), then
              W2 (Cin, Cout*kh*kw) @ cols (Cout*kh*kw, N*H*W));
    * weight: L depends on w through <gy, C_w^T x> = <C_w(gy), x>, so gw is the convolution's weight
              gradient with gy as its input and x as its output gradient:
              gw[ci, co, i, j] = sum_{n,a,b} x[n, ci, a, b] * gypad[n, co, a*s + i*d, b*s + j*d]
              = X (Cin, N*H*W) @ cols^T (N*H*W, Cout*kh*kw);
    * bias:   gb[co] = sum_{n,a,b} gy[n, co, a, b].
    One im2col of gy serves both products. With groups G every product is per channel block (batched).
    """

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups, output_padding):
        xp = get_array_module(x)
        n, cin, h, wd = x.shape
        _, cout_g, kh, kw = w.shape
        cout = cout_g * groups
        out_hw = tuple(conv_transpose_output_size(size, k, s, p, dd, q) for size, k, s, p, dd, q in
                       zip((h, wd), (kh, kw), stride, padding, dilation, output_padding))
        canvas, pad4 = _canvas(out_hw, padding, output_padding)
        self.x, self.w, self.params = x, w, (stride, pad4, dilation, groups, canvas)
        if get_config().conv_backward == "rot180":
            y = conv_input_grad_rot180(x, w, (n, cout, *canvas), stride, pad4, dilation, groups)
        else:
            x_g = x.transpose(1, 0, 2, 3).reshape(groups, cin // groups, -1)          # X per group
            w_g = w.reshape(groups, cin // groups, cout_g * kh * kw)
            cols = matmul(w_g.transpose(0, 2, 1), x_g).reshape(cout * kh * kw, -1)   # W2^T @ X
            y = get_kernels(x).col2im(cols, (n, cout, *canvas), (kh, kw), stride, pad4, dilation)
        if canvas != out_hw:     # output_padding beyond the padding: rows/columns no input pixel reaches
            full = xp.zeros((n, cout, *out_hw), dtype=y.dtype)
            full[:, :, :canvas[0], :canvas[1]] = y
            y = full
        if b is not None:
            y += b.reshape(1, cout, 1, 1)
        return y

    def backward(self, gy):
        stride, pad4, dilation, groups, canvas = self.params
        x, w = self.x, self.w
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        n, cin, h, wd = x.shape
        _, cout_g, kh, kw = w.shape
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        gx = gw = None
        if need_x or need_w:
            gy_c = get_array_module(gy).ascontiguousarray(gy[:, :, :canvas[0], :canvas[1]])
            cols = get_kernels(gy).im2col(gy_c, (kh, kw), stride, pad4, dilation)    # (Cout*kh*kw, N*H*W)
            cols_g = cols.reshape(groups, cout_g * kh * kw, -1)
            if need_x:     # the convolution of gy with w
                w_g = w.reshape(groups, cin // groups, cout_g * kh * kw)
                gx = matmul(w_g, cols_g).reshape(cin, n, h, wd).transpose(1, 0, 2, 3)
                gx = get_array_module(gy).ascontiguousarray(gx)
            if need_w:     # the convolution's weight gradient: x plays the output gradient
                x_g = x.transpose(1, 0, 2, 3).reshape(groups, cin // groups, -1)
                gw = matmul(x_g, cols_g.transpose(0, 2, 1)).reshape(w.shape)
        return gx, gw, gb


# ---- validation and the functional form ----------------------------------------------------------------------
def check_conv_transpose_args(x_shape, w_shape, groups, stride, padding, dilation, output_padding, layer: str,
                              bias_shape=None):
    """ValueError naming the layer for every malformed conv_transpose2d call (shapes only)."""
    if len(x_shape) != 4:
        raise ValueError(f"{layer} expects a 4-D input (N, C, H, W), got input of shape {shape_str(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{layer}: weight must be 4-D (Cin, Cout/groups, kh, kw), got {shape_str(w_shape)}")
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{layer}: groups must be a positive integer, got {groups!r}")
    cin, cout_g, kh, kw = w_shape
    if min(w_shape) < 1:
        raise ValueError(f"{layer}: kernel size must be positive, got weight of shape {shape_str(w_shape)}")
    if cin % groups:
        raise ValueError(f"{layer}: in_channels ({cin}) must be divisible by groups ({groups})")
    if x_shape[1] != cin:
        raise ValueError(f"{layer} expects {cin} input channels, got input of shape {shape_str(x_shape)}")
    if bias_shape is not None and tuple(bias_shape) != (cout_g * groups,):
        raise ValueError(f"{layer}: bias must have shape ({cout_g * groups},), got {shape_str(bias_shape)}")
    for axis in range(2):
        if output_padding[axis] >= max(stride[axis], dilation[axis]):
            raise ValueError(f"{layer}: output_padding must be smaller than either stride or dilation, got "
                             f"output_padding={tuple(output_padding)}, stride={tuple(stride)}, "
                             f"dilation={tuple(dilation)}")
    out = [conv_transpose_output_size(x_shape[2 + a], (kh, kw)[a], stride[a], padding[a], dilation[a],
                                      output_padding[a]) for a in range(2)]
    if min(out) < 1:
        raise ValueError(f"{layer}: the output would be {out[0]}x{out[1]} (padding {tuple(padding)} is too "
                         f"large for input of shape {shape_str(x_shape)})")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1,
                     *, _layer="conv_transpose2d"):
    """PyTorch's ``F.conv_transpose2d``: input (N, Cin, H, W), weight (Cin, Cout/groups, kh, kw), bias (Cout,).

    ``stride``, ``padding``, ``output_padding``, ``dilation``: int or pair (note PyTorch's argument order:
    groups before dilation). ``output_padding`` adds that many rows/columns to one side of the output (it
    picks among the output sizes a strided convolution maps to the same input size).
    """
    stride = _pair(stride, "stride", _layer)
    dilation = _pair(dilation, "dilation", _layer)
    padding = _pair(padding, "padding", _layer, allow_zero=True)
    output_padding = _pair(output_padding, "output_padding", _layer, allow_zero=True)
    x, w_shape = array_of(input), array_of(weight).shape
    check_conv_transpose_args(x.shape, w_shape, groups, stride, padding, dilation, output_padding, _layer,
                              None if bias is None else array_of(bias).shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and array_of(t).dtype != x.dtype:
            raise TypeError(f"{_layer}: input is {x.dtype} but {name} is {array_of(t).dtype}; "
                            f"convert one of them (e.g. model.double() or x.float())")
    return ConvTranspose2dFunction.apply(input, weight, bias, stride=stride, padding=padding, dilation=dilation,
                                         groups=int(groups), output_padding=output_padding)


def output_padding_for(input_hw, output_size, kernel_size, stride, padding, dilation, layer: str):
    """The output_padding that gives ``output_size`` (the last two entries are used), as PyTorch's
    ``ConvTranspose2d.forward(x, output_size)``: it must lie between the smallest size and that plus stride-1."""
    size = tuple(int(v) for v in output_size)[-2:]
    if len(size) != 2:
        raise ValueError(f"{layer}: output_size must give the 2 spatial sizes, got {output_size!r}")
    pads = []
    for a in range(2):
        smallest = conv_transpose_output_size(input_hw[a], kernel_size[a], stride[a], padding[a], dilation[a])
        if not smallest <= size[a] < smallest + stride[a]:
            raise ValueError(f"{layer}: requested an output size of {size}, but valid sizes range from "
                             f"{smallest} to {smallest + stride[a] - 1} along dimension {a} "
                             f"(for an input with spatial size {tuple(input_hw)})")
        pads.append(size[a] - smallest)
    return tuple(pads)
