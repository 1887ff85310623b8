"""Files for datasets: where they live, how they are checked, downloaded and unpacked.

* ``cache_dir()``: ``$TINYCNN_DATA`` if set, else ``~/.cache/tinycnn``; the default ``root`` of downloads.
* ``download_file``: fetch a file from the first of several mirrors that delivers a verified copy. The bytes
  stream into a temporary file in the destination folder, are flushed to disk and checked (length against
  Content-Length, then the dataset's own check, e.g. a SHA-256), and only then renamed into place: an
  interrupted or corrupt download never leaves a file that looks complete.
* ``extract_tar``: unpack an archive into a temporary folder next to the target and rename it into place,
  refusing members that would land outside it (absolute paths, ``..``, links, devices).
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.request
from pathlib import Path
from typing import Callable

# Looked up at call time (not bound at import), so tests can put a fake opener in its place.
_urlopen = urllib.request.urlopen


class DataFileError(ValueError):
    """A data file exists but is not what it should be (truncated, altered, wrong format); names the file."""


class DownloadError(RuntimeError):
    """No mirror delivered a correct copy of a file; the message lists what each mirror did."""


def cache_dir() -> Path:
    """The download cache: ``$TINYCNN_DATA`` if set, else ``~/.cache/tinycnn``."""
    return Path(os.environ.get("TINYCNN_DATA") or "~/.cache/tinycnn").expanduser()


def file_digest(path, algorithm: str = "sha256", chunk: int = 1 << 20) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def check_digest(path, expected: str | None, algorithm: str = "sha256") -> None:
    """Raise :class:`DataFileError` unless ``path``'s digest is ``expected`` (None: nothing to check)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file is missing")
    if expected is None:
        return
    got = file_digest(path, algorithm)
    if got != expected.lower():
        raise DataFileError(f"{path}: checksum mismatch ({algorithm.upper()} of the file): expected "
                            f"{expected.lower()}, got {got}; the file is truncated, altered or not the right one: "
                            f"delete it and fetch it again")


def download_file(filename: str, folder, mirrors, verify: Callable[[Path], None] | None = None, *,
                  progress: bool = True, timeout: float = 30.0) -> Path:
    """Fetch ``filename`` into ``folder`` from the first mirror that delivers a verified copy; its path.

    ``verify(path)`` checks the downloaded temporary file and raises :class:`DataFileError` (or
    ``FileNotFoundError``) on any defect. A failing mirror (HTTP error, refused connection, short or corrupt
    file) is recorded and the next one tried; when all fail, :class:`DownloadError` lists every reason.
    """
    from tqdm.auto import tqdm  # noqa: PLC0415  (only downloads need it)

    folder = Path(folder).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / filename
    if not mirrors:
        raise DownloadError(f"cannot download {filename}: no mirrors configured")
    failures = []
    for base in mirrors:
        url = base if base.endswith("/" + filename) else base.rstrip("/") + "/" + filename
        fd, tmp_name = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=folder)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as out, _urlopen(url, timeout=timeout) as resp:
                length = resp.headers.get("Content-Length") if resp.headers is not None else None
                total = int(length) if length else None
                written = 0
                with tqdm(total=total, unit="B", unit_scale=True, desc=filename, disable=not progress,
                          leave=False) as bar:
                    while chunk := resp.read(1 << 16):
                        out.write(chunk)
                        written += len(chunk)
                        bar.update(len(chunk))
                out.flush()
                os.fsync(out.fileno())
            if total is not None and written != total:
                raise DataFileError(f"{url}: got {written} bytes, Content-Length said {total}")
            if verify is not None:
                verify(tmp)
            os.replace(tmp, dest)
            return dest
        except (OSError, http.client.HTTPException, DataFileError) as exc:
            # URLError/HTTPError/timeouts are OSErrors; IncompleteRead is an HTTPException.
            failures.append(f"  {url}: {type(exc).__name__}: {exc}")
        finally:
            tmp.unlink(missing_ok=True)
    raise DownloadError(f"could not download {filename} into {folder}; every mirror failed:\n" + "\n".join(failures))


def _safe_members(archive: tarfile.TarFile, path: Path):
    for member in archive.getmembers():
        name = Path(member.name)
        if name.is_absolute() or ".." in name.parts or not (member.isfile() or member.isdir()):
            raise DataFileError(f"{path}: refusing archive member {member.name!r} (an absolute path, a path out "
                                f"of the archive or a link/device)")
        yield member


def extract_tar(path, folder, top: str) -> Path:
    """Unpack the tar archive ``path``, whose content sits in its folder ``top``, into ``folder / top``.

    The members go to a temporary folder inside ``folder`` first and ``top`` is renamed into place when
    everything is out, so an interrupted extraction leaves no half-filled ``top``.
    """
    path, folder = Path(path), Path(folder)
    target = folder / top
    work = Path(tempfile.mkdtemp(prefix=f".{top}.", suffix=".extract", dir=folder))
    try:
        try:
            with tarfile.open(path, "r:*") as archive:
                members = list(_safe_members(archive, path))
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                archive.extractall(work, members=members, **extra)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DataFileError(f"{path}: not a readable tar archive ({type(exc).__name__}: {exc})") from None
        if not (work / top).is_dir():
            raise DataFileError(f"{path}: the archive has no folder {top}/ (expected the official archive layout)")
        os.replace(work / top, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
