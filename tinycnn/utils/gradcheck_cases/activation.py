"""Gradcheck cases for tinycnn.ops.activation (piecewise ones on inputs away from their kinks)."""
from ...ops import activation as a
from .common import Case, away_from, normal

_SMOOTH = normal((3, 5), scale=2.0)

CASES = [
    Case("relu", a.relu, away_from(0.0)),
    Case("relu6", a.relu6, away_from(0.0, 6.0, lo=-1.0, hi=7.0)),
    Case("leaky_relu", lambda x: a.leaky_relu(x, 0.1), away_from(0.0)),
    Case("elu", lambda x: a.elu(x, 1.5), away_from(0.0)),
    Case("hardtanh", lambda x: a.hardtanh(x, -1.0, 2.0), away_from(-1.0, 2.0)),
    Case("sigmoid", a.sigmoid, _SMOOTH),
    Case("tanh", a.tanh, _SMOOTH),
    Case("hardsigmoid", a.hardsigmoid, away_from(-3.0, 3.0)),
    Case("hardswish", a.hardswish, away_from(-3.0, 3.0)),
    Case("silu", a.silu, _SMOOTH),
    Case("softmax", lambda x: a.softmax(x, dim=1), _SMOOTH),
    Case("log_softmax", lambda x: a.log_softmax(x, dim=0), _SMOOTH),
    Case("softmin", lambda x: a.softmin(x, dim=1), _SMOOTH),
]
