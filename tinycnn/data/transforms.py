"""Image transforms on NumPy arrays, for one image (C x H x W) or a whole batch (N x C x H x W).

Images reach the transforms already as float32 in [0, 1] (the datasets divide by 255: what torchvision's
``ToTensor`` does), so there is no ToTensor here. Every transform acts on the last three axes and treats any
leading axis as the batch, so the DataLoader calls each transform once per batch, not once per image.

Random transforms (RandomCrop, RandomHorizontalFlip) draw from their own ``numpy.random.Generator``: pass
``seed`` or ``rng``, or leave both None to seed from tinycnn's global generator (``tinycnn.manual_seed``).
They draw one value per image, so image k of a batch gets its own crop/flip; ``state_dict()`` /
``load_state_dict()`` save and restore the generator (the DataLoader's state_dict includes them).
"""
from __future__ import annotations

import copy

import numpy as np

from .. import backend


def seed_from_global_rng() -> int:
    """A seed drawn from tinycnn's global generator (so ``tinycnn.manual_seed`` fixes it)."""
    return int(backend.get_rng().integers(0, 2**63 - 1))


def _image_dims(x, who: str):
    if not isinstance(x, np.ndarray) or x.ndim < 3:
        raise ValueError(f"{who} expects an array of shape (C, H, W) or (N, C, H, W), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    return x.shape[-3:]


def _pair(value, who: str, name: str) -> tuple[int, int]:
    if isinstance(value, (int, np.integer)):
        value = (int(value), int(value))
    value = tuple(int(v) for v in value)
    if len(value) != 2 or min(value) <= 0:
        raise ValueError(f"{who}: {name} must be a positive int or a (height, width) pair, got {value!r}")
    return value


class Compose:
    """Apply transforms in order: ``Compose([Pad(2), Normalize(0.1307, 0.3081)])``."""

    def __init__(self, transforms):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(repr(t) for t in self.transforms) + ")"


class Lambda:
    """Wrap a function of the image/batch array as a transform."""

    def __init__(self, fn):
        if not callable(fn):
            raise TypeError(f"Lambda: expected a callable, got {type(fn).__name__}")
        self.fn = fn

    def __call__(self, x):
        return self.fn(x)


class Normalize:
    """``(x - mean[c]) / std[c]`` per channel c; mean/std are numbers or one value per channel."""

    def __init__(self, mean, std):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=np.float32))
        self.std = np.atleast_1d(np.asarray(std, dtype=np.float32))
        if self.mean.ndim != 1 or self.std.ndim != 1:
            raise ValueError(f"Normalize: mean and std must be numbers or 1-d sequences, "
                             f"got {mean!r}, {std!r}")
        if np.any(self.std == 0):
            raise ValueError(f"Normalize: std must be non-zero in every channel, got {std!r}")

    def __call__(self, x):
        c = _image_dims(x, "Normalize")[0]
        for name, v in (("mean", self.mean), ("std", self.std)):
            if v.size not in (1, c):
                raise ValueError(f"Normalize: {name} has {v.size} values but the image has {c} channels")
        return (x - self.mean[:, None, None]) / self.std[:, None, None]

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


def _padding4(padding, who: str) -> tuple[int, int, int, int]:
    """torchvision's convention: p -> all sides; (lr, tb); (left, top, right, bottom)."""
    if isinstance(padding, (int, np.integer)):
        padding = (padding,)
    padding = tuple(int(p) for p in padding)
    if len(padding) == 1:
        padding = padding * 4
    elif len(padding) == 2:
        padding = (padding[0], padding[1], padding[0], padding[1])
    if len(padding) != 4 or min(padding) < 0:
        raise ValueError(f"{who}: padding must be a non-negative int or a sequence of 2 or 4 of them, "
                         f"got {padding!r}")
    return padding


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect", "symmetric": "symmetric"}


def _pad(x, pad4, fill, mode):
    left, top, right, bottom = pad4
    widths = [(0, 0)] * (x.ndim - 2) + [(top, bottom), (left, right)]
    if mode == "constant":
        return np.pad(x, widths, mode="constant", constant_values=np.asarray(fill, dtype=x.dtype))
    return np.pad(x, widths, mode=_PAD_MODES[mode])


class Pad:
    """Pad the borders of H and W (``padding`` as in torchvision; ``padding_mode`` constant, edge,
    reflect or symmetric)."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant"):
        self.padding = _padding4(padding, "Pad")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"Pad: padding_mode must be one of {list(_PAD_MODES)}, got {padding_mode!r}")
        self.fill, self.padding_mode = fill, padding_mode

    def __call__(self, x):
        _image_dims(x, "Pad")
        return _pad(x, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return f"Pad(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode!r})"


class RandomTransform:
    """Base of the random transforms: owns a Generator whose state can be saved and restored."""

    def __init__(self, seed=None, rng=None):
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"{type(self).__name__}: rng must be a numpy.random.Generator, "
                            f"got {type(rng).__name__}")
        self.rng = rng if rng is not None else np.random.default_rng(
            seed if seed is not None else seed_from_global_rng())

    def state_dict(self) -> dict:
        return copy.deepcopy(self.rng.bit_generator.state)

    def load_state_dict(self, state: dict) -> None:
        self.rng.bit_generator.state = copy.deepcopy(state)

    def __call__(self, x):
        single = x.ndim == 3 if isinstance(x, np.ndarray) else False
        _image_dims(x, type(self).__name__)
        batch = x[None] if single else x.reshape((-1,) + x.shape[-3:])
        out = self._apply(batch)
        return out[0] if single else out.reshape(x.shape[:-3] + out.shape[-3:])


class RandomCrop(RandomTransform):
    """Crop a random ``size`` window (one position per image), after optional ``padding`` (as ``Pad``)."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant", *, seed=None, rng=None):
        super().__init__(seed, rng)
        self.size = _pair(size, "RandomCrop", "size")
        self.padding = None if padding is None else _padding4(padding, "RandomCrop")
        if padding_mode not in _PAD_MODES:
            raise ValueError(f"RandomCrop: padding_mode must be one of {list(_PAD_MODES)}, "
                             f"got {padding_mode!r}")
        self.pad_if_needed, self.fill, self.padding_mode = pad_if_needed, fill, padding_mode

    def _apply(self, x):
        if self.padding is not None:
            x = _pad(x, self.padding, self.fill, self.padding_mode)
        h, w = self.size
        if self.pad_if_needed and (x.shape[-2] < h or x.shape[-1] < w):
            dh, dw = max(h - x.shape[-2], 0), max(w - x.shape[-1], 0)
            x = _pad(x, (dw, dh, dw, dh), self.fill, self.padding_mode)  # torchvision pads both sides
        H, W = x.shape[-2:]
        if h > H or w > W:
            raise ValueError(f"RandomCrop: crop size {(h, w)} is larger than the (padded) image {(H, W)}")
        n = x.shape[0]
        tops = self.rng.integers(0, H - h + 1, size=n)
        lefts = self.rng.integers(0, W - w + 1, size=n)
        # Gather all crops at once: rows[k] = tops[k] + 0..h-1, cols[k] = lefts[k] + 0..w-1.
        rows = (tops[:, None] + np.arange(h))[:, None, :, None]
        cols = (lefts[:, None] + np.arange(w))[:, None, None, :]
        return x[np.arange(n)[:, None, None, None], np.arange(x.shape[1])[None, :, None, None], rows, cols]

    def __repr__(self) -> str:
        return f"RandomCrop(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip(RandomTransform):
    """Mirror each image left-right with probability ``p`` (independently per image)."""

    def __init__(self, p: float = 0.5, *, seed=None, rng=None):
        super().__init__(seed, rng)
        if not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"RandomHorizontalFlip: p must be in [0, 1], got {p!r}")
        self.p = float(p)

    def _apply(self, x):
        flip = self.rng.random(x.shape[0]) < self.p
        out = x.copy()
        out[flip] = x[flip][..., ::-1]
        return out

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


def _linear_taps(n_in: int, n_out: int):
    """Source indices and weights of 1-d linear interpolation, half-pixel centres (align_corners=False).

    Output pixel j sits at source coordinate s = (j + 0.5) * n_in / n_out - 0.5, clamped to s >= 0 (as
    PyTorch does); it blends i0 = floor(s) and i1 = min(i0 + 1, n_in - 1) with weights 1 - t and t = s - i0.
    """
    scale = n_in / n_out
    src = np.maximum((np.arange(n_out) + 0.5) * scale - 0.5, 0.0)
    i0 = np.floor(src).astype(np.int64)
    i0 = np.minimum(i0, n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    t = (src - i0).astype(np.float32)
    return i0, i1, t


class Resize:
    """Bilinear resize of H x W, equal to torch's ``F.interpolate(mode='bilinear', align_corners=False,
    antialias=False)`` (no low-pass filter: fine for upscaling such as 28 -> 224; downscaling aliases).

    ``size`` as in torchvision: (h, w) exactly, or an int that the *smaller* edge becomes, the other edge
    scaled to keep the aspect ratio (truncated to an int).
    Bilinear interpolation is separable, so rows are interpolated first, then columns.
    """

    def __init__(self, size):
        if isinstance(size, (int, np.integer)):
            if size <= 0:
                raise ValueError(f"Resize: size must be positive, got {size!r}")
            self.size = int(size)
        else:
            self.size = _pair(size, "Resize", "size")

    def _out_size(self, h: int, w: int) -> tuple[int, int]:
        if isinstance(self.size, tuple):
            return self.size
        s = self.size
        return (s, int(s * w / h)) if h <= w else (int(s * h / w), s)

    def __call__(self, x):
        _, h, w = _image_dims(x, "Resize")
        oh, ow = self._out_size(h, w)
        if (oh, ow) == (h, w):
            return x
        dtype = x.dtype if x.dtype.kind == "f" else np.float32
        r0, r1, tr = _linear_taps(h, oh)
        c0, c1, tc = _linear_taps(w, ow)
        tr, tc = tr.astype(dtype), tc.astype(dtype)
        tr = tr[:, None]
        rows = x[..., r0, :] * (1 - tr) + x[..., r1, :] * tr          # (..., oh, w)
        return rows[..., c0] * (1 - tc) + rows[..., c1] * tc           # (..., oh, ow)

    def __repr__(self) -> str:
        return f"Resize(size={self.size})"


def random_transforms(dataset) -> list[RandomTransform]:
    """Every RandomTransform reachable from ``dataset`` (through Subset.dataset and Compose), in order."""
    found, seen = [], set()

    def visit_transform(t):
        if isinstance(t, Compose):
            for inner in t.transforms:
                visit_transform(inner)
        elif isinstance(t, RandomTransform) and id(t) not in seen:
            seen.add(id(t))
            found.append(t)

    obj, depth = dataset, 0
    while obj is not None and depth < 32:
        attrs = vars(obj) if hasattr(obj, "__dict__") else {}
        visit_transform(attrs.get("transform"))
        obj, depth = attrs.get("dataset"), depth + 1
    return found
