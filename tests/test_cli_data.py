"""``tinycnn train --dataset cifar10 / folder``, ``tinycnn eval``'s top-5 and ``tinycnn predict``, run as a user
types them, on CIFAR archives generated in the official format, generated PNG folders and the shipped MNIST;
and each bad input as one line naming the file."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from cli_runs import assert_same_weights, checkpoint, env, snapshot, tinycnn_cli, user_error
from data_files import CIFAR10_NAMES, serve, tar_gz, write_cifar_python, write_image_folder
from PIL import Image

import tinycnn
from tinycnn.builders import build_datasets
from tinycnn.cli import main
from tinycnn.evaluation import model_of_checkpoint
from tinycnn.nn import functional as F
from tinycnn.predict import predict
from tinycnn.train import Trainer
from tinycnn.train_settings import TrainConfig
from tinycnn.vision.datasets import CIFAR100, MNIST

QUICK = ["--epochs", "1", "--batch-size", "8", "--seed", "1", "--no-progress"]

# The generated archives hold a few images, not CIFAR-10's 60,000, so their checksums and sizes are not those
# tinycnn knows: this child sets them to the generated files' before running the command line.
_SMALL_CIFAR = textwrap.dedent("""
    import json, sys
    from tinycnn.vision.datasets import CIFAR10
    spec = json.loads(sys.argv[1])
    CIFAR10.train_list = [[name, spec["md5"][name]] for name, _ in CIFAR10.train_list]
    CIFAR10.test_list = [[name, spec["md5"][name]] for name, _ in CIFAR10.test_list]
    CIFAR10.meta = dict(CIFAR10.meta, md5=spec["md5"][CIFAR10.meta["filename"]])
    CIFAR10.sizes = {True: spec["train"], False: spec["test"]}
    CIFAR10.archive_sha256, CIFAR10.mirrors = spec["sha256"], spec["mirrors"]
    from tinycnn.cli import main
    sys.exit(main(sys.argv[2:]))
""")


@pytest.fixture(scope="module")
def small_cifar(tmp_path_factory):
    """A CIFAR-10 archive of 5 x 8 training and 12 test images in the official python format."""
    work = tmp_path_factory.mktemp("cifar")
    info = write_cifar_python(work / "unpacked", per_batch=8, n_test=12)
    archive = work / "cifar-10-python.tar.gz"
    spec = {"md5": info["md5"], "sha256": tar_gz(info["folder"], archive), "train": 40, "test": 12,
            "mirrors": ["http://127.0.0.1:1/"]}
    return {"archive": archive, "spec": spec, "arrays": info["arrays"]}


def cifar_cli(small_cifar, *args, cwd, mirrors=None):
    spec = dict(small_cifar["spec"], **({"mirrors": mirrors} if mirrors else {}))
    return subprocess.run([sys.executable, "-c", _SMALL_CIFAR, json.dumps(spec), *map(str, args)], cwd=cwd,
                          env=env(), capture_output=True, text=True, timeout=300)


def _ok(proc) -> str:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _predictions(stdout: str) -> dict:
    """{image: [(class name, percent), ...]} from predict's output."""
    out, image = {}, None
    for line in stdout.splitlines():
        if not line.startswith(" "):
            image = line.rstrip(":")
            out[image] = []
        else:
            percent, name = line.split("%", 1)
            out[image].append((name.strip(), float(percent)))
    return out


# ---- CIFAR-10 ------------------------------------------------------------------------------------------------
def test_cifar10_downloaded_trained_evaluated_and_predicted(small_cifar, tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    (srv / small_cifar["archive"].name).write_bytes(small_cifar["archive"].read_bytes())
    data = tmp_path / "data"
    data.mkdir()
    with serve(srv) as url:
        stdout = _ok(cifar_cli(small_cifar, "train", "--dataset", "cifar10", "--data-dir", data, "--download",
                               "--augment", "--out", "run", *QUICK, cwd=tmp_path, mirrors=[url + "/"]))
    assert "training lenet5 on cifar10" in stdout and (data / "cifar-10-batches-py" / "test_batch").is_file()
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes"] == CIFAR10_NAMES and metrics["input_channels"] == 3
    assert metrics["train_images"] == 40 and metrics["test_images"] == 12
    steps = [t["name"] for t in metrics["preprocessing"]["args"]["transforms"]]
    assert steps == ["ToTensor", "Normalize", "Resize"]            # the test images', not the augmentation
    state = tinycnn.load(str(tmp_path / "run" / "last.npz"), as_tensors=False)
    assert state["classes"] == CIFAR10_NAMES and state["preprocessing"] == metrics["preprocessing"]

    evaluated = _ok(cifar_cli(small_cifar, "eval", "run/last.npz", cwd=tmp_path))
    first = evaluated.splitlines()[0]
    assert "% top-1, " in first and "% top-5" in first, first

    pixels = small_cifar["arrays"]["test_batch"][0][0].reshape(3, 32, 32).transpose(1, 2, 0)
    Image.fromarray(pixels).save(tmp_path / "plane.png")
    Image.fromarray(pixels).resize((50, 40)).convert("L").save(tmp_path / "grey.png")   # another size, grey
    before = snapshot(tmp_path / "run")
    shown = _predictions(_ok(tinycnn_cli("predict", "run", "plane.png", "grey.png", "--topk", "3", cwd=tmp_path)))
    assert list(shown) == ["plane.png", "grey.png"]
    for top in shown.values():
        assert len(top) == 3 and {name for name, _ in top} <= set(CIFAR10_NAMES)
        assert [p for _, p in top] == sorted((p for _, p in top), reverse=True) and sum(p for _, p in top) <= 100.01
    assert snapshot(tmp_path / "run") == before


def test_download_without_a_network_says_where_to_put_the_archive(small_cifar, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    line = user_error(cifar_cli(small_cifar, "train", "--dataset", "cifar10", "--data-dir", data, "--download",
                                "--out", "run", *QUICK, cwd=tmp_path))
    assert "--download: could not fetch cifar-10-python.tar.gz" in line
    assert f"place it in {data}/" in line and "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in line
    assert not (tmp_path / "run").exists()
    line = user_error(cifar_cli(small_cifar, "train", "--dataset", "cifar10", "--data-dir", data, "--out", "run",
                                *QUICK, cwd=tmp_path))
    assert f"found neither {data}/cifar-10-batches-py/" in line and "give --download to fetch it from" in line


@pytest.mark.parametrize("damage", ["truncated", "altered"])
def test_a_truncated_or_altered_cifar_archive_is_named(small_cifar, tmp_path, damage):
    raw = small_cifar["archive"].read_bytes()
    bad = raw[: len(raw) // 2] if damage == "truncated" else raw[:200] + bytes([raw[200] ^ 1]) + raw[201:]
    data = tmp_path / "data"
    data.mkdir()
    (data / "cifar-10-python.tar.gz").write_bytes(bad)
    line = user_error(cifar_cli(small_cifar, "train", "--dataset", "cifar10", "--data-dir", data, "--out", "run",
                                *QUICK, cwd=tmp_path))
    assert f"{data}/cifar-10-python.tar.gz: checksum mismatch (SHA256 of the file)" in line


def test_an_altered_cifar_batch_is_named(small_cifar, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "cifar-10-python.tar.gz").write_bytes(small_cifar["archive"].read_bytes())
    _ok(cifar_cli(small_cifar, "train", "--dataset", "cifar10", "--data-dir", data, "--out", "one", *QUICK,
                  cwd=tmp_path))
    batch = data / "cifar-10-batches-py" / "data_batch_2"
    batch.write_bytes(batch.read_bytes()[:-10])
    line = user_error(cifar_cli(small_cifar, "train", "--dataset", "cifar10", "--data-dir", data, "--out", "two",
                                *QUICK, cwd=tmp_path))
    assert f"{batch}: checksum mismatch (MD5 of the file)" in line and "truncated or altered" in line


def test_download_is_for_cifar_only_and_a_folder_needs_its_folder(tmp_path):
    line = user_error(tinycnn_cli("train", "--download", "--out", "run", cwd=tmp_path))
    assert "--download: only the CIFAR archives are downloaded" in line and "not mnist" in line
    line = user_error(tinycnn_cli("train", "--dataset", "folder", "--out", "run", cwd=tmp_path))
    assert line.startswith("tinycnn train: --data-root: missing: --dataset folder reads its images from")


# ---- image folders ---------------------------------------------------------------------------------------------
def test_image_folder_with_train_and_val_trains_evaluates_and_predicts(tmp_path):
    write_image_folder(tmp_path / "photos" / "train", classes=("cat", "dog"), per_class=6, size=(40, 30))
    write_image_folder(tmp_path / "photos" / "val", classes=("cat", "dog"), per_class=2, size=(30, 40), seed=1)
    stdout = _ok(tinycnn_cli("train", "--dataset", "folder", "--data-dir", "photos", "--augment", "--out", "run",
                             *QUICK, cwd=tmp_path))
    assert "training lenet5 on folder" in stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes"] == ["cat", "dog"] and metrics["train_images"] == 12 and metrics["test_images"] == 4
    steps = [t["name"] for t in metrics["preprocessing"]["args"]["transforms"]]
    assert steps == ["Resize", "CenterCrop", "ToTensor", "Normalize"]
    first = _ok(tinycnn_cli("eval", "run/best.npz", cwd=tmp_path)).splitlines()[0]
    assert "top-5 not reported (five classes or fewer)" in first
    shown = _predictions(_ok(tinycnn_cli("predict", "run/best.npz", "photos/val/dog/000.png", cwd=tmp_path)))
    top = shown["photos/val/dog/000.png"]
    assert len(top) == 2 and {n for n, _ in top} == {"cat", "dog"}
    assert sum(p for _, p in top) == pytest.approx(100, abs=0.02)


def test_one_image_folder_is_split_by_a_seeded_fraction(tmp_path):
    write_image_folder(tmp_path / "photos", classes=("ant", "bee", "fly"), per_class=5)
    _ok(tinycnn_cli("train", "--dataset", "folder", "--data-dir", "photos", "--val-fraction", "0.4", "--out", "run",
                    *QUICK, cwd=tmp_path))
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["classes"] == ["ant", "bee", "fly"]
    assert metrics["test_images"] == 6 and metrics["train_images"] == 9       # ceil(0.4 * 5) = 2 of each class


def test_a_folder_without_class_folders_is_named(tmp_path):
    (tmp_path / "flat").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "flat" / "a.png")
    line = user_error(tinycnn_cli("train", "--dataset", "folder", "--data-dir", "flat", "--out", "run", *QUICK,
                                  cwd=tmp_path))
    assert "flat: no class folders found (expected one subfolder per class" in line
    assert not (tmp_path / "run").exists()


# ---- predict on MNIST ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mnist_run(tmp_path_factory):
    """A LeNet trained on 2,048 MNIST digits for one epoch, and a PNG of the first test digit (a 7)."""
    root = tmp_path_factory.mktemp("mnist")
    _ok(tinycnn_cli("train", "--train-limit", "2048", "--test-limit", "200", "--epochs", "1", "--batch-size", "32",
                    "--no-progress", "--out", "run", cwd=root))
    test = MNIST(train=False)
    Image.fromarray(np.asarray(test.data[0], dtype=np.uint8)).save(root / "seven.png")
    assert test.targets[0].item() == 7
    return root


def test_predict_prints_the_class_of_a_saved_test_digit_and_writes_nothing(mnist_run):
    before = snapshot(mnist_run), snapshot(mnist_run / "run")
    proc = tinycnn_cli("predict", "run/best.npz", "seven.png", cwd=mnist_run)
    top = _predictions(_ok(proc))["seven.png"]
    assert len(top) == 5 and top[0][0] == "7 - seven" and top[0][1] > 50, proc.stdout
    assert proc.stderr == "" and (snapshot(mnist_run), snapshot(mnist_run / "run")) == before


def test_predict_gives_the_probabilities_of_the_test_pipeline(mnist_run):
    path = str(mnist_run / "run" / "best.npz")
    state = tinycnn.load(path, as_tensors=False)
    config = TrainConfig.from_dict(state["config"]).resolved()
    config.data_root = None
    model = model_of_checkpoint(path, state, config)
    model.eval()
    _, test = build_datasets(config, 1)
    with tinycnn.no_grad():
        expected = F.softmax(model(test[0][0].reshape(1, 1, 28, 28)), dim=1).numpy()[0]
    got = predict(path, [str(mnist_run / "seven.png")], topk=10)[0]
    names = [n for n, _ in got]
    np.testing.assert_allclose([p for _, p in got], expected[[int(n[0]) for n in names]], rtol=1e-5, atol=1e-7)


def test_a_checkpoint_without_preprocessing_uses_mnist_defaults_and_says_so(mnist_run, tmp_path):
    state = tinycnn.load(str(mnist_run / "run" / "best.npz"), as_tensors=False)
    for key in ("classes", "preprocessing", "input_channels"):
        del state[key]
    tinycnn.save(state, str(tmp_path / "old.npz"))
    proc = tinycnn_cli("predict", tmp_path / "old.npz", mnist_run / "seven.png", "--topk", "1", cwd=tmp_path)
    assert _predictions(_ok(proc))[str(mnist_run / "seven.png")][0][0] == "7 - seven"
    assert "does not record its preprocessing and class names" in proc.stderr
    assert "using mnist's defaults" in proc.stderr


def test_predict_names_a_bad_image_or_checkpoint(mnist_run, tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    (tmp_path / "half.png").write_bytes((mnist_run / "seven.png").read_bytes()[:60])
    (tmp_path / "empty_run").mkdir()
    run = mnist_run / "run"
    cases = [((run, "missing.png"), "missing.png: file is missing"),
             ((run, "notes.png"), "notes.png: not an image file Pillow can read (expected PNG, JPEG"),
             ((run, "half.png"), "half.png: damaged or truncated image"),
             ((run, tmp_path), f"{tmp_path}: a folder, expected an image file"),
             (("empty_run", mnist_run / "seven.png"), "empty_run: a folder without best.npz or last.npz"),
             (("nothing.npz", mnist_run / "seven.png"), "nothing.npz"),
             ((run, mnist_run / "seven.png", "--topk", "0"), "--topk: expected a positive number of classes, got 0")]
    for args, expected in cases:
        line = user_error(tinycnn_cli("predict", *args, cwd=tmp_path))
        assert line.startswith("tinycnn predict: ") and expected in line, (args, line)
    assert sorted(os.listdir(tmp_path)) == ["empty_run", "half.png", "notes.png"]


def test_eval_reports_top1_and_top5(mnist_run):
    first = _ok(tinycnn_cli("eval", "run/best.npz", "--test-limit", "100", cwd=mnist_run)).splitlines()[0]
    top1, top5 = (float(first.split("% top-")[k].split()[-1]) for k in (0, 1))
    assert 0 <= top1 <= top5 <= 100 and top5 > 90, first


def test_cifar100_trains_with_its_hundred_classes_from_the_meta_file(tmp_path, monkeypatch, capsys):
    info = write_cifar_python(tmp_path / "data", cifar100=True, per_batch=8, n_test=12)
    md5 = info["md5"]
    monkeypatch.setattr(CIFAR100, "train_list", [["train", md5["train"]]])
    monkeypatch.setattr(CIFAR100, "test_list", [["test", md5["test"]]])
    monkeypatch.setattr(CIFAR100, "meta", dict(CIFAR100.meta, md5=md5["meta"]))
    monkeypatch.setattr(CIFAR100, "sizes", {True: 40, False: 12})
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--dataset", "cifar100", "--data-dir", "data", "--out", "run", *QUICK]) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert len(metrics["classes"]) == 100 and metrics["classes"][7] == "fine07"
    state = tinycnn.load(str(tmp_path / "run" / "last.npz"), as_tensors=False)
    assert state["model"]["11.weight"].shape == (100, 84)                  # lenet5's last Linear
    capsys.readouterr()
    assert main(["eval", "run/last.npz", "--out", "."]) == 0
    printed = capsys.readouterr().out
    assert "% top-5" in printed.splitlines()[0]
    assert "confusion matrix" not in printed and "wrote ./last-confusion.png" in printed  # 100 x 100: the picture


def test_augment_changes_the_training_images_only(tmp_path):
    def first_image_twice(augment):
        trainer = Trainer(TrainConfig(augment=augment, train_limit=4, test_limit=4, out=str(tmp_path / "x")))
        train = [trainer.train_set[0][0].numpy() for _ in range(2)]
        test = [trainer.test_set[0][0].numpy() for _ in range(2)]
        return train, test
    (plain, plain2), _ = first_image_twice(False)
    (shifted, shifted2), (test, test2) = first_image_twice(True)
    np.testing.assert_array_equal(plain, plain2)
    assert not np.array_equal(shifted, shifted2) and shifted.shape == plain.shape == (1, 28, 28)
    np.testing.assert_array_equal(test, test2)


def test_train_and_val_folders_with_other_classes_are_named(tmp_path):
    write_image_folder(tmp_path / "photos" / "train", classes=("cat", "dog"), per_class=2)
    write_image_folder(tmp_path / "photos" / "val", classes=("cat", "emu"), per_class=1)
    line = user_error(tinycnn_cli("train", "--dataset", "folder", "--data-dir", "photos", "--out", "run", *QUICK,
                                  cwd=tmp_path))
    assert "--data-dir photos: train/ and val/ have different class folders: ['cat', 'dog'] vs ['cat', 'emu']" in line


def test_an_augmented_run_resumes_bit_for_bit(tmp_path):
    small = ["--train-limit", "128", "--test-limit", "32", "--batch-size", "32", "--seed", "2", "--no-progress",
             "--augment"]
    _ok(tinycnn_cli("train", *small, "--epochs", "2", "--out", "whole", cwd=tmp_path))
    _ok(tinycnn_cli("train", *small, "--epochs", "1", "--out", "halves", cwd=tmp_path))
    _ok(tinycnn_cli("train", "--out", "halves", "--resume", "--epochs", "2", cwd=tmp_path))
    assert_same_weights(checkpoint(tmp_path / "whole"), checkpoint(tmp_path / "halves"))
