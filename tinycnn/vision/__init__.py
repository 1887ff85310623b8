"""``torchvision`` for tinycnn: ``datasets``, ``transforms`` and ``models`` under torchvision's names.

    from tinycnn.vision import datasets, transforms, models

``presets`` knows each dataset's defaults (channels, size, normalisation, classes) and builds the standard
training and evaluation pipelines from them.
"""
from . import datasets, models, presets, transforms
