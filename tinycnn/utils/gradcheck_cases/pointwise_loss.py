"""Gradcheck cases for tinycnn.ops.pointwise_loss."""
import numpy as np

from ...ops import pointwise_loss as p
from .common import Case, normal


def _log_probs_and_probs(rng):
    """log-probabilities (rows of a log-softmax) and a positive target (kl_div's t log t needs t > 0)."""
    z = rng.standard_normal((3, 4))
    return [z - np.log(np.exp(z).sum(axis=1, keepdims=True)), rng.uniform(0.1, 1.0, (3, 4))]


CASES = [
    Case("smooth_l1_loss", lambda x, t: p.smooth_l1_loss(x, t, beta=0.5), normal((3, 4), (3, 4))),
    Case("huber_loss", lambda x, t: p.huber_loss(x, t, delta=0.8, reduction="sum"), normal((3, 4), (3, 4))),
    Case("kl_div", lambda x, t: p.kl_div(x, t, reduction="batchmean"), _log_probs_and_probs),
    Case("kl_div_log_target", lambda x, t: p.kl_div(x, t, log_target=True), normal((3, 4), (3, 4))),
]
