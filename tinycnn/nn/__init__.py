"""Layers and models: ``Module``, ``Parameter``, containers, layers, ``functional`` and ``init``."""
from . import functional  # noqa: F401
from .containers import ModuleDict, ModuleList, Sequential
from .module import Module
from .parameter import Parameter

# --- init/linear/activations/losses/basic layers (helper) ---
# --- end init/linear/activations/losses/basic layers ---
# --- conv/pool (helper) ---
# --- end conv/pool ---
# --- normalization/dropout/misc (helper) ---
# --- end normalization/dropout/misc ---
