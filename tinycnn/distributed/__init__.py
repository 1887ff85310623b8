"""Data-parallel training over MPI, with ``torch.distributed``'s names (``process_group.py``).

``init_process_group()`` joins the processes an MPI launcher started (``mpiexec -n N``); ``all_reduce``,
``broadcast``, ``barrier`` and ``broadcast_object_list`` are collectives with a deadline. The layers above:
``tinycnn.nn.parallel`` (DistributedDataParallel, SyncBatchNorm) and
``tinycnn.utils.data.distributed.DistributedSampler``. Needs ``pip install "tinycnn[distributed]"``.
"""
from .process_group import (DEFAULT_TIMEOUT, INSTALL_HINT, DistError, DistTimeoutError, ReduceOp, Work, abort_at_exit,
                            all_reduce, barrier, broadcast, broadcast_object_list, destroy_process_group, get_rank,
                            get_world_size, init_process_group, is_available, is_initialized)

__all__ = ["abort_at_exit", "init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
           "get_world_size", "all_reduce", "broadcast", "barrier", "broadcast_object_list", "ReduceOp", "Work",
           "DistError", "DistTimeoutError", "DEFAULT_TIMEOUT", "INSTALL_HINT"]
