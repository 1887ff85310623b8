"""Learning-rate schedulers with PyTorch's names, arguments, recursions and state dicts (``torch.optim.lr_scheduler``).

``step()`` once per epoch (or per batch for ``OneCycleLR``), after ``optimizer.step()``; ``ReduceLROnPlateau``
takes the monitored metric: ``step(val_loss)``.
"""
from .base import CosineAnnealingLR, ExponentialLR, LRScheduler, MultiStepLR, StepLR
from .composite import ChainedScheduler, SequentialLR
from .cyclic import CosineAnnealingWarmRestarts, OneCycleLR
from .factor import ConstantLR, LambdaLR, LinearLR, MultiplicativeLR, PolynomialLR
from .plateau import ReduceLROnPlateau

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "MultiplicativeLR", "ConstantLR", "LinearLR", "PolynomialLR", "CosineAnnealingWarmRestarts",
           "OneCycleLR", "SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"]
