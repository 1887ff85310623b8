"""Reusing weights from the command line as a user types it: ``tinycnn train --pretrained / --init-from`` with
``--train-last``, ``--train-only`` and ``--add-head``. Each run checks, in the checkpoints, that the frozen
parameters (BatchNorm statistics included) stayed equal to the loaded ones and that the trainable ones
changed; ``--resume`` keeps the freezing and refuses a changed one; combinations that exclude each other are
one-line errors naming both flags.
"""
import json
import os

import numpy as np
import pytest
from cli_runs import checkpoint, tinycnn_cli, user_error

import tinycnn
from tinycnn import models

TINY = ["--train-limit", "64", "--test-limit", "64", "--epochs", "1", "--batch-size", "32", "--seed", "1",
        "--no-progress"]
LENET_LAYERS = ["0", "3", "7", "9", "11"]     # lenet5's conv, conv, fc, fc, fc


def train(*args, cwd) -> str:
    proc = tinycnn_cli("train", *TINY, *args, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def weights(folder, name: str = "last.npz") -> dict:
    return checkpoint(folder, name)["model"]


def changed_layers(before: dict, after: dict, prefix: str = "") -> set:
    """Names of the layers (module paths) with an entry that differs, ``prefix`` taken off the after's keys."""
    return {key.rsplit(".", 1)[0] for key in before
            if not np.array_equal(before[key], after[prefix + key])}


def transfer_json(folder) -> dict:
    with open(os.path.join(folder, "transfer.json")) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A trained lenet5 run (its folder) and its weights."""
    root = tmp_path_factory.mktemp("source")
    train("lenet5", "--out", root / "lenet", cwd=root)
    return root / "lenet", weights(root / "lenet", "best.npz")


def test_pretrained_trains_every_layer_from_the_loaded_weights(source, tmp_path):
    folder, loaded = source
    out = train("lenet5", "--pretrained", folder / "best.npz", "--out", tmp_path / "all", cwd=tmp_path)
    assert f"loaded every layer of {folder / 'best.npz'}; a fresh head for the data set's classes: 11" in out
    after = weights(tmp_path / "all")
    assert {k.rsplit(".", 1)[0] for k in after} == changed_layers(loaded, after) == set(LENET_LAYERS)
    assert transfer_json(tmp_path / "all")["frozen"] == []


def test_init_from_a_run_folder_with_train_last_freezes_the_others(source, tmp_path):
    folder, loaded = source
    out = train("lenet5", "--init-from", folder, "--train-last", "2", "--out", tmp_path / "last2", cwd=tmp_path)
    assert "5 layers copied, 0 kept" in out and "training only 9, 11; frozen: 0, 3, 7" in out
    assert changed_layers(loaded, weights(tmp_path / "last2")) == {"9", "11"}
    record = transfer_json(tmp_path / "last2")
    assert record["init_from"] == str(folder) and [row[0] for row in record["copied"]] == LENET_LAYERS
    assert record["trainable"] == ["9", "11"] and record["frozen"] == ["0", "3", "7"]


def test_train_only_named_layers_keeps_batchnorm_statistics_of_the_frozen_ones(tmp_path):
    tinycnn.manual_seed(0)
    start = models.resnet18_small(num_classes=3).state_dict()      # weights of a 3-class task, for MNIST's 10
    tinycnn.save(start, tmp_path / "resnet.npz")
    loaded = {k: v.numpy() for k, v in start.items()}
    out = train("resnet18_small", "--pretrained", tmp_path / "resnet.npz", "--train-only", "layer4", "--out",
                tmp_path / "run", cwd=tmp_path)
    assert "training only layer4, fc;" in out     # the new head learns too
    after = weights(tmp_path / "run")
    assert after["fc.weight"].shape == (10, 512)
    changed = {key for key in loaded if not np.array_equal(loaded[key], after[key])}
    assert changed and all(key.startswith(("layer4.", "fc.")) for key in changed)
    assert "layer4.0.bn1.running_mean" in changed     # a trained BatchNorm updates its statistics
    assert "layer3.1.bn2.running_mean" not in changed and "bn1.running_var" not in changed


def test_add_head_keeps_the_whole_network_and_trains_only_the_layer_on_top(source, tmp_path):
    folder, loaded = source
    out = train("lenet5", "--pretrained", folder / "best.npz", "--add-head", "--out", tmp_path / "head",
                cwd=tmp_path)
    assert "training only head; frozen: backbone.0, backbone.3, backbone.7, backbone.9, backbone.11" in out
    after = weights(tmp_path / "head")
    assert sorted(k for k in after if k.startswith("head.")) == ["head.bias", "head.weight"]
    assert after["head.weight"].shape == (10, 10)         # on top of lenet5's ten outputs
    assert changed_layers(loaded, after, prefix="backbone.") == set()
    # the run's model is rebuilt from its checkpoint alone: eval, and a resume that keeps the freezing
    proc = tinycnn_cli("eval", tmp_path / "head" / "last.npz", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    first = after["head.weight"]
    proc = tinycnn_cli("train", "--out", tmp_path / "head", "--resume", "--epochs", "2", "--no-progress",
                       cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    resumed = weights(tmp_path / "head")
    assert changed_layers(loaded, resumed, prefix="backbone.") == set()
    assert not np.array_equal(first, resumed["head.weight"])


def test_resume_keeps_the_freezing_and_refuses_another(source, tmp_path):
    folder, loaded = source
    run = tmp_path / "run"
    train("lenet5", "--pretrained", folder / "best.npz", "--train-last", "1", "--out", run, cwd=tmp_path)
    epoch1 = weights(run)
    proc = tinycnn_cli("train", "--out", run, "--resume", "--epochs", "2", "--no-progress", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    epoch2 = weights(run)
    assert checkpoint(run)["epoch"] == 2
    assert changed_layers(loaded, epoch2) == changed_layers(epoch1, epoch2) == {"11"}
    line = user_error(tinycnn_cli("train", "--out", run, "--resume", "--epochs", "3", "--train-last", "2",
                                  cwd=tmp_path))
    assert "--train-last saved 1, given 2" in line
    line = user_error(tinycnn_cli("train", "--out", run, "--resume", "--epochs", "3", "--add-head", cwd=tmp_path))
    assert "--add-head saved False, given True" in line


@pytest.mark.parametrize("args,expected", [
    (["--pretrained", "W", "--init-from", "W"], "--init-from: cannot be combined with --pretrained"),
    (["--pretrained", "W", "--train-last", "1", "--train-only", "11"],
     "--train-last: cannot be combined with --train-only"),
    (["--pretrained", "W", "--add-head", "--train-last", "1"], "--add-head: cannot be combined with --train-last"),
    (["--pretrained", "W", "--add-head", "--train-only", "11"], "--add-head: cannot be combined with --train-only"),
    (["--pretrained", "W", "--add-head", "--freeze-backbone"],
     "--add-head: cannot be combined with --freeze-backbone"),
    (["--pretrained", "W", "--freeze-backbone", "--train-last", "1"],
     "--freeze-backbone: cannot be combined with --train-last"),
    (["--train-last", "1"], "--train-last: needs --pretrained or --init-from"),
    (["--train-only", "fc"], "--train-only: needs --pretrained or --init-from"),
    (["--add-head"], "--add-head: needs --pretrained or --init-from"),
    (["--init-from", "nothere"], "--init-from: expected a run folder or a weights file, got 'nothere'"),
    (["--init-from", "W", "--train-only", "7,fc"],
     "--train-only: lenet5 has no layer named fc (its layers: 0, 3, 7, 9, 11)"),
    (["--init-from", "W", "--train-last", "6"],
     "--train-last: expected an integer from 1 to 5 (the layers of lenet5), got 6"),
    (["--init-from", "W", "--train-last", "0"], "--train-last: expected a positive number of layers, got 0"),
])
def test_reuse_options_that_do_not_fit_are_one_line_errors(source, tmp_path, args, expected):
    folder, _ = source
    args = [str(folder / "best.npz") if a == "W" else a for a in args]
    line = user_error(tinycnn_cli("train", "lenet5", *TINY, "--out", tmp_path / "run", *args, cwd=tmp_path))
    assert expected in line
    assert not (tmp_path / "run").exists()


def test_vgg13_starts_from_vgg11_with_its_8_convs_and_3_fully_connected_layers(tmp_path):
    tinycnn.manual_seed(0)
    vgg11 = {k: v.numpy() for k, v in models.vgg11(num_classes=10).state_dict().items()}
    tinycnn.save(vgg11, tmp_path / "vgg11.npz")
    # only the last layer trains, so every copied layer must still hold vgg11's weights afterwards
    out = train("vgg13", "--init-from", tmp_path / "vgg11.npz", "--train-last", "1", "--input-size", "32",
                "--train-limit", "8", "--batch-size", "8", "--test-limit", "8", "--out", tmp_path / "vgg13",
                cwd=tmp_path)
    assert "11 layers copied, 2 kept, 0 source layers unused" in out
    record = transfer_json(tmp_path / "vgg13")
    pairs = {target: src for target, src, _ in record["copied"]}
    convs = {"features.0": "features.0", "features.5": "features.3", "features.10": "features.6",
             "features.12": "features.8", "features.15": "features.11", "features.17": "features.13",
             "features.20": "features.16", "features.22": "features.18"}
    assert pairs == {**convs, **{f"classifier.{i}": f"classifier.{i}" for i in (0, 3, 6)}}
    assert record["kept"] == ["features.2", "features.7"]       # VGG-13's two extra convs
    after = weights(tmp_path / "vgg13")
    for target, src in pairs.items():
        for entry in ("weight", "bias"):
            same = np.array_equal(after[f"{target}.{entry}"], vgg11[f"{src}.{entry}"])
            assert same == (target != "classifier.6"), (target, entry)


def test_add_head_on_a_torch_pth_file(tmp_path, torch):
    from torch import nn as tnn
    torch.manual_seed(0)
    net = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Conv2d(6, 16, 5),
                         tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(),
                         tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 4))     # lenet5 for a 4-class task
    torch.save(net.state_dict(), tmp_path / "lenet.pth")
    out = train("lenet5", "--pretrained", tmp_path / "lenet.pth", "--add-head", "--out", tmp_path / "run",
                cwd=tmp_path)
    assert "training only head;" in out
    after = weights(tmp_path / "run")
    assert after["head.weight"].shape == (10, 4)
    for key, value in net.state_dict().items():
        np.testing.assert_array_equal(after[f"backbone.{key}"], value.numpy(), err_msg=key)
