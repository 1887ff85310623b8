"""Gradcheck cases for tinycnn.ops.unpool: the indices come from a 2x2 max pooling (one per window)."""
import numpy as np

from ...autograd import Tensor
from ...ops import unpool as up
from ...ops.pooling import max_pool2d
from .common import Case, normal

_IDX = max_pool2d(Tensor(np.random.default_rng(0).permutation(144).reshape(2, 3, 4, 6).astype(float)), 2,
                  return_indices=True)[1].array

CASES = [
    Case("max_unpool2d", lambda x: up.max_unpool2d(x, _IDX, 2), normal((2, 3, 2, 3))),
]
