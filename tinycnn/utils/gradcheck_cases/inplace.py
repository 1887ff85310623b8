"""Gradcheck cases for tinycnn.ops.inplace: in-place ops inside the graph (on non-leaves and on views)."""
import numpy as np

from .common import Case, normal


def _mul_then_add(x, y):
    z = x * 1.0
    z.mul_(y)
    z += x
    return z


def _view_update(x, y):
    z = x * 2.0
    z[:, 1] += y          # a view of z changed in place: z's history is rewritten
    z[0].mul_(y[0])
    return z


def _setitem(x, v):
    z = x * 2.0
    z[np.array([True, False, True])] = v
    return z


def _copy_and_fill(x, y):
    z = x + 0.0
    z[1].copy_(y)
    z[2].fill_(3.0)
    return z.sin_()


CASES = [
    Case("inplace_mul_add", _mul_then_add, normal((3, 4), (4,))),
    Case("inplace_view", _view_update, normal((3, 4), 3)),
    Case("setitem", _setitem, normal((3, 4), (4,))),
    Case("copy_fill", _copy_and_fill, normal((3, 4), (4,))),
    Case("clamp_", lambda x: (x * 1.0).clamp_(-0.5, 0.5), lambda rng: [np.array([[-1.0, -0.3, 0.2, 0.7]])]),
]
