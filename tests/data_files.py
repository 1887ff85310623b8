"""Small data files in the official formats, written by the tests (CIFAR archives, image folders), and a local
HTTP server to download them from.

CIFAR's python batches were written by Python 2's cPickle (protocol 2): ``str`` keys and pixel data as
``BINSTRING``, arrays as ``numpy.core.multiarray._reconstruct`` + ``BUILD``. ``py2_pickle`` writes those
opcodes directly, so the tests read files made the way the real ones were, not what Python 3 would write.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import struct
import tarfile
import threading
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


# ---- a Python 2 style protocol-2 pickle writer -------------------------------------------------------------
def _str(s: bytes) -> bytes:
    return (b"U" + bytes([len(s)]) + s) if len(s) < 256 else (b"T" + struct.pack("<I", len(s)) + s)


def _int(v: int) -> bytes:
    if 0 <= v < 256:
        return b"K" + bytes([v])
    if 0 <= v < 65536:
        return b"M" + struct.pack("<H", v)
    return b"J" + struct.pack("<i", v)


def _dtype(spec: str) -> bytes:
    return (b"cnumpy\ndtype\n" + _str(spec.encode()) + _int(0) + _int(1) + b"\x87R" +
            b"(" + _int(3) + _str(b"|") + b"NNN" + b"J\xff\xff\xff\xff" + b"J\xff\xff\xff\xff" + _int(0) + b"tb")


def _array(a: np.ndarray) -> bytes:
    assert a.dtype == np.uint8
    shape = b"(" + b"".join(_int(s) for s in a.shape) + b"t"
    return (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n" + _int(0) + b"\x85" + _str(b"b") +
            b"\x87R" + b"(" + _int(1) + shape + _dtype("u1") + b"\x89" + _str(a.tobytes()) + b"tb")


def _value(v) -> bytes:
    if isinstance(v, np.ndarray):
        return _array(v)
    if isinstance(v, str):
        return _str(v.encode("latin-1"))
    if isinstance(v, int):
        return _int(v)
    if isinstance(v, list):
        return b"](" + b"".join(_value(x) for x in v) + b"e"
    raise TypeError(type(v))


def py2_pickle(d: dict) -> bytes:
    body = b"".join(_str(k.encode()) + _value(v) for k, v in d.items())
    return b"\x80\x02}(" + body + b"u."


# ---- CIFAR ------------------------------------------------------------------------------------------------
def cifar_images(n: int, seed: int) -> np.ndarray:
    """n random 32 x 32 colour images, stored as CIFAR stores them: rows of 3,072 bytes (R, G, B planes)."""
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def write_cifar_python(root: Path, cifar100: bool = False, per_batch: int = 4, n_test: int = 3) -> dict:
    """``root/<folder>/`` with the python version's files; returns {file: md5} and the arrays written."""
    folder = root / ("cifar-100-python" if cifar100 else "cifar-10-batches-py")
    folder.mkdir(parents=True)
    written, md5 = {}, {}
    if cifar100:
        batches = {"train": (per_batch * 5, 1), "test": (n_test, 2)}
    else:
        batches = {f"data_batch_{i}": (per_batch, 10 + i) for i in range(1, 6)} | {"test_batch": (n_test, 20)}
    classes = 100 if cifar100 else 10
    for name, (n, seed) in batches.items():
        data = cifar_images(n, seed)
        labels = [int(v) for v in np.random.default_rng(seed).integers(0, classes, n)]
        entry = {"batch_label": f"batch {name}", "data": data, "filenames": [f"img_{i}.png" for i in range(n)]}
        if cifar100:
            entry |= {"fine_labels": labels, "coarse_labels": [v // 5 for v in labels]}
        else:
            entry["labels"] = labels
        (folder / name).write_bytes(py2_pickle(entry))
        written[name] = (data, labels)
    if cifar100:
        meta = {"fine_label_names": [f"fine{i:02d}" for i in range(100)],
                "coarse_label_names": [f"coarse{i:02d}" for i in range(20)]}
        (folder / "meta").write_bytes(py2_pickle(meta))
    else:
        meta = {"label_names": CIFAR10_NAMES, "num_cases_per_batch": per_batch, "num_vis": 3072}
        (folder / "batches.meta").write_bytes(py2_pickle(meta))
    for f in folder.iterdir():
        md5[f.name] = hashlib.md5(f.read_bytes()).hexdigest()
    return {"folder": folder, "md5": md5, "arrays": written}


def tar_gz(folder: Path, archive: Path) -> str:
    """Pack ``folder`` as the official archives are (its name as the top folder); the archive's SHA-256."""
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return hashlib.sha256(archive.read_bytes()).hexdigest()


def write_cifar_binary(root: Path, per_batch: int = 4, n_test: int = 3) -> dict:
    """``root/cifar-10-batches-bin/``: records of one label byte and 3,072 pixel bytes."""
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    written = {}
    for name, n, seed in [(f"data_batch_{i}.bin", per_batch, 10 + i) for i in range(1, 6)] + \
            [("test_batch.bin", n_test, 20)]:
        data = cifar_images(n, seed)
        labels = np.random.default_rng(seed).integers(0, 10, n).astype(np.uint8)
        (folder / name).write_bytes(np.concatenate([labels[:, None], data], axis=1).tobytes())
        written[name] = (data, labels.tolist())
    (folder / "batches.meta.txt").write_text("\n".join(CIFAR10_NAMES) + "\n\n")
    return {"folder": folder, "arrays": written}


# ---- image folders ------------------------------------------------------------------------------------------
def write_image_folder(root: Path, classes=("cat", "dog"), per_class: int = 3, size=(12, 10), fmt: str = "png",
                       seed: int = 0) -> list[Path]:
    """root/<class>/<k>.<fmt> colour images; returns the paths written."""
    rng = np.random.default_rng(seed)
    paths = []
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for k in range(per_class):
            path = root / c / f"{k:03d}.{fmt}"
            Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
            paths.append(path)
    return paths


def png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


# ---- a local HTTP server ------------------------------------------------------------------------------------
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """Serve ``folder`` over HTTP on 127.0.0.1 (a port of its own); yields the base URL."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
