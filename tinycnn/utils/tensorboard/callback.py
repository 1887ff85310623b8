"""``TensorBoardLogger``: what a training loop logs to TensorBoard, as the calls the loop makes.

::

    logger = TensorBoardLogger("runs/lenet5/tensorboard", model)
    for epoch in range(1, epochs + 1):
        for x, y in loader:
            ...
            loss.backward()
            logger.after_backward(loss=loss.item(), lr=opt.param_groups[0]["lr"])   # every step
            opt.step()
        logger.end_epoch(epoch, {"train_loss": ..., "test_accuracy": ...},
                         images=x_test[:16], labels=y_test[:16], predictions=pred[:16])
    logger.close()

Per step (one in ``scalar_every``): ``train/loss`` and ``train/lr``. One step in ``histogram_every``: a
histogram of every parameter (``weights/NAME``) and of its gradient (``grads/NAME``), read right after
backward. Per epoch: each metric, ``train_loss`` as ``loss/train`` and ``test_accuracy`` as
``accuracy/test`` (so TensorBoard draws train and test in one chart), any other key as ``epoch/KEY``; and
with ``images``, a figure of the sample images titled "predicted (true)", mistakes in red.
"""
from __future__ import annotations

import numpy as np

from .writer import SummaryWriter


class TensorBoardLogger:
    """Training-loop calls that log to a ``SummaryWriter`` (module docstring). ``log_dir`` may be a writer."""

    def __init__(self, log_dir, model=None, scalar_every: int = 10, histogram_every: int = 100,
                 class_names: list | None = None):
        for name, value in (("scalar_every", scalar_every), ("histogram_every", histogram_every)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"TensorBoardLogger: {name} must be a positive integer, got {value!r}")
        self.writer = log_dir if isinstance(log_dir, SummaryWriter) else SummaryWriter(log_dir)
        self.model = model
        self.scalar_every, self.histogram_every = scalar_every, histogram_every
        self.class_names = class_names
        self.step = 0

    def after_backward(self, step: int | None = None, loss=None, lr: float | None = None) -> None:
        """After ``loss.backward()`` (before ``optimizer.step()``): the loss, the learning rate and, one step in
        ``histogram_every``, the weights' and gradients' histograms. ``step`` defaults to a running count."""
        step = self.step if step is None else int(step)
        if step % self.scalar_every == 0:
            if loss is not None:
                self.writer.add_scalar("train/loss", loss, step)
            if lr is not None:
                self.writer.add_scalar("train/lr", lr, step)
        if self.model is not None and step % self.histogram_every == 0:
            self.log_histograms(step)
        self.step = step + 1

    def log_histograms(self, step: int) -> None:
        """Every parameter's values and (where backward left one) gradient, as histograms."""
        for name, p in self.model.named_parameters():
            values = p.numpy()
            if values.size and np.isfinite(values).all():
                self.writer.add_histogram(f"weights/{name}", values, step)
            if p.grad is not None:
                grad = p.grad.numpy()
                if grad.size and np.isfinite(grad).all():
                    self.writer.add_histogram(f"grads/{name}", grad, step)

    def end_epoch(self, epoch: int, metrics: dict | None = None, images=None, labels=None,
                  predictions=None, step: int | None = None) -> None:
        """The epoch's metrics and, given ``images`` with ``labels`` and ``predictions``, sample predictions,
        logged at ``step`` (default: ``epoch``; a loop that logs its steps too passes the epoch's last one)."""
        step = epoch if step is None else int(step)
        for key, value in (metrics or {}).items():
            if not isinstance(value, (int, float, np.floating, np.integer)) or isinstance(value, bool):
                continue
            split, _, name = key.partition("_")
            tag = f"{name}/{split}" if split in ("train", "test", "val") and name else f"epoch/{key}"
            self.writer.add_scalar(tag, value, step)
        if images is not None:
            self.writer.add_figure("predictions", self.predictions_figure(images, labels, predictions), step)
        self.writer.flush()

    def predictions_figure(self, images, labels=None, predictions=None, columns: int = 8):
        """A grid of images (N, C, H, W) titled "predicted (true)", wrong ones in red."""
        from matplotlib.figure import Figure  # noqa: PLC0415  (plotting is loaded only when a figure is made)
        from .summary import to_numpy  # noqa: PLC0415  (it needs the tensorboard package, present by now)
        imgs = to_numpy(images, "predictions_figure")
        if imgs.ndim == 3:
            imgs = imgs[:, None]
        n = len(imgs)
        rows = max(-(-n // columns), 1)
        fig = Figure(figsize=(1.4 * min(n, columns), 1.6 * rows), layout="constrained")
        def name(c) -> str:
            return self.class_names[int(c)] if self.class_names else str(int(c))

        truth = None if labels is None else to_numpy(labels, "labels").ravel()
        guess = None if predictions is None else to_numpy(predictions, "predictions").ravel()
        for k in range(n):
            ax = fig.add_subplot(rows, min(n, columns), k + 1)
            img = imgs[k].transpose(1, 2, 0)
            lo, hi = float(img.min()), float(img.max())
            img = (img - lo) / (hi - lo) if hi > lo else img * 0
            ax.imshow(img[:, :, 0] if img.shape[2] == 1 else img, cmap="gray" if img.shape[2] == 1 else None)
            ax.axis("off")
            if guess is not None:
                title = name(guess[k]) + (f" ({name(truth[k])})" if truth is not None else "")
                wrong = truth is not None and int(guess[k]) != int(truth[k])
                ax.set_title(title, fontsize=8, color="red" if wrong else "black")
        return fig

    def close(self) -> None:
        self.writer.close()
