"""Max unpooling (``F.max_unpool2d``, ``F.max_unpool1d``): put each pooled maximum back where it came from.

The indices are the ones ``max_pool2d(..., return_indices=True)`` returns: for every output of the pooling,
the flat position h*W + w of its maximum inside its (H, W) input plane (PyTorch's convention).
"""
from __future__ import annotations

from ..autograd import Function, Tensor
from ..backend import get_array_module, to_device
from ._sizes import _pair, shape_str


class MaxUnpool2dFunction(Function):
    r"""y = max_unpool2d(x, idx): a zero plane of the output size with y[n, c, idx[n, c, a, b]] = x[n, c, a, b].

    Each input element lands on one output position (a scatter); every other position is 0. So
        dy[p]/dx[a, b] = [p = idx[a, b]],   gx[n, c, a, b] = gy[n, c, idx[n, c, a, b]]
    a gather of the output gradient at the same indices: the backward of unpooling is the max pooling's
    own routing run forwards. (If two inputs name the same position, as overlapping pooling windows can,
    one of them is kept, as in PyTorch, and both read its gradient.)
    """

    def forward(self, x, indices, *, out_hw):
        xp = get_array_module(x)
        n, c = x.shape[:2]
        flat_idx = indices.reshape(n, c, -1)
        self.idx, self.x_shape = flat_idx, x.shape
        y = xp.zeros((n, c, out_hw[0] * out_hw[1]), dtype=x.dtype)
        planes = xp.arange(n)[:, None, None], xp.arange(c)[None, :, None]
        y[planes[0], planes[1], flat_idx] = x.reshape(n, c, -1)     # (indexing, as CuPy has no put_along_axis)
        return y.reshape(n, c, *out_hw)

    def backward(self, gy):
        xp = get_array_module(gy)
        n, c = gy.shape[:2]
        gx = xp.take_along_axis(gy.reshape(n, c, -1), self.idx, axis=2).reshape(self.x_shape)
        return gx, None


def unpool_output_size(in_hw, kernel_size, stride, padding, output_size, layer: str):
    """PyTorch's rule: (H - 1) * stride + kernel - 2 * padding, or ``output_size`` (its last entries) when it
    lies strictly within one stride of that."""
    default = tuple((in_hw[a] - 1) * stride[a] + kernel_size[a] - 2 * padding[a] for a in range(len(in_hw)))
    if output_size is None:
        return default
    size = tuple(int(s) for s in output_size)
    dims = len(in_hw)
    if len(size) == dims + 2:
        size = size[2:]
    if len(size) != dims:
        raise ValueError(f"{layer}: output_size should be a sequence containing {dims} or {dims + 2} elements, "
                         f"but it has a length of '{len(size)}'")
    for a in range(dims):
        lo, hi = default[a] - stride[a], default[a] + stride[a]
        if not lo < size[a] < hi:
            raise ValueError(f'{layer}: invalid output_size "{tuple(output_size)}" (dim {a} must be between '
                             f"{lo} and {hi})")
    return size


def _indices(indices, x, layer):
    idx = indices.array if isinstance(indices, Tensor) else indices
    idx = to_device(idx, x.device) if hasattr(idx, "dtype") else get_array_module(x.array).asarray(idx)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{layer}: indices must be an integer tensor (from max_pool2d(..., return_indices=True)), "
                        f"got dtype {idx.dtype}")
    if tuple(idx.shape) != tuple(x.shape):
        raise ValueError(f"{layer}: expected indices of the input's shape {shape_str(x.shape)}, got "
                         f"{shape_str(idx.shape)}")
    return idx.astype("int64", copy=False)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None,
                 *, _layer="max_unpool2d"):
    """PyTorch's ``F.max_unpool2d``: input (N, C, H, W) or (C, H, W) and the indices of its max pooling."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{_layer}: expected a Tensor as input, got {type(input).__name__}")
    if input.ndim not in (3, 4):
        raise ValueError(f"{_layer} expects a 3-D (C, H, W) or 4-D (N, C, H, W) input, got input of shape "
                         f"{shape_str(input.shape)}")
    k = _pair(kernel_size, "kernel_size", _layer)
    s = k if stride is None else _pair(stride, "stride", _layer)
    p = _pair(padding, "padding", _layer, allow_zero=True)
    idx = _indices(indices, input, _layer)
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    idx = idx[None] if unbatched else idx
    out_hw = unpool_output_size(tuple(x.shape[2:]), k, s, p, output_size, _layer)
    plane = out_hw[0] * out_hw[1]
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= plane):
        bad = int(idx.max()) if int(idx.max()) >= plane else int(idx.min())
        raise ValueError(f"{_layer}: found an invalid max index {bad} (the output plane {out_hw[0]}x{out_hw[1]} "
                         f"has {plane} positions)")
    y = MaxUnpool2dFunction.apply(x, idx, out_hw=out_hw)
    return y.squeeze(0) if unbatched else y


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """PyTorch's ``F.max_unpool1d`` on (N, C, L) or (C, L): the 2-D form on a height-1 plane."""
    if not isinstance(input, Tensor):
        raise TypeError(f"max_unpool1d: expected a Tensor as input, got {type(input).__name__}")
    if input.ndim not in (2, 3):
        raise ValueError(f"max_unpool1d expects a 2-D (C, L) or 3-D (N, C, L) input, got input of shape "
                         f"{shape_str(input.shape)}")

    def one(v, name):
        v = v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v
        return (1, v) if name != "padding" else (0, v)
    k = one(kernel_size, "kernel_size")
    s = k if stride is None else one(stride, "stride")
    size = None if output_size is None else (1, tuple(output_size)[-1])
    idx = indices.array if isinstance(indices, Tensor) else indices
    y = max_unpool2d(input.unsqueeze(-2), Tensor(idx[..., None, :]), k, s, one(padding, "padding"), size,
                     _layer="max_unpool1d")
    return y.squeeze(-2)
