"""F.interpolate / Upsample, PixelShuffle / PixelUnshuffle, max unpooling and the padding layers against PyTorch
(forward and gradients in float64), the tap matrices against a direct formula, and bad input."""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
import tinycnn.nn as nn
import tinycnn.nn.functional as F
from tinycnn import Tensor
from tinycnn.ops.upsample import taps, taps_matrix

from helpers import assert_matches_torch, assert_module_matches_torch

MODES_2D = [("nearest", None), ("nearest-exact", None), ("bilinear", False), ("bilinear", True),
            ("bicubic", False), ("bicubic", True), ("area", None)]
SIZES = [dict(size=(9, 4)), dict(size=(3, 7)), dict(size=1), dict(scale_factor=2), dict(scale_factor=(1.7, 0.6)),
         dict(scale_factor=2.5, recompute_scale_factor=True), dict(size=(5, 7))]


@pytest.mark.parametrize("mode,align_corners", MODES_2D)
@pytest.mark.parametrize("kw", SIZES, ids=[str(k) for k in SIZES])
def test_interpolate_2d_matches_torch(torch, mode, align_corners, kw):
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 7))
    assert_matches_torch(lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **kw),
                         lambda x: torch.nn.functional.interpolate(x, mode=mode, align_corners=align_corners, **kw),
                         [x])


@pytest.mark.parametrize("mode,align_corners", [("nearest", None), ("nearest-exact", None), ("linear", False),
                                                ("linear", True), ("area", None)])
@pytest.mark.parametrize("kw", [dict(size=9), dict(scale_factor=0.7), dict(scale_factor=3)])
def test_interpolate_1d_matches_torch(torch, mode, align_corners, kw):
    x = np.random.default_rng(1).standard_normal((2, 3, 6))
    assert_matches_torch(lambda x: F.interpolate(x, mode=mode, align_corners=align_corners, **kw),
                         lambda x: torch.nn.functional.interpolate(x, mode=mode, align_corners=align_corners, **kw),
                         [x])


def test_bilinear_taps_are_the_textbook_formula():
    """Without torch: half-pixel centres, src = (i + 0.5) * in/out - 0.5 clamped at 0, two taps 1 - l and l."""
    out, n = 7, 4
    a = taps_matrix(taps(n, out, "linear", False), n, out)
    for i in range(out):
        src = max((i + 0.5) * n / out - 0.5, 0.0)
        i0 = int(np.floor(src))
        i1, lam = min(i0 + 1, n - 1), src - i0
        expected = np.zeros(n)
        expected[i0] += 1 - lam
        expected[i1] += lam
        np.testing.assert_allclose(a[i], expected, atol=1e-15)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)                 # every mode reproduces a constant signal
    np.testing.assert_allclose(taps_matrix(taps(n, out, "cubic", True), n, out).sum(axis=1), 1.0)


def test_nearest_keeps_inf_and_nan_in_place():
    x = np.array([[[[1.0, np.inf], [np.nan, -2.0]]]])
    y = F.interpolate(Tensor(x), scale_factor=2).numpy()
    assert np.isinf(y[0, 0, 0, 2]) and np.isnan(y[0, 0, 2, 0]) and y[0, 0, 0, 0] == 1.0 and y[0, 0, 3, 3] == -2.0


@pytest.mark.parametrize("make", [
    lambda m: m.Upsample(scale_factor=2), lambda m: m.Upsample(size=(3, 4), mode="bilinear", align_corners=True),
    lambda m: m.Upsample(scale_factor=(2, 1.5), mode="bicubic"), lambda m: m.UpsamplingNearest2d(scale_factor=2),
    lambda m: m.UpsamplingBilinear2d(size=(5, 9)), lambda m: m.PixelShuffle(2), lambda m: m.PixelUnshuffle(2)])
def test_resize_layers_match_torch(torch, make):
    ours, theirs = make(nn), make(torch.nn)
    assert repr(ours) == repr(theirs)
    shape = (2, 8, 4, 6) if "Pixel" in type(ours).__name__ else (2, 3, 4, 6)
    assert_module_matches_torch(ours, theirs, np.random.default_rng(2).standard_normal(shape))


@pytest.mark.parametrize("r,shape", [(2, (2, 8, 3, 4)), (3, (1, 18, 2, 2)), (2, (4, 3, 2))])
def test_pixel_shuffle_round_trip_and_torch(torch, r, shape):
    x = np.random.default_rng(3).standard_normal(shape)
    assert_matches_torch(lambda x: F.pixel_shuffle(x, r), lambda x: torch.nn.functional.pixel_shuffle(x, r), [x])
    np.testing.assert_array_equal(F.pixel_unshuffle(F.pixel_shuffle(Tensor(x), r), r).numpy(), x)


@pytest.mark.parametrize("k,s,p,size", [(2, None, 0, (8, 6)), (3, 2, 1, (8, 7)), ((2, 3), (2, 2), (1, 0), (7, 7)),
                                        (2, 2, 0, (9, 8))])
def test_max_unpool2d_inverts_max_pool2d_like_torch(torch, k, s, p, size):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3) + size)
    pooled, idx = F.max_pool2d(Tensor(x), k, s, p, return_indices=True)
    t_pooled, t_idx = torch.nn.functional.max_pool2d(torch.tensor(x), k, s, p, return_indices=True)
    np.testing.assert_array_equal(idx.numpy(), t_idx.numpy())
    v = rng.standard_normal(pooled.shape)
    assert_matches_torch(lambda v: F.max_unpool2d(v, idx, k, s, p, output_size=size),
                         lambda v: torch.nn.functional.max_unpool2d(v, t_idx, k, s, p, output_size=size), [v])
    # the unpooled maxima sit where they were found, everything else is 0
    up = F.max_unpool2d(pooled, idx, k, s, p, output_size=size).numpy()
    assert np.all((up == 0) | (up == x))


def test_max_unpool_layers_and_1d(torch):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 6))
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, idx = pool(Tensor(x))
    assert repr(unpool) == repr(torch.nn.MaxUnpool2d(2))
    np.testing.assert_array_equal(unpool(y, idx).numpy(),
                                  torch.nn.MaxUnpool2d(2)(torch.tensor(y.numpy()), torch.tensor(idx.numpy())).numpy())
    np.testing.assert_array_equal(unpool(y[0], idx[0]).numpy(), unpool(y, idx).numpy()[0])      # unbatched
    s = rng.standard_normal((2, 3, 9))
    tv, ti = torch.nn.functional.max_pool1d(torch.tensor(s), 3, 2, 1, return_indices=True)
    ours = nn.MaxUnpool1d(3, 2, 1)(Tensor(tv.numpy()), Tensor(ti.numpy()), output_size=[9])
    assert repr(nn.MaxUnpool1d(3, 2, 1)) == repr(torch.nn.MaxUnpool1d(3, 2, 1))
    np.testing.assert_array_equal(ours.numpy(), torch.nn.functional.max_unpool1d(tv, ti, 3, 2, 1, [9]).numpy())


PADS = [("ReflectionPad2d", (2,)), ("ReflectionPad2d", ((1, 2, 0, 3),)), ("ReplicationPad2d", ((3, 0, 1, 2),)),
        ("CircularPad2d", (2,)), ("ConstantPad2d", ((1, -1, 2, 0), 3.5)), ("ZeroPad2d", ((1, 2, 3, 4),)),
        ("ReflectionPad1d", ((2, 3),)), ("ReplicationPad1d", (4,)), ("CircularPad1d", ((1, 3),)),
        ("ConstantPad1d", (2, -1.0)), ("ZeroPad1d", ((0, 2),))]


@pytest.mark.parametrize("name,args", PADS, ids=[f"{n}{a}" for n, a in PADS])
def test_padding_layers_match_torch(torch, name, args):
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    shape = (2, 3, 4, 5) if name.endswith("2d") else (2, 3, 5)
    x = np.random.default_rng(6).standard_normal(shape)
    assert_module_matches_torch(ours, theirs, x)
    assert_module_matches_torch(ours, theirs, x[0])          # without the batch axis


def test_f_pad_is_exported_and_errors_name_the_layer():
    assert F.pad(tinycnn.ones(1, 1, 2, 2), (1, 1, 1, 1), mode="reflect").shape == (1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"ReflectionPad2d\(\(1, 1, 1, 1\)\) expects a 3-D"):
        nn.ReflectionPad2d(1)(tinycnn.ones(4, 4))
    with pytest.raises(ValueError, match=r"ReflectionPad2d\(\(3, 3, 3, 3\)\): reflect padding \(3, 3\) must be"):
        nn.ReflectionPad2d(3)(tinycnn.ones(1, 1, 3, 3))
    with pytest.raises(ValueError, match=r"padding must be an int or a 2-tuple"):
        nn.ReplicationPad1d((1, 2, 3, 4))


@pytest.mark.parametrize("call,match", [
    (lambda: F.interpolate(tinycnn.randn(1, 1, 4, 4)), "either size or scale_factor"),
    (lambda: F.interpolate(tinycnn.randn(1, 1, 4, 4), size=2, scale_factor=2), "only one of size or scale_factor"),
    (lambda: F.interpolate(tinycnn.randn(1, 1, 4, 4), size=2, mode="linear"), "linear mode needs 3D input"),
    (lambda: F.interpolate(tinycnn.randn(1, 1, 4), size=2, mode="bilinear"), "bilinear mode needs 4D input"),
    (lambda: F.interpolate(tinycnn.randn(1, 1, 4, 4), size=2, align_corners=True), "align_corners option"),
    (lambda: F.interpolate(tinycnn.randn(1, 1, 4, 4), size=(2, 2, 2)), "same number of spatial dimensions"),
    (lambda: F.interpolate(tinycnn.randn(1, 1, 4, 4), size=2, mode="trilinear"), "mode must be one of"),
    (lambda: F.pixel_shuffle(tinycnn.randn(1, 6, 2, 2), 2), "divisible by the square of upscale_factor"),
    (lambda: F.pixel_unshuffle(tinycnn.randn(1, 1, 3, 4), 2), "divisible by downscale_factor"),
    (lambda: F.max_unpool2d(tinycnn.randn(1, 1, 2, 2), tinycnn.tensor([[[[0, 1], [2, 99]]]]), 2),
     "invalid max index 99"),
    (lambda: F.max_unpool2d(tinycnn.randn(1, 1, 2, 2), tinycnn.zeros(1, 1, 2, 2, dtype=tinycnn.int64), 2,
                            output_size=(9, 9)), "invalid output_size"),
])
def test_resize_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
