"""Argument normalisation and output-size formulas shared by convolution and pooling (ops and nn layers).

Sizes along one axis, with input ``H``, kernel ``k``, stride ``s``, padding ``p`` (each side), dilation ``d``:

    conv / floor pooling:  OH = floor((H + 2p - d(k-1) - 1) / s) + 1
                           (``kernels.numpy_kernels.conv_out_size``, where im2col needs it first)
    ceil_mode pooling:     OH = ceil((H + 2p - d(k-1) - 1) / s) + 1, minus 1 if (OH-1)*s >= H + p
                           (PyTorch: the last window must start inside the input or the left padding)
    padding='same':        total d(k-1), left floor(total/2), the extra pixel on the right (stride 1 only)
    transposed conv:       OH = (H - 1)s - 2p + d(k-1) + output_padding + 1
                           (the H for which a conv with the same k, s, p, d gives back H, plus output_padding)
"""
from __future__ import annotations

import numbers


def _pair(value, name: str, layer: str = "", allow_zero: bool = False, allow_negative: bool = False):
    """int or pair -> (int, int), with a ValueError naming the layer and argument for bad values."""
    where = f"{layer}: " if layer else ""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{where}{name} must be an int or a pair of ints, got {value!r}")
    lowest = 0 if (allow_zero or allow_negative) else 1
    if not allow_negative and min(pair) < lowest:
        expected = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{where}{name} must be {expected}, got {value!r}")
    return pair


def _single(value, name: str, layer: str, allow_zero: bool = False) -> int:
    """int or 1-tuple -> int (the 1-D layers' arguments), with a ValueError naming the layer and argument."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise ValueError(f"{layer}: {name} must be an int or a 1-tuple of ints, got {value!r}")
    if value < (0 if allow_zero else 1):
        raise ValueError(f"{layer}: {name} must be {'non-negative' if allow_zero else 'positive'}, got {value!r}")
    return int(value)


def pool_output_size(size: int, k: int, s: int, p: int, d: int = 1, ceil_mode: bool = False) -> int:
    """PyTorch's pooling size: floor or ceil of (size + 2p - d(k-1) - 1)/s, plus 1, with the ceil rule."""
    num = size + 2 * p - d * (k - 1) - 1
    out = (-(-num // s) if ceil_mode else num // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def same_padding(k: int, d: int = 1) -> tuple[int, int]:
    """(before, after) padding that keeps the size at stride 1: total d(k-1), extra pixel after."""
    total = d * (k - 1)
    return total // 2, total - total // 2


def conv_padding(padding, kernel_size, stride, dilation, layer: str = "") -> tuple[int, int, int, int]:
    """Conv ``padding`` (int, pair, 'valid' or 'same') -> (top, bottom, left, right)."""
    where = f"{layer}: " if layer else ""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding == "same":
            if tuple(stride) != (1, 1):
                raise ValueError(f"{where}padding='same' is not supported for strided convolutions "
                                 f"(stride={tuple(stride)})")
            top, bottom = same_padding(kernel_size[0], dilation[0])
            left, right = same_padding(kernel_size[1], dilation[1])
            return (top, bottom, left, right)
        raise ValueError(f"{where}padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    ph, pw = _pair(padding, "padding", layer, allow_zero=True)
    return (ph, ph, pw, pw)


def conv_transpose_output_size(size: int, k: int, s: int, p: int, d: int = 1, output_padding: int = 0) -> int:
    """(size - 1)s - 2p + d(k-1) + output_padding + 1: the transposed convolution's output length."""
    return (size - 1) * s - 2 * p + d * (k - 1) + output_padding + 1


def shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) for s in shape) + ")"
