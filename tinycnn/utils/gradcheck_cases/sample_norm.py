"""Gradcheck cases for tinycnn.ops.sample_norm."""
from ...ops import sample_norm as s
from .common import Case, normal

CASES = [
    Case("layer_norm", lambda x, w, b: s.layer_norm(x, (3, 4), w, b), normal((2, 3, 4), (3, 4), (3, 4))),
    Case("group_norm", lambda x, w, b: s.group_norm(x, 2, w, b), normal((2, 4, 3, 2), 4, 4)),
    Case("instance_norm", lambda x, w, b: s.instance_norm(x, weight=w, bias=b), normal((2, 3, 2, 3), 3, 3)),
]
