"""Grad mode: whether ops record the graph, per thread (``torch.autograd.grad_mode``'s names and behaviour).

``no_grad()`` and ``enable_grad()`` work as context managers and as decorators; each restores the mode it
found on exit. The mode is thread-local, so a data-loading thread's ``no_grad`` does not stop the training
thread from recording.
"""
from __future__ import annotations

import contextlib
import threading

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


def set_grad_enabled(mode: bool) -> None:
    _state.grad_enabled = bool(mode)


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that sets grad mode inside and restores the previous mode after."""

    mode = True

    def __enter__(self):
        self._prev = is_grad_enabled()
        set_grad_enabled(self.mode)
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self._prev)
        return False


class no_grad(_GradMode):
    """Record nothing: ops inside return tensors with ``requires_grad=False`` and keep no graph."""

    mode = False


class enable_grad(_GradMode):
    mode = True
