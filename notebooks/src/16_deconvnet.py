# %% [markdown]
# # 16 · Deconvnet, guided backpropagation and saliency
#
# Zeiler & Fergus (2014, "Visualizing and Understanding Convolutional Networks", Section 2.1) looked inside
# a trained network by sending one activation back down to the pixels through a **deconvnet** attached to
# every layer: each max pooling is undone by *unpooling* (the value goes back to where the maximum came from,
# recorded as a "switch" on the forward pass), each ReLU by a ReLU, each convolution by the *transposed*
# convolution with the same filters. Every other activation of the layer is set to zero first, so the
# picture shows what that single unit responds to. Their Figure 2 shows, for layers 1 to 5, the top 9
# activations of a few feature maps over the validation set, projected, beside the image patches they come
# from.
#
# Two relatives use the same backward pass with another rule at the ReLUs:
#
# | method | at a ReLU with forward input $f$, the signal $R$ from above becomes |
# |---|---|
# | gradient (Simonyan et al., 2014: saliency) | $(f > 0)\cdot R$ |
# | deconvnet (Zeiler & Fergus, 2014) | $(R > 0)\cdot R$ |
# | guided backpropagation (Springenberg et al., 2015) | $(f > 0)\cdot(R > 0)\cdot R$ |
#
# and Simonyan, Vedaldi & Zisserman's class **saliency map** is $M_{ij} = \max_c |\partial S_y / \partial I_{c,i,j}|$,
# the gradient of the class score (before the softmax) with respect to the pixels. All three are in
# `tinycnn.utils.visualize` and in the command `tinycnn visualize`.
#
# ZFNet itself (`tinycnn.models.zfnet`) takes 224×224 images and 62 million weights, far too slow to train
# here. This notebook trains, in a few seconds, a network of the same shape scaled to MNIST: five
# convolutions, pooling after the first, second and fifth as in ZFNet.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn, optim
import tinycnn.nn.functional as F
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.utils.visualize import deconvnet, guided_backprop, saliency, to_display
from tinycnn.vision import datasets, transforms as T

plt.rcParams.update({"figure.dpi": 90})

# %%
normalize = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
train_set = Subset(datasets.MNIST(train=True, transform=normalize), np.arange(10000))
test_set = datasets.MNIST(train=False, transform=normalize)
test_pixels = test_set.data.numpy()                      # the uint8 digits

tinycnn.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),       # conv1  8 x 14 x 14
    nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),      # conv2 16 x 7 x 7
    nn.Conv2d(16, 24, 3, padding=1), nn.ReLU(),                      # conv3 24 x 7 x 7
    nn.Conv2d(24, 24, 3, padding=1), nn.ReLU(),                      # conv4 24 x 7 x 7
    nn.Conv2d(24, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),     # conv5 16 x 3 x 3
    nn.Flatten(), nn.Linear(16 * 3 * 3, 10),
)
opt = optim.Adam(model.parameters(), lr=3e-3)
for images, labels in DataLoader(train_set, batch_size=32, shuffle=True, seed=0):
    loss = F.cross_entropy(model(images), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
model.eval()

test_images, test_labels = (t.numpy() for t in test_set.get_batch(np.arange(1000)))
with tinycnn.no_grad():
    accuracy = (model(tinycnn.tensor(test_images)).numpy().argmax(1) == test_labels).mean()
print(f"one pass over 10,000 digits: test accuracy {accuracy:.3f} (1,000 test images)")
assert accuracy > 0.9

# %% [markdown]
# ## Layer 1: a projection is the filter
#
# Below the first convolution there is nothing to undo but the convolution itself, so the projection of one
# conv1 activation $a$ is its filter, scaled by $a$, placed at the unit's window; and the gradient of that
# activation with respect to the pixels is the same filter (no ReLU below it, so guided backpropagation is
# the plain gradient). `deconvnet` picks, per channel, the single strongest activation.

# %%
first = deconvnet(model, test_images[:1], "conv1", top=8)
for k, c in enumerate(first.channels):
    guided = guided_backprop(model, test_images[0], layer="conv1", channel=int(c))
    assert np.allclose(first.images[k] / first.activations[k], guided, atol=1e-6)
    r, col = first.positions[k]
    window = np.pad(first.images[k, 0], 2)[r:r + 5, col:col + 5]        # conv1 pads by 2
    assert np.allclose(window / first.activations[k], model[0].weight.numpy()[c, 0], atol=1e-6)
print("conv1 projections = activation x filter = the guided gradient, for all 8 channels")

# %% [markdown]
# ## Layers 1 to 5 side by side
#
# For each layer, the three channels with the strongest activations over 500 test digits; for each channel
# its top 3 activations (in three different digits), projected down (left block), and the patch of the digit
# each one sees, its receptive field (right block; `Projections.boxes`). The window grows from 5×5 pixels
# (conv1) by the kernel times the jump at each layer: 9, 17, 25 and 33 pixels, which covers the whole
# 28×28 digit at conv5. Each projection is cropped to the same window.

# %%
images = test_images[:500]
layers = ["conv1", "conv2", "conv3", "conv4", "conv5"]
fig, axes = plt.subplots(5, 19, figsize=(15, 4.6), gridspec_kw={"width_ratios": [1] * 9 + [0.3] + [1] * 9})
for row, layer in enumerate(layers):
    channels = deconvnet(model, images, layer, top=3).channels
    for i, c in enumerate(channels):
        result = deconvnet(model, images, layer, channel=int(c), top=3)
        for j in range(3):
            top, left, bottom, right = result.boxes[j]
            projection = result.images[j, 0]
            # A unit's projection never leaves its receptive field.
            assert np.isclose(np.abs(projection[top:bottom, left:right]).sum(), np.abs(projection).sum())
            digit = test_pixels[result.indices[j]]
            axes[row, 3 * i + j].imshow(to_display(projection[top:bottom, left:right], signed=True),
                                        cmap="gray", vmin=0, vmax=1)
            axes[row, 10 + 3 * i + j].imshow(digit[top:bottom, left:right], cmap="gray", vmin=0, vmax=255)
    axes[row, 0].set_ylabel(layer, rotation=0, labelpad=18, fontsize=9)
for ax in axes.flat:
    ax.set_xticks([]), ax.set_yticks([])
    for side in ax.spines.values():
        side.set_visible(False)
axes[0, 4].set_title("deconvnet projections (3 channels x top 3)", fontsize=9)
axes[0, 14].set_title("the patches they see", fontsize=9)
fig.tight_layout()
plt.show()

# %% [markdown]
# As in ZFNet's Figure 2, the first layers respond to short stroke pieces of one orientation, wherever they
# are; a deeper unit sees most of the digit and responds to a configuration of strokes (a loop, a corner, the
# junction of a 4), and its three top patches look alike: the projections show which strokes of the patch
# drove the unit, not the whole patch.
#
# ## One digit, four pictures
#
# For one test digit: the deconvnet projection of conv5's strongest unit and the guided gradient of the same
# unit (the rules differ only at the ReLUs); then, for the predicted class, the plain gradient, its guided
# version, and the saliency map (the plain gradient's magnitude). Grey is zero; light is positive.

# %%
x, label = test_images[0], int(test_labels[0])
with tinycnn.no_grad():
    predicted = int(model(tinycnn.tensor(x[None])).numpy().argmax())
top5 = deconvnet(model, x, "conv5", top=1)
guided_unit = guided_backprop(model, x, layer="conv5", channel=int(top5.channels[0]))
guided_class = guided_backprop(model, x, target=predicted)
sal = saliency(model, x, target=predicted)

xt = tinycnn.tensor(x[None], requires_grad=True)
model(xt)[0, predicted].backward()
gradient = xt.grad.numpy()[0]
assert np.allclose(sal, np.abs(gradient).max(axis=0))     # saliency = max over channels of |gradient|

pictures = [(test_pixels[0] / 255, f"digit {label} (predicted {predicted})"),
            (to_display(top5.images[0]), f"deconvnet, conv5 ch {top5.channels[0]}"),
            (to_display(guided_unit), "guided, same unit"),
            (to_display(gradient), f"gradient of class {predicted}"),
            (to_display(guided_class), f"guided, class {predicted}"),
            (to_display(sal), "saliency")]
fig, axes = plt.subplots(1, 6, figsize=(12, 2.4))
for ax, (picture, title) in zip(axes, pictures):
    ax.imshow(picture, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=8)
    ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# Springenberg et al.'s argument for the guided rule is that it keeps only what increases the output at
# every layer, so the picture is cleaner than the gradient's. One number for it: the share of each map's
# magnitude that falls on the digit's own strokes (pixels above 128, about a tenth of the image). Over 20
# test digits the guided gradient puts more of itself on the strokes than the plain gradient, and both far
# more than the strokes' share of the area.

# %%
def on_strokes(picture, digit):
    magnitude = np.abs(picture).reshape(28, 28)
    return magnitude[digit > 128].sum() / magnitude.sum()

shares = []
for i in range(20):
    target = int(model(tinycnn.tensor(test_images[i:i + 1])).numpy().argmax())
    shares.append((on_strokes(guided_backprop(model, test_images[i], target), test_pixels[i]),
                   on_strokes(saliency(model, test_images[i], target), test_pixels[i]),
                   (test_pixels[i] > 128).mean()))
guided_share, gradient_share, area = np.mean(shares, axis=0)
print(f"share on the strokes: guided {guided_share:.2f}, gradient {gradient_share:.2f}, "
      f"the strokes' area {area:.2f}")
assert guided_share > gradient_share > 1.5 * area
