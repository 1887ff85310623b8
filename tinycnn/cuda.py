"""``tinycnn.cuda``: whether the optional CuPy GPU backend can be used."""
from .backend import cuda_is_available


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return cuda_is_available()


def device_count() -> int:
    from .backend import cupy_module  # noqa: PLC0415
    cp = cupy_module()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0
