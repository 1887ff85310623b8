"""The deterministic transforms, torchvision's classes with their arguments and defaults.

Every transform is a callable object: ``t(img)`` on a PIL image, a Tensor or an array (see ``functional``).
It can describe itself (``transforms.describe(t)``: its name and constructor arguments, JSON-able) so that a
pipeline recorded in a checkpoint can be rebuilt (``transforms.rebuild``), and where it can it also maps a
whole batch in one step (``batched``, used by array-backed datasets; see ``_batch.py``).
"""
from __future__ import annotations

import numbers

import numpy as np

from . import _array
from . import functional as F
from ._batch import NotBatchable, channels_of, spatial_last
from .functional import InterpolationMode, _size2, interpolation_mode


class Transform:
    """Base class: ``forward(img)`` does the work; ``_fields`` name the constructor arguments, which the
    object keeps as attributes of the same names (for ``repr`` and ``describe``)."""

    _fields: tuple[str, ...] = ()

    def __call__(self, img):
        return self.forward(img)

    def forward(self, img):
        raise NotImplementedError(f"{type(self).__name__} must define forward")

    def batched(self, x: np.ndarray, pil: bool):
        raise NotBatchable(type(self).__name__)

    def spec_args(self) -> dict:
        return {name: getattr(self, name) for name in self._fields}

    def __repr__(self) -> str:
        def show(v):
            return v.value if isinstance(v, InterpolationMode) else repr(v)
        return f"{type(self).__name__}(" + ", ".join(f"{k}={show(v)}" for k, v in self.spec_args().items()) + ")"


def _check_transforms(transforms, who: str) -> list:
    transforms = list(transforms)
    for t in transforms:
        if not callable(t):
            raise TypeError(f"{who}: every transform must be callable, got {type(t).__name__}")
    return transforms


class Compose(Transform):
    """Apply ``transforms`` in order."""

    _fields = ("transforms",)

    def __init__(self, transforms):
        self.transforms = _check_transforms(transforms, "Compose")

    def forward(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    def batched(self, x, pil):
        for t in self.transforms:
            if not hasattr(t, "batched"):
                raise NotBatchable(type(t).__name__)
            x, pil = t.batched(x, pil)
        return x, pil

    def __repr__(self) -> str:
        return "Compose(\n" + "".join(f"    {t}\n" for t in self.transforms) + ")"


class Lambda(Transform):
    """Wrap a function as a transform (it cannot be described in a checkpoint, nor batched)."""

    def __init__(self, lambd):
        if not callable(lambd):
            raise TypeError(f"Lambda: argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def forward(self, img):
        return self.lambd(img)

    def __repr__(self) -> str:
        return "Lambda()"


class ToTensor(Transform):
    """PIL image or H x W x C array -> C x H x W float Tensor; 8-bit pixels are divided by 255."""

    def forward(self, pic):
        return F.to_tensor(pic)

    def batched(self, x, pil):
        if not pil:
            raise NotBatchable("ToTensor of a tensor")
        arr = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        if arr.dtype != np.uint8:
            raise NotBatchable("ToTensor of non-8-bit images")
        return arr.astype(np.float32) / np.float32(255), False


class PILToTensor(Transform):
    """PIL image -> C x H x W Tensor of the raw pixel values (uint8 for 8-bit images)."""

    def forward(self, pic):
        return F.pil_to_tensor(pic)

    def batched(self, x, pil):
        if not pil:
            raise NotBatchable("PILToTensor of a tensor")
        return np.ascontiguousarray(x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)), False


class ToPILImage(Transform):
    """C x H x W Tensor or H x W x C array -> PIL image (``mode`` as PIL's, inferred when None)."""

    _fields = ("mode",)

    def __init__(self, mode: str | None = None):
        self.mode = mode

    def forward(self, pic):
        return F.to_pil_image(pic, self.mode)


_DTYPE_NAMES = {"float32": np.float32, "float64": np.float64, "float16": np.float16, "uint8": np.uint8,
                "int16": np.int16, "int32": np.int32, "int64": np.int64}


class ConvertImageDtype(Transform):
    """Convert an image's dtype, rescaling its values (uint8 0..255 <-> float 0..1)."""

    _fields = ("dtype",)

    def __init__(self, dtype):
        self._dtype = np.dtype(_DTYPE_NAMES.get(dtype, dtype))

    @property
    def dtype(self) -> str:
        return self._dtype.name

    def forward(self, image):
        return F.convert_image_dtype(image, self._dtype)

    def batched(self, x, pil):
        if pil:
            raise NotBatchable("ConvertImageDtype of a PIL image")
        return np.asarray(F.convert_image_dtype(x, self._dtype)), False


class Normalize(Transform):
    """(x - mean[c]) / std[c] for each channel c of a float Tensor image."""

    _fields = ("mean", "std", "inplace")

    def __init__(self, mean, std, inplace: bool = False):
        self.mean, self.std, self.inplace = mean, std, bool(inplace)

    def forward(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)

    def batched(self, x, pil):
        if pil or x.dtype.kind != "f":
            raise NotBatchable("Normalize of a non-float image")
        return F.normalize(x, self.mean, self.std), False


def _check_size(size, who: str):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer, list, tuple)):
        raise TypeError(f"{who}: size should be int or sequence, got {type(size).__name__}")
    if isinstance(size, (list, tuple)) and len(size) not in (1, 2):
        raise ValueError(f"{who}: if size is a sequence, it should have 1 or 2 values, got {size!r}")
    return size


class Resize(Transform):
    """Resize to ``size`` = (h, w), or make the smaller edge ``size`` keeping the aspect ratio.

    PIL images are resampled by Pillow (always antialiased); tensors by the same filters as torchvision,
    antialiased by default (``antialias=True``), which only matters when shrinking.
    """

    _fields = ("size", "interpolation", "max_size", "antialias")

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
                 antialias: bool | None = True):
        self.size = _check_size(size, "Resize")
        self.interpolation = interpolation_mode(interpolation, "Resize")
        self.max_size, self.antialias = max_size, antialias

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def batched(self, x, pil):
        h, w = (x.shape[1:3] if pil else x.shape[-2:])
        out = F.resized_output_size(h, w, self.size, self.max_size)
        if out == [h, w]:
            return x, pil
        if pil:
            raise NotBatchable("Resize of PIL images (Pillow's filters)")
        return np.asarray(F.resize(x, out, self.interpolation, antialias=self.antialias)), pil


class CenterCrop(Transform):
    """The centred ``size`` window (padded with black when the image is smaller)."""

    _fields = ("size",)

    def __init__(self, size):
        self.size = _size2(size, "CenterCrop")

    def forward(self, img):
        return F.center_crop(img, self.size)

    def batched(self, x, pil):
        return spatial_last(x, pil, lambda a: np.asarray(F.center_crop(a, self.size))), pil


def _pil_fill(fill, channels: int):
    """The fill value Pillow would paint on an 8-bit image, as one value per channel."""
    values = [fill] * channels if isinstance(fill, numbers.Number) else list(fill)
    if len(values) == 1:
        values = values * channels
    return [int(v) for v in values]


class Pad(Transform):
    """Pad the borders (``padding`` as torchvision: p, (lr, tb) or (l, t, r, b); ``padding_mode`` constant,
    edge, reflect or symmetric; ``fill`` for constant padding)."""

    _fields = ("padding", "fill", "padding_mode")

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        F.padding_ltrb(padding, "Pad")
        if not isinstance(fill, (numbers.Number, tuple, list)):
            raise TypeError(f"Pad: fill must be a number or a sequence, got {type(fill).__name__}")
        if padding_mode not in F.PADDING_MODES:
            raise ValueError(f"Pad: padding_mode should be one of {list(F.PADDING_MODES)}, got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def forward(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)

    def batched(self, x, pil):
        return pad_batch(x, pil, self.padding, self.fill, self.padding_mode), pil


def pad_batch(x, pil, padding, fill, mode):
    ltrb = F.padding_ltrb(padding)
    if pil:
        if x.dtype != np.uint8:
            raise NotBatchable("Pad of non-8-bit PIL images")
        fill = _pil_fill(fill, channels_of(x, pil))
    return spatial_last(x, pil, lambda a: _array.pad(a, ltrb, fill, mode))


class Grayscale(Transform):
    """Grey levels (ITU-R 601-2 luma) as 1 or 3 equal channels."""

    _fields = ("num_output_channels",)

    def __init__(self, num_output_channels: int = 1):
        if num_output_channels not in (1, 3):
            raise ValueError(f"Grayscale: num_output_channels should be either 1 or 3, got {num_output_channels!r}")
        self.num_output_channels = num_output_channels

    def forward(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)

    def batched(self, x, pil):
        return grayscale_batch(x, pil, self.num_output_channels), pil


def grayscale_batch(x, pil, num_output_channels):
    if not pil:
        if x.shape[1] not in (1, 3):
            raise NotBatchable("Grayscale of an image that is neither grey nor RGB")
        return _array.rgb_to_grayscale(x, num_output_channels)
    if x.dtype != np.uint8 or (x.ndim == 4 and x.shape[-1] != 3):
        raise NotBatchable("Grayscale of PIL images other than L and RGB")
    if x.ndim == 4:  # Pillow's RGB -> L: (19595 R + 38470 G + 7471 B + 2^15) >> 16
        r, g, b = (x[..., k].astype(np.int64) for k in range(3))
        x = ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)
    return np.repeat(x[..., None], 3, axis=-1) if num_output_channels == 3 else x


class FiveCrop(Transform):
    """The four corner crops and the centre crop of ``size``, as a tuple of 5 images."""

    _fields = ("size",)

    def __init__(self, size):
        self.size = _size2(size, "FiveCrop")

    def forward(self, img):
        return F.five_crop(img, self.size)


class TenCrop(Transform):
    """:class:`FiveCrop` of the image and of its mirror image (``vertical_flip``: top-bottom)."""

    _fields = ("size", "vertical_flip")

    def __init__(self, size, vertical_flip: bool = False):
        self.size = _size2(size, "TenCrop")
        self.vertical_flip = bool(vertical_flip)

    def forward(self, img):
        return F.ten_crop(img, self.size, self.vertical_flip)
