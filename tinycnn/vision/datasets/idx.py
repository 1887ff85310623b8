"""IDX files (the format of MNIST and Fashion-MNIST): reading, checking, parsing.

An IDX file is a big-endian header followed by the raw array, row-major::

    bytes 0-1   zero
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4*d bytes   the size of each dimension, uint32 big-endian
    rest        prod(sizes) * itemsize bytes of data

MNIST's mirrors serve them gzip-compressed (``.gz``); torchvision keeps the uncompressed copies too. Both
are read. Every file is checked before use, in this order, and each failure raises :class:`DataFileError`
(or ``FileNotFoundError``) naming the file and what is wrong: missing, not gzip, truncated/corrupt gzip
stream, SHA-256 of the *uncompressed* content different from the expected one (both printed), bad IDX
magic, or a header that disagrees with the data size. Nothing is ever half-loaded.

Hashing the 47 MB of MNIST's training images costs a tenth of a second; to load fast when a dataset is
built many times (tests, notebooks) the parsed, verified arrays are cached per process, keyed by the file's
real path, size and modification time: a file that is replaced or touched is read and hashed again.
"""
from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from .utils import DataFileError

_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# (real path, size, mtime_ns) -> (sha256 hex of the uncompressed content, parsed read-only array)
_CACHE: dict[tuple, tuple[str, np.ndarray]] = {}


def _file_key(path: Path) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_size, st.st_mtime_ns)


def clear_cache() -> None:
    """Forget every verified file (the next load reads and hashes again)."""
    _CACHE.clear()


def remember(path, sha256: str | None, array: np.ndarray) -> None:
    """Record ``path`` (as it is on disk now) as verified, holding ``array`` (after a download's rename)."""
    path = Path(path)
    digest = sha256.lower() if sha256 else None
    if digest is None:
        for cached_digest, cached in _CACHE.values():
            if cached is array:
                digest = cached_digest
                break
    if digest is not None:
        _CACHE[_file_key(path)] = (digest, array)


def forget(path) -> None:
    """Drop every cache entry for ``path`` (e.g. a temporary download file about to be deleted)."""
    name = str(Path(path).resolve())
    for key in [k for k in _CACHE if k[0] == name]:
        del _CACHE[key]


def read_gzip(path) -> bytes:
    """The whole uncompressed content of a gzip file; clear errors for missing/not-gzip/truncated files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file is missing")
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except gzip.BadGzipFile as exc:
        # Raised for a wrong magic number ("Not a gzipped file") and for CRC/length mismatches at the end.
        raise DataFileError(f"{path}: not a valid gzip file ({exc})") from None
    except EOFError:
        raise DataFileError(f"{path}: truncated gzip file (the compressed stream ends early; "
                            f"{path.stat().st_size} bytes on disk)") from None
    except zlib.error as exc:
        raise DataFileError(f"{path}: corrupt gzip data ({exc})") from None


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def parse_idx(raw: bytes, name: str = "<bytes>") -> np.ndarray:
    """Parse uncompressed IDX bytes into a native-byte-order array (copied only when the dtype needs it)."""
    if len(raw) < 4:
        raise DataFileError(f"{name}: bad IDX header: only {len(raw)} bytes, need at least 4")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataFileError(f"{name}: bad IDX magic number {raw[:4].hex()} (expected 0000 followed by a "
                            f"type byte in {sorted(hex(k) for k in _IDX_DTYPES)} and a dimension count)")
    dtype, ndim = _IDX_DTYPES[raw[2]], raw[3]
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataFileError(f"{name}: bad IDX header: {ndim} dimensions need {header_len} header bytes, "
                            f"file has {len(raw)}")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(raw) - header_len
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise DataFileError(f"{name}: IDX data {what}: header says shape {shape} ({expected} bytes of "
                            f"{dtype.name}), file has {got} bytes after the header")
    arr = np.frombuffer(raw, dtype=dtype, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=False) if dtype.itemsize > 1 else arr


def load_idx(path, sha256: str | None = None) -> np.ndarray:
    """Read, verify and parse one IDX file (gzip-compressed when its name ends in .gz); a read-only array.

    ``sha256`` is the expected SHA-256 (hex) of the uncompressed content; None checks structure only.
    The result is cached per process by (path, size, mtime), so a second call is free.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file is missing")
    key = _file_key(path)
    hit = _CACHE.get(key)
    if hit is not None and (sha256 is None or hit[0] == sha256.lower()):
        return hit[1]
    raw = read_gzip(path) if path.suffix == ".gz" else path.read_bytes()
    digest = sha256_hex(raw)
    if sha256 is not None and digest != sha256.lower():
        raise DataFileError(f"{path}: checksum mismatch (SHA-256 of the uncompressed content): "
                            f"expected {sha256.lower()}, got {digest}. The file is altered or not the "
                            f"right one: delete it and download it again")
    arr = parse_idx(raw, str(path))
    arr.setflags(write=False)  # shared between every dataset built from this file
    _CACHE[key] = (digest, arr)
    return arr


def verify(path, sha256: str | None) -> None:
    """Check an IDX file against its expected uncompressed SHA-256 (raises on any problem)."""
    load_idx(path, sha256)


def write_idx_gz(path, array: np.ndarray) -> str:
    """Write ``array`` as a gzip-compressed IDX file (for tests and tools); returns the content's SHA-256."""
    codes = {v.newbyteorder(">") if v.itemsize > 1 else v: k for k, v in _IDX_DTYPES.items()}
    array = np.asarray(array)
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if big not in codes:
        raise ValueError(f"write_idx_gz: unsupported dtype {array.dtype}")
    header = bytes([0, 0, codes[big], array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    raw = header + np.ascontiguousarray(array, dtype=big).tobytes()
    # mtime=0 makes the archive bytes reproducible (like gzip -n).
    with open(path, "wb") as f:
        f.write(gzip.compress(raw, compresslevel=6, mtime=0))
    return sha256_hex(raw)


__all__ = ["DataFileError", "read_gzip", "parse_idx", "load_idx", "verify", "write_idx_gz", "sha256_hex",
           "clear_cache"]
