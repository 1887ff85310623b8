"""``SummaryWriter``: PyTorch's ``torch.utils.tensorboard.SummaryWriter``, writing TensorBoard event files.

The files are written by the ``tensorboard`` package's own ``EventFileWriter`` (a background thread appends
length-prefixed, CRC-checked records to ``events.out.tfevents.TIME.HOST.PID.N``); the summaries are built in
``summary.py``. Names, arguments and defaults are PyTorch's, so ``from tinycnn.utils.tensorboard import
SummaryWriter`` replaces ``from torch.utils.tensorboard import SummaryWriter``; values may be tinycnn
tensors (any device), NumPy arrays or numbers.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from datetime import datetime

import numpy as np

INSTALL = "pip install tensorboard (or pip install 'tinycnn[tensorboard]')"


def _load():
    """The modules that need the ``tensorboard`` package, imported on first use (an optional dependency)."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event, SessionLog  # noqa: PLC0415  (optional package)
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: PLC0415

        from . import summary  # noqa: PLC0415  (it imports the tensorboard package's protos)
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("tensorboard", "google"):
            raise
        raise ImportError(f"SummaryWriter needs the tensorboard package to write event files: {INSTALL}") from None
    return Event, SessionLog, EventFileWriter, summary


def _make_log_dir(log_dir: str) -> None:
    """Create ``log_dir`` (and its parents), with a one-line error naming it when that is impossible."""
    try:
        os.makedirs(log_dir, exist_ok=True)
        probe = os.path.join(log_dir, f".write-test-{os.getpid()}")
        with open(probe, "wb"):
            pass
        os.unlink(probe)
    except OSError as exc:
        raise type(exc)(f"SummaryWriter: cannot write to the log folder {log_dir!r}: {exc.strerror or exc}") from None


class FileWriter:
    """One event file in ``log_dir``: ``add_summary`` / ``add_event`` append to it, in order."""

    def __init__(self, log_dir: str, max_queue: int = 10, flush_secs: int = 120, filename_suffix: str = ""):
        log_dir = os.fspath(log_dir)
        _make_log_dir(log_dir)
        self._event_cls, _, event_file_writer, _ = _load()
        self.event_writer = event_file_writer(log_dir, max_queue, flush_secs, filename_suffix)

    def get_logdir(self) -> str:
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None) -> None:
        event.wall_time = time.time() if walltime is None else float(walltime)
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None) -> None:
        self.add_event(self._event_cls(summary=summary), global_step, walltime)

    def flush(self) -> None:
        self.event_writer.flush()

    def close(self) -> None:
        self.event_writer.close()


class SummaryWriter:
    """Writes scalars, histograms, images, text and hyperparameters for TensorBoard (``tensorboard --logdir``).

    ``log_dir`` defaults to ``runs/MONTHDAY_HH-MM-SS_HOSTNAME{comment}``, as PyTorch's. ``purge_step``: when
    a crashed run restarts at step T, TensorBoard hides the events at T and after from the old file.
    A writer closed with ``close()`` opens a new event file if it is used again.
    """

    def __init__(self, log_dir=None, comment: str = "", purge_step: int | None = None, max_queue: int = 10,
                 flush_secs: int = 120, filename_suffix: str = ""):
        if not log_dir:
            stamp = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")
        self.log_dir = os.fspath(log_dir)
        self.purge_step = purge_step
        self.max_queue, self.flush_secs, self.filename_suffix = max_queue, flush_secs, filename_suffix
        _make_log_dir(self.log_dir)               # before the import: a bad folder is named even without it
        self._event, self._session_log, _, self._summary = _load()
        self.default_bins = self._summary.tensorflow_bins()
        self.file_writer = self.all_writers = None
        self._get_file_writer()

    def _get_file_writer(self) -> FileWriter:
        if self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                self.file_writer.add_event(self._event(step=self.purge_step, file_version="brain.Event:2"))
                self.file_writer.add_event(self._event(step=self.purge_step, session_log=self._session_log(
                    status=self._session_log.START)))
                self.purge_step = None
        return self.file_writer

    def get_logdir(self) -> str:
        return self.log_dir

    def _add(self, summary, global_step, walltime) -> None:
        self._get_file_writer().add_summary(summary, global_step, walltime)

    # ---- what can be logged -----------------------------------------------------------------------------
    def add_scalar(self, tag: str, scalar_value, global_step=None, walltime=None, new_style: bool = False,
                   double_precision: bool = False) -> None:
        """One value (a number or one-element tensor) of the series ``tag`` at ``global_step``."""
        self._add(self._summary.scalar(tag, scalar_value, new_style, double_precision), global_step, walltime)

    def add_scalars(self, main_tag: str, tag_scalar_dict: dict, global_step=None, walltime=None) -> None:
        """Several series in one chart: each goes to its own sub-folder ``LOGDIR/MAINTAG_TAG``, tagged ``main_tag``."""
        if not isinstance(tag_scalar_dict, dict):
            raise TypeError(f"add_scalars({main_tag!r}): expected a dict {{tag: value}}, got "
                            f"{type(tag_scalar_dict).__name__}")
        walltime = time.time() if walltime is None else walltime
        root = self._get_file_writer().get_logdir()
        for tag, value in tag_scalar_dict.items():
            folder = root + "/" + main_tag.replace("/", "_") + "_" + tag
            writer = self.all_writers.get(folder)
            if writer is None:
                writer = FileWriter(folder, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[folder] = writer
            writer.add_summary(self._summary.scalar(main_tag, value), global_step, walltime)

    def add_histogram(self, tag: str, values, global_step=None, bins="tensorflow", walltime=None,
                      max_bins: int | None = None) -> None:
        """A histogram of ``values``. ``bins``: "tensorflow" (TensorFlow's exponential buckets, the default),
        anything ``np.histogram`` takes (a count, edges, "auto"...); ``max_bins`` merges neighbouring buckets
        until there are at most that many."""
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._add(self._summary.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_image(self, tag: str, img_tensor, global_step=None, walltime=None, dataformats: str = "CHW") -> None:
        """One image: floats in [0, 1] or uint8 in [0, 255], 1, 3 or 4 channels, in the layout ``dataformats``."""
        self._add(self._summary.image(tag, img_tensor, dataformats, f"add_image({tag!r})"), global_step, walltime)

    def add_images(self, tag: str, img_tensor, global_step=None, walltime=None, dataformats: str = "NCHW") -> None:
        """A batch of images, shown as one grid (8 a row)."""
        self._add(self._summary.image(tag, img_tensor, dataformats, f"add_images({tag!r})"), global_step, walltime)

    def add_figure(self, tag: str, figure, global_step=None, close: bool = True, walltime=None) -> None:
        """A matplotlib figure (or a list of them, as a grid), rendered to an image."""
        figures = figure if isinstance(figure, list) else [figure]
        images = [self._summary.figure_to_chw(f) for f in figures]
        if close:
            for f in figures:
                _close_figure(f)
        if isinstance(figure, list):
            self.add_images(tag, np.stack(images), global_step, walltime, dataformats="NCHW")
        else:
            self.add_image(tag, images[0], global_step, walltime, dataformats="CHW")

    def add_text(self, tag: str, text_string: str, global_step=None, walltime=None) -> None:
        """Text (Markdown) under ``TAG/text_summary``."""
        self._add(self._summary.text(tag, text_string), global_step, walltime)

    def add_hparams(self, hparam_dict: dict, metric_dict: dict, hparam_domain_discrete: dict | None = None,
                    run_name: str | None = None, global_step=None) -> None:
        """One run's hyperparameters and final metrics for the HParams tab, in the sub-folder ``run_name``
        (default: the current time), with each metric also written as a scalar there."""
        exp, start, end = self._summary.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        folder = os.path.join(self._get_file_writer().get_logdir(), run_name or str(time.time()))
        with SummaryWriter(log_dir=folder) as writer:
            for summary in (exp, start, end):
                writer.file_writer.add_summary(summary, global_step)
            for key, value in metric_dict.items():
                writer.add_scalar(key, value, global_step)

    # ---- files ------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything queued to disk now."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self) -> None:
        """Flush and close every event file (a second close does nothing)."""
        for writer in (self.all_writers or {}).values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self) -> "SummaryWriter":
        return self

    def __exit__(self, *exc) -> bool:
        self.close()
        return False


def _close_figure(figure) -> None:
    """Release a figure made with pyplot (a bare ``matplotlib.figure.Figure`` needs nothing)."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is not None:
        plt.close(figure)
