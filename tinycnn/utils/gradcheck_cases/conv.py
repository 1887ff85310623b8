"""Gradcheck cases for tinycnn.ops.conv."""
from ...ops import conv as c
from .common import Case, normal

CASES = [
    Case("conv2d", lambda x, w, b: c.conv2d(x, w, b, stride=2, padding=1), normal((2, 3, 7, 6), (4, 3, 3, 3), 4)),
    Case("conv2d_grouped_dilated",
         lambda x, w: c.conv2d(x, w, None, stride=(1, 2), padding="valid", dilation=2, groups=2),
         normal((1, 4, 8, 9), (6, 2, 2, 3))),
    Case("unfold", lambda x: c.unfold(x, (2, 3), padding=1, stride=2), normal((2, 2, 5, 6))),
    Case("fold", lambda cols: c.fold(cols, (5, 6), (2, 3), padding=1, stride=2),
         normal((2, 12, 9))),   # L = 3x3 blocks
]
