"""Gradcheck cases for tinycnn.ops.gather (amax/amin on distinct values: no ties between members)."""
import numpy as np

from ...autograd import Tensor
from ...ops import gather as ga
from .common import Case, distinct, normal

_INDEX = Tensor(np.array([[0, 2, 0], [1, 1, 3], [2, 0, 0]]))       # along dim 1 of a (3, 4) input
_ROWS = Tensor(np.array([[0, 1, 2, 0], [2, 2, 1, 0]]))              # along dim 0 of a (3, 4) input

CASES = [
    Case("gather", lambda x: ga.gather(x, 1, _INDEX), normal((3, 4))),
    Case("scatter", lambda x, s: ga.scatter(x, 0, Tensor(np.array([[0, 1, 2, 0], [2, 0, 1, 1]])), s),
         normal((3, 4), (2, 5))),
    Case("scatter_value", lambda x: ga.scatter(x, 1, _INDEX, value=2.0), normal((3, 4))),
    Case("scatter_add", lambda x, s: ga.scatter_add(x, 0, _ROWS, s), normal((3, 4), (2, 4))),
    *[Case(f"scatter_reduce_{r}", lambda x, s, r=r: ga.scatter_reduce(x, 0, _ROWS, s, r), normal((3, 4), (2, 4)))
      for r in ("sum", "prod", "mean")],
    Case("scatter_reduce_mean_excluding_self",
         lambda x, s: ga.scatter_reduce(x, 0, _ROWS, s, "mean", include_self=False), normal((3, 4), (2, 4))),
    *[Case(f"scatter_reduce_{r}", lambda x, r=r: ga.scatter_reduce(x[:3], 0, _ROWS, x[3:5], r), distinct((5, 4)))
      for r in ("amax", "amin")],
    Case("take", lambda x: ga.take(x, Tensor(np.array([[0, -1], [5, 5]]))), normal((3, 4))),
    Case("take_along_dim", lambda x: ga.take_along_dim(x, Tensor(np.array([[0], [2], [1]])), 1), normal((3, 4))),
]
