# %% [markdown]
# # 05 · Softmax and cross-entropy
#
# A classifier outputs **logits** $z \in \mathbb{R}^C$; softmax turns them into probabilities and the
# cross-entropy compares those with the target. This notebook derives the famous gradient $p - y$,
# checks it against tinycnn, shows why every serious implementation computes the loss through
# **log-sum-exp**, and what **label smoothing** changes.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn, optim
import tinycnn.nn.functional as F

np.set_printoptions(precision=5, suppress=True)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
rng = np.random.default_rng(0)


def t64(array, requires_grad=False):
    """A float64 tensor from a NumPy array."""
    return tinycnn.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)

# %% [markdown]
# ## 1. The softmax Jacobian
#
# $$p_i = \operatorname{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}, \qquad
# \frac{\partial p_i}{\partial z_k} = p_i\,(\delta_{ik} - p_k)
# \quad\Longleftrightarrow\quad J = \operatorname{diag}(p) - p\,p^\top .$$
#
# (Quotient rule: $\partial_k e^{z_i} = \delta_{ik} e^{z_i}$ and $\partial_k \sum_j e^{z_j} = e^{z_k}$.)
# Backpropagating the unit vector $e_i$ through softmax returns row $i$ of $J$ (in general, the
# vector-Jacobian product $J^\top e_i$; $J$ is symmetric), so $C$ backward passes recover the whole matrix:

# %%
C = 5
z = t64(rng.standard_normal(C), requires_grad=True)
p = F.softmax(z, dim=0)

J_engine = np.zeros((C, C))
for i in range(C):
    z.grad = None
    p.backward(gradient=t64(np.eye(C)[i]), retain_graph=True)
    J_engine[i] = z.grad.numpy()

p_np = p.numpy()
J_formula = np.diag(p_np) - np.outer(p_np, p_np)
print(J_formula)
assert np.allclose(J_engine, J_formula)
assert np.allclose(J_formula.sum(axis=0), 0)   # probabilities sum to 1, so every column sums to 0

# %% [markdown]
# ## 2. The gradient of cross-entropy is $p - y$
#
# With a one-hot (or any probability) target $y$, $L = -\sum_k y_k \log p_k$. Since
# $\partial \log p_k / \partial z_i = \delta_{ki} - p_i$,
#
# $$\frac{\partial L}{\partial z_i} = -\sum_k y_k(\delta_{ki} - p_i) = p_i \sum_k y_k - y_i = p_i - y_i .$$
#
# The $C\times C$ Jacobian collapses to a subtraction, which is why softmax and cross-entropy are fused into
# one op (`F.cross_entropy` takes logits). For a batch with `reduction="mean"` every row's gradient is
# divided by $N$.

# %%
N = 4
logits = t64(rng.standard_normal((N, C)) * 2, requires_grad=True)
target = tinycnn.tensor(np.array([0, 3, 1, 3]))

loss = F.cross_entropy(logits, target)
loss.backward()

probs = F.softmax(logits.detach(), dim=1).numpy()
onehot = np.eye(C)[target.numpy()]
print("loss:", loss.item())
print("dL/dz from the engine:\n", logits.grad.numpy())
assert np.allclose(logits.grad.numpy(), (probs - onehot) / N)
assert np.isclose(loss.item(), -np.log(probs[np.arange(N), target.numpy()]).mean())
assert tinycnn.gradcheck(lambda z: F.cross_entropy(z, target), [logits])

# %% [markdown]
# The gradient has a pleasant reading: it pushes the logit of the right class up by $1 - p_y$ and every
# other logit down by its probability; a confident right answer ($p_y \to 1$) produces almost no gradient.

# %% [markdown]
# ## 3. Numerical stability: log-sum-exp
#
# Computed literally, $e^{z}$ overflows for $z > 88.7$ in float32 ($e^{88.7} \approx 3.4\cdot 10^{38}$, the
# largest float32), and $\log p$ becomes $\log 0 = -\infty$ when a probability underflows. Softmax is
# unchanged by shifting all logits by the same constant, so with $m = \max_j z_j$
#
# $$\log p_i = z_i - \log\sum_j e^{z_j} = (z_i - m) - \log \sum_j e^{z_j - m},$$
#
# where every exponent is $\le 0$ (no overflow) and one of them is exactly $e^0 = 1$ (the sum is $\ge 1$,
# its log finite). This is the **log-sum-exp** trick that `F.log_softmax` and `F.cross_entropy` use.

# %%
def naive_cross_entropy(z, y):
    e = np.exp(z)
    return -np.log(e[y] / e.sum())

def stable_cross_entropy(z, y):
    m = z.max()
    return -((z[y] - m) - np.log(np.exp(z - m).sum()))

z32 = np.array([10.0, 20.0, 30.0], dtype=np.float32)
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    for scale in (1, 4, 10):
        zs = z32 * np.float32(scale)
        engine = F.cross_entropy(tinycnn.tensor(zs[None]), tinycnn.tensor(np.array([0]))).item()
        print(f"logits {zs}: naive {naive_cross_entropy(zs, 0):>10}   log-sum-exp "
              f"{stable_cross_entropy(zs, 0):10.4f}   tinycnn {engine:10.4f}")

# %% [markdown]
# A picture: the loss of the *wrong* class as the logits grow. The exact value is the logit gap,
# a straight line; the naive float32 formula dies as soon as the largest $e^{z}$ overflows ($z > 88.7$:
# $\infty/\infty$ = NaN). With other logits a tiny probability underflows to 0 first (loss $+\infty$), as the
# second line of the table above shows.

# %%
scales = np.linspace(0.1, 12, 300)
naive, stable, engine = [], [], []
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    for s_ in scales:
        zs = (z32 * np.float32(s_)).astype(np.float32)
        naive.append(naive_cross_entropy(zs, 0))
        stable.append(stable_cross_entropy(zs, 0))
engine = F.cross_entropy(tinycnn.tensor((scales[:, None] * z32[None]).astype(np.float32)),
                         tinycnn.tensor(np.zeros(len(scales), dtype=np.int64)), reduction="none").numpy()
naive, stable = np.array(naive), np.array(stable)

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(scales * 30, stable, lw=4, alpha=0.4, label="log-sum-exp (NumPy)")
ax.plot(scales * 30, engine, "k--", lw=1, label="F.cross_entropy")
ok = np.isfinite(naive)
ax.plot(scales[ok] * 30, naive[ok], "r.", ms=3, label="naive exp / sum, float32")
for x in scales[~ok][:1] * 30:
    ax.axvline(x, color="r", ls=":", lw=1)
ax.set_xlabel("largest logit")
ax.set_ylabel("cross-entropy of class 0")
ax.legend()
plt.show()

first_bad = scales[~ok][0] * 30
print(f"the naive formula stops being finite once the largest logit reaches {first_bad:.1f}")
assert np.all(np.isfinite(engine)) and np.allclose(engine, stable, rtol=1e-5)
assert not np.all(ok)

# %% [markdown]
# ## 4. Label smoothing
#
# With label smoothing $\varepsilon$ the target is no longer one-hot but
# $q = (1-\varepsilon)\,\mathbf{1}_y + \varepsilon / C$: a little probability on every class. The derivation of
# §2 holds for any target distribution, so the gradient is simply
#
# $$\frac{\partial L}{\partial z} = p - q .$$
#
# Why bother? With a one-hot target the gradient vanishes only when $p_y = 1$, i.e. when the logit gap is
# infinite: the loss keeps rewarding over-confidence. With smoothing the minimum is reached at $p = q$, a
# **finite** gap between the right logit and the others:
#
# $$z_y - z_{k\neq y} = \log\frac{1 - \varepsilon + \varepsilon/C}{\varepsilon / C}.$$

# %%
eps_ls = 0.1
loss = F.cross_entropy(logits, target, label_smoothing=eps_ls)
logits.grad = None
loss.backward()
q = (1 - eps_ls) * onehot + eps_ls / C
assert np.allclose(logits.grad.numpy(), (probs - q) / N)
print("with label smoothing the gradient is (p - q) / N: checked")

# %% [markdown]
# Gradient descent on the logits of a single example shows the difference: the gap keeps growing without
# smoothing, and settles at the formula's value with it.

# %%
def logit_gap_history(smoothing, steps=300, lr=1.0):
    z = nn.Parameter(tinycnn.zeros(1, C))
    opt = optim.SGD([z], lr=lr)
    y = tinycnn.tensor(np.array([2]))
    gaps = []
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(z, y, label_smoothing=smoothing).backward()
        opt.step()
        zz = z.detach().numpy()[0]
        gaps.append(zz[2] - np.delete(zz, 2).mean())
    return np.array(gaps)

plain, smooth = logit_gap_history(0.0), logit_gap_history(eps_ls)
optimum = np.log((1 - eps_ls + eps_ls / C) / (eps_ls / C))

fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(plain, label="one-hot target")
ax.plot(smooth, label=f"label smoothing {eps_ls}")
ax.axhline(optimum, color="C1", ls="--", lw=1, label=f"optimum with smoothing: {optimum:.3f}")
ax.set_xlabel("gradient step")
ax.set_ylabel("logit gap $z_y - z_{other}$")
ax.legend()
plt.show()

print(f"after 300 steps: one-hot gap {plain[-1]:.3f} (still rising), smoothed gap {smooth[-1]:.4f}")
assert abs(smooth[-1] - optimum) < 1e-3
assert plain[-1] > optimum and plain[-1] > plain[-50]
