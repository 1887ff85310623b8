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
    assert set(row) == {"epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds"}
    assert metrics["epochs"] == json.loads(json.dumps(history))


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
    assert os.path.getsize(out / "confusion.png") > 0 and os.path.getsize(out / "misclassified.png") > 0


def test_eval_command_prints_the_matrix(trained_run, capsys):
    out, _ = trained_run
    assert main(["eval", str(out / "last.npz"), "--test-limit", "200"]) == 0
    text = capsys.readouterr().out
    assert "test accuracy" in text and "confusion matrix" in text


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


def test_pretrained_torch_pth_file_fine_tunes_from_the_command_line(tmp_path):
    torch = pytest.importorskip("torch")
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
