"""Random generators for the data pipeline: ``tinycnn.Generator`` (``torch.Generator``'s surface over NumPy's).

Everything random in data loading (shuffling, ``random_split``, worker seeds, random transforms) draws either
from an explicit generator or from tinycnn's global generator (``tinycnn.manual_seed``), so a run is fixed by
its seeds. A ``generator=`` argument accepts a :class:`Generator`, a ``numpy.random.Generator``, or None (the
global generator, looked up at the moment of the draw, since ``manual_seed`` replaces it).
"""
from __future__ import annotations

import copy

import numpy as np

from ... import backend


class Generator:
    """A seedable random generator, as ``torch.Generator``: ``Generator().manual_seed(42)``.

    It wraps a ``numpy.random.Generator`` (``.numpy_generator``); ``get_state()`` / ``set_state()`` save and
    restore it exactly (the state is a plain dict, storable with ``tinycnn.save``).
    """

    def __init__(self, device: str = "cpu"):
        if backend.normalize_device(device) != "cpu":
            raise ValueError(f"Generator: only CPU generators exist, got device {device!r}")
        self._seed = int(np.random.SeedSequence().entropy % (2**63))
        self.numpy_generator = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> "Generator":
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise TypeError(f"Generator.manual_seed: seed must be an int, got {type(seed).__name__}")
        self._seed = int(seed) % (2**64)
        self.numpy_generator = np.random.default_rng(self._seed)
        return self

    def seed(self) -> int:
        """Re-seed from fresh entropy; returns the new seed."""
        self.manual_seed(int(np.random.SeedSequence().entropy % (2**63)))
        return self._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return {"seed": self._seed, "bit_generator": copy.deepcopy(self.numpy_generator.bit_generator.state)}

    def set_state(self, state: dict) -> "Generator":
        self._seed = int(state["seed"])
        self.numpy_generator.bit_generator.state = copy.deepcopy(state["bit_generator"])
        return self

    @property
    def device(self) -> str:
        return "cpu"

    def __repr__(self) -> str:
        return f"tinycnn.Generator(initial_seed={self._seed})"


def numpy_generator(generator, who: str) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (None: tinycnn's global generator as it is now)."""
    if generator is None:
        return backend.get_rng()
    if isinstance(generator, Generator):
        return generator.numpy_generator
    if isinstance(generator, np.random.Generator):
        return generator
    raise TypeError(f"{who}: generator must be a tinycnn.Generator, a numpy.random.Generator or None, "
                    f"got {type(generator).__name__}")


def check_generator(generator, who: str):
    """Validate a ``generator=`` argument now (the draw happens later); returns it unchanged."""
    if generator is not None:
        numpy_generator(generator, who)
    return generator


def draw_seed(generator=None) -> int:
    """A 63-bit seed drawn from ``generator`` (None: the global generator), as PyTorch's ``random_()``."""
    return int(numpy_generator(generator, "draw_seed").integers(0, 2**63 - 1))


def generator_state(generator):
    """A restorable copy of the state of an explicit generator (None for the global one)."""
    if isinstance(generator, Generator):
        return {"kind": "tinycnn", **generator.get_state()}
    if isinstance(generator, np.random.Generator):
        return {"kind": "numpy", "bit_generator": copy.deepcopy(generator.bit_generator.state)}
    return None


def restore_generator_state(generator, state) -> None:
    if state is None or generator is None:
        return
    if isinstance(generator, Generator):
        generator.set_state(state)
    else:
        generator.bit_generator.state = copy.deepcopy(state["bit_generator"])
