"""The pixel operations on arrays laid out (..., C, H, W), with torchvision's tensor semantics.

Integer images stay integers: a float intermediate (float32, as torch's default) is cast back the way
torchvision casts it (rounded after resampling, truncated after colour blends). Leading axes are a batch:
every operation here is the same for each image of it.
"""
from __future__ import annotations

import math

import numpy as np

from ._resize import resize_matrix


def max_value(dtype) -> float:
    """The value of full intensity: 1.0 for floats, the largest value of an integer type."""
    dtype = np.dtype(dtype)
    return float(np.iinfo(dtype).max) if dtype.kind in "iu" else 1.0


def float_dtype(x: np.ndarray):
    return x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)


def cast_back(y: np.ndarray, dtype, rounded: bool) -> np.ndarray:
    """A float result in the input's integer ``dtype``: rounded half to even (resampling) or truncated."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return y.astype(dtype, copy=False)
    if rounded:
        y = np.round(y)
    return y.astype(dtype)


# ---- geometry ---------------------------------------------------------------------------------------------
def pad(x: np.ndarray, ltrb, fill=0, mode: str = "constant") -> np.ndarray:
    """Pad (or, with negative values, crop) the last two axes by (left, top, right, bottom)."""
    left, top, right, bottom = (int(p) for p in ltrb)
    h, w = x.shape[-2:]
    x = x[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    top, bottom, left, right = max(top, 0), max(bottom, 0), max(left, 0), max(right, 0)
    if mode != "constant":
        widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
        return np.pad(x, widths, mode=mode)
    h, w = x.shape[-2:]
    out = np.empty(x.shape[:-2] + (top + h + bottom, left + w + right), dtype=x.dtype)
    fill = np.asarray(fill, dtype=np.float64)
    out[...] = (fill.reshape(-1, 1, 1) if fill.ndim else fill).astype(x.dtype)  # one value, or one per channel
    out[..., top:top + h, left:left + w] = x
    return out


def crop(x: np.ndarray, top: int, left: int, height: int, width: int) -> np.ndarray:
    """The window at (top, left); parts outside the image are zeros (as torchvision's tensor crop)."""
    h, w = x.shape[-2:]
    bottom, right = top + height, left + width
    if left < 0 or top < 0 or right > w or bottom > h:
        window = x[..., max(top, 0):bottom, max(left, 0):right]
        ltrb = (max(-left + min(0, right), 0), max(-top + min(0, bottom), 0),
                max(right - max(w, left), 0), max(bottom - max(h, top), 0))
        return pad(window, ltrb)
    return x[..., top:bottom, left:right].copy()


def hflip(x: np.ndarray) -> np.ndarray:
    return x[..., ::-1].copy()


def vflip(x: np.ndarray) -> np.ndarray:
    return x[..., ::-1, :].copy()


def resize(x: np.ndarray, size, interpolation: str, antialias: bool) -> np.ndarray:
    """Resample the last two axes to ``size`` = (h, w): rows then columns, each a matrix product."""
    oh, ow = size
    h, w = x.shape[-2:]
    dtype = float_dtype(x)
    rows = resize_matrix(h, oh, interpolation, antialias).astype(dtype)
    cols = resize_matrix(w, ow, interpolation, antialias).astype(dtype)
    y = np.matmul(np.matmul(rows, x.astype(dtype, copy=False)), cols.T)
    if interpolation == "bicubic" and x.dtype == np.uint8:
        y = np.clip(y, 0, 255)
    return cast_back(y, x.dtype, rounded=True)


# ---- colour -----------------------------------------------------------------------------------------------
def rgb_to_grayscale(x: np.ndarray, num_output_channels: int = 1) -> np.ndarray:
    """L = 0.2989 R + 0.587 G + 0.114 B (a 1-channel image is returned as it is, as torchvision does)."""
    if x.shape[-3] == 1:
        return x.copy()
    ft = float_dtype(x)
    r, g, b = (x[..., k, :, :].astype(ft, copy=False) for k in range(3))
    gray = (ft.type(0.2989) * r + ft.type(0.587) * g + ft.type(0.114) * b).astype(x.dtype)[..., None, :, :]
    return np.repeat(gray, 3, axis=-3) if num_output_channels == 3 else gray


def blend(img1: np.ndarray, img2, ratio: float) -> np.ndarray:
    """ratio * img1 + (1 - ratio) * img2, clipped to the valid range, in img1's dtype (truncated)."""
    ft = float_dtype(img1)
    mixed = ft.type(ratio) * img1.astype(ft) + ft.type(1.0 - ratio) * np.asarray(img2, dtype=ft)
    return cast_back(np.clip(mixed, 0, max_value(img1.dtype)), img1.dtype, rounded=False)


def adjust_brightness(x: np.ndarray, factor: float) -> np.ndarray:
    return blend(x, 0, factor)


def adjust_contrast(x: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean grey level of each image."""
    ft = float_dtype(x)
    gray = rgb_to_grayscale(x) if x.shape[-3] == 3 else x
    mean = gray.astype(ft).mean(axis=(-3, -2, -1), keepdims=True, dtype=ft)
    return blend(x, mean, factor)


def adjust_saturation(x: np.ndarray, factor: float) -> np.ndarray:
    if x.shape[-3] == 1:
        return x.copy()
    return blend(x, rgb_to_grayscale(x), factor)


def to_float_image(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / np.float32(max_value(x.dtype)) if x.dtype.kind in "iu" else x


def from_float_image(x: np.ndarray, dtype) -> np.ndarray:
    """[0, 1] floats to an integer image: x * (max + 1 - 1e-3), truncated (torchvision's convert_image_dtype)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return x.astype(dtype, copy=False)
    return (x * np.float32(max_value(dtype) + 1.0 - 1e-3)).astype(dtype)


def _rgb_to_hsv(x: np.ndarray) -> np.ndarray:
    r, g, b = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    maxc, minc = x.max(axis=-3), x.min(axis=-3)
    same = maxc == minc
    cr = maxc - minc
    s = cr / np.where(same, 1, maxc)
    div = np.where(same, 1, cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    h = (maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc) + \
        ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.fmod(h / 6.0 + 1.0, 1.0)
    return np.stack((h, s, maxc), axis=-3).astype(x.dtype, copy=False)


def _hsv_to_rgb(x: np.ndarray) -> np.ndarray:
    h, s, v = x[..., 0, :, :], x[..., 1, :, :], x[..., 2, :, :]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    # the six sectors of the hue circle, each with its (r, g, b) from (v, p, q, t)
    r = np.choose(i, (v, q, p, p, t, v))
    g = np.choose(i, (t, v, v, q, p, p))
    b = np.choose(i, (p, p, t, v, v, q))
    return np.stack((r, g, b), axis=-3).astype(x.dtype, copy=False)


def adjust_hue(x: np.ndarray, factor: float) -> np.ndarray:
    """Rotate the hue by ``factor`` turns (HSV round trip in float32, as torchvision)."""
    if x.shape[-3] == 1:
        return x.copy()
    hsv = _rgb_to_hsv(to_float_image(x))
    hsv[..., 0, :, :] = np.mod(hsv[..., 0, :, :] + np.float32(factor), 1.0)
    return from_float_image(_hsv_to_rgb(hsv), x.dtype)


# ---- rotation ---------------------------------------------------------------------------------------------
def inverse_rotation_matrix(angle: float, center) -> list[float]:
    """The affine map from output to input pixel coordinates (origin at the image centre) of a rotation by
    ``angle`` degrees counter-clockwise about ``center``: [a, b, c, d, e, f] with x_in = a x + b y + c,
    y_in = d x + e y + f. On screen (y pointing down) an anticlockwise turn by t sends the input point q to
    R q with R = [[cos t, sin t], [-sin t, cos t]]; the output pixel p therefore reads R^T p."""
    t = math.radians(angle)
    cx, cy = center
    a, b, d, e = math.cos(t), -math.sin(t), math.sin(t), math.cos(t)
    return [a, b, cx - a * cx - b * cy, d, e, cy - d * cx - e * cy]


def rotated_size(matrix, w: int, h: int) -> tuple[int, int]:
    """(width, height) of the box holding the rotated image (``expand=True``), as PIL and torchvision."""
    corners = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0],
                        [0.5 * w, 0.5 * h, 1.0], [0.5 * w, -0.5 * h, 1.0]], dtype=np.float32)
    pts = corners @ np.asarray(matrix, dtype=np.float32).reshape(2, 3).T
    lo, hi = pts.min(axis=0) + (w * 0.5, h * 0.5), pts.max(axis=0) + (w * 0.5, h * 0.5)
    tol = 1e-4  # ignore rounding residue such as 1e-15 that would ceil to a whole extra pixel
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def rotate(x: np.ndarray, matrix, interpolation: str, expand: bool, fill) -> np.ndarray:
    """Resample through the inverse map ``matrix`` (from :func:`inverse_rotation_matrix`): output pixel centres
    relative to the output's centre are mapped into the input, sampled (nearest or bilinear; outside the
    input counts as empty) and the empty part painted with ``fill``."""
    h, w = x.shape[-2:]
    ow, oh = rotated_size(matrix, w, h) if expand else (w, h)
    ft = float_dtype(x)
    # The arithmetic follows torchvision's float32 steps (matrix scaled to [-1, 1] coordinates, then back to
    # pixels), so that nearest-neighbour ties at exactly half a pixel fall the same way.
    m = (np.asarray(matrix, dtype=ft).reshape(2, 3) / np.array([[0.5 * w], [0.5 * h]], dtype=ft)).astype(ft)
    xs = np.arange(ow, dtype=ft) - ft.type(ow * 0.5 - 0.5)
    ys = np.arange(oh, dtype=ft) - ft.type(oh * 0.5 - 0.5)
    gx, gy = np.meshgrid(xs, ys)
    nx = gx * m[0, 0] + gy * m[0, 1] + m[0, 2]
    ny = gx * m[1, 0] + gy * m[1, 1] + m[1, 2]
    # input coordinates with the origin at pixel (0, 0)'s centre
    sx = ((nx + ft.type(1)) * ft.type(w) - ft.type(1)) / ft.type(2)
    sy = ((ny + ft.type(1)) * ft.type(h) - ft.type(1)) / ft.type(2)
    img = x.astype(ft, copy=False)
    if interpolation == "nearest":
        ix, iy = np.rint(sx).astype(np.int64), np.rint(sy).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = np.where(inside, img[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)], ft.type(0))
        coverage = inside.astype(ft)
    else:
        x0, y0 = np.floor(sx), np.floor(sy)
        out = np.zeros(x.shape[:-2] + (oh, ow), dtype=ft)
        coverage = np.zeros((oh, ow), dtype=ft)
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            xi, yi = x0 + dx, y0 + dy
            weight = (1 - np.abs(sx - xi)) * (1 - np.abs(sy - yi))
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            weight = np.where(inside, weight, 0).astype(ft)
            xi, yi = np.clip(xi, 0, w - 1).astype(np.int64), np.clip(yi, 0, h - 1).astype(np.int64)
            out += weight * img[..., yi, xi]
            coverage += weight
    if fill is not None:
        fill = np.asarray(fill, dtype=ft).reshape(-1, 1, 1)
        if interpolation == "nearest":
            out = np.where(coverage < 0.5, np.broadcast_to(fill, out.shape), out)
        else:
            out = out * coverage + (1 - coverage) * fill
    return cast_back(out, x.dtype, rounded=True)
