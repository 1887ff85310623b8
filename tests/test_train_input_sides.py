"""Models that train only on some image sides, and the auxiliary classifiers' part of the training loss.

``tinycnn train`` resizes the images to a model's own side where the usual 64 does not fit it (Inception v3's
299, the fixed-size paper models'), refuses an --input-size the model cannot train on with a line naming
the model and the sides it takes, and adds GoogLeNet's and Inception v3's auxiliary losses (weights 0.3 and
0.4, --aux-weight) to the training loss, never to the evaluation.
"""
import json

import numpy as np
import pytest
from cli_runs import checkpoint, tinycnn_cli, user_error

import tinycnn
from tinycnn import models
from tinycnn.autograd import no_grad
from tinycnn.nn import functional as F
from tinycnn.train import TrainConfig, Trainer, compute_loss

BOUNDED = ["lenet5_1998", "alexnet_2012", "alexnet_d2l", "alexnet_small", "googlenet_2014", "vgg_small", "zfnet"]


def _forward(model, side: int, batch: int = 1):
    first = next(m for m in model.modules() if hasattr(m, "in_channels"))
    x = tinycnn.tensor(np.zeros((batch, first.in_channels, side, side), np.float32))
    with no_grad():
        return model(x)


@pytest.mark.parametrize("name", BOUNDED)
def test_a_bounded_model_trains_on_the_sides_declared_and_no_others(name):
    low, high = models.training_sides(name)
    assert low <= models.default_input_size(name)[1] <= high
    tinycnn.manual_seed(0)
    model = models.get_model(name, num_classes=10).train()
    for side in {low, high}:
        outputs = _forward(model, side, batch=2)
        assert getattr(outputs, "logits", outputs).shape == (2, 10)     # GoogLeNet's training outputs
    for side in (low - 1, high + 1):
        with pytest.raises(ValueError):
            _forward(model, side, batch=2)


def test_inception_v3_trains_from_299_where_its_auxiliary_classifier_fits():
    assert models.training_sides("inception_v3") == (299, None)
    tinycnn.manual_seed(0)
    model = models.inception_v3(num_classes=10, init_weights=False).train()
    outputs = _forward(model, 299, batch=2)
    assert outputs.logits.shape == outputs.aux_logits.shape == (2, 10)
    with pytest.raises(ValueError):
        _forward(model, 298, batch=2)
    assert _forward(model.eval(), 75).shape == (1, 10)        # without the auxiliary head: from 75


@pytest.mark.parametrize("name,side", [("inception_v3", 299), ("lenet5_1998", 28), ("zfnet", 224),
                                       ("alexnet_2012", 227), ("vgg_small", 224), ("resnet18", 64),
                                       ("googlenet", 64)])
def test_the_default_input_size_is_one_the_model_trains_on(name, side):
    assert TrainConfig(model=name).resolved().input_size == side


@pytest.mark.parametrize("args,expected", [
    (["inception_v3", "--input-size", "64"],
     "--input-size: inception_v3 takes images of at least 299x299 in training, got 64x64; leave --input-size out "
     "to resize the images to 299"),
    (["alexnet_2012", "--input-size", "224"], "--input-size: alexnet_2012 takes only 227x227 images, got 224x224"),
    (["lenet5_1998", "--input-size", "32"], "--input-size: lenet5_1998 takes only 28x28 images, got 32x32"),
    (["vgg_small", "--input-size", "64"], "--input-size: vgg_small takes images from 224x224 to 255x255, got 64x64"),
])
def test_an_input_size_the_model_cannot_train_on_is_refused(tmp_path, args, expected):
    line = user_error(tinycnn_cli("train", *args, "--out", tmp_path / "run", cwd=tmp_path))
    assert expected in line
    assert not (tmp_path / "run").exists()


def test_auxiliary_weights_default_to_each_papers_recipe():
    assert TrainConfig(model="inception_v3").resolved().aux_weight == 0.4
    assert TrainConfig(model="googlenet").resolved().aux_weight == 0.3
    assert TrainConfig(model="inception_v3", aux_weight=0.1).resolved().aux_weight == 0.1


def test_inception_outputs_add_the_weighted_auxiliary_loss():
    rng = np.random.default_rng(0)
    logits, aux = (tinycnn.tensor(rng.standard_normal((4, 10))) for _ in range(2))
    labels = tinycnn.tensor([1, 2, 3, 4])
    main, loss = compute_loss(models.InceptionOutputs(logits, aux), labels, aux_weight=0.4)
    assert main is logits
    expected = F.cross_entropy(logits, labels).item() + 0.4 * F.cross_entropy(aux, labels).item()
    assert loss.item() == pytest.approx(expected)
    _, plain = compute_loss(logits, labels, aux_weight=0.4)       # eval mode: the main logits alone
    assert plain.item() == pytest.approx(F.cross_entropy(logits, labels).item())


def test_inception_v3_trains_on_mnist_resized_to_299_with_its_auxiliary_loss(tmp_path):
    proc = tinycnn_cli("train", "inception_v3", "--train-limit", "8", "--batch-size", "4", "--test-limit", "8",
                       "--epochs", "1", "--no-progress", "--out", tmp_path / "run", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(tmp_path / "run" / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["input_size"] == 299 and metrics["config"]["aux_weight"] == 0.4
    # the auxiliary classifier gets gradients only from its loss: it learned, so its loss took part
    start = Trainer(TrainConfig(model="inception_v3", train_limit=8, test_limit=8, batch_size=4)).model.state_dict()
    after = checkpoint(tmp_path / "run")["model"]
    for key in ("AuxLogits.fc.weight", "AuxLogits.conv0.conv.weight", "fc.weight"):
        assert not np.array_equal(after[key], start[key].numpy()), key
    assert int(after["Conv2d_1a_3x3.bn.num_batches_tracked"]) == 2     # two training steps


def test_googlenets_auxiliary_classifiers_learn_by_aux_weight(tmp_path):
    args = ["googlenet", "--train-limit", "8", "--batch-size", "4", "--test-limit", "8", "--epochs", "1",
            "--no-progress"]
    start = Trainer(TrainConfig(model="googlenet", train_limit=8, test_limit=8, batch_size=4)).model.state_dict()
    aux = [k for k in start if k.startswith(("aux1.", "aux2.")) and k.endswith("weight")]
    for weight, learns in (("0.3", True), ("0", False)):
        out = tmp_path / f"aux-{weight}"
        proc = tinycnn_cli("train", *args, "--aux-weight", weight, "--out", out, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        after = checkpoint(out)["model"]
        assert not np.array_equal(after["fc.weight"], start["fc.weight"].numpy())
        assert [np.array_equal(after[k], start[k].numpy()) for k in aux] == [not learns] * len(aux), weight
