"""tinycnn.vision.transforms against torchvision.transforms: the same pixels for the deterministic ones (on PIL
images, float and uint8 tensors), the same distributions and shapes for the random ones; seeding; the batched
path equal to the per-image one; describe / rebuild."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import tinycnn
from tinycnn.vision import transforms as T
from tinycnn.vision.transforms import functional as F

RNG = np.random.default_rng(0)
RGB = Image.fromarray(RNG.integers(0, 256, (37, 45, 3), dtype=np.uint8))
GREY = Image.fromarray(RNG.integers(0, 256, (37, 45), dtype=np.uint8))
FLOAT = RNG.random((3, 37, 45)).astype(np.float32)
UINT8 = RNG.integers(0, 256, (3, 37, 45), dtype=np.uint8)

# (name, ours, theirs(tv)) built lazily, so the module imports without torchvision
DETERMINISTIC = {
    "Resize(16)": lambda M: M.Resize(16),
    "Resize((20, 70))": lambda M: M.Resize((20, 70)),
    "Resize(20, max_size=26)": lambda M: M.Resize(20, max_size=26),
    "Resize(20, bicubic)": lambda M: M.Resize(20, M.InterpolationMode.BICUBIC),
    "Resize(20, nearest)": lambda M: M.Resize(20, M.InterpolationMode.NEAREST),
    "Resize(20, nearest-exact)": lambda M: M.Resize(20, M.InterpolationMode.NEAREST_EXACT),
    "Resize(20, antialias=False)": lambda M: M.Resize(20, antialias=False),
    "Resize(80)": lambda M: M.Resize(80),
    "Resize(80, bicubic, antialias=False)": lambda M: M.Resize(80, M.InterpolationMode.BICUBIC, antialias=False),
    "CenterCrop(20)": lambda M: M.CenterCrop(20),
    "CenterCrop((50, 60))": lambda M: M.CenterCrop((50, 60)),
    "Pad(3, fill=7)": lambda M: M.Pad(3, fill=7),
    "Pad((1, 2, 3, 4), reflect)": lambda M: M.Pad((1, 2, 3, 4), padding_mode="reflect"),
    "Pad((1, 2), symmetric)": lambda M: M.Pad((1, 2), padding_mode="symmetric"),
    "Pad(2, edge)": lambda M: M.Pad(2, padding_mode="edge"),
    "Grayscale()": lambda M: M.Grayscale(),
    "Grayscale(3)": lambda M: M.Grayscale(3),
    "FiveCrop(20)": lambda M: M.FiveCrop(20),
    "TenCrop((20, 18), vertical_flip=True)": lambda M: M.TenCrop((20, 18), vertical_flip=True),
}


def _inputs(torch):
    return {"PIL RGB": (RGB, RGB), "PIL L": (GREY, GREY), "float tensor": (tinycnn.tensor(FLOAT), torch.tensor(FLOAT)),
            "uint8 tensor": (tinycnn.tensor(UINT8), torch.tensor(UINT8))}


def _as_array(x):
    if isinstance(x, Image.Image):
        return np.asarray(x), x.mode
    if isinstance(x, tinycnn.Tensor):
        return x.numpy(), None
    return x.numpy(), None


def assert_same_image(ours, theirs, kind: str, resampled: bool = False):
    if isinstance(theirs, tuple):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            assert_same_image(a, b, kind, resampled)
        return
    a, mode_a = _as_array(ours)
    b, mode_b = _as_array(theirs)
    assert mode_a == mode_b and a.shape == b.shape and a.dtype == b.dtype
    if kind == "float tensor":
        np.testing.assert_allclose(a, b, atol=1e-5)
    elif kind == "uint8 tensor" and resampled:
        # floats rounded back to uint8: a value within float rounding of k + 0.5 may round either way
        diff = np.abs(a.astype(int) - b.astype(int))
        assert diff.max() <= 1 and (diff == 0).mean() > 0.99
    else:
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", list(DETERMINISTIC))
def test_deterministic_transforms_match_torchvision(name, torch, torchvision):
    import warnings
    ours_t, theirs_t = DETERMINISTIC[name](T), DETERMINISTIC[name](torchvision.transforms)
    for kind, (x, xt) in _inputs(torch).items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # torchvision: "antialias is ignored for PIL images"
            theirs = theirs_t(xt)
        assert_same_image(ours_t(x), theirs, kind, resampled=name.startswith("Resize"))


def test_conversions_match_torchvision(torch, torchvision):
    TV = torchvision.transforms
    for img in (RGB, GREY, RGB.convert("RGBA"), RGB.convert("1"), GREY.convert("I"), GREY.convert("F")):
        ours, theirs = T.ToTensor()(img), TV.ToTensor()(img)
        assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    hwc = UINT8.transpose(1, 2, 0)
    np.testing.assert_array_equal(T.ToTensor()(hwc).numpy(), TV.ToTensor()(hwc).numpy())
    np.testing.assert_array_equal(T.PILToTensor()(RGB).numpy(), TV.PILToTensor()(RGB).numpy())
    for arr in (FLOAT, UINT8, FLOAT[:1], UINT8[:1], UINT8[:2]):
        ours, theirs = T.ToPILImage()(tinycnn.tensor(arr)), TV.ToPILImage()(torch.tensor(arr))
        assert ours.mode == theirs.mode and np.array_equal(np.asarray(ours), np.asarray(theirs))
    assert T.ToPILImage(mode="HSV")(hwc).mode == "HSV"
    ours = T.ConvertImageDtype(tinycnn.float32)(tinycnn.tensor(UINT8))
    np.testing.assert_allclose(ours.numpy(), TV.ConvertImageDtype(torch.float32)(torch.tensor(UINT8)).numpy())
    back = T.ConvertImageDtype("uint8")(tinycnn.tensor(FLOAT)).numpy()
    np.testing.assert_array_equal(back, TV.ConvertImageDtype(torch.uint8)(torch.tensor(FLOAT)).numpy())
    norm = ([0.4, 0.5, 0.6], [0.2, 0.3, 0.4])
    np.testing.assert_array_equal(T.Normalize(*norm)(tinycnn.tensor(FLOAT)).numpy(),
                                  TV.Normalize(*norm)(torch.tensor(FLOAT)).numpy())


@pytest.mark.parametrize("fn,factor", [("adjust_brightness", 1.3), ("adjust_contrast", 0.6),
                                       ("adjust_saturation", 1.7), ("adjust_hue", 0.2), ("adjust_hue", -0.37)])
def test_colour_functions_match_torchvision(fn, factor, torch, torchvision):
    TF = torchvision.transforms.functional
    for kind, (x, xt) in _inputs(torch).items():
        assert_same_image(getattr(F, fn)(x, factor), getattr(TF, fn)(xt, factor), kind)


@pytest.mark.parametrize("angle", [30.0, -47.3, 90.0, 180.0])
def test_rotate_matches_torchvision(angle, torch, torchvision):
    TF, IM = torchvision.transforms.functional, torchvision.transforms.InterpolationMode
    for interp in ("nearest", "bilinear"):
        for expand in (False, True):
            for center in (None, [10, 5]):
                ours = F.rotate(tinycnn.tensor(FLOAT), angle, interp, expand, center, [0.5, 0.0, 1.0])
                theirs = TF.rotate(torch.tensor(FLOAT), angle, IM(interp), expand, center, [0.5, 0.0, 1.0])
                assert_same_image(ours, theirs, "float tensor")
                assert_same_image(F.rotate(RGB, angle, interp, expand, center, (9, 8, 7)),
                                  TF.rotate(RGB, angle, IM(interp), expand, center, (9, 8, 7)), "PIL")


def test_given_parameters_the_random_transforms_make_torchvision_pixels(torch, torchvision):
    TF = torchvision.transforms.functional
    for kind, (x, xt) in _inputs(torch).items():
        assert_same_image(F.resized_crop(x, 3, 5, 20, 30, [16, 16]), TF.resized_crop(xt, 3, 5, 20, 30, [16, 16]),
                          kind, resampled=True)
        assert_same_image(F.crop(x, -2, 40, 10, 10), TF.crop(xt, -2, 40, 10, 10), kind)
        assert_same_image(F.hflip(x), TF.hflip(xt), kind)
        assert_same_image(F.vflip(x), TF.vflip(xt), kind)


# ---- random transforms: distributions and shapes --------------------------------------------------------------
def _crop_stats(get_params, n=3000):
    boxes = np.array([get_params() for _ in range(n)], dtype=float)   # top, left, h, w
    return np.array([boxes[:, 2].mean(), boxes[:, 3].mean(), (boxes[:, 2] * boxes[:, 3]).mean(),
                     np.log(boxes[:, 3] / boxes[:, 2]).mean(), boxes[:, 0].mean(), boxes[:, 1].mean()])


def test_random_resized_crop_parameters_have_torchvision_distribution(torch, torchvision):
    img, scale, ratio = Image.new("RGB", (64, 48)), (0.08, 1.0), (3 / 4, 4 / 3)
    tinycnn.manual_seed(0)
    torch.manual_seed(0)
    ours = _crop_stats(lambda: T.RandomResizedCrop.get_params(img, scale, ratio))
    theirs = _crop_stats(lambda: torchvision.transforms.RandomResizedCrop.get_params(img, list(scale), list(ratio)))
    np.testing.assert_allclose(ours, theirs, rtol=0.06, atol=0.6)
    out = T.RandomResizedCrop((20, 24))(img)
    assert out.size == (24, 20)
    # the fallback for impossible ratios is the central crop, as torchvision's
    assert T.RandomResizedCrop.get_params(img, (2.0, 3.0), (10.0, 11.0)) == \
        torchvision.transforms.RandomResizedCrop.get_params(img, [2.0, 3.0], [10.0, 11.0])


def test_random_crop_flip_rotation_jitter_distributions(torch, torchvision):
    tinycnn.manual_seed(1)
    tops = [T.RandomCrop.get_params(RGB, (30, 30))[:2] for _ in range(4000)]
    assert {t for t, _ in tops} == set(range(8)) and {left for _, left in tops} == set(range(16))
    assert abs(np.mean([t for t, _ in tops]) - 3.5) < 0.2
    flips = [np.array_equal(np.asarray(T.RandomHorizontalFlip(0.3)(RGB)), np.asarray(RGB)) for _ in range(2000)]
    assert abs(1 - np.mean(flips) - 0.3) < 0.04
    angles = [T.RandomRotation.get_params([-10.0, 25.0]) for _ in range(2000)]
    assert -10 <= min(angles) and max(angles) <= 25 and abs(np.mean(angles) - 7.5) < 0.8
    jitter = T.ColorJitter(0.4, 0.3, 0.2, 0.1)
    theirs = torchvision.transforms.ColorJitter(0.4, 0.3, 0.2, 0.1)
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == \
        (theirs.brightness, theirs.contrast, theirs.saturation, theirs.hue)
    draws = np.array([T.ColorJitter.get_params(jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue)[1:]
                      for _ in range(2000)])
    np.testing.assert_allclose(draws.mean(axis=0), [1.0, 1.0, 1.0, 0.0], atol=0.03)
    np.testing.assert_allclose(draws.min(axis=0), [0.6, 0.7, 0.8, -0.1], atol=0.01)
    orders = {tuple(T.ColorJitter.get_params(None, None, None, None)[0]) for _ in range(300)}
    assert len(orders) == 24
    for x in (RGB, tinycnn.tensor(FLOAT), tinycnn.tensor(UINT8)):
        out = jitter(x)
        assert type(out) is type(x) and F.get_dimensions(out) == F.get_dimensions(x)
    kept = [T.RandomApply([T.Grayscale(3)], p=0.25)(RGB).getpixel((0, 0)) == RGB.getpixel((0, 0))
            for _ in range(1000)]
    assert abs(1 - np.mean(kept) - 0.25) < 0.05


def test_random_transforms_follow_manual_seed():
    pipeline = T.Compose([T.RandomResizedCrop(20), T.RandomHorizontalFlip(), T.ColorJitter(0.4, 0.4, 0.4, 0.1),
                          T.RandomRotation(15), T.RandomApply([T.Grayscale(3)], p=0.3), T.ToTensor()])
    tinycnn.manual_seed(42)
    first = [pipeline(RGB).numpy() for _ in range(5)]
    tinycnn.manual_seed(42)
    again = [pipeline(RGB).numpy() for _ in range(5)]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], first[1])


# ---- the batched path -----------------------------------------------------------------------------------------
GREY_BATCH = RNG.integers(0, 256, (6, 28, 28), dtype=np.uint8)
COLOUR_BATCH = RNG.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
BATCHABLE = [
    [T.ToTensor(), T.Normalize((0.5,), (0.25,))],
    [T.Grayscale(3), T.ToTensor(), T.Normalize((0.1307,), (0.3081,)), T.Resize([64, 64])],
    [T.Pad(2, fill=9), T.CenterCrop(30), T.PILToTensor(), T.ConvertImageDtype(tinycnn.float32)],
    [T.Pad((1, 2, 3, 4), padding_mode="reflect"), T.ToTensor(), T.Resize(17, antialias=True)],
    [T.CenterCrop(40), T.ToTensor(), T.Grayscale(), T.Pad(1, padding_mode="symmetric")],
]


@pytest.mark.parametrize("steps", BATCHABLE, ids=range(len(BATCHABLE)))
def test_batched_pipeline_equals_the_per_image_one(steps):
    pipeline = T.Compose(steps)
    for batch in (GREY_BATCH, COLOUR_BATCH):
        out = T.apply_batched(pipeline, batch)
        expected = np.stack([pipeline(Image.fromarray(img)).numpy() for img in batch])
        assert out is not None and out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)


def test_batched_random_transforms_draw_per_image():
    tinycnn.manual_seed(3)
    flipped = T.apply_batched(T.Compose([T.RandomHorizontalFlip(), T.PILToTensor()]), COLOUR_BATCH)
    original = COLOUR_BATCH.transpose(0, 3, 1, 2)
    same = [np.array_equal(f, o) for f, o in zip(flipped, original)]
    mirrored = [np.array_equal(f, o[..., ::-1]) for f, o in zip(flipped, original)]
    assert all(s or m for s, m in zip(same, mirrored)) and any(same) and any(mirrored)
    crops = T.apply_batched(T.Compose([T.RandomCrop(28, padding=2), T.PILToTensor()]), GREY_BATCH)
    padded = np.pad(GREY_BATCH, ((0, 0), (2, 2), (2, 2)))
    offsets = []
    for k, crop in enumerate(crops[:, 0]):
        found = [(t, left) for t in range(5) for left in range(5)
                 if np.array_equal(padded[k, t:t + 28, left:left + 28], crop)]
        assert found
        offsets.append(found[0])
    assert len(set(offsets)) > 1
    grey = T.apply_batched(T.Compose([T.RandomGrayscale(p=0.5), T.ToTensor()]), COLOUR_BATCH)
    assert grey.shape == (6, 3, 32, 32)


def test_what_cannot_be_batched_says_so():
    assert T.apply_batched(T.Compose([T.Lambda(lambda x: x), T.ToTensor()]), GREY_BATCH) is None
    assert T.apply_batched(T.Compose([T.Resize(14), T.ToTensor()]), GREY_BATCH) is None   # Pillow's filter
    assert T.apply_batched(T.Compose([T.RandomRotation(10), T.ToTensor()]), GREY_BATCH) is None
    assert T.apply_batched(T.Grayscale(), GREY_BATCH) is None   # still PIL images: nothing to stack
    assert T.apply_batched(None, GREY_BATCH) is None


# ---- describe / rebuild, errors -------------------------------------------------------------------------------
def test_describe_and_rebuild_round_trip(tmp_path):
    pipeline = T.Compose([T.Grayscale(3), T.RandomApply([T.ColorJitter(0.2, hue=0.1)], p=0.4),
                          T.RandomResizedCrop(24, scale=(0.5, 1.0), interpolation=T.InterpolationMode.BICUBIC),
                          T.RandomHorizontalFlip(0.25), T.RandomRotation((-5, 10), fill=3), T.Pad((1, 2)),
                          T.CenterCrop(20), T.ToTensor(), T.Normalize([0.5] * 3, [0.2] * 3), T.Resize(32)])
    spec = T.describe(pipeline)
    tinycnn.save({"transform": spec}, tmp_path / "t.npz")
    rebuilt = T.rebuild(tinycnn.load(tmp_path / "t.npz", as_tensors=False)["transform"])
    assert T.describe(rebuilt) == spec
    tinycnn.manual_seed(9)
    a = pipeline(RGB).numpy()
    tinycnn.manual_seed(9)
    np.testing.assert_array_equal(rebuilt(RGB).numpy(), a)
    with pytest.raises(ValueError, match="Lambda cannot be described"):
        T.describe(T.Compose([T.Lambda(abs)]))
    with pytest.raises(ValueError, match="unknown transform 'Sharpen'"):
        T.rebuild({"name": "Sharpen", "args": {}})


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="put ToTensor\\(\\) before Normalize"):
        T.Normalize((0.5,), (0.5,))(GREY)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(tinycnn.tensor(UINT8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.5,), (0.0,))(tinycnn.tensor(FLOAT))
    with pytest.raises(ValueError, match="mean has 2 values but the image has 3 channels"):
        T.Normalize((0.5, 0.5), (1.0, 1.0))(tinycnn.tensor(FLOAT))
    with pytest.raises(TypeError, match="to_tensor: pic should be a PIL Image or a NumPy array"):
        T.ToTensor()([1, 2, 3])
    with pytest.raises(ValueError, match="required crop size \\(50, 50\\) is larger than input image size"):
        T.RandomCrop(50)(RGB)
    with pytest.raises(ValueError, match="bigger than input size"):
        T.FiveCrop(60)(RGB)
    with pytest.raises(ValueError, match="padding must be an int or a 1, 2, or 4 element sequence"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="padding_mode should be one of"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="unknown interpolation 'cubic'"):
        T.Resize(3, interpolation="cubic")
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.7)
    with pytest.raises(ValueError, match="p should be a probability"):
        T.RandomHorizontalFlip(p=2)
    with pytest.raises(TypeError, match="permitted channel values are \\[1, 3\\], but found 4"):
        F.adjust_saturation(tinycnn.tensor(np.zeros((4, 5, 5), np.float32)), 0.5)
    with pytest.raises(TypeError, match="every transform must be callable"):
        T.Compose([T.ToTensor(), 3])


def test_arrays_behave_as_tensors_and_keep_their_kind():
    out = T.Compose([T.Resize(20), T.CenterCrop(18), T.Normalize((0.5,), (0.5,))])(FLOAT)
    assert isinstance(out, np.ndarray) and out.shape == (3, 18, 18)
    batch = np.stack([FLOAT, FLOAT])
    flipped = F.hflip(batch)
    assert flipped.shape == batch.shape and np.array_equal(flipped[1], FLOAT[..., ::-1])
    assert F.get_image_size(RGB) == [45, 37] and F.get_image_num_channels(GREY) == 1
    assert math.isclose(float(T.ToTensor()(GREY).numpy().max()), np.asarray(GREY).max() / 255, rel_tol=1e-6)
