"""The mobile models: MobileNet V1-V3, ShuffleNet V1/V2, EfficientNet-B0.

Against the reference JSON (always): parameter counts, state-dict size and first/last keys, output shape
and conv+linear MACs at 64x64. Against torchvision (when installed): every state-dict key and shape,
module types, BatchNorm/Dropout/StochasticDepth settings, eval-mode outputs after loading torchvision's
weights, and one training step (loss and every gradient) in train mode.
"""
import doctest
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinycnn
from tinycnn import models, nn
from tinycnn.models import mobilenet_common
from tinycnn.models.efficientnet import StochasticDepth
from tinycnn.models.shufflenet import ShuffleNetV1, channel_shuffle
from tinycnn.utils import summary

# From tests/data/torchvision_models.json (torch 2.14.1 / torchvision 0.29.1; mobilenet_v1 and
# shufflenet_v1_g3_1x from the paper tables): parameters, state-dict size, first and last keys, conv+linear
# MACs at 224x224 and 64x64 (batch 1), Conv2d and BatchNorm2d counts.
REF = {
    "mobilenet_v1": dict(params=4231976, keys=164, first=("features.0.0.weight", (32, 3, 3, 3)),
                         last=(("fc.weight", (1000, 1024)), ("fc.bias", (1000,))),
                         macs_224=568740352, macs_64=47368192, convs=27, bns=27),
    "shufflenet_v1_g3_1x": dict(params=1865728, keys=296, first=("conv1.0.weight", (24, 3, 3, 3)),
                                last=(("fc.weight", (1000, 960)), ("fc.bias", (1000,))),
                                macs_224=137460672, macs_64=12102912, convs=49, bns=49),
    "mobilenet_v2": dict(params=3504872, keys=314, first=("features.0.0.weight", (32, 3, 3, 3)),
                         last=(("classifier.1.weight", (1000, 1280)), ("classifier.1.bias", (1000,))),
                         macs_224=300774272, macs_64=25728512, convs=52, bns=52),
    "mobilenet_v3_small": dict(params=2542856, keys=244, first=("features.0.0.weight", (16, 3, 3, 3)),
                               last=(("classifier.3.weight", (1000, 1024)), ("classifier.3.bias", (1000,))),
                               macs_224=56510400, macs_64=6516480, convs=52, bns=34),
    "mobilenet_v3_large": dict(params=5483032, keys=312, first=("features.0.0.weight", (16, 3, 3, 3)),
                               last=(("classifier.3.weight", (1000, 1280)), ("classifier.3.bias", (1000,))),
                               macs_224=216589760, macs_64=21368960, convs=62, bns=46),
    "shufflenet_v2_x0_5": dict(params=1366792, keys=338, first=("conv1.0.weight", (24, 3, 3, 3)),
                               last=(("fc.weight", (1000, 1024)), ("fc.bias", (1000,))),
                               macs_224=40476448, macs_64=4244608, convs=56, bns=56),
    "shufflenet_v2_x1_0": dict(params=2278604, keys=338, first=("conv1.0.weight", (24, 3, 3, 3)),
                               last=(("fc.weight", (1000, 1024)), ("fc.bias", (1000,))),
                               macs_224=144907992, macs_64=12769632, convs=56, bns=56),
    "efficientnet_b0": dict(params=5288548, keys=360, first=("features.0.0.weight", (32, 3, 3, 3)),
                            last=(("classifier.1.weight", (1000, 1280)), ("classifier.1.bias", (1000,))),
                            macs_224=385814752, macs_64=33246592, convs=81, bns=49),
}
REF_JSON = Path(__file__).parent / "data" / "torchvision_models.json"

TORCHVISION = ["mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "shufflenet_v2_x0_5",
               "shufflenet_v2_x1_0", "efficientnet_b0"]
OWN = {"mobilenet_v1": lambda: models.mobilenet_v1(), "shufflenet_v1_g3_1x": lambda: models.shufflenet_v1(3)}
BUILDERS = {**{name: getattr(models, name) for name in TORCHVISION}, **OWN}


def _n_params(model):
    return sum(int(p.numel()) for p in model.parameters())


def _keys(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


@pytest.mark.parametrize("name", list(BUILDERS))
def test_params_and_keys_match_reference(name):
    model, ref = BUILDERS[name](), REF[name]
    assert _n_params(model) == ref["params"]
    state = model.state_dict()
    keys = [(k, tuple(v.shape)) for k, v in state.items()]
    assert len(keys) == ref["keys"]
    assert keys[0] == ref["first"] and tuple(keys[-2:]) == ref["last"]
    counts = Counter(type(m).__name__ for m in model.modules())
    assert (counts["Conv2d"], counts["BatchNorm2d"]) == (ref["convs"], ref["bns"])
    full = json.loads(REF_JSON.read_text())[name]
    listed = [[k, list(shape)] for k, shape in keys]
    assert listed[:5] == full["state_dict_first5"] and listed[-5:] == full["state_dict_last5"]


@pytest.mark.parametrize("name", ["mobilenet_v1", "shufflenet_v1_g3_1x", "mobilenet_v3_small"])
def test_macs_and_output_shape_at_64(name):
    s = summary(BUILDERS[name](), (3, 64, 64))
    assert s.total_macs == REF[name]["macs_64"]
    assert s.rows[-1].output_shape == (1, 1000)


def test_registry_and_widths():
    for name in ["mobilenet_v1", "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "shufflenet_v1",
                 "shufflenet_v2_x0_5", "shufflenet_v2_x1_0", "efficientnet_b0"]:
        assert name in models.list_models()
    assert _n_params(models.get_model("mobilenet_v1", num_classes=10)) == 4231976 - 1025000 + 10250
    with pytest.raises(ValueError, match="unknown model"):
        models.get_model("no_such_net")
    # V1 width multiplier 0.5: every width halves (16, 32, ..., 512)
    assert models.mobilenet_v1(width_mult=0.5).fc.in_features == 512
    # ShuffleNet V1 for every group count of the paper, and a half-width g=8 (stem 16, as megvii's)
    widths = {g: models.shufflenet_v1(g).fc.in_features for g in (1, 2, 3, 4, 8)}
    assert widths == {1: 576, 2: 800, 3: 960, 4: 1088, 8: 1536}
    half = models.shufflenet_v1(8, width_scale=0.5, num_classes=10)
    assert half.conv1[0].out_channels == 16 and half.fc.in_features == 768
    with pytest.raises(ValueError, match="groups must be one of"):
        ShuffleNetV1(groups=5)


def test_shufflenet_v1_all_groups_forward():
    x = tinycnn.randn(2, 3, 32, 32)
    for g in (1, 2, 4, 8):
        model = models.shufflenet_v1(g, width_scale=0.25, num_classes=7).eval()
        assert model(x).shape == (2, 7)


def test_make_divisible():
    result = doctest.testmod(mobilenet_common)
    assert result.attempted > 0 and result.failed == 0
    assert [mobilenet_common.make_divisible(v) for v in (3, 12, 20, 100)] == [8, 16, 24, 104]


def test_channel_shuffle_interleaves_groups():
    x = tinycnn.tensor(np.arange(6, dtype=np.float32).reshape(1, 6, 1, 1))
    assert channel_shuffle(x, 2).numpy().ravel().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).numpy().ravel().tolist() == [0, 2, 4, 1, 3, 5]


def test_stochastic_depth():
    x = tinycnn.ones(1000, 1, 2, 2)
    layer = StochasticDepth(0.3, "row")
    tinycnn.manual_seed(0)
    y = layer(x).numpy()
    rows = y.reshape(1000, -1)
    assert np.all((rows == 0).all(1) | np.isclose(rows, 1 / 0.7).all(1))  # whole samples kept or dropped
    assert abs((rows[:, 0] == 0).mean() - 0.3) < 0.06
    assert layer.eval()(x) is x
    with pytest.raises(ValueError, match="drop probability"):
        StochasticDepth(1.5)


# ---- against torchvision ------------------------------------------------------------------------------------
def _tv(name, **kwargs):
    tvm = pytest.importorskip("torchvision.models")
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch, getattr(tvm, name)(**kwargs)


def _configs(model, torch_side):
    out = []
    for m in model.modules():
        kind = type(m).__name__
        if kind == "BatchNorm2d":
            out.append((kind, m.eps, m.momentum))
        elif kind in ("Dropout", "StochasticDepth"):
            out.append((kind, round(m.p, 6)))
    return out


@pytest.mark.parametrize("name", TORCHVISION)
def test_structure_matches_torchvision(name):
    torch, ref = _tv(name)
    model = getattr(models, name)()
    assert _keys(model) == [[k, list(v.shape)] for k, v in ref.state_dict().items()]
    assert Counter(type(m).__name__ for m in model.modules()) == Counter(type(m).__name__ for m in ref.modules())
    assert _configs(model, False) == _configs(ref, True)


def _randomize_bn(ref, torch):
    gen = torch.Generator().manual_seed(1)
    for m in ref.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)


@pytest.mark.parametrize("name", TORCHVISION)
def test_eval_output_matches_torchvision(name, tmp_path):
    torch, ref = _tv(name)
    ref.eval()
    _randomize_bn(ref, torch)
    if name == "shufflenet_v2_x0_5":  # one model goes through a real .pth file and the torch-free loader
        torch.save(ref.state_dict(), tmp_path / "w.pth")
        state = tinycnn.load_torch_state_dict(tmp_path / "w.pth")
    else:
        state = {k: v.numpy() for k, v in ref.state_dict().items()}
    model = getattr(models, name)()
    model.load_state_dict(state)
    model.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with tinycnn.no_grad():
        out = model(tinycnn.tensor(x)).numpy()
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    assert out.shape == (1, 1000)
    assert np.abs(out - expected).max() <= 1e-4 * np.abs(expected).max()


# one small member per family: (torchvision builder, kwargs shared by both sides)
FAMILIES = {
    "mobilenet_v2": dict(width_mult=0.25, num_classes=5, dropout=0.0),
    "mobilenet_v3_small": dict(width_mult=0.25, num_classes=5, dropout=0.0),
    "shufflenet_v2_x0_5": dict(num_classes=5),
    "efficientnet_b0": dict(num_classes=5, dropout=0.0, stochastic_depth_prob=0.0),
}


def _small_efficientnet(torch_side):
    """B0's layout at width 0.25 and depth 0.5 (the torchvision builder has no width argument)."""
    if torch_side:
        from torchvision.models import efficientnet as tv_eff
        settings, last = tv_eff._efficientnet_conf("efficientnet_b0", width_mult=0.25, depth_mult=0.5)
        return tv_eff.EfficientNet(settings, dropout=0.0, stochastic_depth_prob=0.0, num_classes=5,
                                   last_channel=last)
    from tinycnn.models.efficientnet import B0_SETTINGS, EfficientNet, MBConvConfig
    settings = [MBConvConfig(*row, width_mult=0.25, depth_mult=0.5) for row in B0_SETTINGS]
    return EfficientNet(settings, dropout=0.0, stochastic_depth_prob=0.0, num_classes=5)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_training_step_matches_torchvision(name):
    """Train mode (BatchNorm on batch statistics), cross-entropy, backward, in float64: the loss, every
    parameter gradient and the updated BatchNorm running statistics agree with PyTorch. (float64 because
    train-mode BatchNorm over 2 samples of a 1x1 map makes these tiny networks badly conditioned.)"""
    kwargs = FAMILIES[name]
    torch, ref = _tv(name, **kwargs) if name != "efficientnet_b0" else (pytest.importorskip("torch"), None)
    if ref is None:
        pytest.importorskip("torchvision")
        torch.manual_seed(0)
        ref, model = _small_efficientnet(True), _small_efficientnet(False)
    else:
        model = getattr(models, name)(**kwargs)
    model.load_state_dict({k: v.numpy() for k, v in ref.state_dict().items()})
    model.double().train(), ref.double().train()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 32, 32))
    y = np.array([1, 3])
    loss = nn.functional.cross_entropy(model(tinycnn.tensor(x)), tinycnn.tensor(y))
    loss.backward()
    ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
    ref_loss.backward()
    assert abs(loss.item() - ref_loss.item()) <= 1e-9 * max(1.0, abs(ref_loss.item()))
    ref_params = dict(ref.named_parameters())
    for key, p in model.named_parameters():
        g, rg = p.grad.numpy(), ref_params[key].grad.numpy()
        assert np.abs(g - rg).max() <= 1e-6 * np.abs(rg).max() + 1e-9, key
    ref_state = ref.state_dict()
    for key, v in model.state_dict().items():
        np.testing.assert_allclose(v.numpy(), ref_state[key].numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("build", [lambda: models.mobilenet_v1(num_classes=4, width_mult=0.25),
                                   lambda: models.shufflenet_v1(3, width_scale=0.25, num_classes=4)],
                         ids=["mobilenet_v1", "shufflenet_v1"])
def test_training_step_gradients(build):
    """Families without a torchvision twin: one train-mode step in float64 gives every parameter a
    finite gradient, and the gradient of the largest entry of the first conv, of a middle BatchNorm and
    of the classifier matches a central finite difference of the loss; an SGD step changes the weights."""
    tinycnn.manual_seed(0)
    model = build().double().train()
    x = tinycnn.tensor(np.random.default_rng(0).standard_normal((4, 3, 32, 32)))
    y = tinycnn.tensor(np.array([0, 1, 2, 3]))

    def loss_value():
        with tinycnn.no_grad():
            return nn.functional.cross_entropy(model(x), y).item()

    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    params = list(model.named_parameters())
    for _, p in params:
        assert p.grad is not None and np.isfinite(p.grad.numpy()).all()
    for key, p in [params[0], params[len(params) // 2], params[-2]]:
        grad = p.grad.numpy()
        idx = np.unravel_index(np.argmax(np.abs(grad)), grad.shape)
        old, h = p.array[idx], 1e-6
        p.array[idx] = old + h
        up = loss_value()
        p.array[idx] = old - h
        down = loss_value()
        p.array[idx] = old
        # A whole network is full of ReLU/max-pool kinks that a 1e-6 step can straddle (which one depends on
        # BLAS rounding), so the model-level check is to 0.1%; every op alone is checked far tighter.
        assert abs((up - down) / (2 * h) - grad[idx]) <= 1e-3 * abs(grad[idx]) + 1e-8, key
    before = params[0][1].array.copy()
    for _, p in params:
        p.array = p.array - 1e-3 * p.grad.array
    assert not np.array_equal(before, params[0][1].array)
