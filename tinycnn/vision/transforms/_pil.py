"""The pixel operations on PIL images: Pillow does the work, called as torchvision calls it (same pixels)."""
from __future__ import annotations

import numbers

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

# InterpolationMode value -> Pillow resampling filter
PIL_FILTERS = {"nearest": Image.NEAREST, "nearest-exact": Image.NEAREST, "bilinear": Image.BILINEAR,
               "bicubic": Image.BICUBIC, "box": Image.BOX, "hamming": Image.HAMMING, "lanczos": Image.LANCZOS}


def is_pil(img) -> bool:
    return isinstance(img, Image.Image)


def dimensions(img: Image.Image) -> list[int]:
    return [len(img.getbands()), img.height, img.width]


def fill_option(fill, img: Image.Image, name: str = "fillcolor") -> dict:
    """``fill`` as Pillow wants it: one value per band (ints unless the image is float)."""
    bands = len(img.getbands())
    fill = 0 if fill is None else fill
    if isinstance(fill, numbers.Number) and bands > 1:
        fill = (fill,) * bands
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = tuple(fill) * bands
        elif len(fill) != bands:
            raise ValueError(f"the number of elements in 'fill' does not match the number of channels of the "
                             f"image ({len(fill)} != {bands})")
        fill = tuple(fill)
    if img.mode != "F":
        fill = tuple(int(v) for v in fill) if isinstance(fill, tuple) else int(fill)
    return {name: fill}


def pad(img: Image.Image, ltrb, fill, mode: str) -> Image.Image:
    left, top, right, bottom = ltrb
    if mode == "constant":
        out = ImageOps.expand(img, border=(left, top, right, bottom), **fill_option(fill, img, "fill"))
        if img.mode == "P":
            out.putpalette(img.getpalette())
        return out
    crop_l, crop_t, crop_r, crop_b = (max(-p, 0) for p in (left, top, right, bottom))
    if crop_l or crop_t or crop_r or crop_b:
        img = img.crop((crop_l, crop_t, img.width - crop_r, img.height - crop_b))
    left, top, right, bottom = (max(p, 0) for p in (left, top, right, bottom))
    palette = img.getpalette() if img.mode == "P" else None
    arr = np.asarray(img)
    widths = ((top, bottom), (left, right)) + (((0, 0),) if arr.ndim == 3 else ())
    out = Image.fromarray(np.pad(arr, widths, mode=mode))
    if palette is not None:
        out.putpalette(palette)
    return out


def crop(img: Image.Image, top: int, left: int, height: int, width: int) -> Image.Image:
    return img.crop((left, top, left + width, top + height))


def resize(img: Image.Image, size, interpolation: str) -> Image.Image:
    h, w = size
    return img.resize((w, h), PIL_FILTERS[interpolation])


def hflip(img: Image.Image) -> Image.Image:
    return img.transpose(Image.FLIP_LEFT_RIGHT)


def vflip(img: Image.Image) -> Image.Image:
    return img.transpose(Image.FLIP_TOP_BOTTOM)


def rotate(img: Image.Image, angle: float, interpolation: str, expand: bool, center, fill) -> Image.Image:
    return img.rotate(angle, PIL_FILTERS[interpolation], expand, center, **fill_option(fill, img))


def to_grayscale(img: Image.Image, num_output_channels: int) -> Image.Image:
    gray = img.convert("L")
    if num_output_channels == 1:
        return gray
    arr = np.asarray(gray)
    return Image.fromarray(np.dstack([arr, arr, arr]))


def adjust_brightness(img: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Brightness(img).enhance(factor)


def adjust_contrast(img: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Contrast(img).enhance(factor)


def adjust_saturation(img: Image.Image, factor: float) -> Image.Image:
    return ImageEnhance.Color(img).enhance(factor)


def adjust_hue(img: Image.Image, factor: float) -> Image.Image:
    """Shift the H band of HSV by ``factor`` turns, wrapping around (uint8 arithmetic, as torchvision)."""
    if img.mode in {"L", "1", "I", "F"}:
        return img
    h, s, v = img.convert("HSV").split()
    hue = np.array(h, dtype=np.uint8)
    hue += np.int32(factor * 255).astype(np.uint8)  # uint8 addition wraps modulo 256, like the hue circle
    return Image.merge("HSV", (Image.fromarray(hue), s, v)).convert(img.mode)
