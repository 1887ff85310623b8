"""Deconvnet projections, guided backpropagation and saliency maps (tinycnn.utils.visualize).

The deconvnet is checked against a hand computation on a one-layer net; guided backpropagation and saliency
against the same computation done by PyTorch's autograd (ReLU backward hooks that clamp the gradient at
zero) with the same weights.
"""
from __future__ import annotations

import numpy as np
import pytest

import tinycnn
from tinycnn import nn
from tinycnn.models import lenet5, resnet18, zfnet
from tinycnn.utils.visualize import deconvnet, guided_backprop, layer_names, saliency, save_png, to_display


def _one_layer_net():
    tinycnn.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 3, kernel_size=3), nn.ReLU(), nn.MaxPool2d(2))


def _by_hand(weight, bias, image):
    """conv (valid, stride 1) -> ReLU -> 2x2 max pool, then the deconvnet of the strongest activation per
    channel, written out with loops."""
    c_out, _, k, _ = weight.shape
    h = image.shape[-1] - k + 1
    conv = np.zeros((c_out, h, h))
    for c in range(c_out):
        for i in range(h):
            for j in range(h):
                conv[c, i, j] = (weight[c, 0] * image[0, i:i + k, j:j + k]).sum() + bias[c]
    act = np.maximum(conv, 0)
    projections = {}
    for c in range(c_out):
        pooled, switch = np.zeros((h // 2, h // 2)), {}
        for i in range(h // 2):
            for j in range(h // 2):
                window = act[c, 2 * i:2 * i + 2, 2 * j:2 * j + 2]
                a, b = np.unravel_index(np.argmax(window), (2, 2))
                pooled[i, j], switch[i, j] = window[a, b], (2 * i + a, 2 * j + b)
        i, j = np.unravel_index(np.argmax(pooled), pooled.shape)
        unpooled = np.zeros((h, h))
        unpooled[switch[i, j]] = pooled[i, j]                  # unpool with the switch
        rectified = np.maximum(unpooled, 0)                    # ReLU
        pixels = np.zeros(image.shape[-2:])                    # transposed conv with the same filter
        for a in range(h):
            for b in range(h):
                pixels[a:a + k, b:b + k] += rectified[a, b] * weight[c, 0]
        projections[c] = (pooled[i, j], (i, j), pixels)
    return projections


def test_deconvnet_of_one_layer_equals_the_hand_computation():
    net = _one_layer_net()
    image = np.random.default_rng(0).standard_normal((1, 9, 9)).astype(np.float32)
    result = deconvnet(net, image, "2")
    expected = _by_hand(net[0].weight.numpy().astype(np.float64), net[0].bias.numpy(), image.astype(np.float64))
    assert len(result) == 3 and result.images.shape == (3, 1, 9, 9)
    assert list(result.activations) == sorted(result.activations, reverse=True)
    for k, c in enumerate(result.channels):
        value, position, pixels = expected[int(c)]
        assert result.activations[k] == pytest.approx(value, rel=1e-5)
        assert tuple(result.positions[k]) == position
        np.testing.assert_allclose(result.images[k, 0], pixels, rtol=1e-5, atol=1e-6)
    # A pooled cell sees 4x4 pixels: 2x2 conv outputs, each a 3x3 window.
    top, left, bottom, right = result.boxes[0]
    assert (bottom - top, right - left) == (4, 4) and (top, left) == tuple(2 * result.positions[0])


def test_deconvnet_without_relus_is_the_activation_times_its_gradient(torch):
    """Without ReLUs the deconvnet is backpropagation: unpooling routes to the argmax as max pooling's
    gradient does, and the transposed convolution is the convolution's input gradient. So each projection
    equals the activation times its gradient with respect to the pixels (here through strides, padding,
    dilation, groups, ceil-mode pooling and an odd size that needs output_padding)."""
    tinycnn.manual_seed(5)
    net = nn.Sequential(nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2), nn.Dropout(0.5),
                        nn.MaxPool2d(3, stride=2, ceil_mode=True), nn.Conv2d(4, 6, 3, dilation=2, groups=2))
    image = np.random.default_rng(5).standard_normal((2, 23, 23)).astype(np.float32)
    result = deconvnet(net, image, "conv2", top=6)
    t = torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2), torch.nn.Dropout(0.5),
                            torch.nn.MaxPool2d(3, stride=2, ceil_mode=True),
                            torch.nn.Conv2d(4, 6, 3, dilation=2, groups=2)).eval()
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    assert net.training                                   # deconvnet ran it in eval mode and put it back
    for k in range(6):
        x = torch.tensor(image[None]).requires_grad_()
        c, (r, col) = int(result.channels[k]), result.positions[k]
        activation = t(x)[0, c, r, col]
        activation.backward()
        value = activation.item()
        assert result.activations[k] == pytest.approx(value, rel=1e-5)
        np.testing.assert_allclose(result.images[k], value * x.grad[0].numpy(), rtol=1e-4, atol=1e-6)


def test_deconvnet_one_channel_over_a_batch_picks_the_images_where_it_is_strongest():
    net = _one_layer_net()
    rng = np.random.default_rng(3)
    batch = (rng.standard_normal((5, 1, 9, 9)) * np.arange(1, 6)[:, None, None, None]).astype(np.float32)
    result = deconvnet(net, batch, "conv1", channel=1, top=3)
    with tinycnn.no_grad():
        strongest = net[0](tinycnn.tensor(batch)).numpy()[:, 1].reshape(5, -1).max(axis=1)
    assert list(result.indices) == list(np.argsort(-strongest)[:3])
    assert list(result.channels) == [1, 1, 1]
    np.testing.assert_allclose(result.activations, np.sort(strongest)[::-1][:3], rtol=1e-6)
    # Each projection is that image's own: its 3x3 support is the filter, scaled by the activation.
    for k in range(3):
        r, c = result.positions[k]
        np.testing.assert_allclose(result.images[k, 0, r:r + 3, c:c + 3],
                                   result.activations[k] * net[0].weight.numpy()[1, 0], rtol=1e-5)


def test_deconvnet_through_lenet5_and_zfnet_shapes():
    tinycnn.manual_seed(0)
    lenet = lenet5()
    digit = np.random.default_rng(0).random((1, 28, 28), dtype=np.float32)
    result = deconvnet(lenet, digit, "conv2", top=4)
    assert result.images.shape == (4, 1, 28, 28) and result.layer == "3"
    assert (result.boxes[:, 2] - result.boxes[:, 0]).max() <= 14      # conv2 sees 14x14 windows
    for params in lenet.parameters():
        assert params.grad is None
    # Only the layers up to conv2 run: a 32x32 image, which LeNet-5's Linear layers cannot take, is fine.
    bigger = deconvnet(lenet, np.ones((1, 32, 32), np.float32), "conv2", top=1)
    assert bigger.images.shape == (1, 1, 32, 32)
    model = zfnet(num_classes=10)
    image = np.random.default_rng(1).standard_normal((3, 224, 224)).astype(np.float32)
    assert layer_names(model)[:5] == ["conv1", "conv2", "conv3", "conv4", "conv5"]
    result = deconvnet(model, image, "conv5", top=2)
    assert result.images.shape == (2, 3, 224, 224) and result.layer == "features.12"
    assert np.abs(result.images).max() > 0


def test_deconvnet_refuses_unknown_layers_and_what_it_cannot_undo():
    image = np.zeros((1, 28, 28), dtype=np.float32)
    with pytest.raises(ValueError, match=r"has no layer 'conv9'; its layers are conv1, conv2, 0, 1, 2"):
        deconvnet(lenet5(), image, "conv9")
    with pytest.raises(ValueError, match=r"layer '7' gives \(1, 120\), not a feature map"):
        deconvnet(lenet5(), image, "7")
    with pytest.raises(ValueError, match=r"cannot undo layer '1' \(Sigmoid\) on the way down from 'conv2 \(3\)'"):
        deconvnet(lenet5("classic"), image, "conv2")
    with pytest.raises(ValueError, match=r"ResNet is not a plain stack of layers"):
        deconvnet(resnet18(num_classes=10), np.zeros((3, 32, 32), np.float32), "layer1.1.conv1")
    with pytest.raises(ValueError, match=r"channel must be in 0..5"):
        deconvnet(lenet5(), image, "conv1", channel=6)
    with pytest.raises(ValueError, match=r"top must be a positive integer"):
        deconvnet(lenet5(), image, "conv1", top=0)


def _torch_lenet(torch, model, in_channels):
    tnn = torch.nn
    net = tnn.Sequential(tnn.Conv2d(in_channels, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
                         tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Flatten(),
                         tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10))
    net.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    return net.eval()


def _torch_guided(torch, net, image, output):
    handles = [m.register_full_backward_hook(lambda m, gi, go: (gi[0].clamp(min=0),))
               for m in net if isinstance(m, torch.nn.ReLU)]
    x = torch.tensor(image[None]).requires_grad_()
    output(x).backward()
    for h in handles:
        h.remove()
    return x.grad[0].numpy()


def test_guided_backprop_equals_torch(torch):
    tinycnn.manual_seed(2)
    model = lenet5()
    net = _torch_lenet(torch, model, 1)
    image = np.random.default_rng(2).random((1, 28, 28), dtype=np.float32)
    got = guided_backprop(model, image, target=3)
    want = _torch_guided(torch, net, image, lambda x: net(x)[0, 3])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())
    assert all(p.grad is None for p in model.parameters())
    x = torch.tensor(image[None]).requires_grad_()
    net(x)[0, 3].backward()
    assert not np.allclose(got, x.grad[0].numpy(), atol=1e-3 * np.abs(want).max())   # the guiding matters

    got = guided_backprop(model, image, layer="conv2", channel=5)
    with torch.no_grad():
        maps = net[:4](torch.tensor(image[None]))[0, 5]
    r, c = np.unravel_index(int(maps.argmax()), maps.shape)
    want = _torch_guided(torch, net, image, lambda x: net[:5](x)[0, 5, r, c])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * np.abs(want).max())


def test_saliency_equals_torch_max_over_channels(torch):
    tinycnn.manual_seed(4)
    model = lenet5(in_channels=3)
    net = _torch_lenet(torch, model, 3)
    image = np.random.default_rng(4).standard_normal((3, 28, 28)).astype(np.float32)
    got = saliency(model, image)
    x = torch.tensor(image[None]).requires_grad_()
    scores = net(x)
    scores[0, int(scores.argmax())].backward()
    want = x.grad[0].abs().amax(dim=0).numpy()
    assert got.shape == (28, 28)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6 * want.max())
    x.grad = None
    net(x)[0, 7].backward()
    np.testing.assert_allclose(saliency(model, image, target=7), x.grad[0].abs().amax(dim=0).numpy(),
                               rtol=1e-4, atol=1e-9)


def test_gradient_maps_refuse_bad_arguments():
    image = np.zeros((1, 28, 28), dtype=np.float32)
    with pytest.raises(ValueError, match=r"target must be a class in 0..9, got 10"):
        saliency(lenet5(), image, target=10)
    with pytest.raises(ValueError, match=r"expected one image"):
        saliency(lenet5(), np.zeros((2, 1, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"has no ReLU layer"):
        guided_backprop(lenet5("classic"), image)
    with pytest.raises(ValueError, match=r"has no layer 'fc9'"):
        guided_backprop(lenet5(), image, layer="fc9")
    with pytest.raises(ValueError, match=r"not both"):
        guided_backprop(lenet5(), image, target=1, layer="conv1")


def test_to_display_and_save_png(tmp_path):
    from PIL import Image
    signed = np.array([[[-2.0, 0.0], [1.0, 2.0]]])
    np.testing.assert_allclose(to_display(signed), [[0.0, 0.5], [0.75, 1.0]])
    np.testing.assert_allclose(to_display(np.array([[0.0, 1.0], [2.0, 4.0]])), [[0, 0.25], [0.5, 1]])
    assert to_display(np.zeros((3, 4, 5))).shape == (4, 5, 3)
    path = tmp_path / "x.png"
    save_png(to_display(signed), path)
    with Image.open(path) as img:
        assert img.size == (2, 2) and np.asarray(img)[0, 0] == 0 and np.asarray(img)[1, 1] == 255
    with pytest.raises(FileExistsError, match="x.png exists"):
        save_png(np.zeros((2, 2)), path)
    save_png(np.zeros((2, 2)), path, force=True)
    with Image.open(path) as img:
        assert np.asarray(img).max() == 0
