# %% [markdown]
# # 08 · LeNet-5 on MNIST
#
# LeNet-5 (LeCun et al., 1998) was the first convolutional network trained end to end by backpropagation:
# two 5×5 convolutions with pooling, then three fully connected layers. This notebook trains it on a
# 10,000-image subset of the MNIST copy that ships with tinycnn (no download) for one short run, plots the
# learning curves, the confusion matrix and the digits it gets wrong, and compares the 1998 layout
# (**classic**: sigmoid, average pooling) with today's (**modern**: ReLU, max pooling), the change usually
# listed among LeNet's weaknesses.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import optim
import tinycnn.nn.functional as F
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.vision import datasets, transforms as T
from tinycnn.models import lenet5
from tinycnn.utils import summary
from tinycnn.utils.plotting import confusion_matrix

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
TRAIN_SIZE, EPOCHS, BATCH, LR = 10_000, 1, 32, 2e-3

# %% [markdown]
# ## 1. Data
#
# `ToTensor` scales the pixels to $[0, 1]$, `Normalize` standardises them with MNIST's mean 0.1307 and standard
# deviation 0.3081 (torchvision's pipeline: `datasets.MNIST` yields PIL images, as torchvision's does).

# %%
normalize = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
train_full = datasets.MNIST(train=True, transform=normalize)
test_set = datasets.MNIST(train=False, transform=normalize)
train_set = Subset(train_full, np.arange(TRAIN_SIZE))
print(f"{len(train_set)} training images (of {len(train_full)}), {len(test_set)} test images")

fig, axes = plt.subplots(2, 10, figsize=(10, 2.4))
for ax, i in zip(axes.flat, range(20)):
    ax.imshow(train_full.data[i], cmap="gray_r")
    ax.set_title(int(train_full.targets.numpy()[i]), fontsize=9)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. The model
#
# `lenet5()` pads the 28×28 digit by 2 so the first convolution sees the paper's 32×32 input:

# %%
print(summary(lenet5("modern"), (1, 28, 28)))

# %% [markdown]
# ## 3. Training
#
# The whole training loop is five lines per batch: forward, loss, clear the old gradients, backward,
# step. (`tinycnn.train.Trainer` and the command line `tinycnn train --train-limit 10000` wrap the same
# loop with checkpoints, schedules and metrics files.) Both variants get the same initial seed, data
# order, optimizer (Adam, learning rate $2\cdot 10^{-3}$, batches of 32) and number of steps; the test accuracy on
# the first 1,000 test images is measured every 25 steps.

# %%
def evaluate(model, dataset, limit=None):
    model.eval()
    idx = np.arange(len(dataset) if limit is None else limit)
    preds = []
    with tinycnn.no_grad():
        for chunk in np.array_split(idx, max(1, len(idx) // 1000)):
            images, _ = dataset.get_batch(chunk)
            preds.append(model(images).numpy().argmax(axis=1))
    model.train()
    preds = np.concatenate(preds)
    return preds, float((preds == dataset.targets.numpy()[idx]).mean())


def train(variant):
    tinycnn.manual_seed(0)
    model = lenet5(variant)
    opt = optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(train_set, batch_size=BATCH, shuffle=True, seed=0)
    losses, checkpoints = [], []
    start = time.perf_counter()
    for epoch in range(EPOCHS):
        for step, (images, labels) in enumerate(loader):
            logits = model(images)
            loss = F.cross_entropy(logits, labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            if step % 25 == 0 or step == len(loader) - 1:
                checkpoints.append((len(losses), evaluate(model, test_set, limit=1000)[1]))
    seconds = time.perf_counter() - start
    return model, np.array(losses), np.array(checkpoints), seconds


runs = {}
for variant in ("modern", "classic"):
    runs[variant] = train(variant)
    _, losses, checks, seconds = runs[variant]
    print(f"{variant:8s} {len(losses)} steps in {seconds:.1f} s: last loss {losses[-20:].mean():.3f}, "
          f"test accuracy (1,000 images) {checks[-1, 1]:.3f}")

# %% [markdown]
# ## 4. Learning curves

# %%
def smooth(v, k=15):
    return np.convolve(v, np.ones(k) / k, mode="valid")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
for variant, (_, losses, checks, _) in runs.items():
    ax1.plot(losses, alpha=0.25, lw=0.8)
    ax1.plot(np.arange(len(smooth(losses))) + 7, smooth(losses), color=ax1.lines[-1].get_color(),
             label=f"{variant}")
    ax2.plot(checks[:, 0], checks[:, 1], "o-", ms=3, label=variant)
ax1.set_xlabel(f"step (batch of {BATCH})")
ax1.set_ylabel("training loss")
ax1.set_ylim(0, 2.5)
ax1.legend()
ax2.set_xlabel("step")
ax2.set_ylabel("test accuracy")
ax2.set_ylim(0, 1)
ax2.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# The modern variant passes 85% test accuracy within about 75 steps; the classic one sits on a plateau at
# chance level (loss $\log 10 \approx 2.3$) for about as long before it starts to learn, and is still far
# behind after the epoch. That plateau is the
# vanishing gradient of notebook 06 at small scale: sigmoids squash every layer's gradient by at least 4,
# and average pooling divides it among the window instead of routing it.

# %%
modern_model, _, modern_checks, _ = runs["modern"]
classic_checks = runs["classic"][2]
assert modern_checks[-1, 1] > 0.9                      # one epoch on 10k images is plenty for ReLU LeNet
assert classic_checks[-1, 1] < modern_checks[-1, 1]    # same steps, same data: sigmoid/avg-pool is slower

# %% [markdown]
# ## 5. Confusion matrix (full test set, modern variant)

# %%
preds, accuracy = evaluate(modern_model, test_set)
labels = test_set.targets.numpy()
cm = confusion_matrix(labels, preds, 10)
assert cm.sum() == len(test_set) and np.array_equal(cm.sum(axis=1), np.bincount(labels, minlength=10))
assert np.isclose(np.trace(cm) / cm.sum(), accuracy)

fig, ax = plt.subplots(figsize=(5.5, 5))
ax.imshow(np.log1p(cm), cmap="Blues")
for (r, c), v in np.ndenumerate(cm):
    if v:
        ax.text(c, r, v, ha="center", va="center", fontsize=7, color="white" if r == c else "black")
ax.set_xticks(range(10)); ax.set_yticks(range(10))
ax.set_xlabel("predicted")
ax.set_ylabel("true")
ax.set_title(f"test accuracy {accuracy:.4f} after {EPOCHS} epoch on {TRAIN_SIZE:,} images")
ax.grid(False)
plt.show()

off = cm - np.diag(np.diag(cm))
r, c = np.unravel_index(off.argmax(), off.shape)
print(f"most frequent confusion: true {r} predicted as {c} ({off[r, c]} times)")

# %% [markdown]
# ## 6. The digits it gets wrong

# %%
wrong = np.flatnonzero(preds != labels)
fig, axes = plt.subplots(3, 10, figsize=(11, 3.8))
for ax, i in zip(axes.flat, wrong[:30]):
    ax.imshow(test_set.data[i], cmap="gray_r")
    ax.set_title(f"{labels[i]}→{preds[i]}", fontsize=9, color="C3")
    ax.axis("off")
for ax in axes.flat[len(wrong[:30]):]:
    ax.axis("off")
fig.suptitle("misclassified test digits (true → predicted)", fontsize=10)
plt.show()
print(f"{len(wrong)} of {len(labels)} test digits misclassified")
