"""Shared test set-up: keep PyTorch's global default dtype from leaking between test modules.

The fuzz modules compare against PyTorch in float64 and want float64 as torch's default; every other
module assumes PyTorch's float32 default. Under pytest-xdist one worker runs modules of both kinds, so
the default is set per test from the module's ``TORCH_DEFAULT_DTYPE`` (float32 when absent).
"""
import sys

import pytest


@pytest.fixture(autouse=True)
def _torch_default_dtype(request):
    torch = sys.modules.get("torch")
    if torch is None:
        yield
        return
    wanted = getattr(request.module, "TORCH_DEFAULT_DTYPE", "float32")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(getattr(torch, wanted))
    yield
    torch.set_default_dtype(previous)
