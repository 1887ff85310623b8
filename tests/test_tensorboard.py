"""tinycnn.utils.tensorboard: event files read back with TensorBoard's own reader (EventAccumulator), and
compared with what PyTorch's SummaryWriter writes for the same calls (the torch fixture)."""
import io
import os
import sys

import numpy as np
import pytest

import tinycnn
from tinycnn.models import lenet5
from tinycnn.nn import functional as F
from tinycnn.utils.tensorboard import SummaryWriter, TensorBoardLogger


@pytest.fixture
def read_events():
    """``read_events(folder)`` -> a loaded EventAccumulator (TensorBoard's reader), keeping every event."""
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")

    def read(folder):
        acc = accumulator.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0,
                                                                         "images": 0, "tensors": 0})
        return acc.Reload()
    return read


def log_everything(writer_cls, folder):
    rng = np.random.default_rng(0)
    with writer_cls(str(folder)) as w:
        for step in range(5):
            w.add_scalar("loss", 1.0 / (step + 1), step)
        w.add_scalar("lr", np.float32(0.5), 7, new_style=True)
        w.add_scalars("acc", {"train": 0.9, "test": 0.8}, 2)
        w.add_histogram("weights", rng.standard_normal(1000), 3)
        w.add_histogram("ten_bins", rng.uniform(-1, 1, 500), 4, bins=10)
        w.add_image("rgb", rng.random((3, 6, 5)), 1)
        w.add_image("grey_hw", (rng.random((6, 5)) * 255).astype(np.uint8), 1, dataformats="HW")
        w.add_images("batch", rng.random((10, 1, 4, 4)), 2)
        w.add_text("notes", "tinycnn *logs*", 2)
        w.add_hparams({"lr": 0.1, "optimizer": "adam", "bn": True}, {"hparam/accuracy": 0.97}, run_name="hp")


def png_pixels(data):
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(data)))


def test_event_files_read_back_with_tensorboards_reader(tmp_path, read_events):
    log_everything(SummaryWriter, tmp_path)
    acc = read_events(tmp_path)
    tags = acc.Tags()
    assert tags["scalars"] == ["loss"] and sorted(tags["histograms"]) == ["ten_bins", "weights"]
    assert sorted(tags["images"]) == ["batch", "grey_hw", "rgb"]
    assert sorted(tags["tensors"]) == ["lr", "notes/text_summary"]
    assert [(e.step, round(e.value, 6)) for e in acc.Scalars("loss")] == [(s, round(1 / (s + 1), 6)) for s in range(5)]
    (lr,) = acc.Tensors("lr")
    assert lr.step == 7 and lr.tensor_proto.float_val == [0.5]
    h = acc.Histograms("weights")[0].histogram_value
    assert h.num == 1000 and sum(h.bucket) == 1000
    (rgb,) = acc.Images("rgb")
    assert (rgb.step, rgb.width, rgb.height) == (1, 5, 6) and png_pixels(rgb.encoded_image_string).shape == (6, 5, 3)
    (batch,) = acc.Images("batch")
    assert (batch.width, batch.height) == (8 * 4, 2 * 4)     # 10 images, 8 a row
    (text,) = acc.Tensors("notes/text_summary")
    assert text.tensor_proto.string_val == [b"tinycnn *logs*"]
    for tag, value in (("train", 0.9), ("test", 0.8)):
        sub = read_events(tmp_path / f"acc_{tag}")
        assert [(e.step, round(e.value, 6)) for e in sub.Scalars("acc")] == [(2, value)]
    hp = read_events(tmp_path / "hp")
    from tensorboard.plugins.hparams import metadata
    content = hp.PluginTagToContent("hparams")
    start = metadata.parse_session_start_info_plugin_data(content["_hparams_/session_start_info"])
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["optimizer"].string_value == "adam"
    assert start.hparams["bn"].number_value == 1.0           # as PyTorch's writer stores a bool
    experiment = metadata.parse_experiment_plugin_data(content["_hparams_/experiment"])
    assert [m.name.tag for m in experiment.metric_infos] == ["hparam/accuracy"]
    assert [round(e.value, 6) for e in hp.Scalars("hparam/accuracy")] == [0.97]


def test_the_same_calls_write_the_same_summaries_as_pytorch(tmp_path, read_events, torch):
    from torch.utils.tensorboard import SummaryWriter as TorchWriter
    log_everything(SummaryWriter, tmp_path / "ours")
    log_everything(TorchWriter, tmp_path / "torch")
    ours, theirs = read_events(tmp_path / "ours"), read_events(tmp_path / "torch")
    assert ours.Tags() == theirs.Tags()
    assert [(e.step, e.value) for e in ours.Scalars("loss")] == [(e.step, e.value) for e in theirs.Scalars("loss")]
    for tag in ("weights", "ten_bins"):
        a, b = ours.Histograms(tag)[0], theirs.Histograms(tag)[0]
        assert a.step == b.step and a.histogram_value == b.histogram_value, tag
    for tag in ("rgb", "grey_hw", "batch"):
        a, b = ours.Images(tag)[0], theirs.Images(tag)[0]
        assert (a.width, a.height) == (b.width, b.height)
        np.testing.assert_array_equal(png_pixels(a.encoded_image_string), png_pixels(b.encoded_image_string))
    for tag in ("lr", "notes/text_summary"):
        assert ours.Tensors(tag)[0].tensor_proto == theirs.Tensors(tag)[0].tensor_proto
        assert ours.SummaryMetadata(tag) == theirs.SummaryMetadata(tag)
    hp_ours, hp_theirs = read_events(tmp_path / "ours" / "hp"), read_events(tmp_path / "torch" / "hp")
    assert hp_ours.PluginTagToContent("hparams") == hp_theirs.PluginTagToContent("hparams")
    def folders(root):
        return sorted(d for d in os.listdir(root) if os.path.isdir(root / d))
    assert folders(tmp_path / "ours") == folders(tmp_path / "torch") == ["acc_test", "acc_train", "hp"]


def test_tensors_of_any_kind_are_accepted(tmp_path, read_events):
    with SummaryWriter(tmp_path) as w:
        w.add_scalar("t", tinycnn.tensor(2.5), 0)
        w.add_histogram("p", lenet5()[0].weight, 0)
        w.add_image("x", tinycnn.rand(1, 4, 4), 0)
    acc = read_events(tmp_path)
    assert acc.Scalars("t")[0].value == 2.5 and acc.Histograms("p")[0].histogram_value.num == 150


def test_add_figure_renders_a_matplotlib_figure(tmp_path, read_events):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(2, 1), dpi=50)
    fig.add_subplot().plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("curve", fig, 3)
    (img,) = read_events(tmp_path).Images("curve")
    assert (img.step, img.width, img.height) == (3, 100, 50)


def test_purge_step_and_reopening_after_close(tmp_path, read_events):
    w = SummaryWriter(tmp_path)
    for step in range(6):
        w.add_scalar("loss", float(step), step)
    w.close()
    w.close()                                      # a second close does nothing
    w = SummaryWriter(tmp_path, purge_step=3)     # the run restarts at step 3: the old 3, 4, 5 are hidden
    w.add_scalar("loss", 30.0, 3)
    w.close()
    assert [(e.step, e.value) for e in read_events(tmp_path).Scalars("loss")] == [(0, 0), (1, 1), (2, 2), (3, 30)]
    w.add_scalar("loss", 40.0, 4)                 # used after close: a new event file
    w.close()
    assert len([f for f in os.listdir(tmp_path) if f.startswith("events.out.tfevents")]) == 3


def test_default_log_dir_is_pytorchs(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    monkeypatch.chdir(tmp_path)
    with SummaryWriter(comment="_lr0.1") as w:
        folder = w.get_logdir()
    parent, name = os.path.split(folder)
    assert parent == "runs" and name.endswith("_lr0.1") and os.path.isdir(folder)


def test_bad_inputs_get_one_line_errors(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="SummaryWriter: cannot write to the log folder .*file/logs"):
        SummaryWriter(str(tmp_path / "file" / "logs"))
    pytest.importorskip("tensorboard")
    with SummaryWriter(tmp_path / "logs") as w:
        with pytest.raises(ValueError, match=r"add_scalar\('loss'\): expected one value, got an array of shape"):
            w.add_scalar("loss", np.zeros(3))
        with pytest.raises(TypeError, match="expected numbers"):
            w.add_scalar("loss", "high")
        with pytest.raises(ValueError, match="the values contain NaN or infinity"):
            w.add_histogram("w", np.array([1.0, np.nan]))
        with pytest.raises(ValueError, match="the values are empty"):
            w.add_histogram("w", np.zeros(0))
        with pytest.raises(ValueError, match="dataformats 'CHW' expects a 3-D array, got shape"):
            w.add_image("x", np.zeros((4, 4)))
        with pytest.raises(ValueError, match="expected 1, 3 or 4 channels, got 2"):
            w.add_image("x", np.zeros((2, 4, 4)))
        with pytest.raises(TypeError, match="hparam_dict and metric_dict must be dicts"):
            w.add_hparams([("lr", 0.1)], {})


def test_a_missing_tensorboard_package_is_named(tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(ImportError, match=r"needs the tensorboard package .*pip install tensorboard"):
        SummaryWriter(tmp_path / "logs")


def test_training_logger_logs_losses_histograms_metrics_and_predictions(tmp_path, read_events):
    pytest.importorskip("tensorboard")
    tinycnn.manual_seed(0)
    model = lenet5()
    opt = tinycnn.optim.SGD(model.parameters(), lr=0.1)
    logger = TensorBoardLogger(tmp_path, model, scalar_every=2, histogram_every=3)
    x, y = tinycnn.randn(8, 1, 28, 28), tinycnn.tensor(np.arange(8) % 10)
    for epoch in (1, 2):
        for _ in range(3):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            logger.after_backward(loss=loss.item(), lr=0.1)
            opt.step()
        with tinycnn.no_grad():
            pred = model(x).numpy().argmax(1)
        logger.end_epoch(epoch, {"train_loss": loss.item(), "test_accuracy": 0.5, "seconds": 1.0},
                         images=x, labels=y, predictions=pred)
    logger.close()
    acc = read_events(tmp_path)
    tags = acc.Tags()
    assert [e.step for e in acc.Scalars("train/loss")] == [0, 2, 4] and "train/lr" in tags["scalars"]
    assert {"loss/train", "accuracy/test", "epoch/seconds"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("accuracy/test")] == [1, 2]
    assert [e.step for e in acc.Histograms("weights/0.weight")] == [0, 3]
    assert [e.step for e in acc.Histograms("grads/11.bias")] == [0, 3]
    assert [e.step for e in acc.Images("predictions")] == [1, 2]
    with pytest.raises(ValueError, match="histogram_every must be a positive integer"):
        TensorBoardLogger(tmp_path, model, histogram_every=0)
