"""Gradcheck cases for tinycnn.ops.math: each function inside its domain, away from its poles."""
from ...ops import math as m
from .common import Case, normal, uniform

_OPEN_UNIT = uniform(-0.9, 0.9, (3, 4))
_POSITIVE = uniform(0.5, 2.0, (3, 4))

CASES = [
    Case("sin", m.sin, normal((3, 4))),
    Case("cos", m.cos, normal((3, 4))),
    Case("tan", m.tan, uniform(-1.2, 1.2, (3, 4))),
    Case("asin", m.asin, _OPEN_UNIT),
    Case("acos", m.acos, _OPEN_UNIT),
    Case("atan", m.atan, normal((3, 4), scale=2.0)),
    Case("sinh", m.sinh, normal((3, 4))),
    Case("cosh", m.cosh, normal((3, 4))),
    Case("asinh", m.asinh, normal((3, 4), scale=2.0)),
    Case("acosh", m.acosh, uniform(1.2, 3.0, (3, 4))),
    Case("atanh", m.atanh, _OPEN_UNIT),
    Case("erf", m.erf, normal((3, 4))),
    Case("erfc", m.erfc, normal((3, 4))),
    Case("erfinv", m.erfinv, _OPEN_UNIT),
    Case("log2", m.log2, _POSITIVE),
    Case("log10", m.log10, _POSITIVE),
    Case("log1p", m.log1p, uniform(-0.5, 2.0, (3, 4))),
    Case("exp2", m.exp2, normal((3, 4))),
    Case("expm1", m.expm1, normal((3, 4))),
    Case("rsqrt", m.rsqrt, _POSITIVE),
    Case("reciprocal", m.reciprocal, _POSITIVE),
    Case("square", m.square, normal((3, 4))),
    Case("lgamma", m.lgamma, uniform(0.5, 3.0, (3, 4))),
    Case("digamma", m.digamma, uniform(0.5, 3.0, (3, 4))),
    Case("deg2rad", m.deg2rad, normal((3, 4))),
    Case("rad2deg", m.rad2deg, normal((3, 4))),
]
