"""Gradcheck cases for tinycnn.ops.conv1d."""
from ...ops import conv1d as c
from .common import Case, normal

CASES = [
    Case("conv1d", lambda x, w, b: c.conv1d(x, w, b, stride=2, padding=1), normal((2, 3, 9), (4, 3, 3), 4)),
    Case("conv1d_same_grouped", lambda x, w: c.conv1d(x, w, padding="same", dilation=2, groups=2),
         normal((2, 4, 7), (6, 2, 4))),
    Case("conv_transpose1d", lambda x, w, b: c.conv_transpose1d(x, w, b, stride=3, padding=1, output_padding=2),
         normal((2, 3, 5), (3, 2, 4), 2)),
]
