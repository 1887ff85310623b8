"""The training loop and the train/eval commands, on small subsets of the shipped MNIST."""
import json
import os
from collections import namedtuple

import numpy as np
import pytest

import tinycnn
from tinycnn.cli import main
from tinycnn.train import TrainConfig, Trainer, compute_loss, evaluate_checkpoint, replace_head


def small_config(out, **kw):
    base = dict(out=str(out), epochs=2, train_limit=2000, test_limit=500, progress=False, batch_size=64)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    history = Trainer(small_config(out)).fit()
    return out, history


def test_a_short_run_learns_and_writes_its_files(trained_run):
    out, history = trained_run
    assert [h["epoch"] for h in history] == [1, 2]
    assert history[1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["test_accuracy"] > 0.8          # chance is 0.1
    for name in ("metrics.json", "last.npz", "best.npz", "curves.png"):
        assert os.path.getsize(out / name) > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    row = metrics["epochs"][0]
    assert set(row) == {"epoch", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"}
    assert metrics["epochs"] == json.loads(json.dumps(history))
    # the learning rate each epoch ran with: Adam's default, then the cosine schedule's half-way value
    assert [r["lr"] for r in metrics["epochs"]] == pytest.approx([2e-3, 1e-3])
    assert metrics["tinycnn_version"] == tinycnn.__version__
    assert metrics["input_size"] == 28 and metrics["input_channels"] == 1
    assert metrics["kernels"] == tinycnn.kernels.get_kernels_name()
    assert metrics["train_images"] == 2000 and metrics["test_images"] == 500
    assert metrics["config"]["lr"] == 2e-3 and metrics["config"]["optimizer"] == "adam"
    config = json.loads((out / "config.json").read_text())
    assert config["config"] == metrics["config"] and config["tinycnn_version"] == tinycnn.__version__
    assert not (out / "train.lock").exists(), "a finished run leaves no lock file"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".tmp-")]


def test_checkpoint_round_trip_restores_the_model(trained_run):
    out, history = trained_run
    state = tinycnn.load(out / "last.npz")
    assert state["epoch"] == 2 and state["config"]["epochs"] == 2
    trainer = Trainer(small_config(out))
    trainer.restore(str(out / "last.npz"))
    for key, value in state["model"].items():
        np.testing.assert_array_equal(trainer.model.state_dict()[key].numpy(), value.numpy())
    assert trainer.history == history


def test_same_seed_gives_bitwise_identical_weights(tmp_path):
    weights = []
    for name in ("a", "b"):
        trainer = Trainer(small_config(tmp_path / name, epochs=1, train_limit=640))
        trainer.fit()
        weights.append({k: v.numpy().copy() for k, v in trainer.model.state_dict().items()})
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])


def test_eval_reports_accuracy_confusion_and_plots(trained_run):
    out, history = trained_run
    result = evaluate_checkpoint(str(out / "best.npz"), test_limit=500)
    assert result["confusion"].shape == (10, 10) and result["confusion"].sum() == 500
    assert result["accuracy"] == pytest.approx(max(h["test_accuracy"] for h in history))
    assert result["files"] == {"confusion": str(out / "best-confusion.png"),
                               "misclassified": str(out / "best-misclassified.png")}
    assert os.path.getsize(out / "best-confusion.png") > 0 and os.path.getsize(out / "best-misclassified.png") > 0


def test_eval_command_prints_the_matrix_and_where_it_wrote_its_plots(trained_run, capsys, tmp_path):
    out, _ = trained_run
    assert main(["eval", str(out / "last.npz"), "--test-limit", "200", "--out", str(tmp_path / "plots")]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "confusion matrix" in text
    confusion, grid = tmp_path / "plots" / "last-confusion.png", tmp_path / "plots" / "last-misclassified.png"
    assert f"wrote {confusion} and {grid}" in text
    assert confusion.stat().st_size > 0 and grid.stat().st_size > 0


def test_misclassified_titles_say_which_label_is_true_and_which_predicted(trained_run, tmp_path, monkeypatch):
    from tinycnn.utils import plotting
    seen = {}
    monkeypatch.setattr(plotting, "plot_image_grid", lambda images, titles, path, **kw: seen.update(
        images=images, titles=titles, **kw))
    out, _ = trained_run
    result = evaluate_checkpoint(str(out / "last.npz"), out=str(tmp_path), test_limit=300)
    assert len(seen["titles"]) == min(32, result["misclassified"]) == len(seen["images"])
    true, predicted = seen["titles"][0].split("\n")
    assert true.startswith("true ") and predicted.startswith("pred ") and true[5:] != predicted[5:]
    assert "true label and predicted label" in seen["title"]


def test_confusion_matrix_labels_stay_readable_for_long_class_names(tmp_path):
    """Long names are slanted and shortened, so neighbouring tick labels do not overlap."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from tinycnn.utils import plotting
    names = [f"a rather long class name number {i}" for i in range(10)]
    captured = {}
    real_save = plotting._save_atomically
    monkey = lambda fig, path: (captured.setdefault("fig", fig), real_save(fig, path))
    plotting._save_atomically = monkey
    try:
        plotting.plot_confusion(np.eye(10, dtype=int) * 5, str(tmp_path / "cm.png"), names)
    finally:
        plotting._save_atomically = real_save
    fig = captured["fig"]
    ax = fig.axes[0]
    fig.canvas.draw()
    labels = ax.get_xticklabels()
    assert all(len(t.get_text()) <= 18 for t in labels) and labels[0].get_text().endswith("\u2026")
    assert labels[0].get_rotation() == 45
    line = labels[0].get_fontsize() * fig.dpi / 72            # the height of one line of label text, pixels
    spacing = labels[1].get_window_extent().x0 - labels[0].get_window_extent().x0
    # labels slanted at 45 degrees stand spacing * sin(45) apart, measured across their text lines
    assert spacing * np.sin(np.pi / 4) > 1.2 * line, (spacing, line)
    rows = ax.get_yticklabels()
    assert abs(rows[1].get_window_extent().y0 - rows[0].get_window_extent().y0) > 1.2 * line
    plt.close(fig)
    assert (tmp_path / "cm.png").stat().st_size > 0


def test_train_command_with_every_optimizer_runs(tmp_path):
    for optimizer in ("sgd", "momentum", "adagrad", "rmsprop", "adamw"):
        code = main(["train", "lenet5", "--epochs", "1", "--train-limit", "256", "--test-limit", "100",
                     "--optimizer", optimizer, "--scheduler", "step", "--no-progress",
                     "--out", str(tmp_path / optimizer)])
        assert code == 0, optimizer


def test_pretrained_weights_with_a_frozen_backbone_train_only_the_head(trained_run, tmp_path):
    out, _ = trained_run
    config = small_config(tmp_path / "ft", epochs=1, train_limit=512, pretrained=str(out / "best.npz"),
                          freeze_backbone=True)
    trainer = Trainer(config)
    before = {k: v.numpy().copy() for k, v in trainer.model.state_dict().items()}
    trainer.fit()
    after = {k: v.numpy() for k, v in trainer.model.state_dict().items()}
    changed = {k for k in before if not np.array_equal(before[k], after[k])}
    assert changed == {"11.weight", "11.bias"}         # the new head only
    pretrained = tinycnn.load(out / "best.npz")["model"]
    np.testing.assert_array_equal(after["0.weight"], pretrained["0.weight"].numpy())


def test_replace_head_swaps_the_last_linear():
    from tinycnn.models import get_model
    model = get_model("lenet5")
    head = replace_head(model, 3)
    assert model[11] is head and head.out_features == 3


def test_googlenet_style_outputs_add_weighted_aux_losses():
    Outputs = namedtuple("Outputs", "logits aux_logits2 aux_logits1")
    rng = np.random.default_rng(0)
    logits, a2, a1 = (tinycnn.tensor(rng.standard_normal((4, 10))) for _ in range(3))
    labels = tinycnn.tensor([1, 2, 3, 4])
    from tinycnn.nn import functional as F
    _, loss = compute_loss(Outputs(logits, a2, a1), labels, aux_weight=0.3)
    expected = (F.cross_entropy(logits, labels) + 0.3 * F.cross_entropy(a1, labels)
                + 0.3 * F.cross_entropy(a2, labels))
    assert loss.item() == pytest.approx(expected.item())


def test_bad_config_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="optimizer"):
        Trainer(small_config(tmp_path, optimizer="nope"))
    with pytest.raises(ValueError, match="lr"):
        Trainer(small_config(tmp_path, lr=-1.0))
    with pytest.raises(ValueError, match="epochs"):
        Trainer(small_config(tmp_path, epochs=0))
    assert list(tmp_path.iterdir()) == []              # building a trainer writes nothing


def test_adamw_records_the_weight_decay_it_uses(tmp_path):
    trainer = Trainer(small_config(tmp_path, optimizer="adamw"))
    assert trainer.config.weight_decay == 0.01 == trainer.optimizer.param_groups[0]["weight_decay"]
    trainer = Trainer(small_config(tmp_path, optimizer="adamw", weight_decay=0.0))
    assert trainer.optimizer.param_groups[0]["weight_decay"] == 0.0


def test_a_last_batch_of_one_image_is_left_out_for_batchnorm_models(tmp_path, capsys):
    """129 images in batches of 64 leave one image for the last batch: BatchNorm cannot train on it."""
    trainer = Trainer(small_config(tmp_path / "bn", model="resnet18_small", epochs=1, train_limit=129,
                                   test_limit=16, batch_size=64))
    assert "leave a last batch of one image" in capsys.readouterr().out
    assert len(trainer.train_loader) == 2 and trainer.train_loader.drop_last
    history = trainer.fit()
    assert np.isfinite(history[0]["train_loss"])
    # a model without BatchNorm keeps every image
    assert not Trainer(small_config(tmp_path / "plain", train_limit=129, batch_size=64)).train_loader.drop_last


@pytest.mark.parametrize("model,size", [("resnet18_small", None), ("mobilenet_v2", 32)])
def test_train_takes_other_models_resizing_and_repeating_channels(tmp_path, model, size):
    config = small_config(tmp_path, model=model, input_size=size, epochs=1, train_limit=64, test_limit=32,
                          batch_size=32)
    trainer = Trainer(config)
    images, _ = next(iter(trainer.train_loader))
    expected_channels = 1 if model == "resnet18_small" else 3
    assert images.shape[1:] == (expected_channels, size or 28, size or 28)
    history = trainer.fit()
    assert np.isfinite(history[0]["train_loss"])


def test_pretrained_torch_pth_file_fine_tunes_from_the_command_line(tmp_path, torch):
    from torch import nn as tnn
    torch.manual_seed(0)
    net = tnn.Sequential(tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Conv2d(6, 16, 5),
                         tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Flatten(), tnn.Linear(400, 120), tnn.ReLU(),
                         tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
    torch.save(net.state_dict(), tmp_path / "lenet.pth")
    out = tmp_path / "ft"
    code = main(["train", "lenet5", "--pretrained", str(tmp_path / "lenet.pth"), "--freeze-backbone",
                 "--epochs", "1", "--train-limit", "256", "--test-limit", "64", "--no-progress", "--out", str(out)])
    assert code == 0
    weights = tinycnn.load(out / "last.npz")["model"]
    np.testing.assert_array_equal(weights["0.weight"].numpy(), net[0].weight.detach().numpy())
    assert not np.array_equal(weights["11.weight"].numpy(), net[11].weight.detach().numpy())


def test_ctrl_c_saves_a_checkpoint_and_keeps_the_last_complete_epoch(tmp_path):
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "tinycnn", "train", "lenet5", "--epochs", "50", "--train-limit",
                             "1024", "--test-limit", "64", "--no-progress", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (out / "last.npz").exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert (out / "last.npz").exists(), proc.communicate()[1]
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    # -2 (killed by SIGINT, no traceback) was seen twice in full-suite runs and never alone: the output says
    # where the run was when the signal came
    assert proc.returncode == 130, f"returncode {proc.returncode}\nstdout:\n{stdout[-3000:]}\nstderr:\n{stderr}"
    assert "interrupted" in stdout
    interrupted = tinycnn.load(out / "interrupted.npz")
    last = tinycnn.load(out / "last.npz")
    assert interrupted["epoch"] >= last["epoch"] >= 1
