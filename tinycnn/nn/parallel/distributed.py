"""``DistributedDataParallel``: the same model in every process, gradients averaged across them.

Each process runs the model on its own part of the batch; after ``loss.backward()`` every parameter's
``.grad`` holds the average over the processes of their gradients, so with the loss a mean over each
process's batch, ``optimizer.step()`` makes the same update on every rank as one process would with the
whole (global) batch. What happens, as in PyTorch:

- construction: rank 0's parameters and buffers are broadcast, so every rank starts from the same model;
- the parameters are put into buckets in reverse order of ``parameters()`` (roughly the order their
  gradients are completed in backward): a first small one (1 MB) so that communication starts early, the
  others up to ``bucket_cap_mb`` (25 MB). Each bucket is one flat array;
- backward: a hook on each parameter (``register_post_accumulate_grad_hook``) copies its finished gradient
  into its bucket; the moment a bucket is full its allreduce starts (nonblocking), while backward goes on
  through the earlier layers. When the last bucket has started, all are waited for and the averages are
  copied back into ``.grad``. Few large allreduces cost far less than one per parameter: each one pays the
  latency of a round of messages, whatever its size;
- forward: with ``broadcast_buffers`` rank 0's buffers (BatchNorm's running statistics) are copied to the
  others before each forward; the batch statistics themselves are each process's own, unless the model's
  BatchNorm layers are converted with ``SyncBatchNorm.convert_sync_batchnorm``;
- ``no_sync()``: backward accumulates local gradients only (gradient accumulation over several batches);
  the next backward outside it averages the accumulated sums.

A parameter that takes no part in a forward never gets a gradient, so its bucket would never start:
``find_unused_parameters=True`` walks the graph of the forward's output and marks such parameters ready.
Without it the next forward raises, naming them, rather than letting ranks drift apart.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ... import distributed as dist
from ...autograd import Tensor, is_grad_enabled
from ...backend import get_array_module
from ..module import Module

FIRST_BUCKET_BYTES = 1 << 20         # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES
DEFAULT_BUCKET_CAP_MB = 25


def _host(array) -> np.ndarray:
    return array.get() if hasattr(array, "get") else np.asarray(array)


def broadcast_coalesced(arrays, src: int = 0) -> None:
    """Broadcast many arrays from ``src`` in one message per dtype (flattened, sent, copied back in place)."""
    by_dtype: dict = {}
    for a in arrays:
        by_dtype.setdefault(np.dtype(a.dtype), []).append(a)
    for dtype, group in by_dtype.items():
        flat = np.concatenate([_host(a).reshape(-1) for a in group]) if group else np.empty(0, dtype)
        dist.broadcast(flat, src)
        start = 0
        for a in group:
            part = flat[start:start + a.size].reshape(a.shape)
            a[...] = part if isinstance(a, np.ndarray) else type(a)(part)
            start += a.size


class _Bucket:
    """Parameters whose gradients travel in one flat array (one dtype)."""

    def __init__(self, params: list, dtype):
        self.params = params
        self.offsets = np.cumsum([0] + [p.numel() for p in params]).tolist()
        self.buffer = np.zeros(self.offsets[-1], dtype=dtype)
        self.ready = 0
        self.work = None

    def view(self, i: int) -> np.ndarray:
        return self.buffer[self.offsets[i]:self.offsets[i + 1]].reshape(self.params[i].shape)


def _assign_buckets(params: list, cap_bytes: int, first_bytes: int) -> list[_Bucket]:
    """As PyTorch: a bucket takes parameters until it holds at least its limit (one dtype per bucket)."""
    buckets, current, size, limit = [], [], 0, first_bytes
    for p in reversed(params):                      # the last layers' gradients are ready first
        if current and current[0].dtype != p.dtype:
            buckets.append(_Bucket(current, current[0].dtype))
            current, size, limit = [], 0, cap_bytes
        current.append(p)
        size += p.array.nbytes
        if size >= limit:
            buckets.append(_Bucket(current, current[0].dtype))
            current, size, limit = [], 0, cap_bytes
    if current:
        buckets.append(_Bucket(current, current[0].dtype))
    return buckets


def _leaves_reached(output) -> set[int]:
    """ids of the leaf tensors the graph of ``output`` (a Tensor, or tuples/lists/dicts of them) reads."""
    stack, seen, leaves = [], set(), set()

    def add(obj):
        if isinstance(obj, Tensor):
            if obj.grad_fn is not None:
                stack.append(obj.grad_fn)
            elif obj.requires_grad:
                leaves.add(id(obj))
        elif isinstance(obj, (tuple, list)):
            for o in obj:
                add(o)
        elif isinstance(obj, dict):
            for o in obj.values():
                add(o)
    add(output)
    while stack:
        fn = stack.pop()
        if id(fn) in seen or fn.inputs is None:
            continue
        seen.add(id(fn))
        for inp, made_by in zip(fn.inputs, fn.input_ctx):
            if made_by is not None:
                stack.append(made_by)
            elif isinstance(inp, Tensor) and inp.requires_grad:
                leaves.add(id(inp))
    return leaves


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the default process group (see the module docstring).
    ``device_ids``/``output_device``/``dim`` are accepted for PyTorch's signature; the model stays where it is.
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False):
        super().__init__()
        if not dist.is_initialized():
            raise ValueError("DistributedDataParallel: Default process group has not been initialized, please "
                             "make sure to call init_process_group.")
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a Module, got {type(module).__name__}")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        cap = DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be a positive number, got {cap!r}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.gradient_as_bucket_view = bool(gradient_as_bucket_view)
        self.require_backward_grad_sync = True
        self.world_size = dist.get_world_size()
        broadcast_coalesced([t.array for t in [*module.parameters(), *module.buffers()]], src=0)
        cap_bytes = int(cap * (1 << 20))
        object.__setattr__(self, "_buckets", _assign_buckets(params, cap_bytes, min(FIRST_BUCKET_BYTES, cap_bytes)))
        object.__setattr__(self, "_where", {id(p): (b, i) for b in self._buckets for i, p in enumerate(b.params)})
        object.__setattr__(self, "_names", {id(p): n for n, p in module.named_parameters()})
        self._marked: set[int] = set()
        self._syncing = False
        self._launched = 0
        object.__setattr__(self, "_handles", [p.register_post_accumulate_grad_hook(self._grad_ready)
                                              for p in params])

    @property
    def bucket_sizes(self) -> list[int]:
        """Number of gradient values in each bucket, in the order they are reduced."""
        return [b.buffer.size for b in self._buckets]

    @contextlib.contextmanager
    def no_sync(self):
        """Backward inside this block only accumulates local gradients; the next one outside averages them."""
        previous, self.require_backward_grad_sync = self.require_backward_grad_sync, False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    # ---- forward --------------------------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._syncing and self._marked:
            missing = [self._names.get(id(p), "?") for b in self._buckets for p in b.params
                       if id(p) not in self._marked]
            raise RuntimeError("Expected to have finished reduction in the prior iteration before starting a new "
                               f"one: parameters {', '.join(missing[:10])} received no gradient in it. Pass "
                               "find_unused_parameters=True to DistributedDataParallel, or make every parameter "
                               "take part in the loss")
        if self.broadcast_buffers and self.world_size > 1:
            buffers = [b.array for b in self.module.buffers()]
            if buffers:
                broadcast_coalesced(buffers, src=0)
        output = self.module(*inputs, **kwargs)
        self._syncing = self.require_backward_grad_sync and is_grad_enabled()
        self._marked, self._launched = set(), 0
        for b in self._buckets:
            b.ready, b.work = 0, None
        if self._syncing and self.find_unused_parameters:
            reached = _leaves_reached(output)
            for b in self._buckets:
                for p in b.params:
                    if id(p) not in reached:
                        self._grad_ready(p)
        return output

    # ---- backward -------------------------------------------------------------------------------------------
    def _grad_ready(self, p) -> None:
        if not self._syncing:
            return
        if id(p) in self._marked:
            raise RuntimeError(f"Expected to mark a variable ready only once: parameter "
                               f"{self._names.get(id(p), '?')} got a gradient twice in one iteration (two "
                               f"backward passes through one forward need no_sync() for the first)")
        self._marked.add(id(p))
        bucket, i = self._where[id(p)]
        view = bucket.view(i)
        if p.grad is None:
            view[...] = 0
        else:
            view[...] = _host(p.grad.array)
        bucket.ready += 1
        for b in self._buckets[:self._launched]:    # MPI moves data only inside MPI calls: let it progress
            b.work.is_completed()
        if bucket.ready == len(bucket.params):
            bucket.work = dist.all_reduce(bucket.buffer, dist.ReduceOp.AVG, async_op=True)
            self._launched += 1
            if self._launched == len(self._buckets):
                self._finish()

    def _finish(self) -> None:
        for b in self._buckets:
            b.work.wait()
            for i, p in enumerate(b.params):
                avg = b.view(i)
                if p.grad is None and not avg.any():
                    continue                       # unused on every rank: no gradient, as in PyTorch
                value = avg if self.gradient_as_bucket_view else avg.copy()
                if not isinstance(p.array, np.ndarray):             # a model on the GPU
                    value = get_array_module(p.array).asarray(value)
                p.grad = Tensor(value)
        self._syncing = False
        self._marked = set()

    def extra_repr(self) -> str:
        return f"world_size={self.world_size}, buckets={self.bucket_sizes}"
