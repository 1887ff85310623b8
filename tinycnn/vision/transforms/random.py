"""The random transforms, torchvision's classes with their arguments, defaults and parameter draws.

Random numbers come from tinycnn's global generator at the moment of the call (as torchvision draws from
torch's): ``tinycnn.manual_seed(s)`` makes a pipeline repeat itself, and DataLoader workers, which seed that
generator per worker, each draw their own. ``get_params`` are static, as in torchvision.
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ... import backend
from . import functional as F
from ._batch import NotBatchable, flip_some, gather_windows, spatial_last
from .functional import InterpolationMode, _size2, interpolation_mode
from .transforms import Transform, _check_transforms, grayscale_batch, pad_batch


def _rng() -> np.random.Generator:
    return backend.get_rng()


def _probability(p, who: str) -> float:
    if not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{who}: p should be a probability in [0, 1], got {p!r}")
    return float(p)


class RandomApply(Transform):
    """Apply all of ``transforms`` with probability ``p`` (else none of them)."""

    _fields = ("transforms", "p")

    def __init__(self, transforms, p: float = 0.5):
        self.transforms = _check_transforms(transforms, "RandomApply")
        self.p = _probability(p, "RandomApply")

    def forward(self, img):
        if self.p < _rng().random():
            return img
        for t in self.transforms:
            img = t(img)
        return img

    def batched(self, x, pil):
        chosen = ~(self.p < _rng().random(x.shape[0]))
        if not chosen.any():
            return x, pil
        part, part_pil = x[chosen], pil
        for t in self.transforms:
            if not hasattr(t, "batched"):
                raise NotBatchable(type(t).__name__)
            part, part_pil = t.batched(part, part_pil)
        if part_pil != pil or part.shape[1:] != x.shape[1:] or part.dtype != x.dtype:
            raise NotBatchable("RandomApply whose transforms change the image's shape or kind")
        out = x.copy()
        out[chosen] = part
        return out, pil


class RandomChoice(Transform):
    """Apply one of ``transforms``, picked with probabilities ``p`` (uniform when None)."""

    _fields = ("transforms", "p")

    def __init__(self, transforms, p=None):
        self.transforms = _check_transforms(transforms, "RandomChoice")
        if p is not None and len(p) != len(self.transforms):
            raise ValueError(f"RandomChoice: got {len(p)} probabilities for {len(self.transforms)} transforms")
        self.p = None if p is None else [float(v) for v in p]

    def forward(self, img):
        p = None if self.p is None else np.asarray(self.p) / np.sum(self.p)
        return self.transforms[int(_rng().choice(len(self.transforms), p=p))](img)


class RandomOrder(Transform):
    """Apply ``transforms`` in a random order."""

    _fields = ("transforms",)

    def __init__(self, transforms):
        self.transforms = _check_transforms(transforms, "RandomOrder")

    def forward(self, img):
        for i in _rng().permutation(len(self.transforms)):
            img = self.transforms[int(i)](img)
        return img


class RandomHorizontalFlip(Transform):
    """Mirror left-right with probability ``p``."""

    _fields = ("p",)
    _axis = -1

    def __init__(self, p: float = 0.5):
        self.p = _probability(p, type(self).__name__)

    def forward(self, img):
        if _rng().random() < self.p:
            return F.hflip(img) if self._axis == -1 else F.vflip(img)
        return img

    def batched(self, x, pil):
        flips = _rng().random(x.shape[0]) < self.p
        # the width axis is 2 of (N, H, W[, C]) images and the last of (N, C, H, W) tensors; height just before
        width_axis = 2 if pil else x.ndim - 1
        return flip_some(x, flips, width_axis if self._axis == -1 else width_axis - 1), pil


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    _axis = -2


class RandomCrop(Transform):
    """Crop a random ``size`` window, after optional ``padding`` (as :class:`Pad`); ``pad_if_needed`` pads an
    image smaller than ``size`` on both sides first."""

    _fields = ("size", "padding", "pad_if_needed", "fill", "padding_mode")

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0, padding_mode: str = "constant"):
        self.size = _size2(size, "RandomCrop")
        if padding is not None:
            F.padding_ltrb(padding, "RandomCrop")
        if padding_mode not in F.PADDING_MODES:
            raise ValueError(f"RandomCrop: padding_mode should be one of {list(F.PADDING_MODES)}, "
                             f"got {padding_mode!r}")
        self.padding, self.pad_if_needed = padding, bool(pad_if_needed)
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a uniformly random window of ``output_size``."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        rng = _rng()
        return int(rng.integers(0, h - th + 1)), int(rng.integers(0, w - tw + 1)), th, tw

    def _padding_needed(self, h: int, w: int) -> tuple[int, int]:
        th, tw = self.size
        return (max(tw - w, 0) if self.pad_if_needed else 0), (max(th - h, 0) if self.pad_if_needed else 0)

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = F.get_dimensions(img)
        dw, dh = self._padding_needed(h, w)
        if dw:
            img = F.pad(img, [dw, 0], self.fill, self.padding_mode)
        if dh:
            img = F.pad(img, [0, dh], self.fill, self.padding_mode)
        top, left, th, tw = self.get_params(img, self.size)
        return F.crop(img, top, left, th, tw)

    def batched(self, x, pil):
        if self.padding is not None:
            x = pad_batch(x, pil, self.padding, self.fill, self.padding_mode)
        h, w = x.shape[1:3] if pil else x.shape[-2:]
        dw, dh = self._padding_needed(h, w)
        if dw or dh:
            x = pad_batch(x, pil, [dw, dh], self.fill, self.padding_mode)
            h, w = h + 2 * dh, w + 2 * dw
        th, tw = self.size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than input image size {(h, w)}")
        if (h, w) == (th, tw):
            return x, pil
        n, rng = x.shape[0], _rng()
        tops, lefts = rng.integers(0, h - th + 1, size=n), rng.integers(0, w - tw + 1, size=n)
        return spatial_last(x, pil, lambda a: gather_windows(a, tops, lefts, th, tw)), pil


class RandomResizedCrop(Transform):
    """A random window of relative area in ``scale`` and aspect ratio in ``ratio``, resized to ``size``
    (the Inception-style crop ImageNet training uses)."""

    _fields = ("size", "scale", "ratio", "interpolation", "antialias")

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
        self.size = _size2(size, "RandomResizedCrop")
        for name, v in (("scale", scale), ("ratio", ratio)):
            if not isinstance(v, (list, tuple)) or len(v) != 2:
                raise TypeError(f"RandomResizedCrop: {name} should be a sequence of 2 numbers, got {v!r}")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            warnings.warn("RandomResizedCrop: scale and ratio should be of kind (min, max)", stacklevel=2)
        self.scale, self.ratio = tuple(float(s) for s in scale), tuple(float(r) for r in ratio)
        self.interpolation = interpolation_mode(interpolation, "RandomResizedCrop")
        self.antialias = antialias

    @staticmethod
    def get_params(img, scale, ratio) -> tuple[int, int, int, int]:
        """(top, left, height, width): up to 10 tries of area ~ U(scale) * H * W and log aspect ~
        U(log ratio), else the largest centred window within ``ratio``."""
        _, height, width = F.get_dimensions(img)
        area = height * width
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        rng = _rng()
        for _ in range(10):
            target_area = area * rng.uniform(scale[0], scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
        in_ratio = width / height
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def forward(self, img):
        top, left, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, top, left, h, w, self.size, self.interpolation, antialias=self.antialias)


def _degrees(degrees, who: str) -> list[float]:
    if isinstance(degrees, numbers.Number):
        if degrees < 0:
            raise ValueError(f"{who}: if degrees is a single number, it must be positive, got {degrees}")
        return [-float(degrees), float(degrees)]
    if not isinstance(degrees, (list, tuple)) or len(degrees) != 2:
        raise ValueError(f"{who}: degrees should be a number or a sequence of length 2, got {degrees!r}")
    return [float(d) for d in degrees]


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` ((-d, d) for a number d)."""

    _fields = ("degrees", "interpolation", "expand", "center", "fill")

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False, center=None, fill=0):
        self.degrees = _degrees(degrees, "RandomRotation")
        self.interpolation = interpolation_mode(interpolation, "RandomRotation")
        if center is not None and (not isinstance(center, (list, tuple)) or len(center) != 2):
            raise ValueError(f"RandomRotation: center should be a sequence of length 2, got {center!r}")
        if fill is None:
            fill = 0
        elif not isinstance(fill, (numbers.Number, list, tuple)):
            raise TypeError(f"RandomRotation: fill should be either a sequence or a number, got {type(fill).__name__}")
        self.expand, self.center, self.fill = bool(expand), center, fill

    @staticmethod
    def get_params(degrees) -> float:
        return float(_rng().uniform(float(degrees[0]), float(degrees[1])))

    def forward(self, img):
        fill = self.fill
        if not F._pil.is_pil(img):
            channels = F.get_dimensions(img)[0]
            fill = [float(fill)] * channels if isinstance(fill, numbers.Number) else [float(f) for f in fill]
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, fill)


def _jitter_range(value, name: str, center: float = 1.0, bound=(0.0, float("inf")), clip_first_on_zero=True):
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"ColorJitter: if {name} is a single number, it must be non negative, got {value}")
        value = [center - float(value), center + float(value)]
        if clip_first_on_zero:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (list, tuple)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
    else:
        raise TypeError(f"ColorJitter: {name} should be a single number or a list/tuple with length 2, got {value!r}")
    if not bound[0] <= value[0] <= value[1] <= bound[1]:
        raise ValueError(f"ColorJitter: {name} values should be between {bound}, but got {value}")
    return None if value[0] == value[1] == center else tuple(value)


class ColorJitter(Transform):
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    A number x gives factors in [max(0, 1 - x), 1 + x] (hue: shifts in [-x, x] turns, x <= 0.5); a pair is
    the range itself; 0 leaves that property alone.
    """

    _fields = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    def spec_args(self) -> dict:
        neutral = {"brightness": 0, "contrast": 0, "saturation": 0, "hue": 0}
        return {k: (neutral[k] if getattr(self, k) is None else list(getattr(self, k))) for k in self._fields}

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order of the four adjustments, brightness, contrast, saturation, hue factors or None)."""
        rng = _rng()
        order = rng.permutation(4)
        factors = [None if r is None else float(rng.uniform(r[0], r[1]))
                   for r in (brightness, contrast, saturation, hue)]
        return (order, *factors)

    def forward(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        for fn_id in order:
            if fn_id == 0 and b is not None:
                img = F.adjust_brightness(img, b)
            elif fn_id == 1 and c is not None:
                img = F.adjust_contrast(img, c)
            elif fn_id == 2 and s is not None:
                img = F.adjust_saturation(img, s)
            elif fn_id == 3 and h is not None:
                img = F.adjust_hue(img, h)
        return img


class RandomGrayscale(Transform):
    """Convert to grey (keeping the number of channels) with probability ``p``."""

    _fields = ("p",)

    def __init__(self, p: float = 0.1):
        self.p = _probability(p, "RandomGrayscale")

    def forward(self, img):
        channels = F.get_dimensions(img)[0]
        if _rng().random() < self.p:
            return F.rgb_to_grayscale(img, num_output_channels=channels)
        return img

    def batched(self, x, pil):
        channels = (1 if x.ndim == 3 else x.shape[-1]) if pil else x.shape[1]
        chosen = _rng().random(x.shape[0]) < self.p
        out = x.copy()
        if chosen.any():
            out[chosen] = grayscale_batch(x[chosen], pil, channels)
        return out, pil
