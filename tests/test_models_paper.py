"""The papers' own networks: the 1998 LeNet-5, the 2012 AlexNet, ZFNet, the 2014 GoogLeNet (and its blocks,
naive and reduced), and d2l's GoogLeNet.

Torch-free: parameter counts from the papers' layer tables by hand, every layer's output size against the
papers' figures and tables, the connection table, the response normalisation against the paper's formula,
the two-GPU split as two separate convolutions, initialisations, input checks, gradient checks of the new
layers, a short MNIST run of LeNet-5. Against torch (the ``torch`` fixture): each network written directly in
torch code, weights copied, outputs (and for d2l's GoogLeNet the gradients) compared.
"""
import numpy as np
import pytest
from helpers import assert_grads_match
from model_helpers import assert_grads_match_torch, keys_and_shapes, load_from_torch, n_params, uninitialised

import tinycnn
from tinycnn import models, nn, optim
from tinycnn.models.googlenet_paper import GOOGLENET_TABLE1

F = nn.functional


def _conv(cin, cout, k, groups=1):
    return cout * (cin // groups) * k * k + cout


def _fc(i, o):
    return i * o + o


def _eval_close(ours, expected, rtol=1e-4):
    assert ours.shape == expected.shape
    assert np.abs(ours - expected).max() <= rtol * np.abs(expected).max()


# ---- LeNet-5, 1998 ---------------------------------------------------------------------------------------
# Table I of the paper: rows are S2 maps 0-5, columns C3 maps 0-15, X = connected.
PAPER_TABLE_I = ["X   XXX  XXXX XX",
                 "XX   XXX  XXXX X",
                 "XXX   XXX  X XXX",
                 " XXX  XXXX  X XX",
                 "  XXX  XXXX XX X",
                 "   XXX  XXXX XXX"]


def test_lenet5_1998_connection_table_and_parameters():
    from_paper = tuple(tuple(i for i in range(6) if PAPER_TABLE_I[i][o] == "X") for o in range(16))
    assert tuple(tuple(sorted(t)) for t in models.C3_TABLE) == from_paper
    model = models.lenet5_1998()
    per_layer = {name: n_params(getattr(model, name)) for name in ("C1", "S2", "C3", "S4", "C5", "F6", "output")}
    assert per_layer == {"C1": 156, "S2": 12, "C3": 60 * 25 + 16, "S4": 32, "C5": 48120, "F6": 10164, "output": 0}
    assert n_params(model) == 60000
    assert n_params(models.lenet5_1998(output="linear")) == 60000 + 850
    assert "output.prototypes" in model.state_dict()         # the fixed codes travel with a checkpoint
    assert set(np.unique(model.output.prototypes.numpy())) == {-1.0, 1.0}


def test_lenet5_1998_shapes_squashing_and_rbf():
    model = models.lenet5_1998().eval()
    x = tinycnn.randn(2, 1, 28, 28)
    with tinycnn.no_grad():
        s2 = model.squash(model.S2(model.squash(model.C1(x))))
        s4 = model.squash(model.S4(model.squash(model.C3(s2))))
        f6 = model.squash(model.F6(model.squash(model.C5(s4)).flatten(1)))
        out = model(x)
    assert (s2.shape, s4.shape, f6.shape, out.shape) == ((2, 6, 14, 14), (2, 16, 5, 5), (2, 84), (2, 10))
    # the output is minus the squared distance to each class's +-1 code
    codes = model.output.prototypes.numpy()
    expected = -((f6.numpy()[:, None, :] - codes[None]) ** 2).sum(-1)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)
    # f(a) = 1.7159 tanh(2a/3): f(1) = 1, f(-1) = -1 (to 4 digits), odd, bounded by A
    f = model.squash(tinycnn.tensor(np.array([1.0, -1.0, 0.0, 50.0])))
    np.testing.assert_allclose(f.numpy(), [1.0, -1.0, 0.0, 1.7159], atol=1e-4)
    assert models.lenet5_1998(input_size=32)(tinycnn.randn(1, 1, 32, 32)).shape == (1, 10)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 1, 28, 28\)"):
        model(tinycnn.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="output must be 'rbf' or 'linear'"):
        models.lenet5_1998(output="softmax")


def test_lenet5_1998_init_is_uniform_over_fan_in():
    tinycnn.manual_seed(0)
    model = models.lenet5_1998()
    for module, fan_in in ((model.C1, 25), (model.C5, 400), (model.F6, 120)):
        w = module.weight.numpy()
        assert np.abs(w).max() <= 2.4 / fan_in and np.abs(w).max() > 0.9 * 2.4 / fan_in
    assert np.abs(model.S2.weight.numpy()).max() <= 2.4 / 4 and np.abs(model.S4.bias.numpy()).max() <= 2.4 / 4
    w = model.C3.weight.numpy()   # per connection: the bound of its output map's fan-in
    start = 0
    for inputs in models.C3_TABLE:
        block = w[start:start + len(inputs)]
        assert np.abs(block).max() <= 2.4 / (25 * len(inputs))
        start += len(inputs)


def test_partial_conv_is_a_masked_dense_conv():
    rng = np.random.default_rng(0)
    layer = models.PartialConv2d(6, models.C3_TABLE, kernel_size=5)
    layer.weight.array = rng.standard_normal(layer.weight.shape).astype(np.float32)
    layer.bias.array = rng.standard_normal(16).astype(np.float32)
    mask = np.zeros((16, 6, 1, 1), dtype=np.float32)
    for o, inputs in enumerate(models.C3_TABLE):
        mask[o, list(inputs)] = 1
    dense = layer.dense_weight().numpy()
    assert np.all(dense[np.broadcast_to(mask, dense.shape) == 0] == 0)
    x = tinycnn.tensor(rng.standard_normal((2, 6, 14, 14)).astype(np.float32))
    expected = F.conv2d(x, tinycnn.tensor(dense), layer.bias.detach())
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="expects 6 input channels"):
        layer(tinycnn.randn(1, 5, 14, 14))
    with pytest.raises(ValueError, match="table row 1"):
        models.PartialConv2d(3, [(0,), (0, 3)])


def test_lenet5_1998_layers_gradcheck():
    rng = np.random.default_rng(1)
    table = ((0, 1), (1, 2), (0, 2))
    conv = models.PartialConv2d(3, table, kernel_size=3).double()
    sub = models.Subsampling(3).double()
    rbf = models.EuclideanRBF(5, 4).double()

    def partial(x, w, b):   # the module's forward with its parameters as inputs
        return F.conv2d(x, (conv.placement @ w.reshape(6, 9)).reshape(3, 3, 3, 3), b)

    assert_grads_match(partial, [rng.standard_normal((1, 3, 4, 4)), rng.standard_normal((6, 3, 3)),
                                 rng.standard_normal(3)])
    assert_grads_match(lambda x: conv(x), [rng.standard_normal((1, 3, 4, 4))])

    def subsample(x, w, b):
        return F.avg_pool2d(x, 2, 2) * 4.0 * w.reshape(1, -1, 1, 1) + b.reshape(1, -1, 1, 1)

    assert_grads_match(subsample, [rng.standard_normal((1, 3, 4, 4)), rng.standard_normal(3), rng.standard_normal(3)])
    assert_grads_match(lambda x: sub(x), [rng.standard_normal((1, 3, 4, 4))])
    assert_grads_match(lambda x: rbf(x), [rng.standard_normal((3, 5))])
    assert_grads_match(lambda x: models.ScaledTanh()(x), [rng.standard_normal((4, 3))])


def test_lenet5_1998_learns_mnist():
    from tinycnn.utils.data import DataLoader, Subset
    from tinycnn.vision import transforms as T
    from tinycnn.vision.datasets import MNIST
    tinycnn.manual_seed(0)
    preprocess = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    data = Subset(MNIST(train=True, transform=preprocess), np.arange(512))
    model = models.lenet5_1998()
    opt = optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(3):
        for images, labels in DataLoader(data, batch_size=64, shuffle=True, seed=0):
            loss = F.cross_entropy(model(images), labels)   # the MAP criterion on the negated penalties
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    assert losses[0] == pytest.approx(np.log(10), rel=0.1)   # equal penalties at the start: chance
    assert np.mean(losses[-4:]) < 0.75 * losses[0]


def test_lenet5_1998_matches_torch_code(torch):
    tnn = torch.nn
    model = models.lenet5_1998(output="linear")
    mask = torch.zeros(16, 6, 1, 1)
    for o, inputs in enumerate(models.C3_TABLE):
        mask[o, list(inputs)] = 1

    def squash(a):
        return 1.7159 * torch.tanh(2 * a / 3)

    def subsample(a, w, b):
        return tnn.functional.avg_pool2d(a, 2) * 4 * w.view(1, -1, 1, 1) + b.view(1, -1, 1, 1)

    sd = {k: torch.from_numpy(v.numpy()) for k, v in model.state_dict().items()}
    c3 = torch.zeros(16, 6, 5, 5)
    start = 0
    for o, inputs in enumerate(models.C3_TABLE):   # the paper's per-connection kernels, placed by hand
        for i in inputs:
            c3[o, i] = sd["C3.weight"][start]
            start += 1
    x = np.random.default_rng(2).standard_normal((3, 1, 28, 28)).astype(np.float32)
    t = torch.from_numpy(x)
    a = squash(tnn.functional.conv2d(t, sd["C1.weight"], sd["C1.bias"], padding=2))
    a = squash(subsample(a, sd["S2.weight"], sd["S2.bias"]))
    a = squash(tnn.functional.conv2d(a, c3 * mask, sd["C3.bias"]))
    a = squash(subsample(a, sd["S4.weight"], sd["S4.bias"]))
    a = squash(tnn.functional.conv2d(a, sd["C5.weight"], sd["C5.bias"])).flatten(1)
    a = squash(tnn.functional.linear(a, sd["F6.weight"], sd["F6.bias"]))
    expected = tnn.functional.linear(a, sd["output.weight"], sd["output.bias"]).numpy()
    with tinycnn.no_grad():
        _eval_close(model(tinycnn.tensor(x)).numpy(), expected, rtol=1e-5)


# ---- AlexNet, 2012 ---------------------------------------------------------------------------------------
def test_alexnet_2012_parameters_and_shapes():
    model = uninitialised(models.alexnet_2012)
    expected = (_conv(3, 96, 11) + _conv(96, 256, 5, 2) + _conv(256, 384, 3) + _conv(384, 384, 3, 2)
                + _conv(384, 256, 3, 2) + _fc(9216, 4096) + _fc(4096, 4096) + _fc(4096, 1000))
    assert n_params(model) == expected == 60965224
    assert [m.groups for m in model.features if isinstance(m, nn.Conv2d)] == [1, 2, 1, 2, 2]
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in model.features) == 2
    x = tinycnn.randn(1, 3, 227, 227)
    sides = []
    with tinycnn.no_grad():
        for m in model.features:
            x = m(x)
            if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
                sides.append((x.shape[1], x.shape[2]))
    # Figure 2: 55 -> 27 -> 27 -> 13 -> 13 -> 13 -> 13 -> 6
    assert sides == [(96, 55), (96, 27), (256, 27), (256, 13), (384, 13), (384, 13), (256, 13), (256, 6)]
    with pytest.raises(ValueError, match=r"AlexNet2012 expects input of shape \(N, 3, 227, 227\)"):
        model(tinycnn.randn(1, 3, 224, 224))


def test_alexnet_2012_lrn_is_the_papers_formula():
    a = np.random.default_rng(0).standard_normal((2, 9, 3, 3)).astype(np.float64) * 3
    k, n, alpha, beta = 2.0, 5, 1e-4, 0.75   # Section 3.3
    expected = np.empty_like(a)
    for c in range(a.shape[1]):
        lo, hi = max(0, c - n // 2), min(a.shape[1] - 1, c + n // 2)
        expected[:, c] = a[:, c] / (k + alpha * (a[:, lo:hi + 1] ** 2).sum(1)) ** beta
    np.testing.assert_allclose(models.paper_lrn()(tinycnn.tensor(a)).numpy(), expected, rtol=1e-12)


def test_groups_2_is_the_two_gpu_split():
    rng = np.random.default_rng(1)
    conv = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    x = tinycnn.tensor(rng.standard_normal((1, 96, 9, 9)).astype(np.float32))
    w, b = conv.weight.detach(), conv.bias.detach()
    tower = [F.conv2d(x[:, 48 * g:48 * (g + 1)], w[128 * g:128 * (g + 1)], b[128 * g:128 * (g + 1)], padding=2)
             for g in range(2)]   # each GPU: 128 kernels over its own 48 channels
    np.testing.assert_allclose(conv(x).numpy(), tinycnn.cat(tower, 1).numpy(), rtol=1e-5, atol=1e-5)


def test_alexnet_2012_init(monkeypatch):
    drawn = []   # (shape, mean, std) of every normal draw, recorded instead of drawing 60M numbers

    def record(tensor, mean=0.0, std=1.0, **kwargs):
        drawn.append((tuple(tensor.shape), mean, std))
        tensor.array[...] = 0
        return tensor

    monkeypatch.setattr(nn.init, "normal_", record)
    model = models.alexnet_2012(num_classes=10)
    convs = [m for m in model.features if isinstance(m, nn.Conv2d)]
    fcs = [m for m in model.classifier if isinstance(m, nn.Linear)]
    assert drawn == [(tuple(m.weight.shape), 0.0, 0.01) for m in convs + fcs]
    assert [float(m.bias.numpy().mean()) for m in convs + fcs] == [0, 1, 0, 1, 1, 1, 1, 0]
    assert all(np.all(m.bias.numpy() == m.bias.numpy()[0]) for m in convs + fcs)


def _torch_alexnet_2012(torch):
    tnn = torch.nn

    def lrn():
        return tnn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(3, 96, 11, 4), tnn.ReLU(), lrn(), tnn.MaxPool2d(3, 2),
                tnn.Conv2d(96, 256, 5, padding=2, groups=2), tnn.ReLU(), lrn(), tnn.MaxPool2d(3, 2),
                tnn.Conv2d(256, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 384, 3, padding=1, groups=2),
                tnn.ReLU(), tnn.Conv2d(384, 256, 3, padding=1, groups=2), tnn.ReLU(), tnn.MaxPool2d(3, 2))
            self.classifier = tnn.Sequential(tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, 4096),
                                             tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, 10))

        def forward(self, x):
            return self.classifier(self.features(x).flatten(1))

    return Net()


def _torch_zfnet(torch):
    tnn = torch.nn

    def lrn():
        return tnn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(3, 96, 7, 2, 1), tnn.ReLU(), tnn.MaxPool2d(3, 2, ceil_mode=True), lrn(),
                tnn.Conv2d(96, 256, 5, 2), tnn.ReLU(), tnn.MaxPool2d(3, 2, ceil_mode=True), lrn(),
                tnn.Conv2d(256, 384, 3, padding=1), tnn.ReLU(), tnn.Conv2d(384, 384, 3, padding=1), tnn.ReLU(),
                tnn.Conv2d(384, 256, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(3, 2, ceil_mode=True))
            self.classifier = tnn.Sequential(tnn.Linear(9216, 4096), tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, 4096),
                                             tnn.ReLU(), tnn.Dropout(), tnn.Linear(4096, 10))

        def forward(self, x):
            return self.classifier(self.features(x).flatten(1))

    return Net()


@pytest.mark.parametrize("name", ["alexnet_2012", "zfnet"])
def test_paper_alexnets_match_torch_code(name, torch):
    torch.manual_seed(0)
    ref = (_torch_alexnet_2012 if name == "alexnet_2012" else _torch_zfnet)(torch)
    model = uninitialised(getattr(models, name), num_classes=10)
    assert keys_and_shapes(model) == [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    load_from_torch(model, ref)
    side = 227 if name == "alexnet_2012" else 224
    x = np.random.default_rng(0).standard_normal((1, 3, side, side)).astype(np.float32) * 20   # LRN matters
    with tinycnn.no_grad():
        out = model.eval()(tinycnn.tensor(x)).numpy()
    with torch.no_grad():
        expected = ref.eval()(torch.from_numpy(x)).numpy()
    _eval_close(out, expected)


# ---- ZFNet -----------------------------------------------------------------------------------------------
def test_zfnet_parameters_and_shapes():
    model = uninitialised(models.zfnet)
    expected = (_conv(3, 96, 7) + _conv(96, 256, 5) + _conv(256, 384, 3) + _conv(384, 384, 3) + _conv(384, 256, 3)
                + _fc(9216, 4096) + _fc(4096, 4096) + _fc(4096, 1000))
    assert n_params(model) == expected == 62357608
    x = tinycnn.randn(1, 3, 224, 224)
    sides = []
    with tinycnn.no_grad():
        for m in model.features:
            x = m(x)
            if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
                sides.append(x.shape[2])
    assert sides == [110, 55, 26, 13, 13, 13, 13, 6]   # Figure 3
    first = model.features[0]
    assert (first.kernel_size, first.stride) == ((7, 7), (2, 2))


def test_zfnet_renormalizes_filters():
    model = uninitialised(models.zfnet, num_classes=10)
    conv = model.features[0]
    w = np.zeros(conv.weight.shape, dtype=np.float32)
    w[0] = 0.5                      # RMS 0.5: scaled to 0.1
    w[1] = 0.05                     # RMS 0.05: left alone
    conv.weight.array = w
    for m in model.features:
        if isinstance(m, nn.Conv2d) and m is not conv:
            m.weight.array = np.zeros(m.weight.shape, dtype=np.float32)
    assert model.renormalize_filters_(0.1) == 1
    rms = np.sqrt((conv.weight.numpy().reshape(96, -1) ** 2).mean(1))
    np.testing.assert_allclose(rms[:2], [0.1, 0.05], rtol=1e-6)
    assert model.renormalize_filters_(0.1) == 0


# ---- GoogLeNet, 2014, its blocks, and d2l's ----------------------------------------------------------------
def _block_params(cin, row):
    return (_conv(cin, row.ch1x1, 1) + _conv(cin, row.ch3x3red, 1) + _conv(row.ch3x3red, row.ch3x3, 3)
            + _conv(cin, row.ch5x5red, 1) + _conv(row.ch5x5red, row.ch5x5, 5) + _conv(cin, row.pool_proj, 1))


def test_googlenet_2014_parameters_from_table_1():
    model = uninitialised(models.googlenet_2014)
    cin, total = 192, _conv(3, 64, 7) + _conv(64, 64, 1) + _conv(64, 192, 3)
    for row in GOOGLENET_TABLE1:
        if row.kind == "inception":
            block = getattr(model, row.name)
            assert n_params(block) == _block_params(cin, row), row.name
            assert block.p3_2.kernel_size == (5, 5)                # the paper's 5x5 branch
            assert block.out_channels == row.output[2]
            cin = block.out_channels
            total += n_params(block)
    total += _fc(1024, 1000)
    aux = _conv(512, 128, 1) + _conv(528, 128, 1) + 2 * (_fc(128 * 4 * 4, 1024) + _fc(1024, 1000))
    assert n_params(model) == total + aux == 13378280
    assert n_params(uninitialised(models.googlenet_2014, aux_logits=False)) == total == 6998552
    assert not any("BatchNorm" in type(m).__name__ for m in model.modules())


def test_googlenet_2014_shapes_follow_table_1():
    model = uninitialised(models.googlenet_2014).eval()
    x = tinycnn.randn(1, 3, 224, 224)
    with tinycnn.no_grad():
        for row in GOOGLENET_TABLE1:
            if row.name == "conv1":
                x = model.conv1(x)
            elif row.name == "maxpool1":
                x = model.lrn1(model.maxpool1(x))
            elif row.name == "conv2":
                x = model.lrn2(model.conv2(model.conv2_reduce(x)))
            elif row.name == "avgpool":
                x = model.avgpool(x)
            elif row.name == "fc":
                x = model.fc(x.flatten(1)).reshape(1, 1000, 1, 1)
            elif row.kind not in ("dropout (40%)", "softmax"):
                x = getattr(model, row.name)(x)
            h, w, c = row.output
            assert tuple(x.shape[1:]) == (c, h, w), row.name


def test_googlenet_2014_aux_heads_and_input_check():
    model = models.googlenet_2014(num_classes=6)
    with pytest.raises(ValueError, match=r"expects input of shape \(N, 3, 224, 224\)"):
        model(tinycnn.randn(1, 3, 96, 96))
    assert model.aux1.fc1.in_features == 128 * 4 * 4 and model.aux1.dropout.p == 0.7 and model.dropout.p == 0.4
    plain = models.googlenet_2014(aux_logits=False)
    assert plain.aux1 is None and plain.aux2 is None


def test_naive_block_beside_the_reduced_one():
    naive = models.NaiveInception(192, 64, 128, 32)
    reduced = models.InceptionBlock(192, 64, 96, 128, 16, 32, 32)
    assert (naive.out_channels, reduced.out_channels) == (64 + 128 + 32 + 192, 256)
    assert n_params(naive) == _conv(192, 64, 1) + _conv(192, 128, 3) + _conv(192, 32, 5) == 387_296
    assert n_params(reduced) == 163_696
    assert n_params(naive.p3) - 32 == 5 * 5 * 192 * 32 == 153_600                    # the module docstring's numbers
    assert n_params(reduced.p3_1) + n_params(reduced.p3_2) - 48 == 192 * 16 + 5 * 5 * 16 * 32 == 15_872
    x = tinycnn.randn(2, 192, 7, 7)
    y = naive(x)
    assert y.shape == (2, 416, 7, 7) and reduced(x).shape == (2, 256, 7, 7)
    # the naive block's last 192 channels are the input max-pooled (the channels it carries along)
    np.testing.assert_array_equal(y.numpy()[:, 224:], F.max_pool2d(x, 3, 1, 1).numpy())


def _torch_inception(torch):
    tnn = torch.nn

    class Inception(tnn.Module):   # d2l.ai Section 8.4
        def __init__(self, in_channels, c1, c2, c3, c4):
            super().__init__()
            self.p1_1 = tnn.Conv2d(in_channels, c1, kernel_size=1)
            self.p2_1 = tnn.Conv2d(in_channels, c2[0], kernel_size=1)
            self.p2_2 = tnn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
            self.p3_1 = tnn.Conv2d(in_channels, c3[0], kernel_size=1)
            self.p3_2 = tnn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
            self.p4_1 = tnn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.p4_2 = tnn.Conv2d(in_channels, c4, kernel_size=1)

        def forward(self, x):
            relu = torch.relu
            p1 = relu(self.p1_1(x))
            p2 = relu(self.p2_2(relu(self.p2_1(x))))
            p3 = relu(self.p3_2(relu(self.p3_1(x))))
            p4 = relu(self.p4_2(self.p4_1(x)))
            return torch.cat((p1, p2, p3, p4), dim=1)

    return Inception


def _torch_d2l_googlenet(torch):
    tnn, Inception = torch.nn, _torch_inception(torch)
    b1 = tnn.Sequential(tnn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), tnn.ReLU(),
                        tnn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = tnn.Sequential(tnn.Conv2d(64, 64, kernel_size=1), tnn.ReLU(), tnn.Conv2d(64, 192, kernel_size=3, padding=1),
                        tnn.ReLU(), tnn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = tnn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32), Inception(256, 128, (128, 192), (32, 96), 64),
                        tnn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = tnn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64), Inception(512, 160, (112, 224), (24, 64), 64),
                        Inception(512, 128, (128, 256), (24, 64), 64), Inception(512, 112, (144, 288), (32, 64), 64),
                        Inception(528, 256, (160, 320), (32, 128), 128),
                        tnn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = tnn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                        Inception(832, 384, (192, 384), (48, 128), 128), tnn.AdaptiveAvgPool2d((1, 1)), tnn.Flatten())
    return tnn.Sequential(b1, b2, b3, b4, b5, tnn.Linear(1024, 10))


def test_googlenet_d2l_matches_d2l_code(torch):
    """d2l's own code, weights copied: keys, eval outputs, and in float64 the loss and every gradient."""
    torch.manual_seed(0)
    ref = _torch_d2l_googlenet(torch).double()
    model = uninitialised(models.googlenet_d2l).double()
    assert keys_and_shapes(model) == [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    assert n_params(model) == sum(p.numel() for p in ref.parameters()) == 5977530
    load_from_torch(model, ref)
    x = np.random.default_rng(5).standard_normal((2, 1, 96, 96))
    y = np.array([3, 8])
    loss = F.cross_entropy(model(tinycnn.tensor(x)), tinycnn.tensor(y))
    ref_loss = torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y))
    assert loss.item() == pytest.approx(ref_loss.item(), rel=1e-10)
    loss.backward()
    ref_loss.backward()
    assert_grads_match_torch(model, ref, rtol=1e-8)


def test_googlenet_2014_matches_torch_code(torch):
    """The paper's network in torch code (d2l's block, the paper's stem, pools, LRN and heads): in training mode
    with dropout off, the logits and both auxiliary outputs agree."""
    tnn, Inception = torch.nn, _torch_inception(torch)

    def lrn():
        return tnn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)

    class Conv(tnn.Module):
        def __init__(self, *args, **kwargs):
            super().__init__()
            self.conv = tnn.Conv2d(*args, **kwargs)

        def forward(self, x):
            return torch.relu(self.conv(x))

    class Aux(tnn.Module):
        def __init__(self, cin):
            super().__init__()
            self.pool, self.conv = tnn.AvgPool2d(5, 3), Conv(cin, 128, kernel_size=1)
            self.fc1, self.dropout, self.fc2 = tnn.Linear(2048, 1024), tnn.Dropout(0.0), tnn.Linear(1024, 10)

        def forward(self, x):
            return self.fc2(self.dropout(torch.relu(self.fc1(self.conv(self.pool(x)).flatten(1)))))

    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            pool = lambda: tnn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv1, self.maxpool1, self.lrn1 = Conv(3, 64, kernel_size=7, stride=2, padding=3), pool(), lrn()
            self.conv2_reduce, self.conv2 = Conv(64, 64, kernel_size=1), Conv(64, 192, kernel_size=3, padding=1)
            self.lrn2, self.maxpool2 = lrn(), pool()
            cin = 192
            for row in GOOGLENET_TABLE1:
                if row.kind == "inception":
                    setattr(self, row.name, Inception(cin, row.ch1x1, (row.ch3x3red, row.ch3x3),
                                                      (row.ch5x5red, row.ch5x5), row.pool_proj))
                    cin = row.output[2]
                elif row.name in ("maxpool3", "maxpool4"):
                    setattr(self, row.name, pool())
            self.aux1, self.aux2 = Aux(512), Aux(528)
            self.avgpool, self.dropout, self.fc = tnn.AvgPool2d(7, 1), tnn.Dropout(0.0), tnn.Linear(1024, 10)

        def forward(self, x):
            x = self.lrn1(self.maxpool1(self.conv1(x)))
            x = self.maxpool2(self.lrn2(self.conv2(self.conv2_reduce(x))))
            x = self.maxpool3(self.inception3b(self.inception3a(x)))
            x = self.inception4a(x)
            aux1 = self.aux1(x)
            x = self.inception4d(self.inception4c(self.inception4b(x)))
            aux2 = self.aux2(x)
            x = self.inception5b(self.inception5a(self.maxpool4(self.inception4e(x))))
            return self.fc(self.dropout(self.avgpool(x).flatten(1))), aux2, aux1

    torch.manual_seed(0)
    ref = Net()
    model = uninitialised(models.googlenet_2014, num_classes=10, dropout=0.0, dropout_aux=0.0)
    assert keys_and_shapes(model) == [(k, tuple(v.shape)) for k, v in ref.state_dict().items()]
    load_from_torch(model, ref)
    x = np.random.default_rng(6).standard_normal((1, 3, 224, 224)).astype(np.float32) * 10
    with tinycnn.no_grad():
        out = model.train()(tinycnn.tensor(x))
    with torch.no_grad():
        expected = ref(torch.from_numpy(x))
    assert isinstance(out, models.GoogLeNetOutputs)
    for ours, theirs in zip(out, expected):
        _eval_close(ours.numpy(), theirs.numpy())
    loss = models.googlenet_loss(out, tinycnn.tensor(np.array([2])))
    assert np.isfinite(loss.item())
