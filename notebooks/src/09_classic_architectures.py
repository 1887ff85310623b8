# %% [markdown]
# # 09 · Classic architectures: shapes, parameters, receptive fields, and why the tricks work
#
# Textbooks work through LeNet, AlexNet and VGG by hand: the output size of every layer
# ($N = \lfloor (W - F + 2P)/S \rfloor + 1$), its parameter count, the receptive field of stacked 3×3
# convolutions, the saving of GoogLeNet's 1×1 "bottleneck" and MobileNet's depthwise-separable
# convolution, and ResNet's shortcut. This notebook reproduces those tables with `tinycnn.utils.summary`
# and `tinycnn.utils.receptive_field`, checks the arithmetic, and measures the gradient flow that
# motivates residual connections.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn
import tinycnn.nn.functional as F
from tinycnn.models import lenet5, vgg16
from tinycnn.utils import conv_output_size, conv_params, receptive_field, stack_receptive_field, summary

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})


def rows_with_params(s):
    """(type, output shape without the batch, parameters) of every layer of a summary."""
    return [(r.type, tuple(r.output_shape[1:]), r.params) for r in s.rows]

# %% [markdown]
# ## 1. LeNet-5: the textbook table
#
# | layer | shape | size | parameters |
# |---|---|---|---|
# | Input | (32, 32, 3) | 3072 | 0 |
# | Conv1 (f=5, s=1) | (28, 28, 6) | 4704 | 450 + 6 |
# | Pool1 | (14, 14, 6) | 1176 | 0 |
# | Conv2 (f=5, s=1) | (10, 10, 16) | 1600 | 2400 + 16 |
# | Pool2 | (5, 5, 16) | 400 | 0 |
# | FC3 | (120, 1) | 120 | 48000 + 120 |
# | FC4 | (84, 1) | 84 | 10080 + 84 |
# | Output | (10, 1) | 10 | 840 + 10 |
#
# The table is for an RGB input (3 × 5 × 5 × 6 = 450 weights in Conv1). tinycnn's `lenet5` takes 28×28
# digits padded by 2, the same as a 32×32 input, so `lenet5(in_channels=3)` on a 3×28×28 input must give
# exactly these numbers (shapes in PyTorch's channel-first order):

# %%
s = summary(lenet5("classic", in_channels=3), (3, 28, 28))
print(s)

LENET_TABLE = [("Conv2d", (6, 28, 28), 450 + 6), ("AvgPool2d", (6, 14, 14), 0),
               ("Conv2d", (16, 10, 10), 2400 + 16), ("AvgPool2d", (16, 5, 5), 0),
               ("Linear", (120,), 48000 + 120), ("Linear", (84,), 10080 + 84), ("Linear", (10,), 840 + 10)]
ours = [r for r in rows_with_params(s) if r[0] in ("Conv2d", "AvgPool2d", "Linear")]
assert ours == LENET_TABLE, ours
assert s.total_params == sum(p for *_, p in LENET_TABLE) == 62_006
print("the LeNet table, reproduced; total", f"{s.total_params:,}", "parameters")

# %% [markdown]
# ## 2. AlexNet: a layer-by-layer walk
#
# The walk follows the paper's single-tower reading: a 227×227×3 input, 96 kernels of 11×11 with stride 4,
# overlapping 3×3/2 max pooling, then 256, 384, 384, 256 channels, and three fully connected layers
# 9216 → 4096 → 4096 → 1000. Built from `nn` layers (without LRN and dropout, which do not change shapes):

# %%
alexnet_walk = nn.Sequential(
    nn.Conv2d(3, 96, 11, stride=4), nn.ReLU(), nn.MaxPool2d(3, stride=2),
    nn.Conv2d(96, 256, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, stride=2),
    nn.Conv2d(256, 384, 3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 384, 3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, stride=2),
    nn.Flatten(), nn.Linear(9216, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(), nn.Linear(4096, 1000))
s = summary(alexnet_walk, (3, 227, 227))
print(s)

shapes = [r.output_shape[1:] for r in s.rows if r.type in ("Conv2d", "MaxPool2d")]
assert shapes == [(96, 55, 55), (96, 27, 27), (256, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13),
                  (256, 13, 13), (256, 6, 6)]
assert conv_output_size(227, 11, stride=4) == 55 and conv_output_size(55, 3, stride=2) == 27
fc = sum(r.params for r in s.rows if r.type == "Linear")
print(f"{s.total_params:,} parameters, {fc / s.total_params:.0%} of them in the fully connected layers")
assert fc / s.total_params > 0.9

# %% [markdown]
# ## 3. VGG-16
#
# Thirteen 3×3 convolutions (padding 1, so only the five 2×2 max pools shrink the map: 224 → 7) and three
# fully connected layers. The first FC layer alone has 7·7·512 × 4096 = 102,760,448 weights,
# most of the 138M total:

# %%
vgg = vgg16()
s = summary(vgg, (3, 224, 224))
convs = [r for r in s.rows if r.type == "Conv2d"]
pools = [r.output_shape[1:] for r in s.rows if r.type == "MaxPool2d"]
print(f"{len(convs)} conv layers; after each pool: {pools}")
fc1 = next(r for r in s.rows if r.type == "Linear")
print(f"first FC layer: {fc1.params:,} parameters ({fc1.params / s.total_params:.0%} of {s.total_params:,})")
print(f"multiply-adds for one 224×224 image: {s.total_macs / 1e9:.2f} G, "
      f"{sum(r.macs for r in convs) / s.total_macs:.0%} of them in the convolutions")
assert len(convs) == 13 and pools[-1] == (512, 7, 7)
assert fc1.params == 7 * 7 * 512 * 4096 + 4096 and s.total_params == 138_357_544

# %% [markdown]
# The parameters live in the FC layers, the computation in the convolutions: the usual
# remark "the early convs take the memory, the FC layers the parameters" in numbers:

# %%
names = [f"{r.type[:4]}{i}" for i, r in enumerate(s.rows) if r.type in ("Conv2d", "Linear")]
params = [r.params for r in s.rows if r.type in ("Conv2d", "Linear")]
macs = [r.macs for r in s.rows if r.type in ("Conv2d", "Linear")]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5), sharex=True)
ax1.bar(range(len(params)), np.array(params) / 1e6, color="C0")
ax1.set_ylabel("parameters (M)")
ax2.bar(range(len(macs)), np.array(macs) / 1e9, color="C1")
ax2.set_ylabel("multiply-adds (G)")
for ax in (ax1, ax2):
    ax.set_xticks(range(len(names)), ["conv"] * 13 + ["fc"] * 3, rotation=90, fontsize=8)
fig.suptitle("VGG-16 layer by layer")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Receptive fields
#
# Receptive fields are computed from the top down, $F(i) = (F(i+1) - 1)\,S_i + K_i$ with $F = 1$ at the
# output: three stacked 3×3 convolutions see $1 \to 3 \to 5 \to 7$ pixels, the window of one 7×7
# convolution, with $3 \cdot 9 C^2 = 27 C^2$ weights instead of $49 C^2$ (and two more nonlinearities). That is
# VGG's argument for small kernels.

# %%
assert stack_receptive_field([(3, 1)] * 3) == 7
assert conv_params(64, 64, 3, bias=False) * 3 == 27 * 64 ** 2 < conv_params(64, 64, 7, bias=False) == 49 * 64 ** 2
three = nn.Sequential(*[nn.Conv2d(8, 8, 3) for _ in range(3)])
print(receptive_field(three, (8, 16, 16)))
assert receptive_field(three, (8, 16, 16)).final == (7, 7)

# %% [markdown]
# Walking bottom-up (jump $j$ = distance between neighbouring outputs in input pixels, $r_{out} = r_{in} + (K - 1)\,j_{in}$),
# the receptive field of every layer of LeNet and VGG-16:

# %%
print(receptive_field(lenet5(), (1, 28, 28)))
rf_vgg = receptive_field(vgg.features, (3, 64, 64))   # the conv part; receptive fields do not depend on H, W
del vgg
assert rf_vgg.final == (212, 212)                   # the last max pool sees a 212×212 window

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot([r.receptive_field[0] for r in rf_vgg.rows], "o-", ms=3)
ax.set_xticks(range(len(rf_vgg.rows)), [("C" if r.type == "Conv2d" else "P") for r in rf_vgg.rows])
ax.set_xlabel("VGG-16 layer (C = conv 3×3, P = max pool 2×2)")
ax.set_ylabel("receptive field (pixels)")
plt.show()

# %% [markdown]
# Every 3×3 conv adds $2 j$ where $j$ doubles after each pool: the receptive field grows slowly at first and
# fast at the end.
#
# ## 5. Why 1×1 convolutions save parameters (GoogLeNet)
#
# GoogLeNet's inception (4b): a 5×5 convolution from 512 to 64 channels has $5\cdot5\cdot512\cdot64 = 819{,}200$
# weights. Squeezing to 24 channels with a 1×1 convolution first costs
# $1\cdot1\cdot512\cdot24 + 5\cdot5\cdot24\cdot64 = 12{,}288 + 38{,}400 = 50{,}688$, 16 times fewer. The multiply-adds
# shrink by the same factor, since every weight is used once per output pixel:

# %%
direct = nn.Conv2d(512, 64, 5, padding=2, bias=False)
bottleneck = nn.Sequential(nn.Conv2d(512, 24, 1, bias=False), nn.Conv2d(24, 64, 5, padding=2, bias=False))
s_direct, s_bottle = summary(direct, (512, 14, 14)), summary(bottleneck, (512, 14, 14))
print(f"5x5 conv 512->64:            {s_direct.total_params:>8,} weights, {s_direct.total_macs:>12,} MACs on 14x14")
print(f"1x1 512->24, then 5x5 24->64: {s_bottle.total_params:>8,} weights, {s_bottle.total_macs:>12,} MACs")
assert s_direct.total_params == 819_200 == conv_params(512, 64, 5, bias=False)
assert s_bottle.total_params == 50_688 == 12_288 + 38_400
assert s_direct.total_macs == 819_200 * 14 * 14 and s_bottle.total_macs == 50_688 * 14 * 14

# %% [markdown]
# ## 6. Depthwise-separable convolutions (MobileNet)
#
# MobileNet (Howard et al. 2017) compares a standard convolution with its pair "depthwise (DW) + pointwise (PW)" for $M$
# input channels, $N$ output channels, a $D_K \times D_K$ kernel and a $D_F \times D_F$ output:
#
# $$\text{standard: } D_K^2\, M\, N\, D_F^2, \qquad
# \text{DW: } D_K^2\, M\, D_F^2 \ \ (\text{one kernel per channel, groups} = M), \qquad
# \text{PW: } M\, N\, D_F^2 \ \ (1\times1),$$
#
# $$\frac{\text{DW} + \text{PW}}{\text{standard}} = \frac{1}{N} + \frac{1}{D_K^2} \approx \frac19 \text{ for 3×3 kernels.}$$

# %%
M, N, DF, DK = 32, 64, 56, 3
standard = nn.Conv2d(M, N, DK, padding=1, bias=False)
separable = nn.Sequential(nn.Conv2d(M, M, DK, padding=1, groups=M, bias=False), nn.Conv2d(M, N, 1, bias=False))
macs_std = summary(standard, (M, DF, DF)).total_macs
macs_sep = summary(separable, (M, DF, DF)).total_macs
print(f"standard {macs_std:,} MACs, depthwise-separable {macs_sep:,} MACs: ratio {macs_sep / macs_std:.4f} "
      f"= 1/N + 1/DK^2 = {1 / N + 1 / DK ** 2:.4f}")
assert macs_std == DK ** 2 * M * N * DF ** 2 and macs_sep == DK ** 2 * M * DF ** 2 + M * N * DF ** 2
assert np.isclose(macs_sep / macs_std, 1 / N + 1 / DK ** 2)

n_out = np.arange(8, 513, 8)
fig, ax = plt.subplots(figsize=(6.5, 3.2))
for dk in (3, 5, 7):
    ax.plot(n_out, 1 / n_out + 1 / dk ** 2, label=f"{dk}×{dk} kernel")
ax.set_xlabel("output channels N")
ax.set_ylabel("cost relative to a standard conv")
ax.set_ylim(0, 0.3)
ax.legend()
plt.show()

# %% [markdown]
# ## 7. Residual connections and gradient flow
#
# A residual block computes $x_{\ell+1} = x_\ell + f(x_\ell)$, so
#
# $$\frac{\partial L}{\partial x_\ell} = \frac{\partial L}{\partial x_{L}} \prod_{k=\ell}^{L-1}\Bigl(I + \frac{\partial f_k}{\partial x_k}\Bigr),$$
#
# which expands into a sum over paths that always includes the identity path $\partial L/\partial x_L$ itself: the
# gradient reaching early layers cannot vanish just because each $f_k$ is small. A plain stack
# $x_{\ell+1} = f(x_\ell)$ has only the product $\prod_k \partial f_k/\partial x_k$, which shrinks (or explodes)
# geometrically with depth. The experiment: 15 blocks of two 3×3 convolutions each (30 conv layers, 16
# channels, 8×8 maps, PyTorch's default initialisation), plain vs residual, and the gradient norm reaching
# each block's weights.

# %%
DEPTH, CH = 15, 16

class PlainBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(CH, CH, 3, padding=1), nn.Conv2d(CH, CH, 3, padding=1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))))

class ResidualBlock(PlainBlock):
    def forward(self, x):
        return F.relu(x + self.conv2(F.relu(self.conv1(x))))     # ResNet's basic block, without BN

def gradient_norms(block):
    tinycnn.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, CH, 3, padding=1), *[block() for _ in range(DEPTH)],
                        nn.Flatten(), nn.Linear(CH * 8 * 8, 10))
    x = tinycnn.tensor(np.random.default_rng(0).standard_normal((16, 1, 8, 8)).astype(np.float32))
    y = tinycnn.tensor(np.arange(16) % 10)
    F.cross_entropy(net(x), y).backward()
    return np.array([np.linalg.norm(b.conv1.weight.grad.numpy()) for b in list(net)[1:DEPTH + 1]])

plain, residual = gradient_norms(PlainBlock), gradient_norms(ResidualBlock)
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.semilogy(np.arange(1, DEPTH + 1), plain, "o-", ms=3, label="plain")
ax.semilogy(np.arange(1, DEPTH + 1), residual, "o-", ms=3, label="residual")
ax.set_xlabel("block (1 = next to the input)")
ax.set_ylabel(r"$\|\partial L / \partial W\|$ of the block's first conv")
ax.legend()
plt.show()
print(f"first block / last block gradient norm: plain {plain[0] / plain[-1]:.1e}, "
      f"residual {residual[0] / residual[-1]:.1e}")
assert 0 < plain[0] / plain[-1] < 1e-4 and residual[0] / residual[-1] > 0.1
