"""``torchvision.transforms.functional`` for tinycnn: each function takes a PIL image, a tinycnn Tensor or a
NumPy array and returns the same kind.

Tensors and arrays are laid out (..., C, H, W) (any leading axes are a batch), except for ``to_tensor`` and
``to_pil_image``, which read a NumPy array as an H x W x C picture, as torchvision does. PIL images are
processed by Pillow exactly as torchvision calls it, so the pixels are the same; tensors follow torchvision's
tensor kernels (antialiased resize by default, float32 arithmetic). Transforms run on the CPU and outside the
autograd graph.
"""
from __future__ import annotations

import numbers
import sys
from enum import Enum

import numpy as np
from PIL import Image

from ... import backend
from ...autograd import Tensor
from . import _array, _pil


class InterpolationMode(Enum):
    """Resampling filters (torchvision's names and values; strings and Pillow's integer codes are accepted)."""
    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


_PIL_CODES = {0: "nearest", 2: "bilinear", 3: "bicubic", 4: "box", 5: "hamming", 1: "lanczos"}


def interpolation_mode(value, who: str = "interpolation") -> InterpolationMode:
    """An InterpolationMode from a mode, its string value, or a Pillow filter code."""
    if isinstance(value, InterpolationMode):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and int(value) in _PIL_CODES:
        return InterpolationMode(_PIL_CODES[int(value)])
    try:
        return InterpolationMode(value)
    except ValueError:
        raise ValueError(f"{who}: unknown interpolation {value!r}; expected an InterpolationMode or one of "
                         f"{[m.value for m in InterpolationMode]}") from None


# ---- what kind of image ----------------------------------------------------------------------------------
def _unwrap(img, who: str):
    """(array, rewrap) for a Tensor or an array; TypeError naming ``who`` for anything else."""
    if isinstance(img, Tensor):
        arr = img.numpy()
        return arr, Tensor
    if isinstance(img, np.ndarray):
        return img, np.asarray
    raise TypeError(f"{who}: img should be a PIL Image, a tinycnn Tensor or a NumPy array of shape (..., C, H, W), "
                    f"got {type(img).__name__}")


def _image_array(img, who: str):
    arr, wrap = _unwrap(img, who)
    if arr.ndim < 2:
        raise ValueError(f"{who}: expected an image of shape (..., C, H, W) or (H, W), got shape {arr.shape}")
    return arr, wrap


def _check_channels(arr: np.ndarray, permitted, who: str) -> None:
    c = 1 if arr.ndim == 2 else arr.shape[-3]
    if c not in permitted:
        raise TypeError(f"{who}: input image tensor permitted channel values are {list(permitted)}, but found {c} "
                        f"(shape {arr.shape})")


def get_dimensions(img) -> list[int]:
    """[channels, height, width]."""
    if _pil.is_pil(img):
        return _pil.dimensions(img)
    arr, _ = _image_array(img, "get_dimensions")
    return [1 if arr.ndim == 2 else arr.shape[-3], arr.shape[-2], arr.shape[-1]]


def get_image_size(img) -> list[int]:
    """[width, height]."""
    _, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img) -> int:
    return get_dimensions(img)[0]


# ---- conversions -----------------------------------------------------------------------------------------
_PIL_DTYPES = {"I": np.int32, "I;16" if sys.byteorder == "little" else "I;16B": np.int16, "F": np.float32}


def to_tensor(pic) -> Tensor:
    """A PIL image or an H x W (x C) array -> a C x H x W Tensor; 8-bit pixels become floats in [0, 1]."""
    float_dtype = backend.DEFAULT_DTYPE
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2/3 dimensional (H x W or H x W x C), got {pic.ndim} "
                             f"dimensions (shape {pic.shape})")
        arr = np.ascontiguousarray((pic[:, :, None] if pic.ndim == 2 else pic).transpose(2, 0, 1))
    elif _pil.is_pil(pic):
        arr = np.array(pic, _PIL_DTYPES.get(pic.mode, np.uint8), copy=True)
        if pic.mode == "1":
            arr = 255 * arr
        arr = np.ascontiguousarray(arr.reshape(pic.height, pic.width, len(pic.getbands())).transpose(2, 0, 1))
    else:
        raise TypeError(f"to_tensor: pic should be a PIL Image or a NumPy array (H x W x C), got "
                        f"{type(pic).__name__}")
    if arr.dtype == np.uint8:
        arr = arr.astype(float_dtype) / float_dtype.type(255)
    return Tensor(arr)


def pil_to_tensor(pic) -> Tensor:
    """A PIL image -> a C x H x W Tensor of its pixel values, unscaled (uint8 for 8-bit images)."""
    if not _pil.is_pil(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL Image, got {type(pic).__name__}")
    arr = np.array(pic, _PIL_DTYPES.get(pic.mode, np.uint8), copy=True)
    if pic.mode == "1":
        arr = 255 * arr
    return Tensor(np.ascontiguousarray(arr.reshape(pic.height, pic.width, len(pic.getbands())).transpose(2, 0, 1)))


def _from_array(arr: np.ndarray, mode: str) -> Image.Image:
    if Image.fromarray(arr).mode == mode:
        return Image.fromarray(arr)
    h, w = arr.shape[:2]
    return Image.frombytes(mode, (w, h), np.ascontiguousarray(arr).tobytes())


def to_pil_image(pic, mode: str | None = None) -> Image.Image:
    """A C x H x W Tensor or an H x W x C array -> a PIL image; floats are scaled by 255 (and truncated)."""
    if isinstance(pic, Tensor):
        arr = pic.numpy()
        if arr.ndim == 3:
            arr = arr.transpose(1, 2, 0)
    elif isinstance(pic, np.ndarray):
        arr = pic
    else:
        raise TypeError(f"to_pil_image: pic should be a Tensor or a NumPy array, got {type(pic).__name__}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got {arr.ndim} dimensions")
    if arr.shape[-1] > 4:
        raise ValueError(f"to_pil_image: pic should not have > 4 channels, got {arr.shape[-1]} channels (a Tensor "
                         f"is read as C x H x W, an array as H x W x C)")
    if np.issubdtype(arr.dtype, np.floating) and mode != "F":
        arr = (arr * 255).astype(np.uint8)
    channels = arr.shape[2]
    if channels == 1:
        arr = arr[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16" if sys.byteorder == "little" else "I;16B",
                    np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(arr.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"to_pil_image: incorrect mode ({mode}) supplied for input type {arr.dtype}; should be "
                             f"{expected}")
        mode = expected
    else:
        permitted = {2: ["LA"], 3: ["RGB", "YCbCr", "HSV"], 4: ["RGBA", "CMYK", "RGBX"]}[channels]
        if mode is not None and mode not in permitted:
            raise ValueError(f"to_pil_image: only modes {permitted} are supported for {channels}-channel inputs, "
                             f"got {mode!r}")
        if mode is None and arr.dtype == np.uint8:
            mode = permitted[0]
    if mode is None:
        raise TypeError(f"to_pil_image: input type {arr.dtype} is not supported")
    return _from_array(arr, mode)


def convert_image_dtype(image, dtype=np.float32):
    """Integer images <-> float images in [0, 1] (for example uint8 -> float32 divides by 255)."""
    arr, wrap = _image_array(image, "convert_image_dtype")
    dtype = np.dtype(dtype)
    if arr.dtype == dtype:
        return image
    if arr.dtype.kind == "f":
        return wrap(_array.from_float_image(arr, dtype) if dtype.kind in "iu" else arr.astype(dtype))
    if dtype.kind == "f":
        return wrap(arr.astype(dtype) / dtype.type(_array.max_value(arr.dtype)))
    scale = (_array.max_value(dtype) + 1) / (_array.max_value(arr.dtype) + 1)
    return wrap((arr * scale if scale >= 1 else arr // int(round(1 / scale))).astype(dtype))


def normalize(tensor, mean, std, inplace: bool = False):
    """(x - mean[c]) / std[c] per channel of a float image (..., C, H, W)."""
    if _pil.is_pil(tensor):
        raise TypeError("normalize: img should be a Tensor image, got a PIL Image (put ToTensor() before "
                        "Normalize)")
    arr, wrap = _unwrap(tensor, "normalize")
    if arr.dtype.kind != "f":
        raise TypeError(f"normalize: input tensor should be a float tensor, got {arr.dtype}")
    if arr.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image of size (..., C, H, W), got shape {arr.shape}")
    m = np.asarray(mean, dtype=arr.dtype)
    s = np.asarray(std, dtype=arr.dtype)
    if np.any(s == 0):
        raise ValueError(f"normalize: std evaluated to zero after conversion to {arr.dtype}, leading to division "
                         f"by zero (std={std!r})")
    m, s = (v.reshape(-1, 1, 1) if v.ndim == 1 else v for v in (m, s))
    for name, v in (("mean", m), ("std", s)):
        if v.ndim and v.shape[0] not in (1, arr.shape[-3]):
            raise ValueError(f"normalize: {name} has {v.shape[0]} values but the image has {arr.shape[-3]} channels")
    if inplace:
        arr -= m
        arr /= s
        return tensor
    return wrap((arr - m) / s)


# ---- geometry --------------------------------------------------------------------------------------------
def resized_output_size(height: int, width: int, size, max_size: int | None = None) -> list[int]:
    """[h, w] for Resize(size): (h, w) as given, or the smaller edge set to ``size`` and the other scaled
    (truncated), capped so the longer edge stays <= ``max_size``."""
    if isinstance(size, (int, np.integer)):
        size = [int(size)]
    size = list(size)
    if len(size) == 2:
        if max_size is not None:
            raise ValueError("resize: max_size should only be passed if size specifies the length of the smaller "
                             "edge, i.e. size should be an int or a sequence of length 1")
        return [int(size[0]), int(size[1])]
    if len(size) != 1:
        raise ValueError(f"resize: size must be an int or a 1 or 2 element sequence, got {size!r}")
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = int(size[0]), int(int(size[0]) * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(f"resize: max_size = {max_size} must be strictly greater than the requested size for "
                             f"the smaller edge size = {size}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return [new_long, new_short] if width <= height else [new_short, new_long]


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    mode = interpolation_mode(interpolation, "resize").value
    _, h, w = get_dimensions(img)
    out_size = resized_output_size(h, w, size, max_size)
    if out_size == [h, w]:
        return img
    if _pil.is_pil(img):
        return _pil.resize(img, out_size, mode)
    arr, wrap = _image_array(img, "resize")
    aa = bool(antialias) and mode in ("bilinear", "bicubic")
    return wrap(_array.resize(arr, out_size, mode, aa))


def padding_ltrb(padding, who: str = "pad") -> tuple[int, int, int, int]:
    """torchvision's padding forms -> (left, top, right, bottom): p, (p,), (lr, tb), (l, t, r, b)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        return (int(padding),) * 4
    if not isinstance(padding, (list, tuple)) or len(padding) not in (1, 2, 4) or \
            not all(isinstance(p, (int, np.integer)) for p in padding):
        raise ValueError(f"{who}: padding must be an int or a 1, 2, or 4 element sequence of ints, got {padding!r}")
    p = [int(v) for v in padding]
    if len(p) == 1:
        return (p[0],) * 4
    if len(p) == 2:
        return p[0], p[1], p[0], p[1]
    return p[0], p[1], p[2], p[3]


PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    ltrb = padding_ltrb(padding)
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"pad: padding_mode should be one of {list(PADDING_MODES)}, got {padding_mode!r}")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError(f"pad: fill must be a number or a sequence of numbers, got {type(fill).__name__}")
    if _pil.is_pil(img):
        return _pil.pad(img, ltrb, fill, padding_mode)
    arr, wrap = _image_array(img, "pad")
    return wrap(_array.pad(arr, ltrb, 0 if fill is None else fill, padding_mode))


def crop(img, top: int, left: int, height: int, width: int):
    """The height x width window whose top-left corner is (top, left); outside the image is black."""
    if _pil.is_pil(img):
        return _pil.crop(img, top, left, height, width)
    arr, wrap = _image_array(img, "crop")
    return wrap(_array.crop(arr, int(top), int(left), int(height), int(width)))


def _size2(size, who: str) -> tuple[int, int]:
    """A crop size (int, 1- or 2-sequence) as (h, w), torchvision's rule; a ValueError naming ``who``."""
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, (tuple, list)) and len(size) == 1:
        return int(size[0]), int(size[0])
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"{who}: please provide only two dimensions (h, w) for size, got {size!r}")
    return int(size[0]), int(size[1])


def center_crop(img, output_size):
    """The centred window of ``output_size`` (the image is padded with black first when it is smaller)."""
    ch, cw = _size2(output_size, "center_crop")
    _, h, w = get_dimensions(img)
    if cw > w or ch > h:
        ltrb = ((cw - w) // 2 if cw > w else 0, (ch - h) // 2 if ch > h else 0,
                (cw - w + 1) // 2 if cw > w else 0, (ch - h + 1) // 2 if ch > h else 0)
        img = pad(img, list(ltrb), fill=0)
        _, h, w = get_dimensions(img)
        if (cw, ch) == (w, h):
            return img
    return crop(img, int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw)


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img):
    if _pil.is_pil(img):
        return _pil.hflip(img)
    arr, wrap = _image_array(img, "hflip")
    return wrap(_array.hflip(arr))


def vflip(img):
    if _pil.is_pil(img):
        return _pil.vflip(img)
    arr, wrap = _image_array(img, "vflip")
    return wrap(_array.vflip(arr))


def five_crop(img, size) -> tuple:
    """(top-left, top-right, bottom-left, bottom-right, centre) crops of ``size``."""
    ch, cw = _size2(size, "five_crop")
    _, h, w = get_dimensions(img)
    if cw > w or ch > h:
        raise ValueError(f"five_crop: requested crop size {(ch, cw)} is bigger than input size {(h, w)}")
    return (crop(img, 0, 0, ch, cw), crop(img, 0, w - cw, ch, cw), crop(img, h - ch, 0, ch, cw),
            crop(img, h - ch, w - cw, ch, cw), center_crop(img, [ch, cw]))


def ten_crop(img, size, vertical_flip: bool = False) -> tuple:
    """The five crops of the image, then the five of its mirror image (left-right, or top-bottom)."""
    return five_crop(img, size) + five_crop(vflip(img) if vertical_flip else hflip(img), size)


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False, center=None,
           fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the image centre)."""
    mode = interpolation_mode(interpolation, "rotate").value
    if not isinstance(angle, (int, float, np.integer, np.floating)):
        raise TypeError(f"rotate: angle should be int or float, got {type(angle).__name__}")
    if center is not None and not isinstance(center, (list, tuple)):
        raise TypeError(f"rotate: center should be a sequence (x, y), got {type(center).__name__}")
    if _pil.is_pil(img):
        return _pil.rotate(img, float(angle), mode, expand, center, fill)
    arr, wrap = _image_array(img, "rotate")
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"rotate: interpolation mode {mode!r} is unsupported with Tensor input (nearest, bilinear)")
    _, h, w = get_dimensions(arr)
    centre = [0.0, 0.0] if center is None else [float(c) - s * 0.5 for c, s in zip(center, (w, h))]
    if isinstance(fill, (list, tuple)) and len(fill) > 1 and len(fill) != get_dimensions(arr)[0]:
        raise ValueError(f"rotate: the number of elements in 'fill' cannot broadcast to match the number of "
                         f"channels of the image ({len(fill)} != {get_dimensions(arr)[0]})")
    matrix = _array.inverse_rotation_matrix(float(angle), centre)
    return wrap(_array.rotate(arr, matrix, mode, expand, fill))


# ---- colour ----------------------------------------------------------------------------------------------
def _factor(value, name: str) -> float:
    if value < 0:
        raise ValueError(f"{name} ({value}) is not non-negative")
    return float(value)


def _colour(img, who: str, pil_fn, array_fn, factor):
    if _pil.is_pil(img):
        return pil_fn(img, factor)
    arr, wrap = _image_array(img, who)
    _check_channels(arr, (1, 3), who)
    return wrap(array_fn(arr, factor))


def adjust_brightness(img, brightness_factor: float):
    f = _factor(brightness_factor, "brightness_factor")
    return _colour(img, "adjust_brightness", _pil.adjust_brightness, _array.adjust_brightness, f)


def adjust_contrast(img, contrast_factor: float):
    f = _factor(contrast_factor, "contrast_factor")
    return _colour(img, "adjust_contrast", _pil.adjust_contrast, _array.adjust_contrast, f)


def adjust_saturation(img, saturation_factor: float):
    f = _factor(saturation_factor, "saturation_factor")
    return _colour(img, "adjust_saturation", _pil.adjust_saturation, _array.adjust_saturation, f)


def adjust_hue(img, hue_factor: float):
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor ({hue_factor}) is not in [-0.5, 0.5]")
    return _colour(img, "adjust_hue", _pil.adjust_hue, _array.adjust_hue, float(hue_factor))


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """Grey levels L = 0.2989 R + 0.587 G + 0.114 B, as 1 or 3 equal channels."""
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels should be either 1 or 3, got "
                         f"{num_output_channels!r}")
    if _pil.is_pil(img):
        return _pil.to_grayscale(img, num_output_channels)
    arr, wrap = _image_array(img, "rgb_to_grayscale")
    if arr.ndim < 3:
        raise TypeError(f"rgb_to_grayscale: input image tensor should have at least 3 dimensions, got {arr.ndim}")
    _check_channels(arr, (1, 3), "rgb_to_grayscale")
    return wrap(_array.rgb_to_grayscale(arr, num_output_channels))


def to_grayscale(img, num_output_channels: int = 1):
    if not _pil.is_pil(img):
        raise TypeError(f"to_grayscale: img should be a PIL Image, got {type(img).__name__}")
    return rgb_to_grayscale(img, num_output_channels)
