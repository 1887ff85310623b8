"""Gradcheck cases for tinycnn.ops.fused."""
from ...ops import fused as f
from .common import Case, normal

CASES = [
    Case("conv2d_relu_max_pool2d", lambda x, w, b: f.conv2d_relu_max_pool2d(x, w, b, padding=1, pool_kernel_size=2),
         normal((2, 3, 6, 7), (4, 3, 3, 3), 4)),
]
