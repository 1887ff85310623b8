"""The classic models: AlexNet, VGG, NiN, GoogLeNet, ResNet/ResNeXt, DenseNet (and d2l's small variants).

Always (no torch needed): parameter counts, state-dict size and first/last keys against the reference numbers
(torchvision 0.29.1's, copied below), plus the first/last five keys and module type counts of
tests/data/torchvision_models.json; MACs and output shapes at
64x64; GoogLeNet's train/eval outputs and loss; a training step per family; loss falling on a fixed batch.
Against torchvision / torch (skipped when not installed): every state-dict key and shape, module types and
layer settings; eval-mode outputs after loading torchvision's weights (float32, max error <= 1e-4 * max|y|);
train-mode loss and gradients of resnet18 and googlenet (with its aux heads); d2l's models as torch code.
"""
import importlib
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from model_helpers import layer_settings

import tinycnn
from tinycnn import models, nn, optim
from tinycnn.utils import summary

# name: (parameters, state-dict keys, first key, last two keys, conv+linear MACs at 1x3x64x64)
REF = {
    "alexnet": (61100840, 16, ("features.0.weight", (64, 3, 11, 11)),
                (("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))), 98144960),
    "vgg11": (132863336, 22, ("features.0.weight", (64, 3, 3, 3)),
              (("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))), 734691328),
    "vgg13": (133047848, 26, ("features.0.weight", (64, 3, 3, 3)),
              (("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))), 1036681216),
    "vgg16": (138357544, 32, ("features.0.weight", (64, 3, 3, 3)),
              (("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))), 1376419840),
    "vgg19": (143667240, 38, ("features.0.weight", (64, 3, 3, 3)),
              (("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))), 1716158464),
    "vgg11_bn": (132868840, 62, ("features.0.weight", (64, 3, 3, 3)),
                 (("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))), 734691328),
    "vgg16_bn": (138365992, 97, ("features.0.weight", (64, 3, 3, 3)),
                 (("classifier.6.weight", (1000, 4096)), ("classifier.6.bias", (1000,))), 1376419840),
    "googlenet": (13004888, 364, ("conv1.conv.weight", (64, 3, 7, 7)),
                  (("fc.weight", (1000, 1024)), ("fc.bias", (1000,))), 123256832),
    "resnet18": (11689512, 122, ("conv1.weight", (64, 3, 7, 7)),
                 (("fc.weight", (1000, 512)), ("fc.bias", (1000,))), 148557824),
    "resnet34": (21797672, 218, ("conv1.weight", (64, 3, 7, 7)),
                 (("fc.weight", (1000, 512)), ("fc.bias", (1000,))), 299552768),
    "resnet50": (25557032, 320, ("conv1.weight", (64, 3, 7, 7)),
                 (("fc.weight", (1000, 2048)), ("fc.bias", (1000,))), 335691776),
    "resnet101": (44549160, 626, ("conv1.weight", (64, 3, 7, 7)),
                  (("fc.weight", (1000, 2048)), ("fc.bias", (1000,))), 638730240),
    "resnet152": (60192808, 932, ("conv1.weight", (64, 3, 7, 7)),
                  (("fc.weight", (1000, 2048)), ("fc.bias", (1000,))), 941768704),
    "resnext50_32x4d": (25028904, 320, ("conv1.weight", (64, 3, 7, 7)),
                        (("fc.weight", (1000, 2048)), ("fc.bias", (1000,))), 347226112),
    "densenet121": (7978856, 727, ("features.conv0.weight", (64, 3, 7, 7)),
                    (("classifier.weight", (1000, 1024)), ("classifier.bias", (1000,))), 232300544),
    "densenet169": (14149480, 1015, ("features.conv0.weight", (64, 3, 7, 7)),
                    (("classifier.weight", (1000, 1664)), ("classifier.bias", (1000,))), 275801088),
    "nin_d2l": (1992166, 24, ("0.0.weight", (96, 1, 11, 11)),
                (("7.4.weight", (10, 10, 1, 1)), ("7.4.bias", (10,))), None),
    "alexnet_d2l": (46764746, 16, ("0.weight", (96, 1, 11, 11)),
                    (("20.weight", (10, 4096)), ("20.bias", (10,))), None),
}
REF_JSON = Path(__file__).parent / "data" / "torchvision_models.json"
BUILDERS = {name: getattr(models, name) for name in REF if not name.endswith("_d2l")}
BUILDERS.update(nin_d2l=models.nin, alexnet_d2l=models.alexnet_d2l)
# torchvision builders that the JSON leaves out: torchvision's documented parameter counts, and the
# torchvision comparison when it is installed.
EXTRA_TV = {"vgg13_bn": 133053736, "vgg19_bn": 143678248, "densenet161": 28681000, "densenet201": 20013928}
BUILDERS.update({name: getattr(models, name) for name in EXTRA_TV})
# Our public names for torchvision's private DenseNet classes.
TV_CLASS = {"DenseLayer": "_DenseLayer", "DenseBlock": "_DenseBlock", "Transition": "_Transition"}


def _n_params(model):
    return sum(int(p.numel()) for p in model.parameters())


def _keys(model):
    return [[k, list(v.shape)] for k, v in model.state_dict().items()]


def _type_counts(model, root=True):
    mods = list(model.modules()) if root else list(model.modules())[1:]
    return Counter(TV_CLASS.get(type(m).__name__, type(m).__name__) for m in mods)


# Built once per name and shared by the reference test and the torchvision structure test (module-scoped
# parametrized fixtures run every test of one name before building the next, so one model is alive at a time).
# The random initialisers are switched off while building (shapes and names need no values; drawing 140M
# normals per VGG would dominate the run time). Initialisation is tested in test_*_init* below.
_RANDOM_INITS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                 "xavier_uniform_", "xavier_normal_")


def _uninitialised(builder, **kwargs):
    """``builder(**kwargs)`` with the random initialisers off (for shape tests and models loaded afterwards)."""
    with pytest.MonkeyPatch.context() as mp:
        for fn in _RANDOM_INITS:
            mp.setattr(nn.init, fn, lambda tensor, *args, **kw: tensor)
        return builder(**kwargs)


@pytest.fixture(scope="module", params=list(REF) + list(EXTRA_TV))
def built(request):
    return request.param, _uninitialised(BUILDERS[request.param])


def test_params_and_keys_match_reference(built):
    name, model = built
    if name in EXTRA_TV:  # torchvision's documented counts
        assert _n_params(model) == EXTRA_TV[name]
        return
    params, n_keys, first, last, _ = REF[name]
    assert _n_params(model) == params
    keys = [(k, tuple(v.shape)) for k, v in model.state_dict().items()]
    assert len(keys) == n_keys
    assert keys[0] == first and tuple(keys[-2:]) == last
    full = json.loads(REF_JSON.read_text())[name]
    assert _keys(model)[:5] == full["state_dict_first5"] and _keys(model)[-5:] == full["state_dict_last5"]
    assert dict(_type_counts(model, root=False)) == full["module_type_counts"]
    assert len(list(model.parameters())) == full["num_param_tensors"]


@pytest.mark.parametrize("name", ["alexnet", "googlenet", "resnet18", "densenet121"])
def test_macs_and_output_shape_at_64(name):
    s = summary(BUILDERS[name](), (3, 64, 64))
    assert s.total_macs == REF[name][4]
    assert s.rows[-1].output_shape == (1, 1000)


def test_small_variants_shapes_and_counts():
    # d2l shapes (reference module_output_shapes_eval): NiN ends 10x5x5 -> 10; AlexNet-d2l flattens 6400.
    with tinycnn.no_grad():
        assert models.nin().eval()(tinycnn.randn(1, 1, 224, 224)).shape == (1, 10)
        small = models.resnet18_small().eval()
        assert small(tinycnn.randn(2, 1, 28, 28)).shape == (2, 10)
        assert small(tinycnn.randn(1, 1, 96, 96)).shape == (1, 10)
    # resnet18 less 3->1 stem channels (64 * 2 * 49) and a 10-class head instead of 1000
    assert _n_params(models.resnet18_small()) == 11689512 - 64 * 2 * 49 - 507870 == 11175370
    assert _n_params(models.resnet18(num_classes=10)) == 11689512 - 507870
    vs = _uninitialised(models.vgg_small)  # d2l: VGG-11 widths / 4 on 1x224x224, classifier 3136 -> 4096 -> 4096 -> 10
    assert [blk[0].out_channels for blk in list(vs)[:5]] == [16, 32, 64, 128, 128]
    assert vs[6].in_features == 128 * 7 * 7
    assert _n_params(vs) == sum(9 * i * o + o for i, o in [(1, 16), (16, 32), (32, 64), (64, 64), (64, 128),
                                                          (128, 128), (128, 128), (128, 128)]) \
        + 6272 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 10 + 10
    assert models.vgg_small(ratio=8, input_size=64)[6].in_features == 64 * 2 * 2
    with pytest.raises(ValueError, match="too small"):
        models.vgg_small(input_size=16)


def test_vgg_configs_and_blocks():
    assert list(models.cfgs) == ["vgg11", "vgg13", "vgg16", "vgg19"]
    for name, cfg in models.cfgs.items():
        convs = sum(v != "M" for v in cfg)
        assert convs + 3 == int(name[3:]) and cfg.count("M") == 5  # depth = convs + 3 fc layers
        plain, bn = models.make_layers(cfg), models.make_layers(cfg, batch_norm=True)
        assert len(plain) == 2 * convs + 5 and len(bn) == 3 * convs + 5
    blk = models.vgg_block(2, 3, 8)
    assert [type(m).__name__ for m in blk] == ["Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d"]
    assert blk(tinycnn.randn(1, 3, 8, 8)).shape == (1, 8, 4, 4)
    with pytest.raises(ValueError, match="positive ints and 'M'"):
        models.make_layers([64, "X"])


def test_nin_block_is_conv_plus_two_1x1():
    blk = models.nin_block(3, 5, 3, 2, 1)
    kinds = [(type(m).__name__, getattr(m, "kernel_size", None)) for m in blk]
    assert kinds == [("Conv2d", (3, 3)), ("ReLU", None), ("Conv2d", (1, 1)), ("ReLU", None),
                     ("Conv2d", (1, 1)), ("ReLU", None)]
    assert blk(tinycnn.randn(2, 3, 9, 9)).shape == (2, 5, 5, 5)


def test_googlenet_aux_outputs_only_in_training():
    model = models.googlenet(num_classes=7)
    x = tinycnn.randn(2, 3, 64, 64)
    out = model.train()(x)
    assert isinstance(out, models.GoogLeNetOutputs) and out._fields == ("logits", "aux_logits2", "aux_logits1")
    assert [tuple(o.shape) for o in out] == [(2, 7)] * 3
    with tinycnn.no_grad():
        assert isinstance(model.eval()(x), tinycnn.Tensor)
        assert model(x).shape == (2, 7)
    plain = models.googlenet(num_classes=7, aux_logits=False)
    assert plain.aux1 is None and plain.aux2 is None
    assert isinstance(plain.train()(x), tinycnn.Tensor)
    # without the aux heads: torchvision's documented 6,624,904 parameters and 344 keys
    no_aux = models.googlenet(aux_logits=False)
    assert _n_params(no_aux) == 6624904 and len(no_aux.state_dict()) == 344


def _np_cross_entropy(logits, target):
    z = logits - logits.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return -logp[np.arange(len(target)), target].mean()


def test_googlenet_loss_weights_aux_by_0_3():
    rng = np.random.default_rng(0)
    logits = [rng.standard_normal((4, 5)).astype(np.float32) for _ in range(3)]
    target = np.array([0, 3, 1, 4])
    out = models.GoogLeNetOutputs(*(tinycnn.tensor(a) for a in logits))
    ce = [_np_cross_entropy(a, target) for a in logits]
    got = models.googlenet_loss(out, tinycnn.tensor(target)).item()
    assert got == pytest.approx(ce[0] + 0.3 * ce[1] + 0.3 * ce[2], rel=1e-5)
    got = models.googlenet_loss(out, tinycnn.tensor(target), aux_weight=1.0).item()
    assert got == pytest.approx(sum(ce), rel=1e-5)
    assert models.googlenet_loss(out.logits, tinycnn.tensor(target)).item() == pytest.approx(ce[0], rel=1e-5)


def test_registry():
    names = models.list_models()
    for name in ["alexnet", "alexnet_d2l", "vgg11", "vgg16_bn", "vgg19_bn", "vgg_small", "nin", "googlenet",
                 "resnet18", "resnet152", "resnext50_32x4d", "resnet18_small", "densenet121", "densenet169"]:
        assert name in names
    assert names == sorted(names)
    assert models.get_model("resnet18", num_classes=10).fc.out_features == 10
    assert models.get_model("nin", num_classes=4)[7][0].out_channels == 4
    with pytest.raises(ValueError, match="unknown model"):
        models.get_model("resnet17")


def test_resnet_init_and_zero_init_residual():
    tinycnn.manual_seed(0)
    model = models.resnet50(zero_init_residual=True)
    w = model.layer3[0].conv2.weight.numpy()  # He normal, fan_out = 256 * 9: std = sqrt(2 / 2304)
    assert abs(w.std() / math.sqrt(2 / (256 * 9)) - 1) < 0.02
    assert np.all(model.layer1[0].bn3.weight.numpy() == 0) and np.all(model.bn1.weight.numpy() == 1)
    assert np.all(models.resnet18(zero_init_residual=True).layer2[1].bn2.weight.numpy() == 0)
    with pytest.raises(ValueError, match="BasicBlock only supports"):
        models.resnet.BasicBlock(64, 64, groups=2)


def test_initialisations_follow_torchvision():
    tinycnn.manual_seed(0)
    g = models.googlenet()  # truncated N(0, 0.01) for every conv and linear weight, BN 1/0
    for w in (g.fc.weight, g.inception4a.branch2[1].conv.weight, g.aux1.fc1.weight):
        assert abs(w.numpy().std() / 0.01 - 1) < 0.05
    assert np.all(g.conv1.bn.weight.numpy() == 1) and np.all(g.conv1.bn.bias.numpy() == 0)
    d = models.densenet121()  # He normal fan_in for convs, zero Linear bias
    w = d.features.denseblock3.denselayer1.conv2.weight.numpy()  # fan_in = 128 * 9
    assert abs(w.std() / math.sqrt(2 / (128 * 9)) - 1) < 0.02
    assert np.all(d.classifier.bias.numpy() == 0)
    small = nn.Sequential(models.make_layers([16, "M"], batch_norm=True), nn.Flatten(), nn.Linear(256, 300))
    models.vgg._init_vgg(small)  # VGG: He normal fan_out convs, zero biases, Linear N(0, 0.01)
    conv, lin = small[0][0], small[2]
    assert abs(conv.weight.numpy().std() / math.sqrt(2 / (16 * 9)) - 1) < 0.1
    assert np.all(conv.bias.numpy() == 0) and np.all(lin.bias.numpy() == 0)
    assert abs(lin.weight.numpy().std() / 0.01 - 1) < 0.02


# ---- training ---------------------------------------------------------------------------------------------
def _train_step(model, x, target, loss_fn=None, lr=0.01):
    loss_fn = loss_fn or nn.functional.cross_entropy
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    opt.zero_grad()
    loss = loss_fn(model(x), target)
    loss.backward()
    before = {n: p.numpy().copy() for n, p in model.named_parameters()}
    opt.step()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"no gradient for {missing[:5]}"
    assert all(np.isfinite(p.grad.numpy()).all() for p in model.parameters())
    moved = sum(not np.array_equal(before[n], p.numpy()) for n, p in model.named_parameters())
    assert moved >= 0.9 * len(before)  # (BN betas may legitimately get a zero gradient)
    return loss.item()


FAMILIES = {  # a cheap member of each family, its input and its classes
    "alexnet": (lambda: models.alexnet(num_classes=5), (2, 3, 64, 64), 5),
    "vgg": (lambda: models.vgg_small(ratio=16, input_size=32, num_classes=5), (2, 1, 32, 32), 5),
    "vgg_bn": (lambda: nn.Sequential(models.make_layers([8, "M", 16, "M"], batch_norm=True), nn.Flatten(),
                                     nn.Linear(16 * 4 * 4, 5)), (2, 3, 16, 16), 5),
    "nin": (lambda: models.nin(num_classes=5), (2, 1, 67, 67), 5),
    "resnet": (lambda: models.resnet18_small(num_classes=5), (2, 1, 28, 28), 5),
    "resnext": (lambda: models.ResNet(models.Bottleneck, [1, 1, 1, 1], num_classes=5, groups=4,
                                      width_per_group=4), (2, 3, 32, 32), 5),
    "densenet": (lambda: models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16,
                                         num_classes=5), (2, 3, 32, 32), 5),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_one_training_step(family):
    build, shape, classes = FAMILIES[family]
    tinycnn.manual_seed(0)
    model = build().train()
    x = tinycnn.randn(*shape)
    loss = _train_step(model, x, tinycnn.tensor(np.arange(shape[0]) % classes))
    assert math.isfinite(loss)


def test_googlenet_training_step_reaches_aux_heads():
    tinycnn.manual_seed(0)
    model = models.googlenet(num_classes=5).train()
    _train_step(model, tinycnn.randn(2, 3, 64, 64), tinycnn.tensor(np.array([1, 3])),
                loss_fn=models.googlenet_loss)
    assert model.aux1.fc2.weight.grad is not None and model.aux2.conv.conv.weight.grad is not None


def test_loss_falls_on_a_fixed_batch():
    tinycnn.manual_seed(0)
    model = models.resnet18_small(num_classes=4).train()
    x = tinycnn.randn(8, 1, 28, 28)
    target = tinycnn.tensor(np.arange(8) % 4)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(4):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] and min(losses[1:]) < losses[0]


# ---- against torchvision ------------------------------------------------------------------------------------
def _torchvision():
    torch = pytest.importorskip("torch")
    tvm = pytest.importorskip("torchvision.models")
    return torch, tvm


def _tv_build(name, meta=False, **kwargs):
    torch, tvm = _torchvision()
    if name == "googlenet":
        kwargs.setdefault("init_weights", True)
        kwargs.setdefault("aux_logits", True)
    torch.manual_seed(0)
    if meta:  # shapes only: no memory, no initialisation cost
        with torch.device("meta"):
            return getattr(tvm, name)(**kwargs)
    return getattr(tvm, name)(**kwargs)


def test_structure_matches_torchvision(built):
    name, model = built
    if name.endswith("_d2l"):
        torch = pytest.importorskip("torch")
        ref = _torch_d2l(torch, name)
    else:
        ref = _tv_build(name, meta=True)
    assert _keys(model) == [[k, list(v.shape)] for k, v in ref.state_dict().items()]
    assert _n_params(model) == sum(p.numel() for p in ref.parameters())
    assert _type_counts(model) == _type_counts(ref)
    assert layer_settings(model) == layer_settings(ref)


def _randomize_bn(ref, torch):
    """Non-trivial BatchNorm statistics and affine parameters, so eval-mode BN is really tested."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)


def _compare_eval(model, ref, torch, x):
    _randomize_bn(ref, torch)
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    model.eval()
    ref.eval()
    with tinycnn.no_grad():
        out = model(tinycnn.tensor(x)).numpy()
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() <= 1e-4 * np.abs(expected).max()


# The heavy ones (vgg16/19, resnet101/152, densenet169) are covered by the structure tests only.
# vgg11_bn runs at 32x32 (its 1x1 feature map is copied to 7x7 by the adaptive pool), the rest at 64x64.
EVAL_TV = {"alexnet": {}, "vgg11_bn": {}, "googlenet": {"transform_input": True}, "resnet18": {},
           "resnet50": {}, "resnext50_32x4d": {}, "densenet121": {}}


@pytest.mark.parametrize("name", list(EVAL_TV))
def test_eval_output_matches_torchvision(name):
    torch, _ = _torchvision()
    ref = _tv_build(name, **EVAL_TV[name])
    side = 32 if name.startswith("vgg") else 64
    x = np.random.default_rng(0).standard_normal((1, 3, side, side)).astype(np.float32)
    _compare_eval(_uninitialised(getattr(models, name), **EVAL_TV[name]), ref, torch, x)


def _torch_d2l(torch, name):
    """d2l.ai's code for its Fashion-MNIST models, as the reference JSON defines them."""
    tnn = torch.nn
    if name in ("nin", "nin_d2l"):
        def blk(i, o, k, s, p):
            return tnn.Sequential(tnn.Conv2d(i, o, k, s, p), tnn.ReLU(), tnn.Conv2d(o, o, 1), tnn.ReLU(),
                                  tnn.Conv2d(o, o, 1), tnn.ReLU())
        return tnn.Sequential(blk(1, 96, 11, 4, 0), tnn.MaxPool2d(3, 2), blk(96, 256, 5, 1, 2), tnn.MaxPool2d(3, 2),
                              blk(256, 384, 3, 1, 1), tnn.MaxPool2d(3, 2), tnn.Dropout(0.5),
                              blk(384, 10, 3, 1, 1), tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten())
    if name == "alexnet_d2l":
        return tnn.Sequential(
            tnn.Conv2d(1, 96, 11, 4, 1), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(96, 256, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(3, 2),
            tnn.Conv2d(256, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 384, 3, padding=1), tnn.ReLU(),
            tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2), tnn.Flatten(),
            tnn.Linear(6400, 4096), tnn.ReLU(), tnn.Dropout(0.5), tnn.Linear(4096, 4096), tnn.ReLU(),
            tnn.Dropout(0.5), tnn.Linear(4096, 10))
    if name == "vgg_small":
        blocks, c = [], 1
        for n, o in ((1, 16), (1, 32), (2, 64), (2, 128), (2, 128)):
            layers = []
            for _ in range(n):
                layers += [tnn.Conv2d(c, o, 3, padding=1), tnn.ReLU()]
                c = o
            blocks.append(tnn.Sequential(*layers, tnn.MaxPool2d(2, 2)))
        return tnn.Sequential(*blocks, tnn.Flatten(), tnn.Linear(128 * 7 * 7, 4096), tnn.ReLU(),
                              tnn.Dropout(0.5), tnn.Linear(4096, 4096), tnn.ReLU(), tnn.Dropout(0.5),
                              tnn.Linear(4096, 10))
    raise KeyError(name)


def test_d2l_models_match_torch_code():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    x = np.random.default_rng(0).standard_normal((1, 1, 224, 224)).astype(np.float32)
    for name, ours in [("nin", models.nin), ("alexnet_d2l", models.alexnet_d2l)]:
        _compare_eval(_uninitialised(ours), _torch_d2l(torch, name), torch, x)
    # d2l's VGG ("vgg(small_conv_arch)"): structure only (its 224x224 forward is the slowest here)
    ref = _torch_d2l(torch, "vgg_small")
    assert _keys(_uninitialised(models.vgg_small)) == [[k, list(v.shape)] for k, v in ref.state_dict().items()]


def _grads_match(model, ref, rtol=1e-6):
    grads = {n: p.grad for n, p in ref.named_parameters()}
    for n, p in model.named_parameters():
        g, expected = p.grad.numpy(), grads[n].numpy()
        scale = max(np.abs(expected).max(), 1e-12)
        assert np.abs(g - expected).max() <= rtol * scale, n


# Train mode runs in float64: with batch 2 at 64x64 the last BatchNorms normalise over 8 values, which
# amplifies float32 rounding in the gradients to ~0.3% of their size (float64 agrees to ~1e-12).
def test_resnet18_train_step_matches_torchvision():
    """Train mode: BatchNorm uses the batch statistics and updates running stats; compare loss and grads."""
    torch, _ = _torchvision()
    ref = _tv_build("resnet18", num_classes=10).double()
    _randomize_bn(ref, torch)
    model = models.resnet18(num_classes=10).double()
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(2).standard_normal((2, 3, 64, 64))
    target = np.array([3, 7])
    loss = nn.functional.cross_entropy(model.train()(tinycnn.tensor(x)), tinycnn.tensor(target))
    loss.backward()
    ref_loss = torch.nn.functional.cross_entropy(ref.train()(torch.from_numpy(x)), torch.from_numpy(target))
    ref_loss.backward()
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9)
    _grads_match(model, ref)
    running = ref.state_dict()["layer2.0.bn1.running_var"].numpy()
    assert np.allclose(model.state_dict()["layer2.0.bn1.running_var"].numpy(), running, rtol=1e-9)


def test_googlenet_train_outputs_match_torchvision():
    """Train mode with the aux heads (dropout off so both sides are deterministic): outputs, loss, grads."""
    torch, _ = _torchvision()
    kwargs = dict(num_classes=10, dropout=0.0, dropout_aux=0.0)
    ref = _tv_build("googlenet", **kwargs).double()
    model = models.googlenet(**kwargs).double()
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64))
    target = np.array([1, 8])
    out = model.train()(tinycnn.tensor(x))
    ref_out = ref.train()(torch.from_numpy(x))
    assert type(ref_out).__name__ == type(out).__name__ == "GoogLeNetOutputs"
    for o, r in zip(out, ref_out):
        r = r.detach().numpy()
        assert np.abs(o.numpy() - r).max() <= 1e-9 * np.abs(r).max()
    loss = models.googlenet_loss(out, tinycnn.tensor(target))
    t = torch.from_numpy(target)
    ref_loss = sum(w * torch.nn.functional.cross_entropy(r, t) for w, r in zip((1, 0.3, 0.3), ref_out))
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9)
    loss.backward()
    ref_loss.backward()
    _grads_match(model, ref)


def test_googlenet_module_has_torchvision_names():
    googlenet_module = importlib.import_module("tinycnn.models.googlenet")
    for name in ["BasicConv2d", "Inception", "InceptionAux", "GoogLeNetOutputs", "googlenet_loss"]:
        assert hasattr(googlenet_module, name)
