"""The torchvision families added to the zoo: Inception v3, EfficientNet B1-B7, Wide ResNet, ResNeXt-101,
ShuffleNet V2 x1.5 / x2.0.

Always (no torch needed): parameter counts, state-dict sizes, first and last keys (torchvision 0.29.1's, copied
below); the compound-scaling rule; Inception v3's outputs in train and eval mode. Against torchvision (the
``torchvision`` fixture): every key and shape, module types and layer settings, eval-mode outputs with
torchvision's weights loaded (BatchNorm statistics randomised), Inception v3 in train mode at 299x299 with its
auxiliary head, and train-mode gradients of the auxiliary head and of a wide grouped bottleneck.
"""
import math

import numpy as np
import pytest
from model_helpers import (assert_eval_matches, assert_grads_match_torch, keys_and_shapes, layer_settings,
                           load_from_torch, n_params, randomize_batchnorm, type_counts, uninitialised)

import tinycnn
from tinycnn import models, nn
import tinycnn.models.efficientnet as eff

# name: (parameters, state-dict keys, first key and shape, last key and shape), from torchvision 0.29.1
REF = {
    "inception_v3": (27161264, 580, ("Conv2d_1a_3x3.conv.weight", (32, 3, 3, 3)), ("fc.bias", (1000,))),
    "efficientnet_b1": (7794184, 508, ("features.0.0.weight", (32, 3, 3, 3)), ("classifier.1.bias", (1000,))),
    "efficientnet_b2": (9109994, 508, ("features.0.0.weight", (32, 3, 3, 3)), ("classifier.1.bias", (1000,))),
    "efficientnet_b3": (12233232, 574, ("features.0.0.weight", (40, 3, 3, 3)), ("classifier.1.bias", (1000,))),
    "efficientnet_b4": (19341616, 706, ("features.0.0.weight", (48, 3, 3, 3)), ("classifier.1.bias", (1000,))),
    "efficientnet_b5": (30389784, 854, ("features.0.0.weight", (48, 3, 3, 3)), ("classifier.1.bias", (1000,))),
    "efficientnet_b6": (43040704, 986, ("features.0.0.weight", (56, 3, 3, 3)), ("classifier.1.bias", (1000,))),
    "efficientnet_b7": (66347960, 1200, ("features.0.0.weight", (64, 3, 3, 3)), ("classifier.1.bias", (1000,))),
    "wide_resnet50_2": (68883240, 320, ("conv1.weight", (64, 3, 7, 7)), ("fc.bias", (1000,))),
    "wide_resnet101_2": (126886696, 626, ("conv1.weight", (64, 3, 7, 7)), ("fc.bias", (1000,))),
    "resnext101_32x8d": (88791336, 626, ("conv1.weight", (64, 3, 7, 7)), ("fc.bias", (1000,))),
    "resnext101_64x4d": (83455272, 626, ("conv1.weight", (64, 3, 7, 7)), ("fc.bias", (1000,))),
    "shufflenet_v2_x1_5": (3503624, 338, ("conv1.0.weight", (24, 3, 3, 3)), ("fc.bias", (1000,))),
    "shufflenet_v2_x2_0": (7393996, 338, ("conv1.0.weight", (24, 3, 3, 3)), ("fc.bias", (1000,))),
}
# The smallest side each runs at in the output comparison (Inception v3's documented minimum is 75).
SIDE = {"inception_v3": 75}


@pytest.fixture(scope="module", params=list(REF))
def built(request):
    """One uninitialised model per name, shared by the tests of that name (one alive at a time)."""
    return request.param, uninitialised(getattr(models, request.param))


def test_params_and_keys(built):
    name, model = built
    params, n_keys, first, last = REF[name]
    keys = keys_and_shapes(model)
    assert n_params(model) == params
    assert len(keys) == n_keys and keys[0] == first and keys[-1] == last
    assert name in models.list_models()


def test_structure_matches_torchvision(built, torchvision):
    import torch
    name, model = built
    kwargs = {"init_weights": False} if name == "inception_v3" else {}
    with torch.device("meta"):
        ref = getattr(torchvision.models, name)(**kwargs)
    assert keys_and_shapes(model) == [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert n_params(model) == sum(p.numel() for p in ref.parameters())
    assert type_counts(model) == type_counts(ref)
    assert layer_settings(model) == layer_settings(ref)


def test_eval_output_matches_torchvision(built, torchvision):
    import torch
    name, model = built
    kwargs = {"init_weights": True, "transform_input": True} if name == "inception_v3" else {}
    torch.manual_seed(0)
    ref = getattr(torchvision.models, name)(**kwargs)
    randomize_batchnorm(ref, torch)
    if name == "inception_v3":  # the ImageNet re-normalisation too (the fixture's model was built without it)
        model.transform_input = True
    side = SIDE.get(name, 32)
    x = np.random.default_rng(0).standard_normal((1, 3, side, side)).astype(np.float32)
    assert_eval_matches(model, ref, torch, x)


# ---- EfficientNet's compound scaling ------------------------------------------------------------------------
def test_compound_scaling_rule():
    import doctest
    runner = doctest.DocTestRunner()
    for example in doctest.DocTestFinder().find(eff.compound_scaling, "compound_scaling", globs=vars(eff)):
        runner.run(example)
    assert runner.tries >= 2 and runner.failures == 0
    # the paper's constraint alpha * beta^2 * gamma^2 ~= 2: each step of phi about doubles the cost
    assert eff.ALPHA * eff.BETA ** 2 * eff.GAMMA ** 2 == pytest.approx(1.92, abs=0.005)
    for phi in (1, 2, 3.5):
        d, w, r = eff.compound_scaling(phi)
        assert (d, w) == (pytest.approx(1.2 ** phi), pytest.approx(1.1 ** phi))
        assert r == round(224 * 1.15 ** phi)
        assert d * w * w * (r / 224) ** 2 == pytest.approx(1.92 ** phi, rel=0.01)
    with pytest.raises(ValueError, match="phi must be >= 0"):
        eff.compound_scaling(-1)
    with pytest.raises(ValueError, match="alpha must be >= 1"):
        eff.compound_scaling(1, alpha=0.9)


def test_scale_b0_applies_the_rule_to_each_stage():
    b0 = eff.scale_b0()
    assert [(c.input_channels, c.out_channels, c.num_layers) for c in b0] == \
        [(row[3], row[4], row[5]) for row in eff.B0_SETTINGS]
    b7 = eff.scale_b0(2.0, 3.1)
    for cfg, row in zip(b7, eff.B0_SETTINGS):
        assert cfg.out_channels == models.mobilenet_common.make_divisible(row[4] * 2.0)
        assert cfg.num_layers == math.ceil(row[5] * 3.1)
        assert (cfg.expand_ratio, cfg.kernel, cfg.stride) == row[:3]
    assert sum(c.num_layers for c in b7) == 55 and sum(c.num_layers for c in b0) == 16
    with pytest.raises(ValueError, match="multipliers must be positive"):
        eff.scale_b0(0, 1)
    with pytest.raises(ValueError, match="variant must be one of"):
        models.build_efficientnet("b8")


def test_efficientnet_variants_follow_the_table():
    for variant, scale in eff.EFFICIENTNET_SCALES.items():
        model = uninitialised(getattr(models, f"efficientnet_{variant}"))
        assert model.classifier[0].p == scale.dropout
        assert model.features[0][0].out_channels == models.mobilenet_common.make_divisible(32 * scale.width_mult)
        assert model.classifier[1].in_features == 4 * models.mobilenet_common.make_divisible(320 * scale.width_mult)
        bn = model.features[0][1]
        assert (bn.eps, bn.momentum) == ((1e-3, 0.01) if variant in ("b5", "b6", "b7") else (1e-5, 0.1))
        assert models.default_input_size(f"efficientnet_{variant}") == (3, scale.resolution, scale.resolution)
        blocks = [m for m in model.modules() if isinstance(m, models.MBConv)]
        assert blocks[-1].stochastic_depth.p == pytest.approx(0.2 * (len(blocks) - 1) / len(blocks))
    # a variant's dropout is overridable, and B0 keeps its torchvision signature
    assert uninitialised(models.efficientnet_b3, dropout=0.1).classifier[0].p == 0.1
    assert n_params(uninitialised(models.build_efficientnet, variant="b0")) == 5288548


# ---- the wide and grouped bottlenecks --------------------------------------------------------------------
def test_wide_and_grouped_bottleneck_widths():
    wide = uninitialised(models.wide_resnet50_2)
    assert wide.layer1[0].conv1.out_channels == 128 and wide.layer1[0].conv3.out_channels == 256
    assert wide.layer4[0].conv2.weight.shape == (1024, 1024, 3, 3)
    x8d = uninitialised(models.resnext101_32x8d)
    assert x8d.layer1[0].conv2.groups == 32 and x8d.layer1[0].conv2.weight.shape == (256, 8, 3, 3)
    x4d = uninitialised(models.resnext101_64x4d)
    assert x4d.layer1[0].conv2.groups == 64 and x4d.layer1[0].conv2.weight.shape == (256, 4, 3, 3)
    assert len(x4d.layer3) == 23


def test_wide_grouped_bottleneck_train_step_matches_torchvision(torchvision):
    """Train mode (batch statistics) in float64: loss, every gradient and the updated running statistics."""
    import torch
    from torchvision.models.resnet import Bottleneck, ResNet
    torch.manual_seed(0)
    ref = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=5, groups=4, width_per_group=32).double()
    model = models.ResNet(models.Bottleneck, [1, 1, 1, 1], num_classes=5, groups=4, width_per_group=32).double()
    randomize_batchnorm(ref, torch)
    load_from_torch(model, ref)
    x = np.random.default_rng(1).standard_normal((2, 3, 32, 32))
    y = np.array([1, 4])
    loss = nn.functional.cross_entropy(model.train()(tinycnn.tensor(x)), tinycnn.tensor(y))
    ref_loss = torch.nn.functional.cross_entropy(ref.train()(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    ref_loss.backward()
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9)
    assert_grads_match_torch(model, ref)
    state = ref.state_dict()
    for key, v in model.state_dict().items():
        np.testing.assert_allclose(v.numpy(), state[key].numpy(), rtol=1e-9, atol=1e-12, err_msg=key)


# ---- Inception v3 ----------------------------------------------------------------------------------------
def test_inception_v3_outputs_and_aux_head():
    model = models.inception_v3(num_classes=7, aux_logits=False)
    assert model.AuxLogits is None and n_params(model) == 27161264 - 3326696 - (1000 - 7) * 2049
    x = tinycnn.randn(2, 3, 75, 75)
    with tinycnn.no_grad():
        assert model.eval()(x).shape == (2, 7)
        assert isinstance(model.train()(x), tinycnn.Tensor)   # no aux head: plain logits in training too
    with pytest.raises(ValueError):
        model.eval()(tinycnn.randn(1, 3, 64, 64))              # below the 75x75 minimum a pool has no window


def test_inception_v3_init():
    tinycnn.manual_seed(0)
    model = models.inception_v3(num_classes=10)
    for w, std in ((model.Mixed_6b.branch7x7_2.conv.weight, 0.1), (model.fc.weight, 0.1),
                   (model.AuxLogits.conv1.conv.weight, 0.1), (model.AuxLogits.fc.weight, 0.001)):
        assert abs(w.numpy().std() / std - 1) < 0.05
    assert np.all(model.Mixed_7c.branch_pool.bn.weight.numpy() == 1)
    # torchvision's 0.01 mark on the aux 5x5 conv block is not read (it is not on the Conv2d): as there, 0.1
    assert model.AuxLogits.fc.stddev == 0.001 and not hasattr(model.AuxLogits.conv1.conv, "stddev")


def test_inception_v3_loss():
    logits = tinycnn.tensor(np.array([[2.0, 0.0], [0.0, 1.0]], dtype=np.float32))
    aux = tinycnn.tensor(np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32))
    target = tinycnn.tensor(np.array([0, 1]))
    ce = nn.functional.cross_entropy
    expected = ce(logits, target).item() + 0.4 * ce(aux, target).item()
    assert models.inception_v3_loss(models.InceptionOutputs(logits, aux), target).item() == pytest.approx(expected)
    assert models.inception_v3_loss(logits, target).item() == pytest.approx(ce(logits, target).item())


def test_inception_v3_train_mode_at_299_matches_torchvision(torchvision):
    """The full-size path in training mode (batch statistics, auxiliary head on the 17x17 grid), dropout off."""
    import torch
    torch.manual_seed(0)
    ref = torchvision.models.inception_v3(init_weights=True, aux_logits=True, dropout=0.0)
    model = uninitialised(models.inception_v3, dropout=0.0)
    load_from_torch(model, ref)
    x = np.random.default_rng(3).standard_normal((2, 3, 299, 299)).astype(np.float32)
    with tinycnn.no_grad():
        out = model.train()(tinycnn.tensor(x))
    with torch.no_grad():
        expected = ref.train()(torch.from_numpy(x))
    assert type(out).__name__ == type(expected).__name__ == "InceptionOutputs"
    for ours, theirs in zip(out, expected):
        theirs = theirs.numpy()
        assert np.abs(ours.numpy() - theirs).max() <= 1e-3 * np.abs(theirs).max()


def test_inception_aux_head_train_step_matches_torchvision(torchvision):
    import torch
    from torchvision.models.inception import InceptionAux
    torch.manual_seed(0)
    ref = InceptionAux(768, 10).double()
    model = models.inception.InceptionAux(768, 10).double()
    randomize_batchnorm(ref, torch)
    load_from_torch(model, ref)
    x = np.random.default_rng(4).standard_normal((3, 768, 17, 17))
    y = np.array([0, 5, 9])
    loss = nn.functional.cross_entropy(model.train()(tinycnn.tensor(x)), tinycnn.tensor(y))
    ref_loss = torch.nn.functional.cross_entropy(ref.train()(torch.from_numpy(x)), torch.from_numpy(y))
    loss.backward()
    ref_loss.backward()
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-9)
    assert_grads_match_torch(model, ref)
