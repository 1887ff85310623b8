"""The affine map of a fully connected layer, as one fused ``Function``."""
from __future__ import annotations

from ..autograd import Function, Tensor
from ..errors import ShapeError
from ..accel.blas import matmul


class LinearFunction(Function):
    """y = x W^T + b over the last axis.

    Shapes: x (*, in), W (out, in), b (out,), y (*, out), where * is any number of leading axes (none for
    a single vector). Flattening the leading axes to M rows, X (M, in), Y = X W^T (M, out), so with
    G = dL/dY (M, out):
        dL/dX = G W          (M, out)(out, in)   -> reshaped back to x's shape
        dL/dW = G^T X        (out, M)(M, in)     (each row of X contributes an outer product)
        dL/db = sum_rows G   (out,)              (b was broadcast over the rows)
    One Function instead of matmul + transpose + add keeps the graph small and needs no unbroadcast.
    """

    def forward(self, x, w, b=None):
        self.x, self.w = x, w
        y = matmul(x, w.T)
        return y + b if b is not None else y

    def backward(self, gy):
        x, w = self.x, self.w
        g2 = gy.reshape(-1, gy.shape[-1]) if gy.ndim != 2 else gy
        gx = gw = gb = None
        if self.needs_input_grad[0]:
            gx = matmul(gy, w)
        if self.needs_input_grad[1]:
            x2 = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
            gw = matmul(g2.T, x2)
        if self.needs_input_grad[2]:
            gb = g2.sum(axis=0)
        return gx, gw, gb


def linear(input, weight, bias=None, *, _layer: str | None = None):
    """y = input @ weight^T + bias, input (*, in_features), weight (out_features, in_features)."""
    for name, t in (("input", input), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"linear: expected {name} to be a Tensor, got {type(t).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"linear: expected a 2-D weight (out_features, in_features), "
                         f"got shape {tuple(weight.shape)}")
    out_f, in_f = weight.shape
    if input.ndim == 0 or input.shape[-1] != in_f:
        who = _layer or f"linear with weight of shape {tuple(weight.shape)}"
        raise ShapeError(f"{who} expects input with {in_f} features in its last dimension, "
                         f"got input of shape {tuple(input.shape)}")
    if bias is not None and tuple(bias.shape) != (out_f,):
        raise ValueError(f"linear: expected bias of shape ({out_f},), got shape {tuple(bias.shape)}")
    if input.dtype != weight.dtype:
        raise TypeError(f"{_layer or 'linear'}: input dtype {input.dtype} differs from the weight's "
                        f"{weight.dtype} (convert one with .to(dtype) / .float() / .double())")
    return LinearFunction.apply(input, weight, bias)
