"""Gradcheck cases for tinycnn.ops.dropout.

A fresh generator with a fixed seed on every call gives the same mask in every forward of the check and
leaves the global generator alone.
"""
import numpy as np

from ...ops.dropout import _dropout
from .common import Case, normal

CASES = [
    Case("dropout", lambda x: _dropout(x, 0.4, True, False, rng=np.random.default_rng(7)), normal((3, 5))),
    Case("dropout2d", lambda x: _dropout(x, 0.5, True, True, rng=np.random.default_rng(7)), normal((2, 4, 2, 3))),
]
