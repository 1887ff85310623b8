"""``RemovableHandle``: what registering a hook returns (on a ``Tensor`` or a ``Module``), as in PyTorch.

A hook lives in an ordered dict keyed by a unique id; the handle remembers the dict (weakly, so a handle
never keeps a module alive) and the id, and ``handle.remove()`` deletes the entry. It is also a context
manager: ``with m.register_forward_hook(f): ...`` removes the hook on leaving the block.
This module imports nothing from tinycnn, so the autograd core and ``nn`` can both use it.
"""
from __future__ import annotations

import itertools
import weakref

_ids = itertools.count()


class RemovableHandle:
    """Removes one hook from the dict(s) it was registered in."""

    def __init__(self, hooks_dict: dict, *, extra_dict: dict | list | None = None):
        self.id = next(_ids)
        self.hooks_dict_ref = weakref.ref(hooks_dict)
        extras = [] if extra_dict is None else [extra_dict] if isinstance(extra_dict, dict) else list(extra_dict)
        self.extra_dict_ref = tuple(weakref.ref(d) for d in extras)

    def remove(self) -> None:
        for ref in (self.hooks_dict_ref, *self.extra_dict_ref):
            hooks = ref()
            if hooks is not None:
                hooks.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def __repr__(self) -> str:
        return f"<RemovableHandle id={self.id}>"
