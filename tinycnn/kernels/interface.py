"""The one interface between the ops and a kernel set: the functions an op may call, declared once.

A kernel set is a module with a ``NAME`` and a ``PROVIDES``. Every set implements the ``REQUIRED`` functions,
with the NumPy set's signatures (``numpy_kernels.py``, which documents the layouts and implements exactly
these, ``PROVIDES = frozenset()``); a set may also provide fast paths, grouped into ``CAPABILITIES``, and
declares which ones in its ``PROVIDES`` (the Numba set, ``tinycnn/accel/numba_kernels.py``: all of them). An
op asks ``"direct_conv" in kern.PROVIDES``, never ``hasattr``. The dispatcher checks a set against this
declaration when it loads it (``check``), so a set that lacks a declared function fails at once, naming
it, not in the middle of a backward pass.

    required            im2col, col2im, max_pool2d_forward, max_pool2d_backward, avg_pool2d_forward,
                        avg_pool2d_backward
    "direct_conv"       direct_conv_applies, conv2d_direct_forward, conv2d_direct_backward: the im2col-free
                        convolution for the layers ``direct_conv_applies`` accepts
    "depthwise_conv"    depthwise_conv_applies, depthwise_conv2d_forward, depthwise_conv2d_backward: the
                        im2col-free convolution of depthwise layers (groups = C_in, MobileNet's)
    "fused_conv_relu_maxpool"  conv2d_direct_relu_maxpool (and the direct backward with ``pooled=``)
    "relu"              relu_forward, relu_backward, RELU_MIN_SIZE: one-pass ReLU for large arrays
    "hardtanh"          hardtanh_forward, hardtanh_backward, HARDTANH_MIN_SIZE: the same for hardtanh / ReLU6
    "batch_norm"        batch_norm_applies, batch_norm_forward, batch_norm_backward, BATCH_NORM_MIN_SIZE:
                        training-mode batch norm of the (N, C, L) layouts ``batch_norm_applies`` accepts,
                        statistics and output per channel in one task
    "cols_pool"         release_cols: conv hands back its im2col buffer for the next im2col to reuse
    "pointwise_conv"    pointwise_conv_applies, pointwise_conv2d_forward, pointwise_conv2d_backward: 1x1
                        convolutions as one product per image, without im2col
    "winograd"          winograd_applies, winograd_forward, winograd_backward: the
                        Winograd F(2x2, 3x3) convolution for the 3x3 stride-1 layers ``winograd_applies`` accepts
    "small_plane_conv"  small_plane_conv_applies, small_plane_conv2d_forward, small_plane_conv2d_backward:
                        convolutions on planes of at most 2x2 pixels as one dense product over the plane
"""
from __future__ import annotations

import inspect

REQUIRED = ("im2col", "col2im", "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
            "avg_pool2d_backward")
CAPABILITIES = {
    "direct_conv": ("direct_conv_applies", "conv2d_direct_forward", "conv2d_direct_backward"),
    "depthwise_conv": ("depthwise_conv_applies", "depthwise_conv2d_forward", "depthwise_conv2d_backward"),
    "fused_conv_relu_maxpool": ("conv2d_direct_relu_maxpool", "conv2d_direct_backward"),
    "relu": ("relu_forward", "relu_backward", "RELU_MIN_SIZE"),
    "hardtanh": ("hardtanh_forward", "hardtanh_backward", "HARDTANH_MIN_SIZE"),
    "batch_norm": ("batch_norm_applies", "batch_norm_forward", "batch_norm_backward", "BATCH_NORM_MIN_SIZE"),
    "cols_pool": ("release_cols",),
    "pointwise_conv": ("pointwise_conv_applies", "pointwise_conv2d_forward", "pointwise_conv2d_backward"),
    "winograd": ("winograd_applies", "winograd_forward", "winograd_backward"),
    "small_plane_conv": ("small_plane_conv_applies", "small_plane_conv2d_forward", "small_plane_conv2d_backward"),
}


def functions(module) -> list[str]:
    """Every name ``module`` must have: the required functions and those of the capabilities it declares."""
    names = list(REQUIRED)
    for cap in sorted(module.PROVIDES):
        names += [n for n in CAPABILITIES[cap] if n not in names]
    return names


def check(module, reference=None):
    """``module`` itself once it has every function it declares; TypeError naming what it lacks.
    With ``reference`` (the NumPy set), the required functions must have the reference's signatures."""
    name = getattr(module, "NAME", module.__name__)
    if not isinstance(getattr(module, "PROVIDES", None), frozenset):
        raise TypeError(f"kernel set {name!r} must declare PROVIDES, a frozenset of {sorted(CAPABILITIES)}")
    unknown = set(module.PROVIDES) - set(CAPABILITIES)
    if unknown:
        raise TypeError(f"kernel set {name!r} declares unknown capabilities {sorted(unknown)}; "
                        f"known: {sorted(CAPABILITIES)}")
    missing = [fn for fn in functions(module) if not hasattr(module, fn)]
    if missing:
        raise TypeError(f"kernel set {name!r} lacks {', '.join(missing)} (declared by tinycnn/kernels/interface.py)")
    if reference is not None:
        for fn in REQUIRED:
            if inspect.signature(getattr(module, fn)) != inspect.signature(getattr(reference, fn)):
                raise TypeError(f"kernel set {name!r}: {fn}{inspect.signature(getattr(module, fn))} differs from "
                                f"the interface's {fn}{inspect.signature(getattr(reference, fn))}")
    return module
