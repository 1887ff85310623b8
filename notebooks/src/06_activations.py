# %% [markdown]
# # 06 · Activation functions and vanishing gradients
#
# Without a nonlinearity between them, stacked layers collapse into one linear map. This notebook plots
# the common activations with their derivatives, checks each derivative against tinycnn's backward, and
# then reproduces the argument for **AlexNet's ReLU** (Krizhevsky et al. 2012): in a deep stack of sigmoids the
# gradient shrinks layer after layer (梯度弥散, gradient vanishing), while ReLU passes it through.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn, optim
import tinycnn.nn.functional as F
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.vision import datasets, transforms as T
from tinycnn.models import lenet5
from tinycnn.utils.gradflow import GradientFlow, plot_activations, plot_gradient_flow

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1. Six activations and their derivatives
#
# | name | $f(x)$ | $f'(x)$ |
# |---|---|---|
# | sigmoid | $\sigma(x) = \dfrac{1}{1+e^{-x}}$ | $\sigma(x)\,(1-\sigma(x)) \le \tfrac14$ |
# | tanh | $\tanh x$ | $1 - \tanh^2 x \le 1$ |
# | ReLU | $\max(0, x)$ | $[x > 0]$ |
# | ReLU6 | $\min(\max(0, x), 6)$ | $[0 < x < 6]$ |
# | h-swish | $x\,\dfrac{\operatorname{ReLU6}(x+3)}{6}$ | $0$ for $x<-3$, $\dfrac{2x+3}{6}$ on $(-3, 3)$, $1$ for $x > 3$ |
# | SiLU (swish) | $x\,\sigma(x)$ | $\sigma(x)\,\bigl(1 + x\,(1-\sigma(x))\bigr)$ |
#
# ReLU6 (MobileNetV2) caps the activation so it survives low-precision arithmetic; h-swish (MobileNetV3)
# is a piecewise-quadratic stand-in for SiLU that needs no exponential. (At the kinks, where the derivative
# jumps, tinycnn follows PyTorch's convention; the grid below avoids those points.)

# %%
def sig(x):
    return 1 / (1 + np.exp(-x))

ACTIVATIONS = {
    "sigmoid": (F.sigmoid, sig, lambda x: sig(x) * (1 - sig(x))),
    "tanh": (F.tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "ReLU": (F.relu, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    "ReLU6": (F.relu6, lambda x: np.clip(x, 0, 6), lambda x: ((x > 0) & (x < 6)).astype(float)),
    "h-swish": (F.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6,
                lambda x: np.where(x < -3, 0.0, np.where(x > 3, 1.0, (2 * x + 3) / 6))),
    "SiLU": (F.silu, lambda x: x * sig(x), lambda x: sig(x) * (1 + x * (1 - sig(x)))),
}

xs = np.linspace(-8, 8, 1601)
xs = xs[np.all([np.abs(xs - k) > 1e-3 for k in (-3, 0, 3, 6)], axis=0)]   # off the kinks

fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True)
for ax, (name, (fn, f_np, df_np)) in zip(axes.flat, ACTIVATIONS.items()):
    x = tinycnn.tensor(xs, requires_grad=True)       # float64: xs is a float64 array
    y = fn(x)
    y.backward(gradient=tinycnn.ones_like(y))         # x.grad = f'(x) elementwise
    assert np.allclose(y.numpy(), f_np(xs)), name
    assert np.allclose(x.grad.numpy(), df_np(xs)), name
    ax.plot(xs, y.numpy(), label="$f(x)$")
    ax.plot(xs, x.grad.numpy(), label="$f'(x)$ (tinycnn backward)")
    ax.set_title(name)
    ax.set_ylim(-1.2, 7 if name == "ReLU6" else 3)
axes[0, 0].legend(loc="upper left", fontsize=8)
fig.tight_layout()
plt.show()
print("every forward and backward matches its formula")

# %% [markdown]
# Finite differences agree as well (gradcheck on points away from the kinks):

# %%
rng = np.random.default_rng(0)
pts = rng.uniform(-5, 5, 40)
pts = pts[np.all([np.abs(pts - k) > 0.1 for k in (-3, 0, 3, 6)], axis=0)]
for name, (fn, _, _) in ACTIVATIONS.items():
    assert tinycnn.gradcheck(fn, [tinycnn.tensor(pts, requires_grad=True)]), name
print("gradcheck passed for", ", ".join(ACTIVATIONS))

# %% [markdown]
# ## 2. Vanishing gradients through a deep stack
#
# For a stack $h_\ell = f(W_\ell h_{\ell-1} + b_\ell)$ the chain rule gives
#
# $$\frac{\partial L}{\partial h_{\ell-1}} = W_\ell^\top \Bigl( f'(a_\ell) \odot \frac{\partial L}{\partial h_\ell} \Bigr),$$
#
# one factor $f'$ per layer. With sigmoid, $f' \le \tfrac14$ everywhere, so after $\ell$ layers the gradient
# carries a factor up to $4^{-\ell}$ unless the weights are large enough to compensate (and large weights
# push the sigmoid into saturation, where $f' \approx 0$). ReLU's derivative is exactly 1 on its active half,
# so with He initialisation ($\operatorname{Var} W = 2/\text{fan\_in}$, compensating the half that is
# switched off) the gradient keeps its size.
#
# The experiment: 30 fully-connected layers of width 128, each activation with its recommended
# initialisation (Xavier for sigmoid/tanh, He for ReLU), one batch of random data, and the gradient norm of
# every layer's weights.

# %%
DEPTH, WIDTH, BATCH = 30, 128, 64

def deep_net(act, init):
    tinycnn.manual_seed(0)
    layers = []
    for _ in range(DEPTH):
        lin = nn.Linear(WIDTH, WIDTH)
        init(lin.weight)
        nn.init.zeros_(lin.bias)
        layers += [lin, act()]
    layers.append(nn.Linear(WIDTH, 10))
    return nn.Sequential(*layers)

x = tinycnn.tensor(np.random.default_rng(1).standard_normal((BATCH, WIDTH)).astype(np.float32))
y = tinycnn.tensor(np.random.default_rng(2).integers(0, 10, BATCH))

setups = {
    "sigmoid (Xavier)": (nn.Sigmoid, nn.init.xavier_normal_),
    "tanh (Xavier)": (nn.Tanh, nn.init.xavier_normal_),
    "ReLU (He)": (nn.ReLU, lambda w: nn.init.kaiming_normal_(w, nonlinearity="relu")),
}
norms = {}
for name, (act, init) in setups.items():
    net = deep_net(act, init)
    F.cross_entropy(net(x), y).backward()
    linears = [m for m in net if isinstance(m, nn.Linear)][:DEPTH]
    norms[name] = np.array([np.linalg.norm(m.weight.grad.numpy()) for m in linears])

fig, ax = plt.subplots(figsize=(7, 4))
for name, n in norms.items():
    ax.semilogy(np.arange(1, DEPTH + 1), n, "o-", ms=3, label=name)
ax.set_xlabel("layer (1 = next to the input)")
ax.set_ylabel(r"$\|\partial L / \partial W_\ell\|$")
ax.set_title(f"gradient norm per layer, {DEPTH}-layer MLP")
ax.legend()
plt.show()

for name, n in norms.items():
    print(f"{name:18s} first layer / last layer gradient norm: {n[0] / n[-1]:.2e}")
assert norms["sigmoid (Xavier)"][0] / norms["sigmoid (Xavier)"][-1] < 1e-6     # vanished
assert 0.1 < norms["ReLU (He)"][0] / norms["ReLU (He)"][-1] < 10               # preserved

# %% [markdown]
# The sigmoid network's first layers get a gradient more than a million times smaller than its last:
# they barely learn. The measured decay per layer is close to the $\tfrac14$ bound. tanh, whose slope is 1
# at 0, keeps the gradient at this depth with Xavier initialisation (as long as its inputs stay small, i.e.
# before training saturates it), and ReLU with He initialisation keeps it within a small factor across all
# 30 layers. Together with cheaper arithmetic (no exponential), this is why AlexNet (2012) replaced
# LeNet's saturating sigmoid by ReLU, and notebook 08 shows the effect on training speed. Residual
# connections (notebook 09) attack the same problem from the architecture side.

# %%
per_layer = (norms["sigmoid (Xavier)"][0] / norms["sigmoid (Xavier)"][-1]) ** (1 / (DEPTH - 1))
print(f"sigmoid: the gradient shrinks by a factor {per_layer:.3f} per layer (bound: 0.25 times the weights' gain)")

# %% [markdown]
# ## 3. Gradient flow while training LeNet: sigmoid vs ReLU
#
# The same effect in LeNet-5, while it trains on real digits. The classic LeNet-5 has
# sigmoids after each convolution and fully-connected layer (and average pooling), the modern one ReLU (and
# max pooling). `tinycnn.utils.gradflow.GradientFlow` is the hook a training loop calls after each
# `backward()`: it reads every parameter's gradient (and watches each layer's output), and
# `plot_gradient_flow` draws the classic figure, the gradient norm of each layer's weights with the input
# on the left. Both networks start from the same seed and see the same 40 batches of 64 digits, with SGD.

# %%
digits = Subset(datasets.MNIST(train=True, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])), np.arange(2560))

def train_with_flow(variant):
    tinycnn.manual_seed(0)
    model = lenet5(variant)
    opt = optim.SGD(model.parameters(), lr=0.1)
    flow = GradientFlow(model, every=4)
    for step, (images, labels) in enumerate(DataLoader(digits, batch_size=64, shuffle=True, seed=0)):
        loss = F.cross_entropy(model(images), labels)
        opt.zero_grad()
        loss.backward()
        flow.after_backward(step)            # before opt.step(): the gradients of this step
        opt.step()
    flow.close()
    print(f"{variant:8s} LeNet: loss after {step + 1} steps {loss.item():.3f}")
    return flow

flows = {"sigmoid LeNet (classic)": train_with_flow("classic"), "ReLU LeNet (modern)": train_with_flow("modern")}
fig, ax = plt.subplots(figsize=(7, 4))
plot_gradient_flow(flows, ax=ax)
plt.show()

# %% [markdown]
# Each line is the mean over the recorded steps, the band their range. In the sigmoid network the first
# convolution's gradient is thousands of times smaller than the last layer's: every sigmoid multiplies the
# backward signal by $\sigma'(a) \le \tfrac14$, and the 2×2 average pooling by another $\tfrac14$ per
# input pixel. The ReLU network's layers all get gradients of the same order, so they all learn, which is
# why its loss has already dropped while the sigmoid one's has barely moved.

# %%
ratio = {}
for name, flow in flows.items():
    layers, norms_per_step = flow.series("norm")
    mean = norms_per_step.mean(axis=0)
    ratio[name] = mean[0] / mean[-1]
    print(f"{name:24s} first conv / last layer gradient norm: {ratio[name]:.1e}")
assert ratio["sigmoid LeNet (classic)"] < 1e-2 and 0.1 < ratio["ReLU LeNet (modern)"] < 10

# %% [markdown]
# `GradientFlow` also keeps each layer's activation statistics. The sigmoids of the classic LeNet sit near
# $\sigma = \tfrac12$ (where $\sigma' = \tfrac14$, its maximum) with a small spread, so here the gradient
# vanishes through the factor $\tfrac14$ per layer, not through saturation; the ReLU network switches off
# about half of its units (the fraction of exact zeros), and its gradient passes through the other half
# unchanged.

#
# A whole training run records the same numbers from the command line: `tinycnn train lenet5 --variant
# classic --log-grads` writes `gradflow.json` (one step in `--log-grads-every`, default 10) and this figure,
# `gradflow.png`, one line per epoch, into the run folder after every epoch.

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
plot_activations(flows["sigmoid LeNet (classic)"], ax=ax1, stat="std")
ax1.set_title("classic LeNet: std of each layer's output")
plot_activations(flows["ReLU LeNet (modern)"], ax=ax2, stat="zero_fraction")
ax2.set_title("modern LeNet: fraction of zeros in each output")
fig.tight_layout()
plt.show()
relu_zeros = [s["zero_fraction"] for n, s in flows["ReLU LeNet (modern)"].records[-1]["activations"].items()
              if n in ("1", "4", "8", "10")]
assert all(0.2 < z < 0.8 for z in relu_zeros), relu_zeros
