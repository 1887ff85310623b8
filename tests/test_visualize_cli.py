"""``tinycnn visualize`` end to end: a tiny LeNet-5 run, a digit saved as a PNG, the pictures it writes, and
its one-line errors."""
from __future__ import annotations

import os

import numpy as np
import pytest
from cli_runs import tinycnn_cli, train_ok, user_error

from tinycnn.cli import main

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def run_and_digit(tmp_path_factory):
    """A one-epoch LeNet-5 run on 512 digits, and MNIST's first test digit as a PNG."""
    from tinycnn.vision import datasets
    root = tmp_path_factory.mktemp("visualize")
    train_ok(str(root / "run"), "--epochs", "1", cwd=str(root))
    digit = root / "seven.png"
    Image.fromarray(datasets.MNIST(train=False).data.numpy()[0]).save(digit)
    return root, root / "run", digit


def _png(path) -> tuple:
    with Image.open(path) as img:
        img.verify()
    with Image.open(path) as img:
        return img.format, img.size, np.asarray(img)


def test_visualize_writes_deconvnet_guided_and_saliency_pngs(run_and_digit, tmp_path):
    root, run, digit = run_and_digit
    out = tmp_path / "pictures"
    proc = tinycnn_cli("visualize", run, digit, "--layer", "conv2", "--top", "4", "--out", out, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "deconvnet projections of 4 channel(s) of layer conv2 (3)" in proc.stdout
    maps = sorted(p for p in os.listdir(out) if p.startswith("seven-deconvnet-conv2-ch"))
    assert len(maps) == 4
    for name in [*maps, "seven-input.png"]:
        fmt, size, pixels = _png(out / name)
        assert (fmt, size) == ("PNG", (28, 28)) and pixels.dtype == np.uint8
        assert pixels.max() > pixels.min()                    # a picture, not a blank
    assert _png(out / "seven-deconvnet-conv2-overview.png")[0] == "PNG"
    fmt, size, pixels = _png(out / "seven-input.png")
    np.testing.assert_array_equal(pixels, np.asarray(Image.open(digit)))   # the digit, as the model saw it

    proc = tinycnn_cli("visualize", run / "last.npz", digit, "--method", "saliency", "--class", "7", "--out", out,
                       cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _png(out / "seven-saliency-class7.png")[:2] == ("PNG", (28, 28))
    proc = tinycnn_cli("visualize", run, digit, "--method", "guided", "--layer", "conv1", "--channel", "2",
                       "--out", out, cwd=root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _png(out / "seven-guided-conv1-ch2.png")[:2] == ("PNG", (28, 28))

    # An existing picture is never replaced without --force; with it, it is.
    before = (out / "seven-saliency-class7.png").read_bytes()
    message = user_error(tinycnn_cli("visualize", run, digit, "--method", "saliency", "--class", "7", "--out", out,
                                     cwd=root))
    assert "seven-saliency-class7.png exists" in message and "--force" in message
    assert (out / "seven-saliency-class7.png").read_bytes() == before
    assert main(["visualize", str(run), str(digit), "--method", "saliency", "--class", "3", "--out", str(out),
                 "--force"]) == 0
    assert (out / "seven-saliency-class3.png").exists()


@pytest.mark.parametrize("case, expected", [
    ("missing image", "nothere.png: no such file or folder"),
    ("not an image", "config.json: not an image (Pillow cannot read it"),
    ("unknown layer", "deconvnet: Sequential has no layer 'conv7'; its layers are conv1, conv2, 0, 1,"),
    ("not a feature map", "deconvnet: layer '8' gives (1, 120), not a feature map"),
    ("no layer", "--layer: deconvnet needs a layer"),
    ("saliency with a layer", "--layer: a saliency map explains a class score"),
    ("bad class", "saliency: target must be a class in 0..9, got 12"),
    ("bad channel", "channel must be in 0..15 (the layer has 16 channels), got 40"),
    ("deconvnet with a class", "--class: deconvnet projects a layer's activations"),
    ("guided with a class and a layer", "--class: guided backpropagation explains a class (--class) or a layer"),
    ("missing checkpoint", "nothere.npz: no such file"),
    ("folder without a checkpoint", "a folder without best.npz or last.npz"),
])
def test_visualize_errors_are_one_line(run_and_digit, tmp_path, capsys, case, expected):
    root, run, digit = run_and_digit
    run, digit, out = str(run), str(digit), str(tmp_path)
    args = {
        "missing image": [run, os.path.join(out, "nothere.png"), "--layer", "conv1"],
        "not an image": [run, os.path.join(run, "config.json"), "--layer", "conv1"],
        "unknown layer": [run, digit, "--layer", "conv7"],
        "not a feature map": [run, digit, "--layer", "8"],
        "no layer": [run, digit],
        "saliency with a layer": [run, digit, "--method", "saliency", "--layer", "conv1"],
        "bad class": [run, digit, "--method", "saliency", "--class", "12"],
        "bad channel": [run, digit, "--layer", "conv2", "--channel", "40"],
        "deconvnet with a class": [run, digit, "--layer", "conv1", "--class", "3"],
        "guided with a class and a layer": [run, digit, "--method", "guided", "--layer", "conv1", "--class", "3"],
        "missing checkpoint": [os.path.join(out, "nothere.npz"), digit, "--layer", "conv1"],
        "folder without a checkpoint": [out, digit, "--layer", "conv1"],
    }[case]
    assert main(["visualize", *args, "--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("tinycnn visualize: ") and expected in err[0], err
    assert not [f for f in os.listdir(out) if f.endswith(".png")]        # nothing written


def test_visualize_user_error_from_the_shell(run_and_digit):
    root, run, digit = run_and_digit
    message = user_error(tinycnn_cli("visualize", run, digit, "--layer", "fc1", cwd=root))
    assert "has no layer 'fc1'" in message
