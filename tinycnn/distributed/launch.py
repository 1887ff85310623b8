"""Starting N local processes under MPI: where ``mpiexec`` is, and the command line that runs it."""
from __future__ import annotations

import os
import shutil
import sys

from .process_group import INSTALL_HINT


def find_mpiexec() -> str | None:
    """The ``mpiexec`` beside this Python (the mpich wheel installs it there), else the one on PATH."""
    here = os.path.join(os.path.dirname(sys.executable), "mpiexec")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    return shutil.which("mpiexec") or shutil.which("mpirun")


def mpiexec_command(nproc: int, argv: list[str]) -> list[str]:
    """``mpiexec -n NPROC ARGV...`` on this machine; ImportError saying how to install MPI where it is absent."""
    mpiexec = find_mpiexec()
    if mpiexec is None:
        raise ImportError(f"starting {nproc} processes needs mpiexec, which comes with an MPI library: "
                          f"{INSTALL_HINT}")
    return [mpiexec, "-n", str(nproc), *argv]
