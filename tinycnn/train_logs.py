"""What ``tinycnn train --log-grads`` and ``tinycnn train --tensorboard [DIR]`` record while a run trains.

Both count steps over the whole run: step 0 is the run's first training step, and a resumed run goes on
from ``epochs done x steps per epoch``, so its records continue the earlier ones.

``--log-grads``: one step in ``--log-grads-every`` (``tinycnn.utils.gradflow.GradientFlow``), the gradient
statistics of every parameter and the activation statistics of every layer; after each epoch the run folder
gets ``gradflow.json`` (every record so far) and ``gradflow.png`` (the gradient norm per layer, a line per
epoch), both written atomically before the epoch's checkpoint. A resume reads the records of the epochs
it keeps back from ``gradflow.json`` and drops those of later ones (a run stopped between the two writes),
so none is lost and none is counted twice.

``--tensorboard`` (``tinycnn.utils.tensorboard.TensorBoardLogger``; DIR defaults to the run folder's
``tensorboard/``): ``train/loss`` and ``train/lr`` every ``SCALAR_EVERY`` steps, histograms of every weight
and gradient at the first step of each epoch, and after each epoch its metrics (``loss/train``,
``accuracy/test``, ``epoch/lr``...) and a figure of sample test images with their predicted (true) classes,
at the step of the epoch's last training step. A resume writes a new event file into the same folder with
TensorBoard's ``purge_step``, so the steps a stopped run logged after its last checkpoint are hidden rather
than shown twice.

The module is imported by ``train_settings`` (the checks below); it loads the logging code only when a run
asks for it.
"""
from __future__ import annotations

import os

from .run_errors import RunError, describe_os_error

RUN_FOLDER = "{run}"                          # in a --tensorboard value: the run folder
TENSORBOARD_IN_RUN = RUN_FOLDER + "/tensorboard"
LOG_GRADS_EVERY = 10
SCALAR_EVERY = 10
SAMPLE_IMAGES = 16
GRADFLOW_JSON, GRADFLOW_PNG = "gradflow.json", "gradflow.png"


def tensorboard_folder(value: str, run_path: str) -> str:
    """The folder a ``--tensorboard`` value names (``{run}/...`` is inside the run folder)."""
    return run_path + value[len(RUN_FOLDER):] if value.startswith(RUN_FOLDER) else value


# ---- checks of the settings (train_settings.py): None when the value is good, else what was expected ---------
def log_folder(value) -> str | None:
    """A folder that exists and is writable, or can be created inside one that is (nothing is created here)."""
    if not isinstance(value, str) or not value:
        return f"expected a folder, got {value!r}"
    if value.startswith(RUN_FOLDER):
        return None                            # inside the run folder, which is checked when it is claimed
    from .models import MODELS  # noqa: PLC0415  (the models' table, loaded by then anyway)
    if value in MODELS and not os.path.exists(value):
        return (f"got {value!r}, which is a model's name: give MODEL before --tensorboard (tinycnn train {value} "
                f"--tensorboard), or --tensorboard ./{value} for a folder of that name")
    probe = os.path.normpath(value)
    while probe and not os.path.exists(probe):     # the nearest folder above that exists, as typed
        probe = os.path.dirname(probe)
    probe = probe or os.curdir
    if not os.path.isdir(probe):
        return f"expected a folder you can write to, got {value!r} ({probe} is a file, not a folder)"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"expected a folder you can write to, got {value!r} (no permission to write in {probe})"
    return None


def tensorboard_missing() -> str | None:
    """What to install when the ``tensorboard`` package cannot be imported (None when it can)."""
    from .utils.tensorboard.writer import INSTALL  # noqa: PLC0415  (imports no tensorboard itself)
    try:
        import tensorboard.summary.writer.event_file_writer  # noqa: F401,PLC0415  (the optional package)
    except ImportError as exc:
        return f"writing TensorBoard's event files needs the tensorboard package ({exc}): {INSTALL}"
    return None


# ---- the logs of one training --------------------------------------------------------------------------------
class TrainingLogs:
    """The gradient-flow records and the TensorBoard log of a ``Trainer``; ``open`` returns None when the run
    asks for neither. The trainer calls ``after_backward`` after each ``backward()`` (before the optimizer's
    step), ``end_epoch`` after each epoch's evaluation (before its checkpoint), and ``close`` at the end."""

    def __init__(self, trainer, flow, board, step: int):
        self.trainer, self.flow, self.board, self.step = trainer, flow, board, step
        self.samples = None
        if board is not None:
            test_set = trainer.test_set
            self.samples = [test_set[i][0].numpy() for i in range(min(SAMPLE_IMAGES, len(test_set)))]

    @classmethod
    def open(cls, trainer, resumed: bool) -> TrainingLogs | None:
        cfg, run = trainer.config, trainer.run
        if not cfg.log_grads and cfg.tensorboard is None:
            return None
        steps_per_epoch = max(len(trainer.train_loader), 1)
        start = trainer.epoch * steps_per_epoch
        flow = board = None
        try:
            if cfg.log_grads:
                from .utils.gradflow import GradientFlow  # noqa: PLC0415  (only runs that log load it)
                flow = GradientFlow(trainer.model, every=cfg.log_grads_every, start=start)
                flow.records = _saved_records(run.file(GRADFLOW_JSON), trainer.epoch) if resumed else []
            if cfg.tensorboard is not None:
                from .utils.tensorboard import SummaryWriter, TensorBoardLogger  # noqa: PLC0415  (as above)
                folder = tensorboard_folder(cfg.tensorboard, run.path)
                try:
                    writer = SummaryWriter(folder, purge_step=start if resumed else None)
                except OSError as exc:
                    raise RunError(f"--tensorboard: {exc}; choose a folder you can write to") from None
                board = TensorBoardLogger(writer, trainer.model, scalar_every=SCALAR_EVERY,
                                          histogram_every=steps_per_epoch, class_names=trainer.classes)
                settings = "  \n".join(f"{k}: {v}" for k, v in cfg.to_dict().items())
                writer.add_text("config", settings, start)
        except BaseException:
            if flow is not None:
                flow.close()
            raise
        return cls(trainer, flow, board, start)

    def after_backward(self, loss: float, lr: float) -> None:
        epoch = self.trainer.epoch + 1           # the epoch being trained
        if self.flow is not None:
            self.flow.after_backward(self.step, epoch=epoch)
        if self.board is not None:
            self.board.after_backward(self.step, loss=loss, lr=lr)
        self.step += 1

    def end_epoch(self, row: dict, predictions, labels) -> None:
        """The epoch's files and events (``row``: its line of metrics.json); an ``OSError`` names the file."""
        if self.flow is not None and self.flow.records:
            from .utils.plotting import _save_atomically  # noqa: PLC0415  (matplotlib only when a run writes)
            from .utils.serialization import write_bytes_atomically  # noqa: PLC0415
            write_bytes_atomically(self.trainer.path(GRADFLOW_JSON), self.flow.to_json())
            _save_atomically(self.flow.plot(), self.trainer.path(GRADFLOW_PNG))
        if self.board is not None:
            import numpy as np  # noqa: PLC0415
            metrics = {k: v for k, v in row.items() if k != "epoch"}
            n = len(self.samples)
            images = np.stack(self.samples) if n else None
            self.board.end_epoch(row["epoch"], metrics, images=images, labels=labels[:n],
                                 predictions=predictions[:n], step=self.step - 1)

    def close(self) -> None:
        if self.flow is not None:
            self.flow.close()
        if self.board is not None:
            self.board.close()


def _saved_records(path: str, epochs_kept: int) -> list:
    """The records of the first ``epochs_kept`` epochs that ``path`` (gradflow.json) holds, [] without it."""
    from .utils.gradflow import load_records  # noqa: PLC0415
    try:
        records = load_records(path)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RunError(f"{describe_os_error(exc)}: the gradient records of the earlier epochs cannot be read") \
            from None
    except ValueError as exc:
        raise RunError(f"{exc}: move it away to resume with the gradient records starting afresh") from None
    return [r for r in records if isinstance(r.get("epoch"), int) and r["epoch"] <= epochs_kept]
