"""The errors of ``tinycnn train / eval / summary`` that are the user's to fix, and the one line for each.

The command line prints such an error as one line on stderr, naming the argument or file and saying what
to do, and exits with status 2 (``--debug`` adds the traceback); anything else is a bug and keeps its
traceback. A user's error is one of:

* ``RunError``: raised by the training layer itself (a run folder in use, a resume with other settings...);
  ``ConfigError`` is the kind that names one setting;
* a missing, damaged or foreign checkpoint (``CheckpointError``) or data file (``DataFileError``,
  ``DownloadError``, ``FileNotFoundError`` from a dataset);
* a file system refusing a read or a write (no space left, read-only, no permission): the line names the file;
* a damaged Numba kernel cache (an exception raised while Numba reads its cache): the line says which folder
  to clear;
* running out of memory.
"""
from __future__ import annotations

import errno
import os
import traceback

from .vision.datasets import DataFileError, DownloadError
from .utils.serialization import CheckpointError


class RunError(Exception):
    """A run cannot start or go on because of something the user can fix; the message says what."""


class ConfigError(RunError, ValueError):
    """One setting has a value it cannot take. ``setting`` is its name in ``TrainConfig``."""

    def __init__(self, setting: str, detail: str):
        self.setting, self.detail = setting, detail
        super().__init__(f"{setting}: {detail}")


_NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


def describe_os_error(exc: OSError) -> str:
    """``OSError`` -> "no space left on the device to write runs/x/last.npz" and the like."""
    name = exc.filename if exc.filename is not None else "a file"
    if exc.errno in _NO_SPACE:
        return f"no space left on the device to write {name}"
    if exc.errno == errno.EFBIG:
        return f"{name} is too large for the file system (or the file size limit)"
    if exc.errno == errno.EROFS:
        return f"cannot write {name}: the file system is read-only"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"no permission to write or read {name}"
    if exc.errno == errno.ENOENT:
        return f"{name}: no such file or folder"
    if exc.errno == errno.ENOTDIR:
        return f"{name}: a part of this path is a file, not a folder"
    if exc.errno == errno.EISDIR:
        return f"{name} is a folder, expected a file"
    return f"{name}: {exc.strerror or exc}"


def is_out_of_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (*_NO_SPACE, errno.EFBIG)


def numba_cache_problem(exc: BaseException) -> str | None:
    """The explanation when ``exc`` was raised while Numba read its on-disk cache (a truncated or overwritten
    index or data file raises pickle, EOF or decoding errors from inside ``numba.core.caching``)."""
    folder = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename.replace("\\", "/").endswith("numba/core/caching.py"):
            folder = getattr(frame.f_locals.get("self"), "_cache_path", None) or folder or "?"
    if folder is None:
        return None
    pattern = os.path.join(folder, "*.nb[ic]")
    return (f"the Numba kernel cache in {folder} is damaged ({type(exc).__name__}: {exc}): delete its files "
            f"(rm {pattern}) and run again; the kernels are compiled again on first use "
            f"(or point NUMBA_CACHE_DIR at an empty folder)")


def explain(exc: BaseException) -> str | None:
    """One line for a user's error, or None when ``exc`` is a bug (see the module docstring)."""
    cache = numba_cache_problem(exc)
    if cache:
        return cache
    if isinstance(exc, (RunError, CheckpointError, DataFileError, DownloadError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        return f"out of memory ({exc or 'MemoryError'}): try a smaller --batch-size or --input-size"
    if isinstance(exc, FileNotFoundError) and exc.filename is None and str(exc):
        return str(exc)          # the datasets' own message: which files, where they were looked for
    if isinstance(exc, OSError) and exc.filename is not None:
        return describe_os_error(exc)
    return None
