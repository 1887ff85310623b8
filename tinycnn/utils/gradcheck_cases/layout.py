"""Gradcheck cases for tinycnn.ops.layout."""
from ...ops import layout as lo
from .common import Case, normal

_X234 = normal((2, 3, 4))

CASES = [
    Case("roll", lambda x: lo.roll(x, (1, -2), (0, 2)), _X234),
    Case("roll_flat", lambda x: lo.roll(x, 5), _X234),
    Case("flip", lambda x: lo.flip(x, (0, 2)), _X234),
    Case("fliplr", lo.fliplr, normal((3, 4))),
    Case("rot90", lambda x: lo.rot90(x, 1, (1, 2)), _X234),
    Case("rot90_k3", lambda x: lo.rot90(x, -1), normal((3, 4))),
    Case("movedim", lambda x: lo.movedim(x, (0, 1), (2, 0)), _X234),
    Case("repeat", lambda x: lo.repeat(x, 2, 1, 3), normal((3, 2))),
    Case("tile", lambda x: lo.tile(x, (2,)), normal((3, 2))),
    Case("repeat_interleave", lambda x: lo.repeat_interleave(x, 2, dim=1), normal((2, 3))),
    Case("repeat_interleave_counts", lambda x: lo.repeat_interleave(x, [1, 0, 3], dim=0), normal((3, 2))),
    Case("meshgrid", lambda a, b: lo.meshgrid(a, b)[0] * lo.meshgrid(a, b)[1], normal(3, 4)),
    Case("unflatten", lambda x: lo.unflatten(x, 1, (2, -1)), normal((3, 4))),
    Case("narrow", lambda x: lo.narrow(x, 2, 1, 2), _X234),
    Case("select", lambda x: lo.select(x, 1, -1), _X234),
    Case("broadcast_to", lambda x: lo.broadcast_to(x, (2, 3, 4)), normal((3, 1))),
    Case("unfold_windows", lambda x: lo.unfold_windows(x, 1, 3, 1), normal((2, 5))),
    Case("hstack", lambda a, b: lo.hstack([a, b]), normal((3, 2), (3, 1))),
    Case("vstack", lambda a, b: lo.vstack([a, b]), normal(3, (2, 3))),
]
