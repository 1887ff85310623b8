"""``tinycnn.cuda``: whether the optional CuPy GPU backend can be used."""
from .backend import cuda_is_available, cupy_module


def is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU."""
    return cuda_is_available()


def device_count() -> int:
    cp = cupy_module()
    return cp.cuda.runtime.getDeviceCount() if cp is not None else 0
