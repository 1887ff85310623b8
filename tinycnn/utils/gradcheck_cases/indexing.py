"""Gradcheck cases for tinycnn.ops.indexing: PyTorch's key rule, index_*, masks."""
import numpy as np

from ...autograd import Tensor
from ...ops import indexing as ix
from .common import Case, normal

_IDX = Tensor(np.array([2, 0, 2]))
_MASK = np.array([[True, False, True, False], [False, True, True, False], [True, True, False, True]])

CASES = [
    Case("getitem_int_beside_tensor", lambda x: ix.getitem(x, (1, slice(None), 2, _IDX)), normal((2, 3, 4, 3))),
    Case("index_put", lambda x, v: ix.index_put(x, (Tensor(np.array([2, 0])),), v), normal((3, 4), 4)),
    Case("index_put_accumulate", lambda x, v: ix.index_put(x, (_IDX,), v, accumulate=True), normal((3, 4), (3, 4))),
    Case("index_select", lambda x: ix.index_select(x, 1, _IDX), normal((2, 3))),
    Case("index_add", lambda x, s: ix.index_add(x, 0, _IDX, s, alpha=2.0), normal((3, 2), (3, 2))),
    Case("index_copy", lambda x, s: ix.index_copy(x, 1, Tensor(np.array([3, 0])), s), normal((2, 4), (2, 2))),
    Case("index_fill", lambda x: ix.index_fill(x, 0, _IDX, -1.5), normal((3, 2))),
    Case("masked_fill", lambda x: ix.masked_fill(x, _MASK, 0.25), normal((3, 4))),
    Case("masked_fill_tensor_value", lambda x, v: ix.masked_fill(x, _MASK[0], v), normal((3, 4), ())),
    Case("masked_select", lambda x: ix.masked_select(x, _MASK), normal((1, 4))),
    Case("masked_scatter", lambda x, s: ix.masked_scatter(x, _MASK, s), normal((3, 4), (9,))),
]
