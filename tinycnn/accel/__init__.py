"""The speed layer: everything that makes tinycnn fast and nothing it needs to be correct.

* ``fuse(model)``: an explicit pass that replaces Conv2d -> ReLU -> MaxPool2d runs by one fused layer
  (``fusion.py``); ``tinycnn train`` calls it, a model built by hand runs unfused until it is fused.
* ``numba_kernels.py``: the "numba" kernel set (``tinycnn/kernels/interface.py``): im2col, col2im and
  pooling as parallel loops, and every fast path: ``numba_direct.py`` (the im2col-free convolution and its
  fusion with ReLU and max pooling), ``numba_depthwise.py`` (depthwise convolution, groups = in_channels),
  ``winograd.py`` and ``winograd_f4.py`` (Winograd F(2x2, 3x3) and, for larger planes, F(4x4, 3x3) for 3x3
  stride-1 layers), ``pointwise.py`` (1x1 convolutions as one product per image), ``small_plane.py``
  (convolutions on planes of at most 2x2 pixels, tap by tap over the whole plane), one-pass ReLU and
  hardtanh, ``numba_norm.py`` (training-mode batch norm),
  ``cols_pool.py`` (reuse of large im2col and Winograd buffers);
* ``numba_launch.py`` and ``compile_worker.py``: how those kernels are compiled (in background processes
  on a fresh install) and loaded from Numba's disk cache;
* ``threads.py``: how Numba's threads wait between kernels, set inside tinycnn's first kernel call, and
  small kernel calls on one thread;
* ``blas.py``: the thread count of each matrix product (small ones on one BLAS thread; batches of products
  split over the cores, one single-threaded BLAS call per matrix).

The textbook path (``tinycnn.config(kernels="numpy", conv_backward="rot180", fusion=False)``) runs none of it.
The kernel-level modules here sit below the ops; ``fusion.py`` sits above ``tinycnn.nn`` (it builds layers),
so it is loaded on first use of its names, never by the kernels.
"""
COMPILE_WORKER_ENV = "TINYCNN_COMPILE_WORKER"     # set in the background compile workers (numba_launch.py)
_FUSION_NAMES = ("fuse", "FusedConv2dReLUMaxPool2d")


def __getattr__(name):
    if name in _FUSION_NAMES:
        from . import fusion  # noqa: PLC0415  (the nn-level part: importing it here would cycle through ops)
        return getattr(fusion, name)
    raise AttributeError(f"module 'tinycnn.accel' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_FUSION_NAMES))


__all__ = list(_FUSION_NAMES)
