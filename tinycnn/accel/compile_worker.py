"""``python -m tinycnn.accel.compile_worker DTYPE module:KERNEL ...``: compile kernels' item functions into
Numba's disk cache and exit. Started in the background on a cold start (``numba_launch.py``); does nothing
else."""
import sys

import numpy as np

from .numba_launch import compile_items

if __name__ == "__main__":
    compile_items(sys.argv[2:], np.dtype(sys.argv[1]))
