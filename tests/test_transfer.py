"""Reusing trained weights through ``tinycnn.utils.transfer``: VGG's init-from-a-shallower-net and the three
transfer-learning modes, each run end to end on MNIST digits (pretrained on the ten digits, transferred to
"is it 5 or more"), plus the layer grouping, the weights files and the errors.
"""
import os

import numpy as np
import pytest
from model_helpers import uninitialised

import tinycnn
from tinycnn import models, nn, optim
from tinycnn.utils import transfer
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.vision import transforms as T
from tinycnn.vision.datasets import MNIST

F = nn.functional


def small_cnn(num_classes: int = 10) -> nn.Sequential:
    """conv+BN (layer "0"), conv+BN (layer "4"), linear "9", linear "12"."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, num_classes))


def small_vgg(cfg) -> nn.Sequential:
    return nn.Sequential(models.make_layers(cfg, in_channels=1), nn.Flatten(), nn.Linear(32 * 3 * 3, 64), nn.ReLU(),
                         nn.Linear(64, 10))


VGG_A = [8, "M", 16, "M", 32, 32, "M"]               # a VGG-11-like stack
VGG_B = [8, 8, "M", 16, 16, "M", 32, 32, "M"]        # VGG-13's additions: a second conv in blocks 1 and 2


def _mnist(start: int, n: int, binary: bool = False):
    preprocess = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    data = Subset(MNIST(train=True, transform=preprocess), np.arange(start, start + n))
    if not binary:
        return data
    images = np.stack([np.asarray(data[i][0]) for i in range(n)])
    labels = np.array([int(data[i][1]) >= 5 for i in range(n)], dtype=np.int64)
    return list(zip(images, labels))


def _loader(data, seed=0):
    return DataLoader(data, batch_size=64, shuffle=True, seed=seed)


def fit(model, data, epochs: int = 2, lr: float = 3e-3) -> list:
    """A plain training loop through the API: trainable parameters only, frozen norms kept in eval mode."""
    opt = optim.Adam(transfer.trainable_parameters(model), lr=lr)
    losses = []
    for epoch in range(epochs):
        model.train()
        transfer.freeze_norm_stats(model)
        for images, labels in _loader(data, seed=epoch):
            loss = F.cross_entropy(model(tinycnn.tensor(images)), tinycnn.tensor(labels))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def _arrays(model) -> dict:
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """A small CNN trained on 512 digits (ten classes), saved with ``tinycnn.save``."""
    tinycnn.manual_seed(0)
    model = small_cnn()
    losses = fit(model, _mnist(0, 512), epochs=2)
    assert losses[-1] < losses[0]
    path = tmp_path_factory.mktemp("pretrained") / "digits.npz"
    tinycnn.save(model.state_dict(), path)
    return path, _arrays(model)


@pytest.fixture(scope="module")
def target_task():
    return _mnist(2000, 256, binary=True)


# ---- layers -------------------------------------------------------------------------------------------------
def test_layers_group_each_weight_layer_with_its_norm():
    layers = transfer.layers_of(small_cnn())
    assert [layer.name for layer in layers] == ["0", "4", "9", "12"]
    assert layers[0].prefixes == ["0", "1"]
    assert layers[0].keys == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                              "1.num_batches_tracked"]
    assert layers[0].signature[0] == ("weight", (8, 1, 3, 3))
    # the same grouping from a state dict or a saved file
    state = small_cnn().state_dict()
    assert [la.signature for la in transfer.layers_of(state)] == [la.signature for la in layers]
    resnet = transfer.layers_of(uninitialised(models.resnet18))
    assert resnet[0].prefixes == ["conv1", "bn1"] and resnet[-1].name == "fc"
    assert [la.name for la in resnet if "downsample" in la.name] == [f"layer{i}.0.downsample.0" for i in (2, 3, 4)]


# ---- mode 1: train everything from the loaded weights -------------------------------------------------------
def test_mode1_train_all_layers_from_loaded_weights(pretrained, target_task):
    path, loaded = pretrained
    tinycnn.manual_seed(1)
    model = transfer.load_pretrained(small_cnn(), path, num_classes=2)
    assert model[12].out_features == 2 and model[12].in_features == 32
    for key, value in model.state_dict().items():
        if not key.startswith("12."):
            np.testing.assert_array_equal(value.numpy(), loaded[key], err_msg=key)
    assert len(transfer.trainable_parameters(model)) == len(list(model.parameters()))
    before = _arrays(model)
    losses = fit(model, target_task)
    after = _arrays(model)
    changed = [k for k in before if not k.endswith("num_batches_tracked") and not np.array_equal(before[k], after[k])]
    assert len(changed) == len([k for k in before if not k.endswith("num_batches_tracked")])  # every layer learned
    assert np.mean(losses[-2:]) < np.mean(losses[:2])


# ---- mode 2: train only the last N layers, or named ones ---------------------------------------------------
def test_mode2_train_only_the_last_layers(pretrained, target_task):
    path, loaded = pretrained
    tinycnn.manual_seed(2)
    model = transfer.load_pretrained(small_cnn(), path, num_classes=2)
    assert transfer.freeze(model, train_last=2) == ["9", "12"]
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["9.weight", "9.bias", "12.weight",
                                                                             "12.bias"]
    before = _arrays(model)
    losses = fit(model, target_task)
    after = _arrays(model)
    for key in before:   # the frozen convs and their BatchNorm statistics are exactly the loaded ones
        if key.split(".")[0] in ("0", "1", "4", "5"):
            np.testing.assert_array_equal(after[key], loaded[key], err_msg=key)
    assert not np.array_equal(before["9.weight"], after["9.weight"])
    assert not np.array_equal(before["12.weight"], after["12.weight"])
    assert np.mean(losses[-2:]) < np.mean(losses[:2])


def test_mode2_train_named_layers(pretrained, target_task):
    path, loaded = pretrained
    model = transfer.load_pretrained(small_cnn(), path, num_classes=2)
    assert transfer.freeze(model, train_only=["4", "12"]) == ["4", "12"]
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable == ["4.weight", "4.bias", "5.weight", "5.bias", "12.weight", "12.bias"]  # "4" brings its BN
    fit(model, target_task, epochs=1)
    after = _arrays(model)
    for key in ("0.weight", "1.running_mean", "9.weight"):
        np.testing.assert_array_equal(after[key], loaded[key], err_msg=key)
    assert not np.array_equal(after["5.running_mean"], loaded["5.running_mean"])   # a trained BN keeps learning
    # a module path selects exactly what is under it
    transfer.freeze(model, train_only="4")
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["4.weight", "4.bias", "5.weight",
                                                                             "5.bias"]


def test_freeze_errors():
    model = small_cnn()
    with pytest.raises(ValueError, match="exactly one of"):
        transfer.freeze(model)
    with pytest.raises(ValueError, match="from 1 to 4"):
        transfer.freeze(model, train_last=5)
    with pytest.raises(ValueError, match="no layer named fc"):
        transfer.freeze(model, train_only=["fc"])
    with pytest.raises(ValueError, match="at least one"):
        transfer.freeze(model, train_only=[])


# ---- mode 3: keep the network, add a layer on top, train only it -------------------------------------------
def test_mode3_new_layer_on_top(pretrained, target_task):
    path, loaded = pretrained
    tinycnn.manual_seed(3)
    backbone = transfer.load_pretrained(small_cnn(), path)
    model = transfer.add_head(backbone, 2)
    assert (model.head.in_features, model.head.out_features) == (10, 2)   # on top of the 10 digit logits
    assert list(model.state_dict())[-2:] == ["head.weight", "head.bias"]
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["head.weight", "head.bias"]
    losses = fit(model, target_task, epochs=2, lr=1e-2)
    assert model.training and not model.backbone.training and not model.backbone[11].training
    for key, value in model.backbone.state_dict().items():   # the whole network, statistics included, unchanged
        np.testing.assert_array_equal(value.numpy(), loaded[key], err_msg=key)
    assert np.mean(losses[-2:]) < np.mean(losses[:2])
    x = tinycnn.randn(3, 1, 28, 28)
    with tinycnn.no_grad():   # a frozen backbone in eval mode: dropout off, so outputs repeat
        np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())
    assert transfer.add_head(small_cnn(), 4, in_features=10).head.in_features == 10
    with pytest.raises(ValueError, match="pass in_features"):
        transfer.add_head(nn.Sequential(nn.Conv2d(1, 2, 3)), 4)


def test_add_head_on_a_network_with_auxiliary_outputs():
    model = transfer.add_head(models.googlenet(num_classes=10), 3).train()
    out = model(tinycnn.randn(2, 3, 64, 64))   # the backbone stays in eval mode: logits, no aux tuple
    assert isinstance(out, tinycnn.Tensor) and out.shape == (2, 3)


# ---- VGG's trick: a deeper net initialised from a shallower one --------------------------------------------
def _vgg(name, batch_norm=False):
    """VGG's convolutions with a small three-layer classifier (the real one holds 120M weights)."""
    return nn.Sequential(models.make_layers(models.cfgs[name], batch_norm=batch_norm), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(512, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))


def test_init_from_vgg11_to_vgg13_by_position_and_shape():
    report = transfer.init_from(uninitialised(_vgg, name="vgg13"), uninitialised(_vgg, name="vgg11"))
    assert report.copied == [
        ("0.0", "0.0", "64x3x3x3"), ("0.5", "0.3", "128x64x3x3"), ("0.10", "0.6", "256x128x3x3"),
        ("0.12", "0.8", "256x256x3x3"), ("0.15", "0.11", "512x256x3x3"), ("0.17", "0.13", "512x512x3x3"),
        ("0.20", "0.16", "512x512x3x3"), ("0.22", "0.18", "512x512x3x3"),
        ("3", "3", "64x512"), ("5", "5", "64x64"), ("7", "7", "10x64")]
    assert report.kept == ["0.2", "0.7"] and report.unused == []   # VGG-13's 64->64 and 128->128 convs
    text = str(report)
    assert text.splitlines()[0] == "init_from: 11 layers copied, 2 kept, 0 source layers unused"
    assert ["0.5", "<-", "0.3", "(128x64x3x3)"] in [line.split() for line in text.splitlines()]
    assert ["0.7", "kept"] == text.splitlines()[-1].split()[:2]
    bn = transfer.init_from(uninitialised(_vgg, name="vgg13", batch_norm=True),
                            uninitialised(_vgg, name="vgg11", batch_norm=True))
    assert len(bn.copied) == 11 and bn.kept == ["0.3", "0.10"]
    deeper = transfer.init_from(uninitialised(_vgg, name="vgg19"), uninitialised(_vgg, name="vgg11"))
    assert len(deeper.copied) == 11 and len(deeper.kept) == 8


def test_init_from_copies_values_and_keeps_the_rest(pretrained, tmp_path):
    tinycnn.manual_seed(4)
    shallow, deep = small_vgg(VGG_A), small_vgg(VGG_B)
    fresh = _arrays(deep)
    report = transfer.init_from(deep, shallow)
    assert [(t, s) for t, s, _ in report.copied] == [("0.0", "0.0"), ("0.5", "0.3"), ("0.10", "0.6"),
                                                     ("0.12", "0.8"), ("2", "2"), ("4", "4")]
    assert report.kept == ["0.2", "0.7"]
    src, got = _arrays(shallow), _arrays(deep)
    for t, s, _ in report.copied:
        for suffix in ("weight", "bias"):
            np.testing.assert_array_equal(got[f"{t}.{suffix}"], src[f"{s}.{suffix}"])
    for kept in report.kept:
        np.testing.assert_array_equal(got[f"{kept}.weight"], fresh[f"{kept}.weight"])
    # only the named target layers may be filled
    limited = transfer.init_from(small_vgg(VGG_B), shallow, layers=["0.0", "4"])
    assert [t for t, _, _ in limited.copied] == ["0.0", "4"]
    with pytest.raises(ValueError, match="no layer named 9.9"):
        transfer.init_from(small_vgg(VGG_B), shallow, layers=["9.9"])
    # from a file: a state dict, or a training checkpoint whose "model" entry is one
    tinycnn.save({"model": shallow.state_dict(), "epoch": 3}, tmp_path / "ckpt.npz")
    again = transfer.init_from(small_vgg(VGG_B), tmp_path / "ckpt.npz")
    assert again.copied == report.copied


def test_init_from_a_run_end_to_end(tmp_path):
    """Train the shallow net, save it as a run folder does, start the deep one from the folder, train it."""
    tinycnn.manual_seed(5)
    digits = _mnist(0, 384)
    shallow = small_vgg(VGG_A)
    shallow_losses = fit(shallow, digits, epochs=2)
    run = tmp_path / "runs" / "vgg_a"
    os.makedirs(run)
    tinycnn.save({"model": shallow.state_dict(), "epoch": 2}, run / "best.npz")
    deep = small_vgg(VGG_B)
    report = transfer.init_from(deep, run)
    assert len(report.copied) == 6
    np.testing.assert_array_equal(deep[0][10].weight.numpy(), shallow[0][6].weight.numpy())
    losses = fit(deep, digits, epochs=1)
    assert all(np.isfinite(losses)) and shallow_losses[-1] < shallow_losses[0]
    assert np.mean(losses[-2:]) < np.mean(losses[:2])


# ---- weights files and apply_transfer -----------------------------------------------------------------------
def test_load_weights_sources_and_errors(pretrained, tmp_path):
    path, loaded = pretrained
    state = transfer.load_weights(path)
    assert list(state) == list(loaded) and np.array_equal(state["0.weight"], loaded["0.weight"])
    with pytest.raises(tinycnn.CheckpointError, match="without best.npz or last.npz"):
        transfer.load_weights(tmp_path)
    with pytest.raises(tinycnn.CheckpointError, match="missing.npz: no such file"):
        transfer.load_weights(tmp_path / "missing.npz")
    tinycnn.save([1, 2, 3], tmp_path / "list.npz")
    with pytest.raises(ValueError, match="holds no state dict"):
        transfer.load_weights(tmp_path / "list.npz")
    with pytest.raises(RuntimeError, match="shape mismatch"):
        transfer.load_pretrained(small_cnn(num_classes=3), path)   # strict: the head's shape differs


def test_load_weights_from_torch_pth(torch, tmp_path):
    torch.manual_seed(0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.BatchNorm2d(8))
    torch.save(ref.state_dict(), tmp_path / "w.pth")
    ours = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8))
    transfer.load_pretrained(ours, tmp_path / "w.pth")
    np.testing.assert_array_equal(ours[0].weight.numpy(), ref[0].weight.detach().numpy())


def test_replace_head_keeps_dtype_and_finds_the_last_linear():
    model = models.resnet18_small(num_classes=10).double()
    assert transfer.replace_head(model, 3) == "fc"
    assert model.fc.out_features == 3 and model.fc.weight.array.dtype == np.float64
    seq = small_cnn()
    assert transfer.replace_head(seq, 2) == "12" and seq[12].out_features == 2
    with pytest.raises(ValueError, match="no Linear layer"):
        transfer.replace_head(nn.Sequential(nn.Conv2d(1, 2, 3)), 2)


def test_apply_transfer_modes(pretrained):
    path, loaded = pretrained
    model, messages = transfer.apply_transfer(small_cnn(), pretrained=str(path), num_classes=2)
    assert model[12].out_features == 2 and messages == ["loaded every layer; new head 12 for 2 classes"]
    model, messages = transfer.apply_transfer(small_cnn(), pretrained=path, num_classes=2, train_last=1)
    assert messages[-1] == "training only 12; every other layer is frozen"
    assert len(transfer.trainable_parameters(model)) == 2
    model, messages = transfer.apply_transfer(small_cnn(), pretrained=path, num_classes=2, add_new_head=True)
    assert isinstance(model, transfer.HeadOnTop) and "Linear(10, 2)" in messages[0]
    model, messages = transfer.apply_transfer(small_cnn(), init_from_source=path)
    assert messages[0].startswith("init_from: 4 layers copied")
    with pytest.raises(ValueError, match="exclude each other"):
        transfer.apply_transfer(small_cnn(), pretrained=path, init_from_source=path)
    with pytest.raises(ValueError, match="needs|keeps a pretrained network"):
        transfer.apply_transfer(small_cnn(), add_new_head=True)
    with pytest.raises(ValueError, match="do not apply"):
        transfer.apply_transfer(small_cnn(), pretrained=path, num_classes=2, add_new_head=True, train_last=1)


def test_replace_head_gives_the_auxiliary_classifiers_new_heads_too():
    googlenet = uninitialised(models.googlenet, num_classes=1000)
    assert transfer.replace_head(googlenet, 7) == "fc"
    assert googlenet.fc.out_features == googlenet.aux1.fc2.out_features == googlenet.aux2.fc2.out_features == 7
    assert googlenet.aux1.fc1.out_features == 1024                # only each classifier's last layer
    assert [name for name, _ in transfer.aux_heads(googlenet)] == ["aux1.fc2", "aux2.fc2"]
    inception = uninitialised(models.inception_v3, num_classes=1000)
    transfer.replace_head(inception, 7)
    assert inception.fc.out_features == inception.AuxLogits.fc.out_features == 7
    assert transfer.aux_heads(models.resnet18_small()) == []
