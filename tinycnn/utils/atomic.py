"""Atomic file writes: a file appears complete under its name, or not at all.

The content goes to a temporary file ``.tmp-*`` in the destination's folder (the same file system, so the
final rename cannot turn into a copy), is flushed to disk with ``fsync``, and is then renamed over the
destination with ``os.replace``, which is atomic on POSIX and Windows. The folder is fsynced too, so the
rename itself survives a power cut. If anything fails -- a full disk, a killed process, an exception in the
code writing the content -- the previous file under that name is untouched. A process killed midway can
leave a ``.tmp-*`` file behind, never a half-written file under the real name.

A failure raises one ``OSError`` that names the destination (not the temporary file) and keeps the errno,
instead of the chain of errors a failing write, flush and close produce one after another.
"""
from __future__ import annotations

import contextlib
import os
import secrets

TEMP_PREFIX = ".tmp-"


def fsync_folder(folder: str) -> None:
    """Make a rename in ``folder`` durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass            # some file systems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _create_temporary(folder: str, suffix: str) -> tuple[int, str]:
    """A new ``.tmp-*`` file, created with the permissions the umask gives (``tempfile.mkstemp`` makes
    every file private, 0600, and the rename would carry that over to the result)."""
    binary = getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(folder, f"{TEMP_PREFIX}{secrets.token_hex(6)}{suffix}")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | binary, 0o666), tmp
        except FileExistsError:
            continue


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """``with atomic_write(path) as f: f.write(...)``: ``path`` gets the whole content or keeps its old one."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = _create_temporary(folder, suffix)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, path) from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise OSError(exc.errno, exc.strerror, path) from None
    except BaseException:
        _remove(tmp)
        raise
    fsync_folder(folder)


def link_or_copy(source, path) -> None:
    """Make ``path`` an atomic hard link to ``source`` (no extra disk space); copy where links are refused."""
    source, path = os.fspath(source), os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(folder, f"{TEMP_PREFIX}link-{os.getpid()}{os.path.splitext(path)[1]}")
    _remove(tmp)
    try:
        os.link(source, tmp)
    except OSError:                          # FAT, some network file systems, another device
        with open(source, "rb") as src, atomic_write(path) as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
        return
    try:
        os.replace(tmp, path)
    except OSError as exc:
        _remove(tmp)
        raise OSError(exc.errno, exc.strerror, path) from None
    fsync_folder(folder)
