"""2-D convolution (im2col + one matrix product per group), its textbook backward, and unfold/fold.

Notation (one group; groups repeat it on channel blocks): input x (N, C, H, W), weight w (Cout, C, kh, kw),
stride s, padding p, dilation d, output y (N, Cout, OH, OW), K = C*kh*kw, L = OH*OW.
"""
from __future__ import annotations

import numbers

from ..autograd import Function
from ..backend import get_array_module
from ..config import get_config
from ..errors import ShapeError
from ..kernels import get_kernels
from ..kernels.numpy_kernels import conv_out_size
from ..accel.blas import matmul
from ._args import array_of
from ._sizes import _pair, conv_padding, shape_str

class Conv2dFunction(Function):
    r"""y = conv2d(x, w, b): cross-correlation, as in every deep-learning library.

    Forward
        y[n, o, a, b] = b[o] + sum_{c,i,j} w[o, c, i, j] * xpad[n, c, a*s + i*d, b*s + j*d]
    im2col copies each receptive field into a column, cols (K, N*L) (the whole batch side by side), so
        Y = W2 @ cols,   W2 = w.reshape(Cout, K)  ->  (Cout, N*L)  -> transposed to (N, Cout, OH, OW)
    is one GEMM per group (groups: W2 (G, Cout/G, K/G) @ cols (G, K/G, N*L), a batched product).

    Backward, with gy = dLoss/dy (N, Cout, OH, OW) and GY = gy as (Cout, N*L):
    * bias:   gb[o] = sum_{n,a,b} gy[n, o, a, b]                                  (Cout,)
    * weight: gw[o, c, i, j] = sum_{n,a,b} gy[n,o,a,b] * xpad[n, c, a*s+i*d, b*s+j*d]
              = GY @ cols^T  (Cout, N*L) @ (N*L, K) -> (Cout, K): the input correlated with the output
              gradient (the gradient plays the kernel, dilated by the stride).
    * input, "rot180" (textbook): each x pixel (row r of the padded input) got weight w[i] from every
      output a with a*s + i*d = r, so
              gxpad[r] = sum_i gy[(r - i*d)/s] * w[i]          (terms with a non-integer/out-of-range a vanish)
      Insert s-1 zeros between the gy rows (dilate by the stride) -> D, of length (OH-1)s+1; pad it with
      d(k-1) zeros in front: that is a *full* correlation of D with the kernel flipped (rot180 over i, j),
                  gx[n, c] = sum_o  full_corr(D[n, o], rot180(w[o, c]))  -- channel axes swapped: o <-> c
      computed as im2col(D') (stride 1, dilation d) then Wrot (C, Cout*kh*kw) @ cols. D' is padded/cropped so
      the result covers exactly the rows pt .. pt+H-1 of the padded input: front pad d(k-1) - pt, total
      length H + d(k-1). When (H + 2p - d(k-1) - 1) is not a multiple of s, the last rows of x never reach
      an output; they fall on the zero tail of D' and get gradient 0, and gx has x's exact shape.
    * input, "col2im": GCOLS = W2^T @ GY (K, N*L) is dL/dcols; col2im adds each entry back onto the pixel
      it was copied from -- the adjoint of im2col, the same sum as above grouped by output.
    cols is not kept from forward to backward: it is x copied kh*kw times over, while x itself is held by the
    graph anyway, so backward makes it again from x when the weight gradient needs it (ResNet-18 at 224x224:
    its first layer's cols is 118 MB at batch 16, alive for the whole step if kept, for one product if not).

    Direct path (Numba kernels, stride 1, dilation 1, one group, few channels: LeNet's layers): the same
    three sums computed per image without materialising cols, which for such layers costs more memory
    traffic than the skinny GEMM saves (``accel/numba_direct.py`` derives the index mapping). Tests check
    it against this im2col path in float64; ``tinycnn.config(conv_direct=False)`` turns it off.

    Winograd path (Numba kernels, 3x3, stride 1, one group, 16 or more channels: ResNet's and VGG's layers):
    the same sums regrouped by Winograd's F(2x2, 3x3) identity, 4 multiply-adds per output and channel pair
    instead of 9 (``accel/winograd.py`` derives it and its backward), or on planes of 14x14 outputs and more
    by F(4x4, 3x3), 2.25 (``accel/winograd_f4.py``). Tests check it against this path in
    float64; ``tinycnn.config(conv_winograd=False)`` turns it off.

    1x1 path (Numba set, 1x1 kernel, no padding, one group: MobileNet's pointwise layers, ResNet's shortcuts):
    cols would be x with two axes swapped, so each image is one product W2 @ x[n] instead, no copies
    (``accel/pointwise.py``). Tests check it against this path in float64; ``conv_direct=False`` turns it off.

    Small-plane path (1 group, input and output planes of at most 2x2 pixels: ResNet-18's last stages at CIFAR
    size): the layer as a linear map of the whole plane, Y = X @ Weff^T, computed tap by tap (one product per
    tap over the pixels it reads, the taps that read padding left out), no cols, no transforms
    (``accel/small_plane.py`` derives it). Tests check it against this path in float64; ``conv_direct=False``
    turns it off.

    Depthwise path (Numba kernels, groups = C_in, one input channel per kernel: MobileNet's layers, any
    kernel size, stride, padding, dilation and channel multiplier): the same sums with a single input
    channel c = o // m per output channel o, each output plane summed straight from its input plane, where
    im2col would copy the input kh*kw times for C tiny GEMMs (``accel/numba_depthwise.py`` derives the index
    mapping). Tests check it against this im2col path in float64; ``conv_direct=False`` turns it off too.

    Which input gradient runs is the ``conv_backward`` setting of ``tinycnn.config`` ("col2im" by default:
    measured faster in benchmarks/conv_bench.py, no zero-inserted gradient to unfold).
    """

    def forward(self, x, w, b=None, *, stride, padding, dilation, groups):
        kern = get_kernels(x)
        self.params = (stride, padding, dilation, groups)
        self.path = fast_conv_path(kern, x.shape, w.shape, stride, padding, dilation, groups)
        self.w, self.x_shape = w, x.shape
        if self.path == "direct":            # no cols: backward recomputes the shifted rows from x
            self.x = x
            return kern.conv2d_direct_forward(x, w, b, padding)
        if self.path == "winograd":          # keeps x and the transformed kernel U instead of cols
            y, self.u = kern.winograd_forward(x, w, b, padding)
            self.x = x
            return y
        if self.path == "pointwise":         # keeps the pixels read, (N, C, L), instead of cols
            y, self.xs = kern.pointwise_conv2d_forward(x, w, b, stride)
            return y
        if self.path == "small_plane":       # keeps x and w by tap instead of cols
            y, self.taps = kern.small_plane_conv2d_forward(x, w, b, stride, padding, dilation)
            self.x = x
            return y
        if self.path == "depthwise":         # no cols either: backward reads x again
            self.x = x
            return kern.depthwise_conv2d_forward(x, w, b, stride, padding, dilation)
        n, c, h, wd = x.shape
        cout, cg, kh, kw = w.shape
        cols = kern.im2col(x, (kh, kw), stride, padding, dilation)           # (C*kh*kw, N*L)
        oh = conv_out_size(h, kh, stride[0], padding[0] + padding[1], dilation[0])
        ow = conv_out_size(wd, kw, stride[1], padding[2] + padding[3], dilation[1])
        if groups == 1:
            y = matmul(w.reshape(cout, -1), cols)                             # one GEMM: (Cout, N*L)
        else:
            y = matmul(w.reshape(groups, cout // groups, -1), cols.reshape(groups, cg * kh * kw, -1))
        y = y.reshape(cout, n, oh, ow).transpose(1, 0, 2, 3)
        xp = get_array_module(x)
        out = xp.empty((n, cout, oh, ow), dtype=x.dtype)
        if b is None:
            out[...] = y                                                       # the transpose copy
        else:
            xp.add(y, b.reshape(1, cout, 1, 1), out=out)                       # transpose copy + bias, fused
        if self.needs_input_grad and self.needs_input_grad[1]:
            self.x = x                       # backward makes cols again: x is held by the graph anyway
        if "cols_pool" in kern.PROVIDES:     # reuse the big buffer at once (accel/cols_pool.py)
            kern.release_cols(cols)
        return out

    def backward(self, gy):
        stride, padding, dilation, groups = self.params
        need_x, need_w = self.needs_input_grad[0], self.needs_input_grad[1]
        need_b = len(self.needs_input_grad) > 2 and self.needs_input_grad[2]
        if self.path == "direct":
            return self._direct_backward(gy, padding, need_x, need_w, need_b)
        if self.path == "pointwise":
            return get_kernels(gy).pointwise_conv2d_backward(gy, self.xs, self.w, self.x_shape, stride,
                                                             need_x=need_x, need_w=need_w, need_b=need_b)
        if self.path == "winograd":
            gx, gw = get_kernels(gy).winograd_backward(gy, self.u, self.x, self.w.shape, padding,
                                                       need_x=need_x, need_w=need_w)
            return gx, gw, (gy.sum(axis=(0, 2, 3)) if need_b else None)
        if self.path == "small_plane":
            return get_kernels(gy).small_plane_conv2d_backward(gy, self.x, self.taps, self.w.shape, stride, padding,
                                                               dilation, need_x=need_x, need_w=need_w, need_b=need_b)
        if self.path == "depthwise":
            return get_kernels(gy).depthwise_conv2d_backward(gy, self.x, self.w, stride, padding, dilation,
                                                             need_x=need_x, need_w=need_w, need_b=need_b)
        w = self.w
        cout, cg, kh, kw = w.shape
        kern = get_kernels(gy)
        gb = gy.sum(axis=(0, 2, 3)) if need_b else None
        gx = gw = None
        if need_x or need_w:
            gy_g = gy.transpose(1, 0, 2, 3).reshape(groups, cout // groups, -1)   # GY per group, one copy
        if need_w:
            cols = kern.im2col(self.x, (kh, kw), stride, padding, dilation)     # forward's cols, made again
            gw = matmul(gy_g, cols.reshape(groups, cg * kh * kw, -1).transpose(0, 2, 1)).reshape(w.shape)
            if "cols_pool" in kern.PROVIDES:
                kern.release_cols(cols)
            del cols
        if need_x:
            if get_config().conv_backward == "rot180":
                gx = conv_input_grad_rot180(gy, w, self.x_shape, stride, padding, dilation, groups)
            else:
                w_g = w.reshape(groups, cout // groups, cg * kh * kw)
                gcols = matmul(w_g.transpose(0, 2, 1), gy_g).reshape(groups * cg * kh * kw, -1)
                gx = kern.col2im(gcols, self.x_shape, (kh, kw), stride, padding, dilation)
        return gx, gw, gb

    def _direct_backward(self, gy, padding, need_x, need_w, need_b):
        # one pass over the batch gives all three (gb is a by-product of gw)
        gx, gw, gb = get_kernels(gy).conv2d_direct_backward(gy, self.x, self.w, self.x_shape, padding,
                                                            need_x=need_x, need_w=need_w or need_b)
        return gx, (gw if need_w else None), (gb if need_b else None)


def fast_conv_path(kern, x_shape, w_shape, stride, padding, dilation, groups):
    """Which im2col-free path of the kernel set ``kern`` computes this layer under the current
    ``tinycnn.config``: "direct", "pointwise", "small_plane", "winograd", "depthwise", or None for im2col (see
    Conv2dFunction)."""
    settings = get_config()
    if settings.conv_direct and "direct_conv" in kern.PROVIDES \
            and kern.direct_conv_applies(x_shape, w_shape, stride, dilation, groups):
        return "direct"
    if settings.conv_direct and "pointwise_conv" in kern.PROVIDES \
            and kern.pointwise_conv_applies(x_shape, w_shape, padding, groups, dilation):
        return "pointwise"
    if settings.conv_direct and "small_plane_conv" in kern.PROVIDES \
            and kern.small_plane_conv_applies(x_shape, w_shape, stride, padding, dilation, groups):
        return "small_plane"
    if settings.conv_winograd and "winograd" in kern.PROVIDES \
            and kern.winograd_applies(x_shape, w_shape, stride, padding, dilation, groups):
        return "winograd"
    if settings.conv_direct and "depthwise_conv" in kern.PROVIDES \
            and kern.depthwise_conv_applies(x_shape, w_shape, groups):
        return "depthwise"
    return None


def conv_input_grad_rot180(gy, w, x_shape, stride, padding, dilation, groups):
    """dL/dx as the full correlation of the stride-dilated gy with the rotated, channel-swapped kernel."""
    xp = get_array_module(gy)
    n, c, h, wd = x_shape
    cout, cg, kh, kw = w.shape
    (sh, sw), (pt, _, pl, _), (dh, dw) = stride, padding, dilation
    oh, ow = gy.shape[2], gy.shape[3]
    hf, wf = h + dh * (kh - 1), wd + dw * (kw - 1)          # so a stride-1 'valid' correlation gives H x W
    front_h, front_w = dh * (kh - 1) - pt, dw * (kw - 1) - pl  # where gy[0, 0] lands in D' (may be < 0)
    d = xp.zeros((n, cout, hf, wf), dtype=gy.dtype)

    def rows(front, s, out, full):
        first = max(0, -(front // s) if front < 0 else 0)    # outputs whose row falls before D' are cropped
        last = min(out, (full - 1 - front) // s + 1)          # ... and those past its end
        return first, last, front + first * s

    a0, a1, r0 = rows(front_h, sh, oh, hf)
    b0, b1, c0 = rows(front_w, sw, ow, wf)
    if a1 > a0 and b1 > b0:
        d[:, :, r0:r0 + (a1 - a0 - 1) * sh + 1:sh, c0:c0 + (b1 - b0 - 1) * sw + 1:sw] = gy[:, :, a0:a1, b0:b1]
    cols = get_kernels(gy).im2col(d, (kh, kw), (1, 1), (0, 0, 0, 0), dilation)   # (Cout*kh*kw, N*H*W)
    # rot180 over (i, j), and per group swap the channel axes: Wrot[g, c, (o, i, j)] = w[g, o, c, -i, -j]
    w_rot = w[:, :, ::-1, ::-1].reshape(groups, cout // groups, cg, kh, kw).transpose(0, 2, 1, 3, 4)
    w_rot = w_rot.reshape(groups, cg, (cout // groups) * kh * kw)
    gx = w_rot @ cols.reshape(groups, (cout // groups) * kh * kw, -1)            # (G, Cg, N*H*W)
    return xp.ascontiguousarray(gx.reshape(c, n, h, wd).transpose(1, 0, 2, 3))


# ---- validation ---------------------------------------------------------------------------------------------
def check_conv_args(x_shape, w_shape, groups, padding4, dilation, layer: str, bias_shape=None):
    """ValueError naming the layer for every malformed conv2d call (shapes only: no data is touched)."""
    if len(x_shape) != 4:
        raise ValueError(f"{layer} expects a 4-D input (N, C, H, W), got input of shape {shape_str(x_shape)}")
    if len(w_shape) != 4:
        raise ValueError(f"{layer}: weight must be 4-D (Cout, Cin/groups, kh, kw), got {shape_str(w_shape)}")
    if not isinstance(groups, numbers.Integral) or groups < 1:
        raise ValueError(f"{layer}: groups must be a positive integer, got {groups!r}")
    cout, cg, kh, kw = w_shape
    if min(w_shape) < 1:
        raise ValueError(f"{layer}: kernel size must be positive, got weight of shape {shape_str(w_shape)}")
    if cout % groups:
        raise ValueError(f"{layer}: out_channels ({cout}) must be divisible by groups ({groups})")
    if x_shape[1] != cg * groups:
        raise ShapeError(f"{layer} expects {cg * groups} input channels, got input of shape "
                         f"{shape_str(x_shape)}")
    if bias_shape is not None and tuple(bias_shape) != (cout,):
        raise ValueError(f"{layer}: bias must have shape ({cout},), got {shape_str(bias_shape)}")
    pt, pb, pl, pr = padding4
    eh, ew = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    hp, wp = x_shape[2] + pt + pb, x_shape[3] + pl + pr
    if eh > hp or ew > wp:
        raise ValueError(f"{layer}: kernel {kh}x{kw} (dilated extent {eh}x{ew}) is larger than the padded "
                         f"input {hp}x{wp} (input {x_shape[2]}x{x_shape[3]} plus padding); "
                         f"got input of shape {shape_str(x_shape)}")



def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *, _layer="conv2d"):
    """PyTorch's ``F.conv2d``: input (N, Cin, H, W), weight (Cout, Cin/groups, kh, kw), bias (Cout,).

    ``stride``, ``dilation``: int or pair; ``padding``: int, pair, 'valid' or 'same' (stride 1 only).
    """
    stride = _pair(stride, "stride", _layer)
    dilation = _pair(dilation, "dilation", _layer)
    w_shape = array_of(weight).shape
    if len(w_shape) != 4:
        raise ValueError(f"{_layer}: weight must be 4-D (Cout, Cin/groups, kh, kw), got {shape_str(w_shape)}")
    pad4 = conv_padding(padding, w_shape[2:], stride, dilation, _layer)
    x = array_of(input)
    check_conv_args(x.shape, w_shape, groups, pad4, dilation, _layer,
                    None if bias is None else array_of(bias).shape)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and array_of(t).dtype != x.dtype:
            raise TypeError(f"{_layer}: input is {x.dtype} but {name} is {array_of(t).dtype}; "
                            f"convert one of them (e.g. model.double() or x.float())")
    return Conv2dFunction.apply(input, weight, bias, stride=stride, padding=pad4, dilation=dilation,
                                groups=int(groups))


# ---- unfold / fold (public im2col / col2im in PyTorch's (N, C*kh*kw, L) layout) ------------------------------
class Unfold(Function):
    """cols[n, (c,i,j), l] = xpad[n, c, a*s + i*d, b*s + j*d] with l = a*OW + b.  Backward: each column
    entry was a copy of one pixel, so gx = fold(gcols) (col2im: entries are summed onto their pixel)."""

    def forward(self, x, *, kernel_size, stride, padding, dilation):
        kern = get_kernels(x)
        n = x.shape[0]
        cols = kern.im2col(x, kernel_size, stride, padding, dilation)          # (K, N*L)
        self.x_shape, self.params = x.shape, (kernel_size, stride, padding, dilation)
        return get_array_module(x).ascontiguousarray(
            cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2))

    def backward(self, gy):
        cols = gy.transpose(1, 0, 2).reshape(gy.shape[1], -1)
        return get_kernels(gy).col2im(cols, self.x_shape, *self.params)


class Fold(Function):
    """x[n, c, r, q] = sum of the column entries that unfold would read from pixel (r, q) (col2im).
    Backward: fold is linear and its adjoint is unfold, so gcols = unfold(gx)."""

    def forward(self, cols, *, x_shape, kernel_size, stride, padding, dilation):
        k = cols.shape[1]
        self.params = (kernel_size, stride, padding, dilation)
        return get_kernels(cols).col2im(cols.transpose(1, 0, 2).reshape(k, -1), x_shape, *self.params)

    def backward(self, gy):
        n = gy.shape[0]
        cols = get_kernels(gy).im2col(gy, *self.params)
        return get_array_module(gy).ascontiguousarray(cols.reshape(cols.shape[0], n, -1).transpose(1, 0, 2))


def _unfold_params(kernel_size, dilation, padding, stride, name):
    k = _pair(kernel_size, "kernel_size", name)
    d = _pair(dilation, "dilation", name)
    p = _pair(padding, "padding", name, allow_zero=True)
    s = _pair(stride, "stride", name)
    return k, s, (p[0], p[0], p[1], p[1]), d


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """PyTorch's ``F.unfold``: (N, C, H, W) -> (N, C*kh*kw, L), L = OH*OW (im2col, made visible)."""
    k, s, p, d = _unfold_params(kernel_size, dilation, padding, stride, "unfold")
    x = array_of(input)
    if x.ndim != 4:
        raise ValueError(f"unfold expects a 4-D input (N, C, H, W), got input of shape {shape_str(x.shape)}")
    check_conv_args(x.shape, (1, x.shape[1], *k), 1, p, d, "unfold")
    return Unfold.apply(input, kernel_size=k, stride=s, padding=p, dilation=d)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """PyTorch's ``F.fold``: (N, C*kh*kw, L) -> (N, C, *output_size), overlapping entries summed."""
    k, s, p, d = _unfold_params(kernel_size, dilation, padding, stride, "fold")
    out_hw = _pair(output_size, "output_size", "fold")
    cols = array_of(input)
    if cols.ndim != 3:
        raise ValueError(f"fold expects a 3-D input (N, C*kh*kw, L), got input of shape {shape_str(cols.shape)}")
    if cols.shape[1] % (k[0] * k[1]) or cols.shape[1] == 0:
        raise ValueError(f"fold: input.shape[1] = {cols.shape[1]} must be a positive multiple of kh*kw = "
                         f"{k[0] * k[1]}")
    oh = conv_out_size(out_hw[0], k[0], s[0], 2 * p[0], d[0])
    ow = conv_out_size(out_hw[1], k[1], s[1], 2 * p[2], d[1])
    if oh < 1 or ow < 1 or cols.shape[2] != oh * ow:
        raise ValueError(f"fold: output_size {out_hw} with this kernel/stride/padding/dilation gives "
                         f"{oh}x{ow} = {oh * ow} blocks, got input of shape {shape_str(cols.shape)}")
    x_shape = (cols.shape[0], cols.shape[1] // (k[0] * k[1]), *out_hw)
    return Fold.apply(input, x_shape=x_shape, kernel_size=k, stride=s, padding=p, dilation=d)
