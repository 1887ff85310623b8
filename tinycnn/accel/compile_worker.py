"""``python -m tinycnn.accel.compile_worker DTYPE CLAIMS_FOLDER``: for each line of kernel names
("module:ATTR ...") read on stdin, compile those that no other process of the cold start has claimed into
Numba's disk cache (``numba_launch.py``); exit at the end of stdin or after ``IDLE_S`` seconds without a
line. Started in the background on a cold start; does nothing else."""
import os
import select
import sys

import numpy as np

from .numba_launch import compile_items

IDLE_S = 20       # a model's families all start within its first training step; then the worker may go


def _lines(fd):
    """The lines arriving on ``fd`` (raw reads: a buffered reader would hide a second line from select)."""
    pending = b""
    while True:
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode()
        try:
            if not select.select([fd], [], [], IDLE_S)[0]:
                return
        except (OSError, ValueError):       # no select on pipes (Windows): wait for the line
            pass
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            return
        pending += chunk


if __name__ == "__main__":
    dtype, folder = np.dtype(sys.argv[1]), sys.argv[2]
    for names in _lines(sys.stdin.fileno()):
        compile_items(names.split(), dtype, folder)
