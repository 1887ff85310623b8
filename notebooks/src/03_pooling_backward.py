# %% [markdown]
# # 03 · The backward pass of pooling
#
# Pooling has no parameters; its backward only has to send each output's gradient back to the inputs
# of its window. In one line: for **max pooling** the non-maximal entries get no
# gradient and the maximum gets all of it; for **average pooling** the gradient is spread evenly. This
# notebook checks both on worked examples, then looks at **overlapping** windows (AlexNet's 3×3 pooling with
# stride 2), where an input can belong to several windows and collects the sum of their gradients.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn
import tinycnn.nn.functional as F
from tinycnn.vision import datasets, transforms as T

np.set_printoptions(precision=3, suppress=True)
plt.rcParams.update({"figure.dpi": 90})
rng = np.random.default_rng(0)


def show(ax, m, title, fmt="{:.3g}"):
    ax.imshow(m, cmap="coolwarm", vmin=-np.abs(m).max() - 1e-9, vmax=np.abs(m).max() + 1e-9)
    for (r, c), v in np.ndenumerate(m):
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([]); ax.set_yticks([])


def pool_grad(pool, x_np, g_np, **kw):
    """Output and input gradient of a pooling function for one (H, W) map."""
    x = tinycnn.tensor(x_np[None, None], requires_grad=True)
    y = pool(x, **kw)
    y.backward(gradient=tinycnn.tensor(g_np[None, None]))
    return y.numpy()[0, 0], x.grad.numpy()[0, 0]

# %% [markdown]
# ## 1. Max pooling: the gradient goes to the argmax
#
# For one window $y = \max_i x_i$, and (with a unique maximiser $i^*$) $\partial y / \partial x_i = [i = i^*]$:
#
# $$\frac{\partial L}{\partial x_i} = \sum_{\text{windows } w \ni i} \frac{\partial L}{\partial y_w}\,[\,i = \operatorname{argmax}_w\,].$$
#
# The forward pass records the argmax of every window so the backward is a scatter. With 2×2 windows and
# stride 2 (no overlap) each input is in exactly one window:

# %%
X = np.array([[1.0, 3.0, 2.0, 0.0],
              [4.0, 2.0, 1.0, 5.0],
              [0.0, 1.0, 3.0, 2.0],
              [2.0, 6.0, 1.0, 1.0]])
G = np.array([[0.1, -0.2], [0.3, 0.4]])
y, dx = pool_grad(F.max_pool2d, X, G, kernel_size=2, stride=2)

expected = np.zeros_like(X)
for a in range(2):
    for b in range(2):
        window = X[2 * a:2 * a + 2, 2 * b:2 * b + 2]
        r, c = np.unravel_index(window.argmax(), window.shape)
        expected[2 * a + r, 2 * b + c] = G[a, b]
assert np.allclose(y, [[4, 5], [6, 3]]) and np.allclose(dx, expected)

fig, axes = plt.subplots(1, 4, figsize=(11, 3))
show(axes[0], X, "x (4×4)")
show(axes[1], y, "y = maxpool 2×2/2")
show(axes[2], G, "dL/dy")
show(axes[3], dx, "dL/dx: only the maxima")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. Average pooling: the gradient is spread evenly
#
# $y = \frac{1}{k^2}\sum_{i \in w} x_i$, so every input of the window receives $\frac{1}{k^2}\,\partial L/\partial y_w$:

# %%
y, dx = pool_grad(F.avg_pool2d, X, G, kernel_size=2, stride=2)
assert np.allclose(dx, np.kron(G, np.ones((2, 2))) / 4)          # each window's gradient / 4, spread
assert np.allclose(y, X.reshape(2, 2, 2, 2).mean(axis=(1, 3)))

fig, axes = plt.subplots(1, 3, figsize=(8.5, 3))
show(axes[0], y, "y = avgpool 2×2/2")
show(axes[1], G, "dL/dy")
show(axes[2], dx, "dL/dx = dL/dy / 4, spread")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Overlapping windows (AlexNet: 3×3, stride 2)
#
# When the stride is smaller than the window, neighbouring windows share inputs. The sum over windows in the
# formula above is then no longer trivial:
#
# * **average pooling**: an input in $m$ windows receives the sum of $m$ shares, so with a uniform upstream
#   gradient the input gradient *counts* the windows covering each pixel;
# * **max pooling**: an input that is the maximum of several windows collects all their gradients, and
#   the others get nothing.

# %%
ones = np.ones((3, 3))
_, coverage = pool_grad(F.avg_pool2d, np.zeros((7, 7)), ones, kernel_size=3, stride=2)
coverage = np.rint(coverage * 9)              # undo the 1/9: number of windows covering each pixel

Xo = rng.standard_normal((7, 7))
Xo[2, 2] = 5.0                                 # inside four windows, and the maximum of all four
y_max, dx_max = pool_grad(F.max_pool2d, Xo, ones, kernel_size=3, stride=2)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
show(axes[0], coverage, "windows covering each pixel\n(avgpool 3×3/2, dL/dy = 1, × 9)", "{:.0f}")
show(axes[1], Xo, "x (7×7), a peak of 5 at (2, 2)", "{:.1f}")
show(axes[2], dx_max, "dL/dx for maxpool 3×3/2, dL/dy = 1", "{:.0f}")
fig.tight_layout()
plt.show()

assert coverage[2, 2] == 4 and coverage[3, 3] == 1 and coverage[2, 0] == 2
assert dx_max[2, 2] == 4                       # the peak collects the gradients of its 4 windows
assert dx_max.sum() == 9                       # each of the 9 windows sends its gradient to one input

# %% [markdown]
# ## 4. A loop-by-loop reference, padding and gradcheck
#
# The reference below follows the formula literally (including PyTorch's padding rule for max pooling:
# padded positions count as $-\infty$, never the max); tinycnn agrees on a batch of multi-channel inputs
# with overlapping, padded windows, and finite differences agree with both backward passes.

# %%
def max_pool_backward_reference(x, g, k, s, p):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    gx = np.zeros_like(xp)
    for ni in range(n):
        for ci in range(c):
            for a in range(g.shape[2]):
                for b in range(g.shape[3]):
                    win = xp[ni, ci, a * s:a * s + k, b * s:b * s + k]
                    r, q = np.unravel_index(win.argmax(), win.shape)
                    gx[ni, ci, a * s + r, b * s + q] += g[ni, ci, a, b]
    return gx[:, :, p:p + h, p:p + w]

x_np = rng.standard_normal((2, 3, 9, 9))
x = tinycnn.tensor(x_np, requires_grad=True)
y = F.max_pool2d(x, kernel_size=3, stride=2, padding=1)
g_np = rng.standard_normal(y.shape)
y.backward(gradient=tinycnn.tensor(g_np))
assert np.allclose(x.grad.numpy(), max_pool_backward_reference(x_np, g_np, 3, 2, 1))

small = tinycnn.tensor(rng.standard_normal((1, 2, 6, 6)), requires_grad=True)
assert tinycnn.gradcheck(lambda t: F.max_pool2d(t, 3, stride=2, padding=1), [small])
assert tinycnn.gradcheck(lambda t: F.avg_pool2d(t, 3, stride=2, padding=1), [small])
assert tinycnn.gradcheck(lambda t: F.avg_pool2d(t, 3, stride=2, padding=1, count_include_pad=False), [small])
print("max pooling matches the loop reference; max and average pooling pass gradcheck")

# %% [markdown]
# (Max pooling is not differentiable where two inputs of a window tie; random inputs never tie, which is
# why gradcheck works here. At a tie PyTorch and tinycnn send the gradient to the first maximum.)
#
# ## 5. On a real digit
#
# Max pooling a handwritten digit and backpropagating a uniform gradient shows where the gradient can go:
# to one pixel per window, the brightest. In the blank background every 2×2 window is a four-way tie of
# zeros, and the tie rule sends the gradient to the first (top-left) pixel: the regular grid. Average
# pooling spreads 1/4 over every pixel.

# %%
image = datasets.MNIST(train=False, transform=T.ToTensor())[0][0].numpy()   # (1, 28, 28) float32 in [0, 1]
img = tinycnn.tensor(image[None].astype(np.float64), requires_grad=True)
out = nn.MaxPool2d(2)(img)
out.backward(gradient=tinycnn.ones_like(out))
max_map = img.grad.numpy()[0, 0]
img.grad = None
out = nn.AvgPool2d(2)(img)
out.backward(gradient=tinycnn.ones_like(out))
avg_map = img.grad.numpy()[0, 0]

fig, axes = plt.subplots(1, 4, figsize=(11, 3))
for ax, m, title in zip(axes, [image[0], nn.MaxPool2d(2)(img).numpy()[0, 0], max_map, avg_map],
                        ["digit 28×28", "maxpool 2×2 → 14×14", "dL/dx, max pooling", "dL/dx, average pooling"]):
    ax.imshow(m, cmap="gray", vmin=0, vmax=1)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
plt.show()
assert max_map.sum() == 14 * 14 and np.allclose(avg_map, 0.25)
blank = image[0].reshape(14, 2, 14, 2).max(axis=(1, 3)) == 0          # windows that are all zeros
assert np.all(max_map.reshape(14, 2, 14, 2)[:, 0, :, 0][blank] == 1)   # tie -> the top-left pixel
