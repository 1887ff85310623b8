"""Triangles and diagonals of matrices: tril, triu, diagonal, diag, diag_embed, diagflat, trace.

Over the last two dims (tril/triu) or the two dims named (diagonal/diag_embed), with batch dims in
front. The element (i, j) lies on diagonal k = j - i: k = 0 the main one, k > 0 above it, k < 0 below.

- tril / triu keep a triangle and zero the rest: y = x * M with a fixed 0/1 mask, so gx = gy * M.
- diagonal reads the elements with j - i = k into a new last dim; diag_embed writes a last dim onto such
  a diagonal of zeros. Each is the other's adjoint: the backward of diagonal is diag_embed of gy (zeros
  off the diagonal), and the backward of diag_embed is diagonal of gy.
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import get_array_module
from ..errors import ShapeError
from ._args import dim_arg, tensor_arg


def _diag_index(n1: int, n2: int, offset: int, xp):
    """Rows and columns of the elements on diagonal ``offset`` of an n1 x n2 matrix."""
    rows = xp.arange(max(0, -offset), min(n1, n2 - offset)) if n2 - offset > 0 else xp.arange(0)
    return rows, rows + offset


class Triangle(Function):
    """y = x where the element is kept (tril: j - i <= k, triu: j - i >= k), else 0.  gx = gy * mask."""

    def forward(self, x, *, k, lower):
        xp = get_array_module(x)
        rows = xp.arange(x.shape[-2])[:, None]
        cols = xp.arange(x.shape[-1])[None, :]
        self.mask = (cols - rows <= k) if lower else (cols - rows >= k)
        return xp.where(self.mask, x, 0).astype(x.dtype, copy=False)

    def backward(self, gy):
        return get_array_module(gy).where(self.mask, gy, 0)


def _triangle(input, diagonal, lower, op):
    x = tensor_arg(input, op)
    if x.ndim < 2:
        raise ShapeError(f"{op}(): expected a tensor with at least 2 dims, got shape {tuple(x.shape)}")
    return Triangle.apply(x, k=int(diagonal), lower=lower)


def tril(input, diagonal: int = 0):
    """The lower triangle (j - i <= diagonal) of the last two dims; zeros above."""
    return _triangle(input, diagonal, True, "tril")


def triu(input, diagonal: int = 0):
    """The upper triangle (j - i >= diagonal) of the last two dims; zeros below."""
    return _triangle(input, diagonal, False, "triu")


class Diagonal(Function):
    """y[..., t] = x[..., r_t, ..., c_t, ...] for the positions (r_t, c_t) of diagonal ``offset`` in the
    dims (d1, d2), which move to the end.  gx = zeros; gx[..., r_t, ..., c_t, ...] = gy[..., t]."""

    def forward(self, x, *, offset, d1, d2):
        xp = get_array_module(x)
        self.shape, self.offset, self.d1, self.d2 = x.shape, offset, d1, d2
        return xp.diagonal(x, offset=offset, axis1=d1, axis2=d2)

    def backward(self, gy):
        xp = get_array_module(gy)
        gx = xp.zeros(self.shape, dtype=gy.dtype)
        rows, cols = _diag_index(self.shape[self.d1], self.shape[self.d2], self.offset, xp)
        moved = xp.moveaxis(gx, (self.d1, self.d2), (-2, -1))  # a view: writing it writes gx
        moved[..., rows, cols] = gy
        return gx


def diagonal(input, offset: int = 0, dim1: int = 0, dim2: int = 1):
    """The diagonal ``offset`` of the matrices in dims (dim1, dim2), as a new last dim (a view)."""
    x = tensor_arg(input, "diagonal")
    d1, d2 = dim_arg(dim1, x.ndim, "diagonal"), dim_arg(dim2, x.ndim, "diagonal")
    if d1 == d2:
        raise ValueError(f"diagonal(): dim1 and dim2 must differ, got {dim1} and {dim2}")
    return Diagonal.apply(x, offset=int(offset), d1=d1, d2=d2)


_diagonal = diagonal  # for diag(), whose argument is named ``diagonal`` as in PyTorch


class DiagEmbed(Function):
    """y = zeros with two new dims (d1, d2), and x's last dim written onto their diagonal ``offset``:
    y[..., r_t, ..., c_t, ...] = x[..., t].  gx = the same diagonal of gy."""

    def forward(self, x, *, offset, d1, d2):
        xp = get_array_module(x)
        n = x.shape[-1] + abs(offset)
        out_ndim = x.ndim + 1
        batch = x.shape[:-1]
        y = xp.zeros(batch + (n, n), dtype=x.dtype)
        rows, cols = _diag_index(n, n, offset, xp)
        y[..., rows, cols] = x
        self.offset, self.d1, self.d2 = offset, d1, d2
        return xp.moveaxis(y, (out_ndim - 2, out_ndim - 1), (d1, d2))  # the new dims go to (d1, d2)

    def backward(self, gy):
        return get_array_module(gy).diagonal(gy, offset=self.offset, axis1=self.d1, axis2=self.d2).copy()


def diag_embed(input, offset: int = 0, dim1: int = -2, dim2: int = -1):
    """Matrices whose diagonal ``offset`` (in the new dims dim1, dim2) holds the last dim of ``input``."""
    x = tensor_arg(input, "diag_embed")
    if x.ndim == 0:
        raise ShapeError("diag_embed(): expected a tensor with at least 1 dim, got a 0-d tensor")
    d1 = dim_arg(dim1, x.ndim + 1, "diag_embed")
    d2 = dim_arg(dim2, x.ndim + 1, "diag_embed")
    if d1 == d2:
        raise ValueError(f"diag_embed(): dim1 and dim2 must differ, got {dim1} and {dim2}")
    if d1 > d2:  # diag_embed(x, k, 1, 0) is the transpose of diag_embed(x, k, 0, 1): diagonal -k
        d1, d2, offset = d2, d1, -offset
    return DiagEmbed.apply(x, offset=int(offset), d1=d1, d2=d2)


def diag(input, diagonal: int = 0):
    """1-D input: the square matrix with it on diagonal ``diagonal``; 2-D input: that diagonal as 1-D."""
    x = tensor_arg(input, "diag")
    if x.ndim == 1:
        return diag_embed(x, diagonal, 0, 1)
    if x.ndim == 2:
        return _diagonal(x, diagonal, 0, 1)
    raise ShapeError(f"diag(): expected a 1-D or 2-D tensor, got shape {tuple(x.shape)}")


def diagflat(input, offset: int = 0):
    """The flattened input on diagonal ``offset`` of a square matrix."""
    return diag_embed(tensor_arg(input, "diagflat").reshape(-1), offset, 0, 1)


def trace(input):
    """The sum of the main diagonal of a 2-D tensor."""
    x = tensor_arg(input, "trace")
    if x.ndim != 2:
        raise ShapeError(f"trace(): expected a 2-D tensor, got shape {tuple(x.shape)}")
    return diagonal(x).sum()


TENSOR_METHODS = {
    "tril": tril, "triu": triu, "diagonal": diagonal, "diag": diag, "diag_embed": diag_embed,
    "diagflat": diagflat, "trace": trace,
}
