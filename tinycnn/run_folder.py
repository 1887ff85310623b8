"""A training run's folder: chosen so that no run overwrites another, locked while a process writes into it.

What a run folder holds::

    config.json     every setting of the run (written before the first epoch) and each resume
    train.lock      present while a process trains into the folder: who (pid, host, command, since when)
    last.npz        after each epoch: everything needed to resume
    best.npz        the epoch with the best test accuracy (a hard link to last.npz when it is that epoch)
    metrics.json    one row per epoch, and what the run ran on
    curves.png      loss and accuracy per epoch
    .tmp-*          only ever for an instant: a file being written (tinycnn/utils/atomic.py); one left
                    behind by a killed process is removed when the run is resumed

Rules:
* A new run takes a folder that does not exist or is empty, never one that holds another run's files.
  Without ``--out`` it takes the first free one of ``runs/MODEL``, ``runs/MODEL-2``, ``runs/MODEL-3``...
  A folder holding only ``config.json`` (a run that never finished an epoch, so nothing of value) may be
  taken by a new run.
* ``--resume`` reopens the folder it is given, or without ``--out`` the latest ``runs/MODEL[-N]``.
* The lock is an advisory ``flock`` on ``train.lock``: the operating system releases it when its process
  ends, however it ends (even ``kill -9``), so a lock left behind by a dead process never blocks anyone. A
  second process that finds the lock held stops before doing any work, naming the holder.
"""
from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import socket
import sys

from .run_errors import RunError
from .utils.atomic import TEMP_PREFIX, atomic_write

try:
    import fcntl
except ImportError:        # Windows
    fcntl = None
    import msvcrt

CONFIG = "config.json"
LOCK = "train.lock"
LAST = "last.npz"
RUNS_ROOT = "runs"
_BOOKKEEPING = (CONFIG, LOCK)     # files that are not a run's results


def _now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _try_lock(fd: int) -> bool:
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        else:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    except (BlockingIOError, PermissionError):
        return False
    return True


def _results(path: str) -> list[str]:
    """The entries of ``path`` that are something's results (everything but bookkeeping and temporaries)."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n not in _BOOKKEEPING and not n.startswith(TEMP_PREFIX))


def holds_run(path: str) -> bool:
    return os.path.isfile(os.path.join(path, CONFIG)) or os.path.isfile(os.path.join(path, LAST))


def _numbered(model: str, root: str) -> list[tuple[int, str]]:
    """(number, path) of runs/MODEL (number 1) and runs/MODEL-N that exist, in number order."""
    try:
        names = os.listdir(root)
    except OSError:
        return []
    pattern = re.compile(re.escape(model) + r"(?:-(\d+))?$")
    found = []
    for name in names:
        m = pattern.match(name)
        if m and os.path.isdir(os.path.join(root, name)):
            found.append((int(m.group(1) or 1), os.path.join(root, name)))
    return sorted(found)


class RunFolder:
    """One run's folder, held (locked) by this process between ``claim_*`` and ``release``."""

    def __init__(self, path: str):
        self.path = os.path.normpath(os.fspath(path))
        self.created = False           # made by this process (removed again if the run never starts)
        self.started = False           # config.json written: the run has begun
        self.notes: list[str] = []     # what the user should be told (printed by the caller)
        self._lock_fd: int | None = None
        self._made: list[str] = []     # parent folders this process created for it, outermost first

    def file(self, name: str) -> str:
        return os.path.join(self.path, name)

    # ---- claiming -------------------------------------------------------------------------------------------
    @classmethod
    def claim_new(cls, path: str | None, model: str, root: str = RUNS_ROOT) -> RunFolder:
        """The folder of a new run, created if needed and locked. ``path`` must not hold another run's files;
        None picks the first free ``root/MODEL``, ``root/MODEL-2``, ..."""
        if path is not None:
            run = cls(path)
            run._take(explicit=True)
            return run
        for n in range(1, 10_000):
            run = cls(os.path.join(root, model if n == 1 else f"{model}-{n}"))
            try:
                run._take(explicit=False)
            except _Busy:
                continue
            return run
        raise RunError(f"no free run folder for {model} in {root}/ (10,000 taken); pass --out")

    @classmethod
    def claim_existing(cls, path: str | None, model: str, root: str = RUNS_ROOT) -> RunFolder:
        """The folder of a run to resume, locked, with the temporary files of a killed process removed."""
        if path is None:
            runs = [p for _, p in _numbered(model, root) if holds_run(p)]
            if not runs:
                raise RunError(f"--resume: no run of {model} in {root}/ to resume; pass --out with its folder")
            path = runs[-1]
            note = f"resuming {path}, the latest run of {model} in {root}/ (--out picks another)"
        else:
            note = None
        run = cls(path)
        if not os.path.isdir(run.path):
            raise RunError(f"--resume: {run.path} does not exist; --out must name the folder of the run to resume")
        if not holds_run(run.path):
            raise RunError(f"--resume: {run.path} holds no run to resume (no {CONFIG} or {LAST}); start a new "
                           f"run there without --resume")
        run._lock(explicit=True)
        if note:
            run.notes.append(note)
        run._clean_temporaries()
        return run

    def _take(self, explicit: bool) -> None:
        """Create (if needed) and lock a folder for a new run. Without ``explicit`` (no --out), a folder that
        cannot be taken raises ``_Busy``, for the caller to try the next number."""
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            if not explicit:
                raise _Busy()
            raise RunError(f"--out {self.path} is a file, not a folder; give a folder for the run")
        results = _results(self.path)
        if results:
            if not explicit:
                raise _Busy()
            shown = ", ".join(results[:4]) + (", ..." if len(results) > 4 else "")
            if holds_run(self.path):
                raise RunError(f"--out {self.path} already holds a run ({shown}): continue it with --resume, or "
                               f"give a new folder with --out (without --out a fresh runs/MODEL-N is used)")
            raise RunError(f"--out {self.path} is not empty ({shown}): give a new or empty folder for the run")
        if not os.path.isdir(self.path):
            try:
                _make_parents(self.path, self._made)
                os.mkdir(self.path)
                self.created = True
            except FileExistsError:
                pass                       # another process made it a moment ago: the lock decides
            except OSError as exc:
                raise RunError(f"cannot create the run folder {self.path}: {exc.strerror}; choose a folder you "
                               f"can write to with --out") from None
        self._lock(explicit)
        results = _results(self.path)      # another process may have filled it between the look and the lock
        if results:
            self.release()
            if explicit:
                raise RunError(f"--out {self.path} already holds a run ({', '.join(results[:4])}): continue it "
                               f"with --resume, or give a new folder with --out")
            raise _Busy()
        if os.path.isfile(self.file(CONFIG)):
            self.notes.append(f"{self.path} held a run that never finished an epoch: starting a new run there")
        self._clean_temporaries()

    # ---- the lock ---------------------------------------------------------------------------------------------
    def _lock(self, explicit: bool) -> None:
        path = self.file(LOCK)
        for _ in range(20):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise RunError(f"cannot write into the run folder {self.path}: {exc.strerror}; choose a folder "
                               f"you can write to with --out") from None
            if not _try_lock(fd):
                holder = _read_holder(fd)
                os.close(fd)
                if not explicit:
                    raise _Busy()
                raise RunError(f"{self.path} is in use by {holder}: wait for it to finish (or stop it), or use "
                               f"another --out")
            try:   # the previous holder removes the file as it ends: a lock on a removed file counts for nothing
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd = fd
                _write_holder(fd)
                return
            os.close(fd)
        raise RunError(f"{self.path}: could not take the lock {path}")

    @property
    def locked(self) -> bool:
        return self._lock_fd is not None

    def relock(self) -> None:
        """Take the lock again after ``release`` (a trainer that goes on training into its folder)."""
        if not self.locked:
            self._lock(explicit=True)

    def release(self) -> None:
        """Unlock and remove the lock file. A folder this process created for a run that never started (an
        error before the first epoch's configuration was written) is removed again, if nothing else is in it."""
        if self._lock_fd is None:
            return
        try:
            os.unlink(self.file(LOCK))
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None
        if self.created and not self.started:
            for folder in [self.path, *reversed(self._made)]:
                try:
                    os.rmdir(folder)
                except OSError:
                    break

    def __enter__(self) -> RunFolder:
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # ---- contents ----------------------------------------------------------------------------------------------
    def _clean_temporaries(self) -> None:
        stale = [n for n in os.listdir(self.path) if n.startswith(TEMP_PREFIX)]
        for name in stale:
            target = self.file(name)
            if os.path.isdir(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                try:
                    os.unlink(target)
                except OSError:
                    pass
        if stale:
            self.notes.append(f"removed {len(stale)} unfinished temporary file(s) ({TEMP_PREFIX}*) left by a "
                              f"stopped run in {self.path}")

    def saved_config(self) -> dict:
        """The settings the run recorded: config.json, or the checkpoint's copy where config.json is absent
        or unreadable (a folder written by an older tinycnn)."""
        try:
            with open(self.file(CONFIG)) as f:
                record = json.load(f)
            if isinstance(record, dict) and isinstance(record.get("config"), dict):
                return record["config"]
        except (OSError, ValueError):
            pass
        if os.path.isfile(self.file(LAST)):
            from .utils.serialization import load  # noqa: PLC0415  (only folders without config.json need it)
            state = load(self.file(LAST), as_tensors=False)
            if isinstance(state, dict) and isinstance(state.get("config"), dict):
                return state["config"]
        raise RunError(f"{self.file(CONFIG)} is damaged and {self.file(LAST)} holds no configuration: the run "
                       f"cannot be resumed; start a new one")

    def write_json(self, name: str, obj) -> None:
        with atomic_write(self.file(name), "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")

    def record_start(self, config: dict, version: str) -> None:
        """config.json for a new run: its settings, before the first epoch."""
        self.write_json(CONFIG, {"tinycnn_version": version, "created": _now(), "command": _command(),
                                 "config": config, "resumed": []})
        self.started = True

    def record_resume(self, config: dict, version: str, after_epoch: int, changes: dict) -> None:
        """config.json after a resume: the settings now in force, and what changed when."""
        try:
            with open(self.file(CONFIG)) as f:
                record = json.load(f)
            if not isinstance(record, dict):
                raise ValueError
        except (OSError, ValueError):
            record = {"tinycnn_version": version, "created": None, "command": None, "resumed": []}
        record["config"] = config
        record.setdefault("resumed", []).append(
            {"time": _now(), "after_epoch": after_epoch, "tinycnn_version": version, "command": _command(),
             "changed": {k: list(v) for k, v in changes.items()}})
        self.write_json(CONFIG, record)
        self.started = True


def _make_parents(path: str, made: list[str]) -> None:
    """Create the missing parents of ``path``, adding each to ``made`` (outermost first) as it is created."""
    missing, parent = [], os.path.dirname(os.path.abspath(path))
    while not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for folder in reversed(missing):
        try:
            os.mkdir(folder)
            made.append(folder)
        except FileExistsError:
            pass


class _Busy(Exception):
    """A candidate folder for a run without --out is taken: try the next."""


def _command() -> str:
    """The command line of this process, as the user typed it (``tinycnn train ...``)."""
    if not sys.argv:
        return "python"
    program = os.path.basename(sys.argv[0])
    if program == "__main__.py":
        program = "python -m " + os.path.basename(os.path.dirname(sys.argv[0]))
    return " ".join([program, *sys.argv[1:]])


def _write_holder(fd: int) -> None:
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": _command(), "since": _now()}
    data = json.dumps(info).encode()
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _read_holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 4096) or b"{}")
        where = "" if info.get("host") == socket.gethostname() else f" on {info.get('host')}"
        return f"process {info['pid']}{where} ({info.get('command')}, since {info.get('since')})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"
