# %% [markdown]
# # 15 · The textbook path and the fast path
#
# Every convolution in tinycnn can be computed two ways. The **textbook path** uses the NumPy kernels:
# im2col, then one matrix product forward; the input gradient as the full correlation of the output
# gradient with the 180°-rotated kernel (notebook 02); max pooling as NumPy slices. The **fast path**
# (`tinycnn/accel/`) uses compiled Numba loops, a direct convolution that never builds the im2col matrix,
# and one fused kernel for each Conv2d → ReLU → MaxPool2d run. The fused kernel only runs in a model that
# `tinycnn.accel.fuse` has rewritten, as `tinycnn train` does.
#
# One setting picks the path, for the code inside a `with` block:
#
# ```python
# with tinycnn.config(kernels="numpy", conv_backward="rot180", fusion=False):
#     ...   # the textbook code, and nothing else (tests/test_textbook_path.py instruments it)
# ```
#
# This notebook trains LeNet-5 the same way on both paths: the same data, seed and steps. Both reach the same
# accuracy. It then times each layer of the speed work.

# %%
import time

import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import accel, optim
import tinycnn.nn.functional as F
from tinycnn.models import lenet5
from tinycnn.utils.data import Subset
from tinycnn.vision import datasets, transforms as T

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
TRAIN_SIZE, TEST_SIZE, BATCH, LR = 3_000, 1_000, 32, 2e-3
TEXTBOOK = dict(kernels="numpy", conv_backward="rot180", fusion=False)

normalize = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
train_set = Subset(datasets.MNIST(train=True, transform=normalize), np.arange(TRAIN_SIZE))
test_set = Subset(datasets.MNIST(train=False, transform=normalize), np.arange(TEST_SIZE))
order = np.random.default_rng(0).permutation(TRAIN_SIZE)
batches = [order[i:i + BATCH] for i in range(0, TRAIN_SIZE, BATCH)]
test_images, test_labels = test_set.get_batch(np.arange(TEST_SIZE))
print(f"{TRAIN_SIZE} training images in {len(batches)} batches of {BATCH}, {TEST_SIZE} test images")

# %% [markdown]
# ## 1. What each path puts in the graph
#
# The autograd graph of one forward pass names the `Function` of every op. On the textbook path each layer
# is its own op. In a fused model on the fast path, each conv-ReLU-pool run is one op. `print(model)` shows
# the fused layers, and they hold the same parameters under the same `state_dict` keys.

# %%
def graph_ops(out):
    seen, stack = [], [out]
    while stack:
        fn = stack.pop()._ctx
        if fn is not None:
            seen.append(type(fn).__name__)
            stack += [i for i in fn.inputs if isinstance(i, tinycnn.Tensor)]
    return seen[::-1]

x = test_images[:4]
with tinycnn.config(**TEXTBOOK):
    print("textbook:", " -> ".join(graph_ops(lenet5("modern")(x))))
fused = accel.fuse(lenet5("modern"))
print("fast:    ", " -> ".join(graph_ops(fused(x))))
print(fused)
assert list(fused.state_dict()) == list(lenet5("modern").state_dict())

# %% [markdown]
# ## 2. The same training on both paths
#
# Both runs start from the same weights (`manual_seed(0)`) and see the same batches in the same order, with
# Adam at learning rate $2\cdot10^{-3}$. The two paths add up the same products in different orders, so the
# float32 weights drift apart by rounding, but not in what the network learns.

# %%
def train(settings, fuse):
    tinycnn.manual_seed(0)
    model = lenet5("modern")
    if fuse:
        accel.fuse(model)
    opt = optim.Adam(model.parameters(), lr=LR)
    losses = []
    with tinycnn.config(**settings):
        start = time.perf_counter()
        for idx in batches:
            images, labels = train_set.get_batch(idx)
            loss = F.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        seconds = time.perf_counter() - start
        model.eval()
        with tinycnn.no_grad():
            accuracy = float((model(test_images).numpy().argmax(1) == test_labels.numpy()).mean())
    return model, np.array(losses), accuracy, seconds

textbook_model, textbook_losses, textbook_acc, textbook_s = train(TEXTBOOK, fuse=False)
fast_model, fast_losses, fast_acc, fast_s = train({}, fuse=True)
print(f"textbook path: test accuracy {textbook_acc:.3f}, {textbook_s:.1f} s for {len(batches)} steps")
print(f"fast path:     test accuracy {fast_acc:.3f}, {fast_s:.1f} s for {len(batches)} steps")
drift = max(float(np.abs(a.numpy() - b.numpy()).max()) for a, b in
            zip(textbook_model.parameters(), fast_model.parameters()))
print(f"largest weight difference after training: {drift:.2e}")
assert textbook_acc > 0.85 and abs(textbook_acc - fast_acc) <= 0.02

# %%
def smooth(v, k=10):
    return np.convolve(v, np.ones(k) / k, mode="valid")

fig, ax = plt.subplots(figsize=(7, 3.4))
ax.plot(smooth(textbook_losses), label=f"textbook (test accuracy {textbook_acc:.3f})")
ax.plot(smooth(fast_losses), "--", label=f"fast (test accuracy {fast_acc:.3f})")
ax.set_xlabel(f"step (batch of {BATCH})")
ax.set_ylabel("training loss (smoothed)")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. What each layer of the speed work buys
#
# The same training step (forward, backward and Adam, batch 32) timed under five settings, from the textbook
# up to what `tinycnn train` runs. Each time is the median of 15 steps after 3 warm-up steps. These are
# wall-clock numbers from whatever machine last ran this notebook, so a busy machine gives noisy ones.
# `benchmarks/lenet_epoch.py` measures a whole epoch against PyTorch.

# %%
def ms_per_step(settings, fuse, steps=15, warmup=3):
    tinycnn.manual_seed(0)
    model = lenet5("modern")
    if fuse:
        accel.fuse(model)
    opt = optim.Adam(model.parameters(), lr=LR)
    times = []
    with tinycnn.config(**settings):
        for i in range(warmup + steps):
            images, labels = train_set.get_batch(batches[i % len(batches)])
            start = time.perf_counter()
            loss = F.cross_entropy(model(images), labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times[warmup:]))

ladder = {
    "textbook: NumPy, rot180": (TEXTBOOK, False),
    "NumPy kernels, col2im": (dict(kernels="numpy", conv_backward="col2im", fusion=False), False),
    "Numba im2col + GEMM": (dict(kernels="numba", conv_direct=False, fusion=False), False),
    "+ direct convolution": (dict(kernels="numba", fusion=False), False),
    "+ fused conv-ReLU-pool": (dict(kernels="numba"), True),
}
timings = {name: ms_per_step(*args) for name, args in ladder.items()}
for name, ms in timings.items():
    print(f"{name:26s} {ms:7.2f} ms/step")

fig, ax = plt.subplots(figsize=(7, 2.8))
ax.barh(list(timings)[::-1], list(timings.values())[::-1])
ax.set_xlabel("ms per training step (batch 32)")
fig.tight_layout()
plt.show()

# %% [markdown]
# The textbook path is the one to read and to change: each line of it is derived in a docstring and checked
# by a gradcheck. The fast path computes the same sums in a different order and in compiled loops. Tests hold
# it to the textbook path's numbers: bit for bit for fusion, and to float rounding for the kernels. So an
# experiment can start on the textbook path and move to the fast one without changing what it measures.
