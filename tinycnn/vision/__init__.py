"""``torchvision`` for tinycnn: ``datasets``, ``transforms`` and ``models`` under torchvision's names.

    from tinycnn.vision import transforms
"""
from . import transforms
