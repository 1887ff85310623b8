"""DistributedDataParallel and SyncBatchNorm across 2 MPI processes (the cases run in tests/mpi_cases.py)."""
import re

import numpy as np
import pytest

import tinycnn
from tinycnn import nn
from tinycnn.nn.parallel import DistributedDataParallel, SyncBatchNorm
from mpi_helpers import run_ranks

# float32 training: the ranks' averaged gradients differ from one process's by rounding in the order of the
# sums, so after a few steps the parameters agree to this tolerance (measured: about 3e-8)
TOLERANCE = 1e-5


@pytest.mark.parametrize("norm", ["plain", "syncbn"])
def test_two_processes_train_the_same_parameters_as_one_with_the_same_global_batch(norm):
    proc = run_ranks("ddp_matches_one_process", norm, 4)
    worst = float(re.search(r"largest difference from one process: (\S+)", proc.stdout).group(1))
    assert worst < TOLERANCE


def test_bucketed_gradients_equal_one_allreduce_per_parameter_and_no_sync_accumulates():
    assert "ok ddp_buckets" in run_ranks("ddp_buckets").stdout


def test_batchnorm_statistics_are_each_process_own_with_rank_0s_running_statistics_broadcast():
    assert "ok ddp_batchnorm_buffers" in run_ranks("ddp_batchnorm_buffers").stdout


def test_syncbatchnorm_equals_batchnorm_on_the_whole_batch_and_passes_a_gradcheck_across_ranks():
    assert "ok syncbn" in run_ranks("syncbn").stdout


def test_convert_sync_batchnorm_keeps_parameters_statistics_and_mode():
    tinycnn.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm1d(4)))
    model[1].running_mean.array[...] = 0.5
    model.eval()
    weight = model[1].weight
    converted = SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(converted[1], SyncBatchNorm) and isinstance(converted[2][0], SyncBatchNorm)
    assert converted[1].weight is weight and not converted[1].training
    np.testing.assert_array_equal(converted[1].running_mean.numpy(), 0.5)
    x = tinycnn.randn(2, 4, 3, 3)
    bn = nn.BatchNorm2d(4)
    bn.load_state_dict(converted[1].state_dict())
    bn.eval()
    np.testing.assert_array_equal(converted[1](x).numpy(), bn(x).numpy())   # a group of none: BatchNorm


def test_ddp_needs_a_process_group():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedDataParallel(nn.Linear(2, 2))


def test_syncbatchnorm_is_reached_as_torch_nn_names_it_without_importing_distributed_with_nn():
    import subprocess
    import sys
    code = ("import sys, tinycnn.nn as nn; before = 'tinycnn.distributed' in sys.modules; "
            "from tinycnn.nn.parallel import SyncBatchNorm; print(before, nn.SyncBatchNorm is SyncBatchNorm)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["False", "True"]
    with pytest.raises(AttributeError, match="NoSuchLayer"):
        nn.NoSuchLayer
