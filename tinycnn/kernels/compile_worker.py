"""``python -m tinycnn.kernels.compile_worker DTYPE [--driver] module:KERNEL ...``: compile kernels (and, with
``--driver``, the parallel driver) into Numba's disk cache and exit. Started in the background on a cold start
(``numba_launch.py``); does nothing else."""
import sys

import numpy as np

from .numba_launch import warm

if __name__ == "__main__":
    args = sys.argv[2:]
    with_driver = "--driver" in args
    warm([a for a in args if a != "--driver"], np.dtype(sys.argv[1]), driver=with_driver)
