"""``torchvision.transforms`` for tinycnn: the same classes, arguments and pixels.

    from tinycnn.vision import transforms
    preprocess = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                                     transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])

Transforms take PIL images, tinycnn Tensors (..., C, H, W) and NumPy arrays (as tensors), and return the same
kind; the random ones draw from tinycnn's global generator (``tinycnn.manual_seed``). ``describe`` /
``rebuild`` turn a pipeline into plain data and back (for checkpoints).
"""
from . import functional
from .functional import InterpolationMode
from .random import (ColorJitter, RandomApply, RandomChoice, RandomCrop, RandomGrayscale, RandomHorizontalFlip,
                     RandomOrder, RandomResizedCrop, RandomRotation, RandomVerticalFlip)
from .spec import describe, rebuild, register_transform
from .transforms import (CenterCrop, Compose, ConvertImageDtype, FiveCrop, Grayscale, Lambda, Normalize, Pad,
                         PILToTensor, Resize, TenCrop, ToPILImage, ToTensor, Transform)
from ._batch import apply_batched

__all__ = ["Transform", "Compose", "Lambda", "ToTensor", "PILToTensor", "ToPILImage", "ConvertImageDtype",
           "Normalize", "Resize", "CenterCrop", "Pad", "Grayscale", "FiveCrop", "TenCrop", "RandomApply",
           "RandomChoice", "RandomOrder", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomRotation", "ColorJitter", "RandomGrayscale", "InterpolationMode",
           "functional", "describe", "rebuild", "register_transform", "apply_batched"]
