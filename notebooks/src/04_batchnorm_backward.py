# %% [markdown]
# # 04 · Batch normalisation: the backward pass, train vs eval, and the unbiased running variance
#
# Batch norm (Ioffe & Szegedy, 2015; the layer ResNet relies on, placed between convolution and ReLU as in
# He et al. 2016) normalises every channel with the statistics of the current batch. Its backward is the
# classic "derive it yourself" exercise: $x$ reaches the output directly **and** through the mean and
# the variance. This notebook derives it step by step, simplifies it to the compact formula tinycnn uses,
# checks everything numerically, then looks at the running statistics used in eval mode.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn
import tinycnn.nn.functional as F

np.set_printoptions(precision=5, suppress=True)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Forward
#
# For one channel with values $x_1, \dots, x_M$ ($M = N$ for `BatchNorm1d` on features, $M = N H W$ for
# `BatchNorm2d`), learnable scale $\gamma$ and shift $\beta$:
#
# $$\mu = \frac1M \sum_i x_i,\qquad \sigma^2 = \frac1M \sum_i (x_i - \mu)^2,\qquad
# \hat x_i = \frac{x_i - \mu}{\sqrt{\sigma^2 + \epsilon}},\qquad y_i = \gamma \hat x_i + \beta .$$
#
# ## 2. Backward, step by step
#
# Write $s = (\sigma^2 + \epsilon)^{-1/2}$ and $g_i = \partial L / \partial y_i$. Walking the graph backwards:
#
# $$\frac{\partial L}{\partial \beta} = \sum_i g_i, \qquad \frac{\partial L}{\partial \gamma} = \sum_i g_i \hat x_i, \qquad
# \frac{\partial L}{\partial \hat x_i} = \gamma\, g_i =: \hat g_i .$$
#
# The variance node, since $\hat x_i = (x_i - \mu)\, s$ and $ds/d\sigma^2 = -\tfrac12 s^3$:
#
# $$\frac{\partial L}{\partial \sigma^2} = \sum_i \hat g_i\,(x_i - \mu) \cdot \left(-\tfrac12 s^3\right).$$
#
# The mean node receives from $\hat x$ directly and from $\sigma^2$ (whose share vanishes because
# $\sum_i (x_i - \mu) = 0$):
#
# $$\frac{\partial L}{\partial \mu} = -s \sum_i \hat g_i + \frac{\partial L}{\partial \sigma^2}\cdot\frac{-2}{M}\sum_i (x_i - \mu) = -s \sum_i \hat g_i .$$
#
# Finally $x_j$ feeds three nodes, $\hat x_j$, $\sigma^2$ (with $\partial\sigma^2/\partial x_j = \tfrac2M (x_j - \mu)$)
# and $\mu$ (with $\partial \mu / \partial x_j = \tfrac1M$):
#
# $$\frac{\partial L}{\partial x_j} = \hat g_j\, s + \frac{\partial L}{\partial \sigma^2}\cdot\frac{2 (x_j - \mu)}{M} + \frac{\partial L}{\partial \mu}\cdot\frac1M .$$
#
# ## 3. The compact formula
#
# Substitute, and use $x_j - \mu = \hat x_j / s$:
#
# $$\frac{\partial L}{\partial x_j} = s\,\hat g_j - \frac{s}{M}\,\hat x_j \sum_i \hat g_i \hat x_i - \frac{s}{M} \sum_i \hat g_i
# = \frac{s}{M}\Bigl( M \hat g_j - \sum_i \hat g_i - \hat x_j \sum_i \hat g_i \hat x_i \Bigr).$$
#
# With $\hat g = \gamma g$, the two sums are $\gamma\, \partial L/\partial\beta$ and $\gamma\, \partial L/\partial\gamma$, so
# the input gradient costs nothing beyond the parameter gradients:
#
# $$\boxed{\ \frac{\partial L}{\partial x} = \frac{\gamma\, s}{M}\Bigl( M g - \frac{\partial L}{\partial \beta} - \hat x\, \frac{\partial L}{\partial \gamma} \Bigr)\ }$$
#
# Three implementations follow: the staged derivation of §2 and the boxed formula in NumPy, and tinycnn's
# fused `F.batch_norm`.

# %%
def bn_forward(x, gamma, beta, eps):
    """x: (M, C). Returns y and the cache for the backward passes."""
    mu = x.mean(axis=0)
    var = ((x - mu) ** 2).mean(axis=0)
    s = 1 / np.sqrt(var + eps)
    xhat = (x - mu) * s
    return gamma * xhat + beta, (x, mu, var, s, xhat, gamma)

def bn_backward_staged(g, cache):
    x, mu, var, s, xhat, gamma = cache
    M = x.shape[0]
    ghat = gamma * g
    dvar = (ghat * (x - mu)).sum(axis=0) * (-0.5 * s ** 3)
    dmu = -s * ghat.sum(axis=0) + dvar * (-2 / M) * (x - mu).sum(axis=0)
    dx = ghat * s + dvar * 2 * (x - mu) / M + dmu / M
    return dx, (g * xhat).sum(axis=0), g.sum(axis=0)

def bn_backward_compact(g, cache):
    x, mu, var, s, xhat, gamma = cache
    M = x.shape[0]
    dbeta, dgamma = g.sum(axis=0), (g * xhat).sum(axis=0)
    dx = gamma * s / M * (M * g - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta

M, C, eps = 8, 3, 1e-5
x_np = rng.standard_normal((M, C)) * [1.0, 3.0, 0.2] + [0.0, 5.0, -1.0]
gamma_np, beta_np = rng.standard_normal(C), rng.standard_normal(C)
g_np = rng.standard_normal((M, C))

y_np, cache = bn_forward(x_np, gamma_np, beta_np, eps)
staged = bn_backward_staged(g_np, cache)
compact = bn_backward_compact(g_np, cache)

x = tinycnn.tensor(x_np, requires_grad=True)
gamma = tinycnn.tensor(gamma_np, requires_grad=True)
beta = tinycnn.tensor(beta_np, requires_grad=True)
y = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)
y.backward(gradient=tinycnn.tensor(g_np))
engine = (x.grad.numpy(), gamma.grad.numpy(), beta.grad.numpy())

assert np.allclose(y.numpy(), y_np)
for name, a, b, c in zip(("dx", "dgamma", "dbeta"), staged, compact, engine):
    assert np.allclose(a, b) and np.allclose(b, c), name
print("staged derivation == compact formula == tinycnn, for dx, dgamma and dbeta")
print("dL/dx =\n", engine[0])

# %% [markdown]
# The same graph can also be built from elementary tinycnn ops (`mean`, `sqrt`, ...), letting autograd apply
# the chain rule through every node of §2; it agrees too. The fused op is what a library ships: one pass,
# fewer saved arrays. And finite differences confirm it, on a 4-D `BatchNorm2d`-shaped input as well:

# %%
def batch_norm_from_primitives(x, gamma, beta, eps=1e-5):
    mu = x.mean(dim=0, keepdim=True)
    var = ((x - mu) ** 2).mean(dim=0, keepdim=True)
    return gamma * (x - mu) / (var + eps).sqrt() + beta

xp_ = tinycnn.tensor(x_np, requires_grad=True)
batch_norm_from_primitives(xp_, tinycnn.tensor(gamma_np), tinycnn.tensor(beta_np)).backward(
    gradient=tinycnn.tensor(g_np))
assert np.allclose(xp_.grad.numpy(), engine[0])

x4 = tinycnn.tensor(rng.standard_normal((3, 2, 4, 4)), requires_grad=True)
w4 = tinycnn.tensor(rng.standard_normal(2), requires_grad=True)
b4 = tinycnn.tensor(rng.standard_normal(2), requires_grad=True)
assert tinycnn.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x4, w4, b4])
print("primitives agree; gradcheck passes for (N, C, H, W) input")

# %% [markdown]
# ### What the formula says
#
# The bracket $M g - \sum g - \hat x \sum g \hat x$ is $M$ times the upstream gradient with its components
# along $\mathbf 1$ and along $\hat x$ **removed** (a projection). Hence, per channel,
#
# $$\sum_j \frac{\partial L}{\partial x_j} = 0, \qquad \sum_j \frac{\partial L}{\partial x_j}\, \hat x_j \approx 0 .$$
#
# This is the backward view of a forward fact: adding a constant to a channel, or scaling it, does not
# change $\hat x$ at all, so the loss cannot have a gradient in those directions. The second sum is exactly
# 0 only when $\epsilon = 0$: since $\sum_j \hat x_j^2 = M\sigma^2/(\sigma^2+\epsilon)$, it equals
# $\gamma\, s\, \frac{\partial L}{\partial \gamma} \cdot \frac{\epsilon}{\sigma^2 + \epsilon}$, visible only for a channel whose
# variance is not much larger than $\epsilon$ (the third channel here has $\sigma^2 \approx 0.04$).

# %%
dx = engine[0]
_, _, var_np, s_np, xhat, _ = cache
residue = gamma_np * s_np * engine[1] * eps / (var_np + eps)
print("sum_j dL/dx_j        per channel:", dx.sum(axis=0))
print("sum_j dL/dx_j xhat_j per channel:", (dx * xhat).sum(axis=0))
print("predicted epsilon residue:       ", residue)
assert np.allclose(dx.sum(axis=0), 0, atol=1e-12)
assert np.allclose((dx * xhat).sum(axis=0), residue, atol=1e-12)

# %% [markdown]
# ## 4. Train vs eval
#
# In training, each batch is normalised with its own statistics, which makes one sample's output depend
# on the others in its batch. At inference the batch may be a single image, so the layer keeps **running
# statistics**, exponential moving averages updated at every training step with momentum $m$ (PyTorch's
# default $m = 0.1$ weights the new value):
#
# $$\hat\mu \leftarrow (1 - m)\,\hat\mu + m\,\mu_B, \qquad \hat\sigma^2 \leftarrow (1-m)\,\hat\sigma^2 + m\,\frac{M}{M-1}\,\sigma_B^2,$$
#
# and `model.eval()` normalises with $\hat\mu, \hat\sigma^2$ instead: a fixed affine map, independent of the
# batch. Feeding batches from a distribution with mean 3 and variance 4 to a `BatchNorm1d`:

# %%
tinycnn.manual_seed(0)
bn = nn.BatchNorm1d(1)
TRUE_MEAN, TRUE_VAR, BATCH = 3.0, 4.0, 4
data_rng = np.random.default_rng(1)
history, biased_ema = [], [1.0]
for step in range(300):
    xb = data_rng.normal(TRUE_MEAN, np.sqrt(TRUE_VAR), (BATCH, 1)).astype(np.float32)
    bn(tinycnn.tensor(xb))
    history.append((bn.running_mean.item(), bn.running_var.item()))
    biased_ema.append(0.9 * biased_ema[-1] + 0.1 * xb.var())   # what a 1/M running variance would do
history, biased_ema = np.array(history), np.array(biased_ema[1:])

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(history[:, 0], label="running_mean")
ax.plot(history[:, 1], label="running_var")
ax.plot(biased_ema, color="C1", alpha=0.4, lw=1, label="same average of the biased (1/M) variance")
ax.axhline(TRUE_MEAN, color="C0", ls=":", lw=1)
ax.axhline(TRUE_VAR, color="C1", ls=":", lw=1)
ax.set_xlabel("training step (batch of 4)")
ax.legend()
plt.show()

print("last 200 steps, average running_mean %.3f  running_var %.3f" % tuple(history[100:].mean(axis=0)))
assert abs(history[100:, 0].mean() - TRUE_MEAN) < 0.2
assert abs(history[100:, 1].mean() - TRUE_VAR) < 0.4
assert abs(biased_ema[100:].mean() - TRUE_VAR * (BATCH - 1) / BATCH) < 0.4   # 3, not 4: see section 5

# %% [markdown]
# The two modes on the same batch:

# %%
xb = tinycnn.tensor(np.array([[1.0], [2.0], [3.0], [10.0]], dtype=np.float32))
bn.train()
y_train = bn(xb).numpy().ravel()
rm, rv = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()   # (that call moved them once more)
bn.eval()
y_eval = bn(xb).numpy().ravel()
print("train mode (batch statistics):  ", y_train)
print("eval mode (running statistics): ", y_eval)
xb_np = xb.numpy().ravel()
assert np.allclose(y_train, (xb_np - xb_np.mean()) / np.sqrt(xb_np.var() + bn.eps), atol=1e-5)
assert np.allclose(y_eval, (xb_np - rm) / np.sqrt(rv + bn.eps), atol=1e-5)
assert np.allclose(bn(xb[:1]).numpy(), y_eval[:1])    # in eval a single sample works, same answer

# %% [markdown]
# ## 5. Why the running variance is the unbiased one
#
# The batch variance divides by $M$ because that is what normalises *this* batch. As an estimate of the
# population variance it is biased: with $x_i$ i.i.d. of variance $\sigma^2$,
#
# $$\mathbb E\Bigl[\frac1M \sum_i (x_i - \bar x)^2\Bigr] = \frac{M-1}{M}\,\sigma^2,$$
#
# because $\sum_i (x_i - \bar x)^2 = \sum_i (x_i - \mu)^2 - M(\bar x - \mu)^2$, and $\mathbb E(\bar x - \mu)^2 = \sigma^2/M$:
# the sample mean is fitted to the very same data and absorbs one degree of freedom. With $M = 4$ the
# biased estimate is 25% too small on average. The running average must estimate the population, so it
# takes $\frac{M}{M-1}\sigma_B^2$ (Bessel's correction), as PyTorch does. Simulating many batches:

# %%
sim = np.random.default_rng(2).normal(0.0, np.sqrt(TRUE_VAR), (20000, BATCH))
biased = sim.var(axis=1)                 # divide by M
unbiased = sim.var(axis=1, ddof=1)       # divide by M - 1

fig, ax = plt.subplots(figsize=(7, 3.5))
bins = np.linspace(0, 16, 60)
ax.hist(biased, bins, alpha=0.5, label=f"biased (1/M): mean {biased.mean():.2f}")
ax.hist(unbiased, bins, alpha=0.5, label=f"unbiased (1/(M-1)): mean {unbiased.mean():.2f}")
ax.axvline(TRUE_VAR, color="k", ls="--", lw=1, label=f"true variance {TRUE_VAR}")
ax.set_xlabel(f"variance estimated from a batch of M = {BATCH}")
ax.legend()
plt.show()

assert abs(biased.mean() - TRUE_VAR * (BATCH - 1) / BATCH) < 0.1
assert abs(unbiased.mean() - TRUE_VAR) < 0.1

# %% [markdown]
# And tinycnn's update uses exactly that: one training step from the initial state
# ($\hat\mu = 0, \hat\sigma^2 = 1$) gives $\hat\sigma^2 = 0.9 + 0.1 \cdot \frac{M}{M-1}\sigma_B^2$.

# %%
bn = nn.BatchNorm1d(1)
xb_np = np.array([[1.0], [2.0], [4.0], [7.0]], dtype=np.float32)
bn(tinycnn.tensor(xb_np))
expected = 0.9 * 1.0 + 0.1 * xb_np.var(ddof=1)
print(f"running_var {bn.running_var.item():.6f}, expected {expected:.6f} (biased would give "
      f"{0.9 + 0.1 * xb_np.var():.6f})")
assert np.isclose(bn.running_var.item(), expected)
assert np.isclose(bn.running_mean.item(), 0.1 * xb_np.mean())
