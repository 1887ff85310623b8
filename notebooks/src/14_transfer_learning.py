# %% [markdown]
# # 14 · Reusing trained weights: the three transfer modes and VGG's initialisation
#
# There are three common ways to start from a trained network:
#
# 1. load the weights and train **all** parameters;
# 2. load the weights and train only the **last few layers**;
# 3. load the weights, **add a fully connected layer** on top of the original network and train only it.
#
# and, for VGG, a fourth use of old weights: train the shallow VGG-11 first and initialise the deeper
# configurations from it. This notebook runs all of them through `tinycnn.utils.transfer` on a small task:
# a CNN trained on MNIST digits 0-4 is reused for digits 5-9, with only 500 training images for the new task.

# %%
import os
import shutil
import tempfile

import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn, optim
import tinycnn.nn.functional as F
from tinycnn.vision.datasets import MNIST
from tinycnn.models import make_layers
from tinycnn.utils import transfer

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

train_set, test_set = MNIST(train=True), MNIST(train=False)


def digits(dataset, wanted, n, offset=0):
    """n normalised images of the digits in ``wanted``, labelled 0..len(wanted)-1."""
    labels = np.asarray(dataset.targets)
    idx = np.flatnonzero(np.isin(labels, wanted))[offset:offset + n]
    images = (np.asarray(dataset.data)[idx].astype(np.float32) / 255.0 - 0.1307) / 0.3081
    remap = {d: i for i, d in enumerate(wanted)}
    return images[:, None], np.array([remap[int(v)] for v in labels[idx]])


old_x, old_y = digits(train_set, [0, 1, 2, 3, 4], 3000)
new_x, new_y = digits(train_set, [5, 6, 7, 8, 9], 500)
test_x, test_y = digits(test_set, [5, 6, 7, 8, 9], 1000)
print(old_x.shape, new_x.shape, test_x.shape)

# %% [markdown]
# The network: two conv + BatchNorm layers and two linear layers. `transfer.layers_of` shows what the API calls a
# *layer*: a conv or linear with the normalisation that follows it.

# %%
def small_cnn(num_classes=5):
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, num_classes))


for layer in transfer.layers_of(small_cnn()):
    print(f"layer {layer.name:>3}: {', '.join(layer.keys)}")


def fit(model, x, y, epochs, lr=5e-3, batch=50, seed=0):
    """Adam on the trainable parameters; frozen BatchNorms stay in eval mode. Returns the loss per step."""
    opt = optim.Adam(transfer.trainable_parameters(model), lr=lr)
    order = np.random.default_rng(seed)
    losses = []
    for _ in range(epochs):
        model.train()
        transfer.freeze_norm_stats(model)
        perm = order.permutation(len(x))
        for i in range(0, len(x), batch):
            b = perm[i:i + batch]
            loss = F.cross_entropy(model(tinycnn.tensor(x[b])), tinycnn.tensor(y[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    return losses


def accuracy(model, x, y):
    model.eval()
    with tinycnn.no_grad():
        return float((model(tinycnn.tensor(x)).numpy().argmax(1) == y).mean())

# %% [markdown]
# ## 1. Pretraining on digits 0-4

# %%
tinycnn.manual_seed(0)
pretrained = small_cnn()
fit(pretrained, old_x, old_y, epochs=2)
old_test = digits(test_set, [0, 1, 2, 3, 4], 1000)
print(f"digits 0-4 test accuracy: {accuracy(pretrained, *old_test):.3f}")
assert accuracy(pretrained, *old_test) > 0.95
workdir = tempfile.mkdtemp(prefix="tinycnn-transfer-")
WEIGHTS = os.path.join(workdir, "digits04.npz")
tinycnn.save(pretrained.state_dict(), WEIGHTS)               # the weights file every mode starts from
loaded = {k: v.numpy().copy() for k, v in pretrained.state_dict().items()}

# %% [markdown]
# ## 2. The three modes on digits 5-9, against training from scratch
#
# Mode 1 loads every layer (`load_pretrained`; with 5 classes on both tasks the head keeps its shape, so
# it is loaded too) and trains all of them. Mode 2 freezes all but the last `N` layers (`freeze(train_last=N)`).
# Mode 3 keeps the whole old network, its five outputs included, and trains one new `Linear(5, 5)` on top
# (`add_head`).

# %%
runs = {}
tinycnn.manual_seed(1)
runs["from scratch"] = small_cnn()
runs["1: train all"] = transfer.load_pretrained(small_cnn(), WEIGHTS)
for n in (1, 2):
    model = transfer.load_pretrained(small_cnn(), WEIGHTS)
    print(f"mode 2, train_last={n}: training {transfer.freeze(model, train_last=n)}")
    runs[f"2: last {n} layer{'s' if n > 1 else ''}"] = model
runs["3: new layer on top"] = transfer.add_head(transfer.load_pretrained(small_cnn(), WEIGHTS), 5)

curves, results = {}, {}
for name, model in runs.items():
    curves[name] = fit(model, new_x, new_y, epochs=4)
    results[name] = accuracy(model, test_x, test_y)
    trainable = sum(p.numel() for p in transfer.trainable_parameters(model))
    print(f"{name:<22} trainable {trainable:>7,}  first-10-step loss {np.mean(curves[name][:10]):.2f}  "
          f"test accuracy on digits 5-9: {results[name]:.3f}")

# the frozen parts are exactly the loaded weights, BatchNorm statistics included
frozen = runs["2: last 1 layer"].state_dict()
assert all(np.array_equal(frozen[k].numpy(), loaded[k]) for k in loaded if not k.startswith("12."))
on_top = runs["3: new layer on top"].backbone.state_dict()
assert all(np.array_equal(on_top[k].numpy(), loaded[k]) for k in loaded)
assert all(acc > 0.4 for acc in results.values())               # every mode learns the new task (chance: 0.2)
assert results["2: last 2 layers"] > results["2: last 1 layer"] and results["1: train all"] > results["3: new layer on top"]

# %%
fig, ax = plt.subplots(figsize=(7, 3.2))
for name, losses in curves.items():
    ax.plot(np.convolve(losses, np.ones(5) / 5, mode="valid"), label=f"{name} ({results[name]:.2f})")
ax.set_xlabel("step (500 images, batch 50)")
ax.set_ylabel("training loss (5-step mean)")
ax.set_title("digits 5-9 from a digits 0-4 network")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# The modes that can still adapt the layers after the loaded convolutions (mode 1, and mode 2 with both
# linear layers) do as well as training from scratch, which on 500 clean digits is already good for a
# network this small. The two narrowest modes are limited by features made for other digits:
# `train_last=1` can only re-weight 64 numbers shaped to separate 0-4, and mode 3's new layer sees just the
# old network's five digit scores per image, so it learns least. (`train_last=1` starts highest: its loaded
# head first maps every new digit onto one of the old ones.)
#
# ## 3. VGG's trick: a deeper network started from a shallower one
#
# VGG's authors trained configuration A (VGG-11) first and started the deeper ones from its layers.
# `transfer.init_from` pairs the layers of the two networks by position and shape (a longest common
# subsequence of their shapes) and copies the pairs; the layers the deeper network adds keep their fresh
# initialisation. Here with VGG-style stacks at 1/8 of VGG's widths:

# %%
VGG_A = [8, "M", 16, "M", 32, 32, "M"]
VGG_B = [8, 8, "M", 16, 16, "M", 32, 32, "M"]


def vgg(cfg, num_classes=5):
    return nn.Sequential(make_layers(cfg, in_channels=1), nn.Flatten(), nn.Linear(32 * 3 * 3, 64), nn.ReLU(),
                         nn.Linear(64, num_classes))


tinycnn.manual_seed(2)
shallow = vgg(VGG_A)
fit(shallow, old_x, old_y, epochs=2)
deep = vgg(VGG_B)
report = transfer.init_from(deep, shallow)
print(report)
assert [t for t, _, _ in report.copied] == ["0.0", "0.5", "0.10", "0.12", "2", "4"] and report.kept == ["0.2", "0.7"]
for t, s, _ in report.copied:
    assert np.array_equal(deep.state_dict()[f"{t}.weight"].numpy(), shallow.state_dict()[f"{s}.weight"].numpy())

tinycnn.manual_seed(3)
fresh = vgg(VGG_B)
started = {"VGG-B from VGG-A": fit(deep, old_x, old_y, epochs=1), "VGG-B from scratch": fit(fresh, old_x, old_y, epochs=1)}
for name, losses in started.items():
    print(f"{name:<20} mean loss over the first 10 steps {np.mean(losses[:10]):.3f}, last 10 {np.mean(losses[-10:]):.3f}")
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
assert np.mean(started["VGG-B from VGG-A"][:10]) < np.mean(started["VGG-B from scratch"][:10])

fig, ax = plt.subplots(figsize=(7, 3))
for name, losses in started.items():
    ax.plot(np.convolve(losses, np.ones(5) / 5, mode="valid"), label=name)
ax.set_xlabel("step")
ax.set_ylabel("training loss (5-step mean)")
ax.legend()
plt.show()

# %% [markdown]
# On the task VGG-A was trained for, VGG-B started from it begins well below a fresh VGG-B: the copied
# layers already compute most of what is needed and only the two inserted convolutions start from random,
# which is the head start VGG's authors wanted for their deeper configurations. (They later found that
# a good random initialisation, Glorot's, made the pre-training unnecessary.)

# %%
shutil.rmtree(workdir)   # the weights file of section 1
