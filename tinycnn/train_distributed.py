"""``tinycnn train --distributed``: one training run in the processes an MPI launcher started
(``mpirun -n 4 tinycnn train ... --distributed``, or ``tinycnn train ... --nproc 4`` which starts mpiexec).

Every rank builds the same trainer as ``train.py``; then, as with PyTorch's DistributedDataParallel:

- ``--batch-size`` is the batch of each process (PyTorch's convention): a step trains on N x batch-size
  images, and the learning rate is not scaled;
- each rank trains on its ``DistributedSampler`` share of the shuffled training set, the model wrapped in
  ``DistributedDataParallel`` (rank 0's initial weights, gradients averaged across ranks every step);
- rank 0 alone owns the run folder: it claims and locks it, evaluates on the test set after each epoch and
  writes config.json, metrics.json (losses and accuracies over all ranks' images) and the checkpoints,
  atomically, as a single-process run does; the other ranks write nothing and print nothing;
- a checkpoint records the number of processes; ``--resume`` continues only with that number.

Errors: one all ranks meet together (a bad setting, a non-finite loss, a full disk on rank 0) stops every
rank with the usual message and exit status; any other failure of one rank ends the process with
``MPI_Abort``, which makes the launcher stop all the others at once instead of letting them wait.
"""
from __future__ import annotations

import contextlib
import math
import os
from typing import Iterable

import numpy as np

from . import distributed as dist
from .nn.parallel import DistributedDataParallel
from .run_errors import ConfigError, RunError
from .train import Trainer, TrainingError, claim_run, prepare_run
from .train_settings import TrainConfig
from .utils.data import DataLoader, DistributedSampler


class PeerStopped(Exception):
    """Rank 0 stopped with an error it has reported: this rank stops too, silently."""


class DistributedTrainer(Trainer):
    """A ``Trainer`` whose steps run on this rank's share of the data, synchronised with the other ranks."""

    def __init__(self, config: TrainConfig, load_pretrained: bool = True, weights: dict | None = None):
        super().__init__(config, load_pretrained, weights)
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        cfg = self.config
        sampler = DistributedSampler(self.train_set, seed=cfg.seed, shuffle=True)
        self.train_loader = DataLoader(self.train_set, batch_size=cfg.batch_size, sampler=sampler,
                                       drop_last=self._drop_lone_last_image(len(sampler)))
        self.network = DistributedDataParallel(self.model)

    # what the ranks combine
    def _all_finite(self, loss_value: float) -> bool:
        flag = np.array([1 if math.isfinite(loss_value) else 0], dtype=np.int64)
        dist.all_reduce(flag, dist.ReduceOp.MIN)       # so that every rank stops at the same step
        return bool(flag[0])

    def _epoch_totals(self, seen: int, loss_sum: float, correct: int) -> tuple[int, float, int]:
        totals = np.array([seen, loss_sum, correct], dtype=np.float64)
        dist.all_reduce(totals)
        return int(totals[0]), float(totals[1]), int(totals[2])

    def _evaluate(self) -> tuple:
        result = list(super()._evaluate()) if self.rank == 0 else [None] * 4
        dist.broadcast_object_list(result, src=0)
        return tuple(result)

    # what rank 0 alone writes
    def checkpoint(self) -> dict:
        return {**super().checkpoint(), "world_size": self.world_size}

    def metrics(self) -> dict:
        return {**super().metrics(), "world_size": self.world_size,
                "global_batch_size": self.world_size * self.config.batch_size}

    def _save_epoch(self, test_acc: float) -> None:
        failure = [None]
        if self.rank == 0:
            try:
                super()._save_epoch(test_acc)
            except BaseException as exc:
                failure = [str(exc)]
                dist.broadcast_object_list(failure, src=0)
                raise
        dist.broadcast_object_list(failure, src=0)
        if failure[0] is not None:
            raise PeerStopped(failure[0])

    def _save_interrupted(self) -> None:
        if self.rank == 0:
            super()._save_interrupted()

    def fit(self, resume: bool = False) -> list[dict]:
        if self.rank == 0:
            return super().fit(resume)
        self._train_epochs()
        return self.history


def _on_rank0(rank: int, work=None, share: bool = True):
    """Rank 0 runs ``work()`` and returns its result; the other ranks get it too (``share``) or None, or stop
    with ``PeerStopped`` when it raised (rank 0 raises its own error)."""
    outcome = [None, None]
    if rank == 0:
        try:
            result = work()
        except BaseException as exc:
            dist.broadcast_object_list([None, f"{type(exc).__name__}: {exc}"], src=0)
            raise
        outcome = [result if share else None, None]
    dist.broadcast_object_list(outcome, src=0)
    if outcome[1] is not None:
        raise PeerStopped(outcome[1])
    return result if rank == 0 else outcome[0]


def train_distributed(config: TrainConfig, resume: bool = False, given: Iterable[str] | None = None) -> list[dict]:
    """``train`` (train.py) in every process of the MPI job; see this module's docstring. Returns the
    per-epoch rows on rank 0, an empty list on the others."""
    try:
        dist.init_process_group()
    except ImportError as exc:
        raise RunError(f"--distributed: {exc}") from None
    rank, world_size = dist.get_rank(), dist.get_world_size()
    run = None
    quiet = open(os.devnull, "w") if rank else None    # closed below
    try:
        with contextlib.redirect_stdout(quiet) if quiet else contextlib.nullcontext():
            run = _on_rank0(rank, lambda: claim_run(config, resume, given), share=False)
            prepared = _on_rank0(rank, lambda: prepare_run(run, config, resume, given, world_size))
            if rank:
                prepared[0].progress = False     # one progress bar: rank 0's
            settings, changes, checkpoint = prepared
            config.out = settings.out
            trainer = DistributedTrainer(settings, load_pretrained=checkpoint is None,
                                         weights=checkpoint["model"] if checkpoint is not None else None)
            trainer.run, trainer.changes = run, changes
            if checkpoint is not None:
                trainer.restore(checkpoint)
            history = trainer.fit(resume=resume)
            return history if rank == 0 else []
    except (PeerStopped, TrainingError, ConfigError, RunError):
        raise                        # met by every rank together: each stops with the usual exit status
    except BaseException:
        dist.abort_at_exit()         # this rank alone: the launcher must stop the others
        raise
    finally:
        if run is not None:
            run.release()
        if quiet is not None:
            quiet.close()
        if dist.is_initialized():
            dist.destroy_process_group()


def running_under_mpi() -> bool:
    """Whether this process was started by an MPI launcher (the environment mpiexec gives its ranks)."""
    return any(name in os.environ for name in ("PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"))


__all__ = ["DistributedTrainer", "PeerStopped", "train_distributed", "running_under_mpi"]
