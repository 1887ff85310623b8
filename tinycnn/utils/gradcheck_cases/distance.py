"""Gradcheck cases for tinycnn.ops.distance (the hinges kept active by their margins)."""
import numpy as np

from ...ops import distance as d
from .common import Case, normal

_Y = np.array([1.0, -1.0, 1.0, -1.0])

CASES = [
    Case("vector_norm_p3", lambda x: d.vector_norm(x, 3, dim=1), normal((3, 4))),
    Case("normalize", lambda x: d.normalize(x, dim=1), normal((3, 4, 2))),
    Case("cosine_similarity", lambda a, b: d.cosine_similarity(a, b, dim=1), normal((4, 5), (1, 5))),
    Case("pairwise_distance", d.pairwise_distance, normal((4, 5), (4, 5))),
    Case("margin_ranking_loss", lambda a, b: d.margin_ranking_loss(a, b, _Y, margin=8.0), normal(4, 4)),
    Case("cosine_embedding_loss", lambda a, b: d.cosine_embedding_loss(a, b, _Y, margin=-2.0),
         normal((4, 3), (4, 3))),
    Case("triplet_margin_loss", lambda a, p, n: d.triplet_margin_loss(a, p, n, margin=20.0, swap=True),
         normal((4, 3), (4, 3), (4, 3))),
]
