"""Gradcheck cases for tinycnn.ops.upsample (every mode is linear in x, so no kinks to avoid)."""
from ...ops import upsample as u
from .common import Case, normal

_IMAGE = normal((2, 2, 4, 5))

CASES = [
    Case("interpolate_nearest", lambda x: u.interpolate(x, scale_factor=(1.5, 2.0)), _IMAGE),
    Case("interpolate_bilinear", lambda x: u.interpolate(x, size=(7, 3), mode="bilinear"), _IMAGE),
    Case("interpolate_bilinear_align_corners",
         lambda x: u.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True), _IMAGE),
    Case("interpolate_bicubic", lambda x: u.interpolate(x, size=(6, 8), mode="bicubic"), _IMAGE),
    Case("interpolate_linear", lambda x: u.interpolate(x, size=9, mode="linear"), normal((2, 3, 5))),
    Case("pixel_shuffle", lambda x: u.pixel_shuffle(x, 2), normal((2, 8, 2, 3))),
    Case("pixel_unshuffle", lambda x: u.pixel_unshuffle(x, 2), normal((2, 2, 4, 6))),
]
