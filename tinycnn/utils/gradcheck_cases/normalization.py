"""Gradcheck cases for tinycnn.ops.normalization."""
import numpy as np

from ...autograd import Tensor
from ...ops import normalization as n
from .common import Case, normal

_STATS = Tensor(np.array([0.3, -0.2, 1.0])), Tensor(np.array([2.0, 0.5, 1.5]))

CASES = [
    Case("batch_norm_train", lambda x, w, b: n.batch_norm(x, None, None, w, b, training=True),
         lambda rng: [rng.standard_normal((3, 2, 2, 3)) * 2 + 1, rng.standard_normal(2), rng.standard_normal(2)]),
    Case("batch_norm_eval", lambda x, w, b: n.batch_norm(x, *_STATS, w, b, training=False), normal((2, 3, 4), 3, 3)),
    Case("local_response_norm", lambda x: n.local_response_norm(x, 4, alpha=0.5, beta=0.75, k=1.5),
         normal((2, 6, 2, 3))),
]
