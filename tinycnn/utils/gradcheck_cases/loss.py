"""Gradcheck cases for tinycnn.ops.loss."""
import numpy as np

from ...ops import loss as ls
from .common import Case, normal

_Y = np.array([0, 2, 1, 3])
_Y_KDIM = np.array([[0, 2, -100], [1, 1, 0]])
_W = np.array([0.5, 1.0, 2.0, 1.5])
_POS_WEIGHT = np.array([1.0, 2.0, 0.5, 3.0])

CASES = [
    Case("cross_entropy", lambda z: ls.cross_entropy(z, _Y, weight=_W, label_smoothing=0.1), normal((4, 4))),
    Case("cross_entropy_kdim", lambda z: ls.cross_entropy(z, _Y_KDIM, reduction="sum"), normal((2, 3, 3))),
    Case("cross_entropy_probabilities",    # soft targets: the gradient reaches the target too
         lambda z, q: ls.cross_entropy(z, q, weight=_W, label_smoothing=0.2),
         lambda rng: [rng.standard_normal((3, 4)), rng.dirichlet(np.ones(4), 3)]),
    Case("nll_loss", lambda x: ls.nll_loss(x, _Y, weight=_W), normal((4, 4))),
    Case("mse_loss", ls.mse_loss, normal((3, 4), (3, 4))),
    # |x - t| >= 0.1 away from the kink at x = t
    Case("l1_loss", lambda x, t: ls.l1_loss(x, t, reduction="sum"),
         lambda rng: [rng.standard_normal((3, 4)) + 0.5, rng.uniform(-3, -1, (3, 4))]),
    Case("binary_cross_entropy", ls.binary_cross_entropy,
         lambda rng: [rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4))]),
    Case("binary_cross_entropy_with_logits",
         lambda z, t: ls.binary_cross_entropy_with_logits(z, t, pos_weight=_POS_WEIGHT),
         lambda rng: [rng.standard_normal((3, 4)) * 3, rng.uniform(0, 1, (3, 4))]),
]
