"""tinycnn.utils: summary tables, receptive fields, output-size and parameter formulas."""
import doctest
import importlib

import numpy as np
import pytest

import tinycnn
from tinycnn import nn
from tinycnn.utils import conv_output_size, conv_params, receptive_field, stack_receptive_field, summary


# ---- sizes -----------------------------------------------------------------------------------------------
def test_notes_bottleneck_example():
    # GoogLeNet's inception (4b): 5x5 conv 512 -> 64 directly vs. a 1x1 reduction to 24 channels first
    assert conv_params(512, 64, 5, bias=False) == 819_200
    assert conv_params(512, 24, 1, bias=False) + conv_params(24, 64, 5, bias=False) == 50_688
    assert conv_params(3, 10, 3) == 280                       # 10 filters 3x3x3 + bias = 280
    assert conv_params(32, 64, 3, groups=32) == 64 * 9 + 64   # grouped: each output sees 1 input channel


def test_doctests():
    # (the package re-exports functions under the submodules' names, so fetch the modules themselves)
    for name in ("sizes", "receptive_field", "summary"):
        assert doctest.testmod(importlib.import_module(f"tinycnn.utils.{name}")).failed == 0


def test_conv_output_size_matches_torch():
    torch = pytest.importorskip("torch")
    cases = [(28, 5, 1, 2, 1, False), (227, 11, 4, 0, 1, False), (13, 3, 2, 0, 1, True), (14, 3, 2, 1, 1, True),
             (7, 2, 2, 0, 1, True), (5, 2, 2, 1, 1, True), (32, 3, 1, 1, 2, False), (10, 3, 3, 1, 1, True)]
    for size, k, s, p, d, ceil in cases:
        pool = torch.nn.MaxPool2d(k, s, p, dilation=d, ceil_mode=ceil)
        expected = pool(torch.zeros(1, 1, size, size)).shape[-1]
        assert conv_output_size(size, k, s, p, d, ceil) == expected, (size, k, s, p, d, ceil)
    assert conv_output_size((32, 28), (5, 3), padding=(0, 1)) == (28, 28)
    with pytest.raises(ValueError, match="smaller than"):
        conv_output_size(3, 5)
    with pytest.raises(ValueError, match="divisible by groups"):
        conv_params(6, 4, 3, groups=4)


def test_conv_params_match_layers():
    for args, kwargs in [((3, 6, 5), {}), ((16, 32, (3, 1)), {"bias": False}), ((8, 8, 3), {"groups": 8})]:
        layer = nn.Conv2d(*args, **kwargs)
        assert sum(int(p.numel()) for p in layer.parameters()) == conv_params(*args, **kwargs)


# ---- receptive field -------------------------------------------------------------------------------------
def test_three_3x3_convs_see_7x7():
    assert stack_receptive_field([(3, 1)] * 3) == 7
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3))
    result = receptive_field(net, (1, 16, 16))
    assert [r.receptive_field for r in result.rows] == [(3, 3), (5, 5), (7, 7)]
    assert result.final == (7, 7) and result.rows[-1].output_size == (10, 10)
    assert result["4"].start == (3.0, 3.0)  # first output of the 3rd conv is centred on input pixel 3
    assert "RF" in str(result)


def test_dilation_and_stride():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, dilation=2), nn.Conv2d(1, 1, 3, stride=2), nn.Conv2d(1, 1, 3))
    rows = receptive_field(net, (1, 32, 32)).rows
    assert [r.receptive_field[0] for r in rows] == [5, 7, 11]  # dilated kernel 5; then jump 2 after stride
    assert [r.jump[0] for r in rows] == [1, 2, 2]


def _vgg16_features(width=2):
    # VGG-16's layer table with tiny widths: receptive fields depend only on kernels, strides and padding
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, c = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.ReLU()]
            c = width
    return nn.Sequential(*layers)


def test_vgg16_receptive_fields():
    rows = receptive_field(_vgg16_features(), (3, 32, 32)).rows
    # by hand: r += (k-1)*j, j *= s.  conv1: 3,5  pool: 6 (j=2)  conv2: 10,14  pool: 16 (j=4)
    # conv3: 24,32,40  pool: 44 (j=8)  conv4: 60,76,92  pool: 100 (j=16)  conv5: 132,164,196  pool: 212
    assert [r.receptive_field[0] for r in rows] == [3, 5, 6, 10, 14, 16, 24, 32, 40, 44, 60, 76, 92, 100,
                                                     132, 164, 196, 212]
    assert rows[-1].jump == (32, 32) and rows[-1].output_size == (1, 1)


def test_alexnet_receptive_fields():
    # torchvision's AlexNet features (conv1 11/4 pad 2, pools 3/2) with tiny widths, 224x224 input
    net = nn.Sequential(
        nn.Conv2d(3, 2, 11, 4, 2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(2, 2, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(),
        nn.Conv2d(2, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2),
    )
    rows = receptive_field(net, (3, 224, 224)).rows
    # conv1 11 (j 4), pool 11+2*4=19 (j 8), conv2 19+4*8=51, pool 51+2*8=67 (j 16), 99, 131, 163, 163+2*16=195
    assert [r.receptive_field[0] for r in rows] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert [r.output_size[0] for r in rows] == [55, 27, 27, 13, 13, 13, 13, 6]
    # start: conv1 (11-1)/2 - 2 = 3; pool1 3 + 1*4 = 7; conv2 7 + (2-2)*8 = 7; pool2 7 + 1*8 = 15
    assert [r.start[0] for r in rows[:4]] == [3.0, 7.0, 7.0, 15.0]
    assert stack_receptive_field([(11, 4), (3, 2), (5, 1), (3, 2), (3, 1), (3, 1), (3, 1), (3, 2)]) == 195


def test_global_pool_covers_the_map():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.AdaptiveAvgPool2d(1))
    rows = receptive_field(net, (1, 8, 8)).rows
    assert rows[-1].receptive_field == (10, 10) and rows[-1].output_size == (1, 1)


# ---- summary ---------------------------------------------------------------------------------------------
def _lenet():
    try:
        from tinycnn.models.lenet import lenet5
        return lenet5("classic")
    except ImportError:
        return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
                             nn.Conv2d(6, 16, 5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
                             nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(),
                             nn.Linear(84, 10))


def test_lenet_table_from_the_notes():
    s = summary(_lenet(), (1, 28, 28))
    table = [(r.type, r.output_shape, r.params, r.macs) for r in s.rows if r.params or "Pool" in r.type]
    assert table == [
        ("Conv2d", (1, 6, 28, 28), 156, 28 * 28 * 6 * 25),     # 28x28x6, 5*5*1*6 + 6
        ("AvgPool2d", (1, 6, 14, 14), 0, 0),
        ("Conv2d", (1, 16, 10, 10), 2416, 10 * 10 * 16 * 150),  # 5*5*6*16 + 16 = 2400 + 16
        ("AvgPool2d", (1, 16, 5, 5), 0, 0),
        ("Linear", (1, 120), 48120, 48000),                     # 400*120 + 120
        ("Linear", (1, 84), 10164, 10080),                      # 120*84 + 84
        ("Linear", (1, 10), 850, 840),                          # 84*10 + 10
    ]
    assert s.total_params == s.trainable_params == 61_706       # d2l LeNet in the reference JSON
    assert s.total_macs == 416_520
    text = str(s)
    assert "Total params: 61,706" in text and "[1, 6, 28, 28]" in text and "416,520" in text


def test_summary_counts_frozen_params_and_batch():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 2))
    net[0].weight.requires_grad_(False)
    s = summary(net, (3, 8, 8), batch_size=3)
    assert s.total_params == 4 * 27 + 4 + 144 * 2 + 2
    assert s.trainable_params == s.total_params - 4 * 27
    assert s.rows[0].output_shape == (3, 4, 6, 6) and s.rows[0].macs == 3 * 4 * 36 * 27


def test_summary_restores_modes_and_state():
    from tinycnn.models import mobilenet_v2
    model = mobilenet_v2(width_mult=0.25, num_classes=10)
    model.train()
    model.classifier[0].eval()  # mixed modes must come back exactly
    bn = model.features[0][1]
    before = bn.running_mean.numpy().copy()
    s = summary(model, (3, 32, 32))
    assert model.training and not model.classifier[0].training and model.features[0][1].training
    np.testing.assert_array_equal(bn.running_mean.numpy(), before)   # eval mode: statistics untouched
    assert all(p.grad is None for p in model.parameters())
    assert "forward" not in model.features[0][0].__dict__             # the tracing wrappers are gone
    assert s.rows[-1].output_shape == (1, 10)


def test_summary_macs_match_reference_at_224():
    from tinycnn.models import mobilenet_v2
    s = summary(mobilenet_v2(), (3, 224, 224))
    assert s.total_macs == 300_774_272 and s.total_params == 3_504_872
    resnet = pytest.importorskip("tinycnn.models.resnet")
    s = summary(resnet.resnet18(), (3, 224, 224))
    assert s.total_macs == 1_814_073_344 and s.total_params == 11_689_512


def test_summary_rejects_bad_input_size():
    with pytest.raises(ValueError, match="input_size"):
        summary(nn.Linear(2, 2), 2)
    assert summary(nn.Linear(2, 3), (2,)).rows[0].macs == 6
    assert tinycnn.utils.summary is summary
