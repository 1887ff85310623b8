# %% [markdown]
# # 11 · Writing your own op
#
# Every differentiable operation in tinycnn is a `tinycnn.Function` subclass with two methods:
#
# * `forward(self, *arrays, **params)` receives raw NumPy (or CuPy) arrays, returns **one** array, and keeps
#   on `self` whatever the backward will need;
# * `backward(self, gy)` receives $\partial L/\partial y$ (same shape as the output) and returns one gradient
#   per positional input, each of that input's shape (or `None` for inputs that need none;
#   `self.needs_input_grad[i]` says which are wanted).
#
# `MyOp.apply(tensor, ..., param=value)` runs the forward and records the op in the graph. This notebook
# writes two ops, derives their backward, and proves them with `tinycnn.gradcheck`: a one-liner
# (softplus) and the local response normalisation that AlexNet used (LRN).

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import Function, nn
from tinycnn.backend import get_array_module

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Softplus
#
# $$y = \operatorname{softplus}(x) = \log(1 + e^{x}), \qquad \frac{dy}{dx} = \frac{e^x}{1+e^x} = \sigma(x).$$
#
# The forward must not overflow for large $x$: $\log(1+e^x) = \max(x, 0) + \log(1 + e^{-|x|})$, where the
# exponent is never positive. The backward only needs $\sigma(x)$, computed the same stable way.

# %%
class Softplus(Function):
    """y = log(1 + e^x) = max(x, 0) + log1p(e^-|x|).  dy/dx = sigmoid(x):  gx = gy * sigmoid(x)."""

    def forward(self, x):
        xp = get_array_module(x)            # NumPy or CuPy: the same code runs on both
        e = xp.exp(-xp.abs(x))              # in (0, 1]: never overflows
        self.sig = xp.where(x >= 0, 1 / (1 + e), e / (1 + e))
        return xp.maximum(x, 0) + xp.log1p(e)

    def backward(self, gy):
        return gy * self.sig


def softplus(x):
    return Softplus.apply(x)


x = tinycnn.tensor(np.linspace(-6, 6, 201), requires_grad=True)
y = softplus(x)
y.backward(gradient=tinycnn.ones_like(y))

xs = x.numpy()
assert np.allclose(y.numpy(), np.log1p(np.exp(xs)))
assert np.allclose(x.grad.numpy(), 1 / (1 + np.exp(-xs)))
assert tinycnn.gradcheck(softplus, [tinycnn.tensor(rng.standard_normal((3, 4)) * 3, requires_grad=True)])
big = softplus(tinycnn.tensor(np.array([1000.0, -1000.0])))
assert np.allclose(big.numpy(), [1000.0, 0.0])          # no overflow at the extremes

fig, ax = plt.subplots(figsize=(6, 3))
ax.plot(xs, y.numpy(), label="softplus")
ax.plot(xs, x.grad.numpy(), label="its gradient (from backward)")
ax.plot(xs, np.maximum(xs, 0), "k:", lw=1, label="ReLU")
ax.legend()
plt.show()

# %% [markdown]
# The checks every op deserves (the library's own tests do the same):
#
# 1. `gradcheck` in **float64** (finite differences are too coarse in float32, see notebook 01);
# 2. the forward keeps the input's dtype (float32 in, float32 out): a stray `np.float64` constant or
#    `np.zeros(shape)` without `dtype` would silently promote;
# 3. inputs and the incoming gradient are never modified in place (they may be shared with other ops);
# 4. extreme inputs stay finite.

# %%
x32 = tinycnn.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
before = x32.numpy().copy()
y32 = softplus(x32)
g = tinycnn.tensor(np.ones((2, 3), dtype=np.float32))
y32.backward(gradient=g)
assert y32.dtype == np.float32 and x32.grad.dtype == np.float32
assert np.array_equal(x32.numpy(), before) and np.array_equal(g.numpy(), np.ones((2, 3)))
print("dtype kept, nothing modified in place")

# %% [markdown]
# Wrapping the function in a `Module` makes it a layer like any other:

# %%
class SoftplusLayer(nn.Module):
    def forward(self, x):
        return softplus(x)

tinycnn.manual_seed(0)
mlp = nn.Sequential(nn.Linear(4, 8), SoftplusLayer(), nn.Linear(8, 1)).double()
assert tinycnn.gradcheck(lambda x: mlp(x), [tinycnn.tensor(rng.standard_normal((5, 4)), requires_grad=True)])
print(mlp)

# %% [markdown]
# ## 2. Local response normalisation (AlexNet)
#
# AlexNet normalised each activation by the energy of its neighbours **across channels** (Krizhevsky et al. 2012, Section 3.3;
# later found useless by VGG, but a good exercise). For an input $a$ of shape
# $(N, C, H, W)$ and a window of $n$ channels, at every pixel
#
# $$d_c = k + \frac{\alpha}{n} \sum_{j \in \mathcal N(c)} a_j^2, \qquad b_c = a_c\, d_c^{-\beta},$$
#
# with $\mathcal N(c) = \{c - \lfloor n/2 \rfloor, \dots, c + \lfloor (n-1)/2 \rfloor\}$ (channels outside
# $[0, C)$ count as zero; PyTorch's `nn.LocalResponseNorm` convention).
#
# **Backward.** $b_c$ depends on $a_i$ directly (when $i = c$) and through $d_c$ (when $i \in \mathcal N(c)$):
#
# $$\frac{\partial b_c}{\partial a_i} = [i = c]\, d_c^{-\beta} \;-\; \beta\, a_c\, d_c^{-\beta - 1} \cdot \frac{2\alpha}{n} a_i\, [i \in \mathcal N(c)] .$$
#
# Summing over $c$ with the upstream gradient $g_c = \partial L/\partial b_c$:
#
# $$\frac{\partial L}{\partial a_i} = g_i\, d_i^{-\beta} \;-\; \frac{2\alpha\beta}{n}\, a_i \sum_{c\,:\, i \in \mathcal N(c)} g_c\, a_c\, d_c^{-\beta-1} .$$
#
# The condition $i \in \mathcal N(c)$ means $c \in \{i - \lfloor (n-1)/2 \rfloor, \dots, i + \lfloor n/2 \rfloor\}$:
# the **mirrored** window. For odd $n$ the window is symmetric and both sums are the same "sum over
# neighbouring channels"; for even $n$ the backward must use the mirror image, a detail that gradcheck
# catches if it is gotten wrong (try it).

# %%
def channel_window_sum(v, before, after):
    """s[:, c] = sum of v[:, c - before : c + after + 1] over channels, zeros outside."""
    xp = get_array_module(v)
    padded = xp.pad(v, ((0, 0), (before, after), (0, 0), (0, 0)))
    c = v.shape[1]
    return sum(padded[:, j:j + c] for j in range(before + after + 1))


class LocalResponseNorm(Function):
    """b_c = a_c (k + alpha/n sum_{j in N(c)} a_j^2)^-beta, window N(c) = c - n//2 .. c + (n-1)//2.

    ga_i = g_i d_i^-beta - (2 alpha beta / n) a_i sum_{c: i in N(c)} g_c a_c d_c^(-beta-1)
    (the second sum runs over the mirrored window i - (n-1)//2 .. i + n//2).
    """

    def forward(self, a, *, size, alpha, beta, k):
        d = k + (alpha / size) * channel_window_sum(a * a, size // 2, (size - 1) // 2)
        self.a, self.d, self.params = a, d, (size, alpha, beta)
        return a * d ** -beta

    def backward(self, g):
        size, alpha, beta = self.params
        a, d = self.a, self.d
        t = g * a * d ** (-beta - 1)
        mirrored = channel_window_sum(t, (size - 1) // 2, size // 2)
        return g * d ** -beta - (2 * alpha * beta / size) * a * mirrored


def local_response_norm(x, size, alpha=1e-4, beta=0.75, k=1.0):
    return LocalResponseNorm.apply(x, size=size, alpha=alpha, beta=beta, k=k)

# %% [markdown]
# AlexNet's constants ($\alpha = 10^{-4}$) make the second term tiny, so the check below uses a large
# $\alpha$ where a mistake in it would show, and both an odd and an even window:

# %%
a = tinycnn.tensor(rng.standard_normal((2, 7, 3, 3)), requires_grad=True)
for size in (5, 4):
    assert tinycnn.gradcheck(lambda x: local_response_norm(x, size, alpha=2.0, beta=0.75, k=1.0), [a])
print("LRN passes gradcheck for an odd and an even window")

# the same op with AlexNet's constants, wrapped as a layer (float32 stays float32)
class LRN(nn.Module):
    def __init__(self, size, alpha=1e-4, beta=0.75, k=1.0):
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x):
        return local_response_norm(x, self.size, self.alpha, self.beta, self.k)

print(LRN(5)(tinycnn.tensor(rng.standard_normal((1, 4, 2, 2)).astype(np.float32))).dtype)

# tinycnn ships its own nn.LocalResponseNorm (tinycnn/ops/normalization.py): the two must agree
for size in (5, 4):
    ours = local_response_norm(a, size, alpha=2.0)
    library = nn.LocalResponseNorm(size, alpha=2.0)(a)
    assert np.allclose(ours.numpy(), library.numpy())
print("our LRN agrees with tinycnn.nn.LocalResponseNorm")

# %% [markdown]
# A cross-check against PyTorch's `nn.LocalResponseNorm`, when PyTorch is installed (tinycnn itself never
# imports it; the test suite uses it as an oracle in the same way):

# %%
try:
    import torch
except ImportError:
    print("PyTorch not installed: skipping the cross-check")
else:
    for size in (5, 4):
        xt = torch.tensor(a.numpy(), requires_grad=True)
        yt = torch.nn.LocalResponseNorm(size, alpha=2.0, beta=0.75, k=1.0)(xt)
        up = rng.standard_normal(yt.shape)
        yt.backward(torch.tensor(up))
        x_ours = tinycnn.tensor(a.numpy(), requires_grad=True)
        y_ours = local_response_norm(x_ours, size, alpha=2.0, beta=0.75, k=1.0)
        y_ours.backward(gradient=tinycnn.tensor(up))
        assert np.allclose(y_ours.numpy(), yt.detach().numpy())
        assert np.allclose(x_ours.grad.numpy(), xt.grad.numpy())
    print("forward and backward agree with torch.nn.LocalResponseNorm")

# %% [markdown]
# ## 3. What the engine checks for you
#
# The engine verifies that `backward` returns one gradient per input and that each has its input's shape.
# A classic slip is forgetting to sum a broadcast gradient back to the input's shape (here: a per-channel
# bias added to an `(N, C)` batch):

# %%
class BadBiasAdd(Function):
    def forward(self, x, b):
        return x + b                          # b (C,) is broadcast over the batch

    def backward(self, gy):
        return gy, gy                         # wrong for b: must be gy.sum(axis=0)

x = tinycnn.tensor(rng.standard_normal((4, 3)), requires_grad=True)
b = tinycnn.tensor(rng.standard_normal(3), requires_grad=True)
try:
    BadBiasAdd.apply(x, b).backward(gradient=tinycnn.ones(4, 3, dtype=tinycnn.float64))
except RuntimeError as err:
    print("RuntimeError:", err)
else:
    raise AssertionError("the engine should reject a gradient of the wrong shape")


class BiasAdd(Function):
    """y = x + b, b broadcast over rows.  gx = gy,  gb = sum over the broadcast axis of gy."""

    def forward(self, x, b):
        return x + b

    def backward(self, gy):
        gx = gy if self.needs_input_grad[0] else None
        gb = gy.sum(axis=0) if self.needs_input_grad[1] else None
        return gx, gb

assert tinycnn.gradcheck(lambda x, b: BiasAdd.apply(x, b), [x, b])
print("fixed: gradcheck passes")
