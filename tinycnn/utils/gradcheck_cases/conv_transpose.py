"""Gradcheck cases for tinycnn.ops.conv_transpose."""
from ...ops import conv_transpose as ct
from .common import Case, normal

CASES = [
    Case("conv_transpose2d",
         lambda x, w, b: ct.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
         normal((2, 3, 4, 3), (3, 2, 3, 3), 2)),
    Case("conv_transpose2d_grouped_dilated",   # output_padding beyond the padding: rows no input reaches
         lambda x, w: ct.conv_transpose2d(x, w, None, stride=(1, 2), padding=(0, 1), output_padding=(1, 1),
                                          groups=2, dilation=2),
         normal((1, 4, 3, 4), (4, 3, 2, 3))),
]
