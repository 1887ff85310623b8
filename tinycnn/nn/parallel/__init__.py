"""Data-parallel layers over ``tinycnn.distributed``: ``DistributedDataParallel`` and ``SyncBatchNorm``
(as ``torch.nn.parallel.DistributedDataParallel`` and ``torch.nn.SyncBatchNorm``). Importing this package
does not import mpi4py; making a DistributedDataParallel needs an initialised process group."""
from .distributed import DistributedDataParallel
from .sync_batchnorm import SyncBatchNorm, SyncBatchNormFunction

__all__ = ["DistributedDataParallel", "SyncBatchNorm", "SyncBatchNormFunction"]
