# %% [markdown]
# # 10 · What a CNN learns
#
# Among the classic networks ZFNet (Zeiler & Fergus, 2013) is the one whose contribution was
# less the network than the idea of **looking inside it**: the first layers learn colour blobs and edges,
# deeper ones textures and parts. This notebook trains a LeNet-5 briefly (inside the notebook, on 10,000
# MNIST digits) and looks at
#
# 1. the first-layer filters before and after training,
# 2. the feature maps a digit produces in both convolution layers,
# 3. the input patches that excite second-layer channels most (ZFNet's "top activations"),
# 4. occlusion sensitivity (ZFNet's grey square) and the gradient of the class score with respect to
#    the pixels (a saliency map, which is just backprop run down to the input).

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import optim
import tinycnn.nn.functional as F
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.vision import datasets, transforms as T
from tinycnn.models import lenet5
from tinycnn.utils import receptive_field

plt.rcParams.update({"figure.dpi": 90})

# %%
normalize = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
train_set = Subset(datasets.MNIST(train=True, transform=normalize), np.arange(10_000))
test_set = datasets.MNIST(train=False, transform=normalize)
test_pixels = test_set.data.numpy()                      # the uint8 digits, 10000 x 28 x 28

tinycnn.manual_seed(0)
model = lenet5("modern")
initial_filters = model[0].weight.numpy().copy()
opt = optim.Adam(model.parameters(), lr=2e-3)
for images, labels in DataLoader(train_set, batch_size=32, shuffle=True, seed=0):
    loss = F.cross_entropy(model(images), labels)
    opt.zero_grad()
    loss.backward()
    opt.step()
model.eval()

test_images, test_labels = (t.numpy() for t in test_set.get_batch(np.arange(2000)))
with tinycnn.no_grad():
    accuracy = (model(tinycnn.tensor(test_images)).numpy().argmax(1) == test_labels).mean()
print(f"after one epoch on 10,000 digits: test accuracy {accuracy:.3f} (2,000 test images)")
assert accuracy > 0.9

# %% [markdown]
# ## 1. First-layer filters
#
# Six 5×5 kernels. At initialisation they are noise. One short epoch moves them only part of the way, but
# the change (third row) is already made of smooth, oriented blobs and bars: stroke and edge detectors in
# the making, the MNIST version of ZFNet's layer-1 Gabor-like filters (longer training makes them cleaner).
# A simple number for "smooth" is the mean squared difference between neighbouring weights relative to
# their variance: white noise scores about 2, a smooth pattern much less.

# %%
trained_filters = model[0].weight.numpy()
fig, axes = plt.subplots(3, 6, figsize=(9, 5))
for k in range(6):
    for row, filt, name in ((0, initial_filters, "initial"), (1, trained_filters, "trained"),
                            (2, trained_filters - initial_filters, "change")):
        f = filt[k, 0]
        axes[row, k].imshow(f, cmap="coolwarm", vmin=-np.abs(f).max(), vmax=np.abs(f).max())
        axes[row, k].set_title(f"{name} {k}", fontsize=9)
        axes[row, k].axis("off")
fig.tight_layout()
plt.show()

def roughness(f):
    """Mean squared difference between neighbouring weights, relative to the weights' own spread."""
    d = np.concatenate([np.diff(f, axis=-1).ravel(), np.diff(f, axis=-2).ravel()])
    return (d ** 2).mean() / f.var()

r0 = np.mean([roughness(f[0]) for f in initial_filters])
r1 = np.mean([roughness(f[0]) for f in trained_filters])
r_change = np.mean([roughness(f[0]) for f in trained_filters - initial_filters])
print(f"roughness: initial {r0:.2f}, trained {r1:.2f}, the change made by training {r_change:.2f}")
assert r_change < r1 < r0                        # training adds smooth structure to the noise

# %% [markdown]
# ## 2. Feature maps
#
# Each first-layer channel highlights the strokes of one orientation; the second layer combines them into
# 16 coarser maps of stroke configurations.

# %%
digit = tinycnn.tensor(test_images[:1])
with tinycnn.no_grad():
    maps1 = model[:2](digit).numpy()[0]          # conv1 + ReLU: 6 × 28 × 28
    maps2 = model[:5](digit).numpy()[0]          # ... pool, conv2 + ReLU: 16 × 10 × 10

fig = plt.figure(figsize=(11, 4.2))
ax = fig.add_subplot(2, 12, (1, 14))
ax.imshow(test_pixels[0], cmap="gray_r")
ax.set_title(f"input (label {test_labels[0]})", fontsize=9)
ax.axis("off")
for k in range(6):
    ax = fig.add_subplot(4, 12, 3 + k)
    ax.imshow(maps1[k], cmap="magma")
    ax.set_title(f"conv1 #{k}", fontsize=8)
    ax.axis("off")
for k in range(16):
    ax = fig.add_subplot(4, 12, 27 + (k % 8) + 12 * (k // 8))
    ax.imshow(maps2[k], cmap="magma")
    ax.set_title(f"conv2 #{k}", fontsize=8)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 3. What excites a second-layer channel
#
# A conv2 output sees a 14×14 window of the input: kernel 5, then pooling (jump 2), then kernel 5 again,
# $r = 5 + (2-1)\cdot 1 + (5-1)\cdot 2 = 14$. `receptive_field` confirms it and gives the jump (2 pixels between
# neighbouring outputs); with the first conv's padding of 2, output $(a, b)$ of conv2 sees input rows
# $2a-2, \dots, 2a+11$. For eight channels, the six windows (over 2,000 test digits) with the strongest
# activation:

# %%
rf = receptive_field(model, (1, 28, 28)).rows[2]          # conv, pool, conv: the third window layer
print(rf)
assert rf.receptive_field == (14, 14) and rf.jump == (2, 2)

with tinycnn.no_grad():
    acts = model[:5](tinycnn.tensor(test_images)).numpy()   # (2000, 16, 10, 10)
padded = np.pad(test_pixels[:2000], ((0, 0), (2, 2), (2, 2)))

fig, axes = plt.subplots(8, 6, figsize=(6, 8))
for row, ch in enumerate(range(8)):
    flat = acts[:, ch].reshape(-1)
    for col, idx in enumerate(np.argsort(flat)[::-1][:6]):
        n, a, b = np.unravel_index(idx, acts[:, ch].shape)
        axes[row, col].imshow(padded[n, 2 * a:2 * a + 14, 2 * b:2 * b + 14], cmap="gray_r")
        axes[row, col].set_xticks([]); axes[row, col].set_yticks([])
    axes[row, 0].set_ylabel(f"ch {ch}", fontsize=8)
fig.suptitle("top-6 input windows for conv2 channels 0-7", fontsize=10)
fig.tight_layout()
plt.show()

# %% [markdown]
# Each row repeats a motif (a curve, a corner, a line ending, a stroke crossing) at different places in
# different digits: weight sharing makes a channel a detector of one pattern wherever it appears.
#
# ## 4. Occlusion and saliency
#
# ZFNet covered parts of the image with a grey square and watched the correct class's probability drop:
# where it drops, the network was looking. The gradient $\partial\, \text{score}_y / \partial x$ gives a similar
# map in one backward pass (how much each pixel's change would move the score).

# %%
def occlusion_map(image, label, size=8, stride=2):
    positions = [(r, c) for r in range(0, 28 - size + 1, stride) for c in range(0, 28 - size + 1, stride)]
    batch = np.repeat(image[None], len(positions), axis=0)
    background = (0 - 0.1307) / 0.3081                      # a blank (black) patch after normalisation
    for k, (r, c) in enumerate(positions):
        batch[k, 0, r:r + size, c:c + size] = background
    with tinycnn.no_grad():
        p = F.softmax(model(tinycnn.tensor(batch)), dim=1).numpy()[:, label]
        p0 = F.softmax(model(tinycnn.tensor(image[None])), dim=1).numpy()[0, label]
    heat, count = np.zeros((28, 28)), np.zeros((28, 28))
    for k, (r, c) in enumerate(positions):
        heat[r:r + size, c:c + size] += p0 - p[k]
        count[r:r + size, c:c + size] += 1
    return heat / count


def saliency(image, label):
    x = tinycnn.tensor(image[None], requires_grad=True)
    model(x)[0, label].backward()
    return np.abs(x.grad.numpy()[0, 0])

fig, axes = plt.subplots(3, 4, figsize=(9, 7))
for col, i in enumerate([0, 1, 2, 3]):
    occ, sal = occlusion_map(test_images[i], test_labels[i]), saliency(test_images[i], test_labels[i])
    axes[0, col].imshow(test_pixels[i], cmap="gray_r")
    axes[0, col].set_title(f"digit {test_labels[i]}", fontsize=9)
    axes[1, col].imshow(occ, cmap="Reds")
    axes[1, col].set_title("probability drop when occluded", fontsize=8)
    axes[2, col].imshow(sal, cmap="Blues")
    axes[2, col].set_title("|d score / d pixel|", fontsize=8)
    for ax in axes[:, col]:
        ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# Both maps light up on and around the strokes, and stay dark in the empty border, where nothing the
# network uses can be hidden. The saliency is backprop one step further than training goes (down to the
# pixels instead of stopping at the weights), and finite differences confirm it along random directions.
# One subtlety: on the blank background every 2×2 max-pooling window is a tie (notebook 03), where max is
# not differentiable, so the check runs at the digit plus a little noise (1e-3), which breaks the ties.

# %%
image, label = test_images[0], test_labels[0]
occ = occlusion_map(image, label)
sal = saliency(image, label)
border = np.ones((28, 28), bool)
border[4:24, 4:24] = False
ink = test_pixels[0] > 128
assert occ[ink].mean() > occ[border].mean() and sal[ink].mean() > sal[border].mean()

double_model = lenet5("modern")
double_model.load_state_dict(model.state_dict())
double_model = double_model.double().eval()
noisy = image[None].astype(np.float64) + 1e-3 * np.random.default_rng(0).standard_normal((1, 1, 28, 28))
x64 = tinycnn.tensor(noisy, requires_grad=True)
assert tinycnn.gradcheck(lambda x: double_model(x)[:, label], [x64], directional=True, n_directions=4)
print("saliency map checked against finite differences")
