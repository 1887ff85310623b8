"""PyTorch-named functional forms (``import tinycnn.nn.functional as F``).

The functions live beside their ``Function`` classes in ``tinycnn.ops``; this module only gathers them
under PyTorch's names.
"""
# --- activations/losses/linear (helper) ---
# --- end activations/losses/linear ---
# --- conv/pool (helper) ---
# --- end conv/pool ---
# --- normalization/dropout/misc (helper) ---
# --- end normalization/dropout/misc ---
