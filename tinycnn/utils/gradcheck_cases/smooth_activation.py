"""Gradcheck cases for tinycnn.ops.smooth_activation (SELU and CELU away from their corner at 0)."""
from ...ops import smooth_activation as s
from .common import Case, away_from, normal

_SMOOTH = normal((3, 5), scale=2.0)

CASES = [
    Case("gelu", s.gelu, _SMOOTH),
    Case("gelu_tanh", lambda x: s.gelu(x, "tanh"), _SMOOTH),
    Case("selu", s.selu, away_from(0.0)),
    Case("celu", lambda x: s.celu(x, 0.7), away_from(0.0)),
    Case("softplus", lambda x: s.softplus(x, 2.0, 3.0), away_from(1.5)),   # the linear tail starts at 1.5
    Case("mish", s.mish, _SMOOTH),
    Case("logsigmoid", s.logsigmoid, _SMOOTH),
    Case("softsign", s.softsign, away_from(0.0)),
    Case("tanhshrink", s.tanhshrink, _SMOOTH),
]
