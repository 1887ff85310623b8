# %% [markdown]
# # 02 · The backward pass of a convolution
#
# The usual derivation works on a 3×3 input and a 2×2 kernel: the gradient with respect to the **input** is a
# *full*-mode convolution of the output gradient with the kernel rotated by 180°, and the gradient with
# respect to the **kernel** is the input convolved with the output gradient. This notebook redoes that
# derivation, checks it against tinycnn, generalises it to stride (dilate the gradient), padding, channels
# and groups, and compares the two ways tinycnn can compute it (`"rot180"`, the textbook form, and
# `"col2im"`, the matrix form).
#
# As in every deep-learning library, "convolution" here is a cross-correlation:
# $O_{ab} = \sum_{i,j} X_{a+i,\,b+j}\, W_{ij}$ (no kernel flip in the forward pass).

# %%
import time

import numpy as np
import matplotlib.pyplot as plt
from numpy.lib.stride_tricks import sliding_window_view

import tinycnn
from tinycnn.nn.functional import conv2d

np.set_printoptions(precision=4, suppress=True)
plt.rcParams.update({"figure.dpi": 90})
rng = np.random.default_rng(0)


def corr2d(x, k):
    """Valid 2-D cross-correlation of one map with one kernel."""
    return np.einsum("abij,ij->ab", sliding_window_view(x, k.shape), k)


def rot180(k):
    return k[::-1, ::-1]


def show(ax, m, title, fmt="{:.3g}"):
    ax.imshow(m, cmap="coolwarm", vmin=-np.abs(m).max() - 1e-9, vmax=np.abs(m).max() + 1e-9)
    for (r, c), v in np.ndenumerate(m):
        ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=10)
    ax.set_title(title, fontsize=10)
    ax.set_xticks([]); ax.set_yticks([])

# %% [markdown]
# ## 1. The worked example: 3×3 input, 2×2 kernel
#
# $$\begin{pmatrix} O_{11} & O_{12} \\ O_{21} & O_{22}\end{pmatrix} =
# \begin{pmatrix} X_{11} & X_{12} & X_{13} \\ X_{21} & X_{22} & X_{23} \\ X_{31} & X_{32} & X_{33}\end{pmatrix} \star
# \begin{pmatrix} W_{11} & W_{12} \\ W_{21} & W_{22}\end{pmatrix},
# \qquad O_{11} = X_{11}W_{11} + X_{12}W_{12} + X_{21}W_{21} + X_{22}W_{22}, \ \dots$$
#
# Given $G = \partial L/\partial O$, the chain rule sums over every output that an entry touched:
#
# $$\frac{\partial L}{\partial W_{ij}} = \sum_{a,b} G_{ab}\, X_{a+i-1,\,b+j-1}, \qquad
# \frac{\partial L}{\partial X_{rc}} = \sum_{a,b} G_{ab}\, W_{r-a+1,\,c-b+1}\quad(\text{terms with an index outside } W \text{ vanish}).$$
#
# Listing the terms of $\partial L / \partial X$ makes the pattern visible (generated from the index rule above):

# %%
terms = {}
for a in range(2):
    for b in range(2):
        for i in range(2):
            for j in range(2):
                terms.setdefault((a + i, b + j), []).append(f"G{a+1}{b+1}·W{i+1}{j+1}")
for r in range(3):
    print("   ".join(f"dX{r+1}{c+1} = " + " + ".join(terms[(r, c)]).ljust(34) for c in range(3)))

# %% [markdown]
# Corner pixels were used by one output, the centre by all four. Read the right-hand sides as a sliding
# window: $\partial L/\partial X_{22} = G_{11}W_{22} + G_{12}W_{21} + G_{21}W_{12} + G_{22}W_{11}$ pairs $G$ with $W$
# **flipped in both directions**. So:
#
# $$\frac{\partial L}{\partial X} = \operatorname{pad}_{k-1}(G) \star \operatorname{rot180}(W)
# \quad(\text{a "full" correlation: } 2\times2 \text{ padded to } 4\times4 \text{, then } \star\ 2\times2 \to 3\times3),
# \qquad \frac{\partial L}{\partial W} = X \star G .$$
#
# Numbers:

# %%
X = np.array([[1.0, 2.0, 0.0], [-1.0, 3.0, 1.0], [2.0, 0.0, -2.0]])
W = np.array([[1.0, -1.0], [2.0, 0.5]])
G = np.array([[1.0, -2.0], [0.5, 3.0]])            # an upstream gradient dL/dO

x = tinycnn.tensor(X[None, None], requires_grad=True)
w = tinycnn.tensor(W[None, None], requires_grad=True)
out = conv2d(x, w)
out.backward(gradient=tinycnn.tensor(G[None, None]))

dX_formula = corr2d(np.pad(G, 1), rot180(W))
dW_formula = corr2d(X, G)
assert np.allclose(out.numpy()[0, 0], corr2d(X, W))
assert np.allclose(x.grad.numpy()[0, 0], dX_formula)
assert np.allclose(w.grad.numpy()[0, 0], dW_formula)

fig, axes = plt.subplots(2, 4, figsize=(11, 5.5))
show(axes[0, 0], X, "X (3×3)")
show(axes[0, 1], W, "W (2×2)")
show(axes[0, 2], out.numpy()[0, 0], "O = X ⋆ W")
show(axes[0, 3], G, "G = dL/dO (given)")
show(axes[1, 0], np.pad(G, 1), "G padded by k-1 = 1")
show(axes[1, 1], rot180(W), "rot180(W)")
show(axes[1, 2], x.grad.numpy()[0, 0], "dL/dX = pad(G) ⋆ rot180(W)")
show(axes[1, 3], w.grad.numpy()[0, 0], "dL/dW = X ⋆ G")
fig.tight_layout()
plt.show()
print("tinycnn's gradients equal both formulas")

# %% [markdown]
# ## 2. The general case
#
# **Stride $s$.** Output $a$ reads input rows $a s + i$. In $\partial L/\partial X_r = \sum_{a,i:\,as+i=r} G_a W_i$
# only the rows $r$ that are a multiple of $s$ away from a window start get a term from each $a$. Inserting
# $s-1$ zeros between the entries of $G$ (**dilating** it) turns this back into a stride-1 full correlation:
#
# $$\frac{\partial L}{\partial X} = \operatorname{pad}_{k-1}\bigl(\operatorname{dilate}_s(G)\bigr) \star \operatorname{rot180}(W),
# \qquad \frac{\partial L}{\partial W} = X \star \operatorname{dilate}_s(G).$$
#
# When $(H + 2p - k)$ is not a multiple of $s$ the last $(H+2p-k) \bmod s$ rows are never read by the
# forward pass; their gradient is zero.
#
# **Padding $p$.** The forward pass reads a zero-padded input; the gradient of the padded input is computed
# as above and its border of width $p$ is dropped (padding zeros are constants).
#
# **Channels.** $O_o = \sum_c X_c \star W_{oc}$, so each input channel collects from every output channel with
# the kernel's two channel axes **swapped**: $\partial L/\partial X_c = \sum_o \operatorname{full}(G_o) \star \operatorname{rot180}(W_{oc})$, and
# $\partial L/\partial W_{oc} = X_c \star G_o$ (summed over the batch).
#
# **Groups.** Input and output channels are split into $g$ blocks; block $k$ of the output sees only block
# $k$ of the input, so the rules apply per block ($W$ has shape $(C_{out}, C_{in}/g, k_h, k_w)$).
#
# A from-scratch reference with explicit loops, nothing but `corr2d`, `dilate` and `rot180`:

# %%
def dilate(g, s):
    if s == 1:
        return g
    out = np.zeros(((g.shape[0] - 1) * s + 1, (g.shape[1] - 1) * s + 1))
    out[::s, ::s] = g
    return out


def conv_grads_reference(X, W, G, stride, padding, groups):
    """dL/dX and dL/dW by the textbook rules: dilate, pad, rotate, correlate; loops over channels."""
    n_batch, c_in, h, wd = X.shape
    c_out, c_per_group, kh, kw = W.shape
    out_per_group = c_out // groups
    Xp = np.pad(X, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    dXp, dW = np.zeros_like(Xp), np.zeros_like(W)
    for n in range(n_batch):
        for o in range(c_out):
            D = dilate(G[n, o], stride)                  # stride -> zeros between gradient entries
            Dfull = np.pad(D, ((kh - 1, kh - 1), (kw - 1, kw - 1)))
            for ci in range(c_per_group):
                c = (o // out_per_group) * c_per_group + ci        # the input channel in o's group
                full = corr2d(Dfull, rot180(W[o, ci]))           # rows the forward actually read
                dXp[n, c, :full.shape[0], :full.shape[1]] += full
                dW[o, ci] += corr2d(Xp[n, c, :D.shape[0] + kh - 1, :D.shape[1] + kw - 1], D)
    return dXp[:, :, padding:padding + h, padding:padding + wd], dW


CASES = [  # (N, C_in, H, W, C_out, k, stride, padding, groups)
    (1, 1, 3, 3, 1, 2, 1, 0, 1),     # the worked example's shape
    (2, 3, 7, 7, 4, 3, 2, 1, 1),     # stride 2 and padding 1
    (1, 2, 8, 8, 3, 3, 3, 0, 1),     # stride 3: (8 - 3) % 3 = 2 rows never read
    (2, 4, 6, 5, 6, 3, 1, 2, 2),     # groups 2, padding 2
    (1, 4, 5, 5, 4, 3, 2, 1, 4),     # depthwise (groups = channels)
]
for N, Cin, H, Wd, Cout, k, s, p, g in CASES:
    Xn = rng.standard_normal((N, Cin, H, Wd))
    Wn = rng.standard_normal((Cout, Cin // g, k, k))
    xt, wt = tinycnn.tensor(Xn, requires_grad=True), tinycnn.tensor(Wn, requires_grad=True)
    y = conv2d(xt, wt, stride=s, padding=p, groups=g)
    Gn = rng.standard_normal(y.shape)
    y.backward(gradient=tinycnn.tensor(Gn))
    dX_ref, dW_ref = conv_grads_reference(Xn, Wn, Gn, s, p, g)
    assert np.allclose(xt.grad.numpy(), dX_ref) and np.allclose(wt.grad.numpy(), dW_ref)
    print(f"x {Xn.shape}, w {Wn.shape}, stride {s}, padding {p}, groups {g}: engine == textbook reference")

# %% [markdown]
# The stride-3 case shows the rows and columns the forward never reads: the last two get zero gradient.

# %%
Xn = rng.standard_normal((1, 1, 8, 8))
xt = tinycnn.tensor(Xn, requires_grad=True)
y = conv2d(xt, tinycnn.tensor(np.ones((1, 1, 3, 3))), stride=3)
y.backward(gradient=tinycnn.ones_like(y))
fig, axes = plt.subplots(1, 2, figsize=(7, 3.5))
show(axes[0], dilate(np.ones((2, 2)), 3), "dilate_3(G) for a 2×2 G of ones", "{:.0f}")
show(axes[1], xt.grad.numpy()[0, 0], "dL/dX (8×8, k=3, s=3)", "{:.0f}")
fig.tight_layout()
plt.show()
assert np.all(xt.grad.numpy()[0, 0, 6:, :] == 0) and np.all(xt.grad.numpy()[0, 0, :, 6:] == 0)

# %% [markdown]
# ## 3. Two formulations: rot180 and col2im
#
# tinycnn's forward pass uses **im2col**: every receptive field is copied into a column, and the convolution
# becomes one matrix product $Y = W_{\text{mat}}\, \text{cols}$. Differentiating a matrix product is easy:
# $\partial L/\partial \text{cols} = W_{\text{mat}}^\top G$, and **col2im** adds each column entry back onto the
# pixel it was copied from (the adjoint of im2col). That is the same sum as the rot180 formula, grouped by
# output position instead of by input pixel. `with tinycnn.config(conv_backward="rot180" | "col2im"):`
# chooses which one computes $\partial L/\partial X$ inside the block; they must agree to rounding:

# %%
def input_grad(mode, x_np, w_np, g_np, **kw):
    with tinycnn.config(conv_backward=mode):
        xt = tinycnn.tensor(x_np, requires_grad=True)
        y = conv2d(xt, tinycnn.tensor(w_np), **kw)
        y.backward(gradient=tinycnn.tensor(g_np))
    return xt.grad.numpy()

configs = [dict(stride=1, padding=1), dict(stride=2, padding=0), dict(stride=2, padding=1, dilation=2),
           dict(stride=1, padding=1, groups=2)]
for kw in configs:
    x_np = rng.standard_normal((2, 4, 9, 9))
    w_np = rng.standard_normal((6, 4 // kw.get("groups", 1), 3, 3))
    g_np = rng.standard_normal(conv2d(tinycnn.tensor(x_np), tinycnn.tensor(w_np), **kw).shape)
    a, b = input_grad("rot180", x_np, w_np, g_np, **kw), input_grad("col2im", x_np, w_np, g_np, **kw)
    assert np.allclose(a, b, atol=1e-12)
    for mode in ("rot180", "col2im"):
        with tinycnn.config(conv_backward=mode):
            assert tinycnn.gradcheck(lambda x, w: conv2d(x, w, **kw),
                                     [tinycnn.tensor(x_np[:1, :, :6, :6], requires_grad=True),
                                      tinycnn.tensor(w_np, requires_grad=True)])
    print(f"{kw}: rot180 == col2im, and both pass gradcheck")

# %% [markdown]
# And their speed, on LeNet- and VGG-like layer shapes in float32: forward + backward, the two modes
# interleaved, best of 7 runs after a warm-up. These are wall-clock numbers from whatever machine ran this
# notebook last (a busy 2-core box gives noisy ones); `benchmarks/conv_bench.py` measures more carefully.
# `conv_direct=False` keeps LeNet's layer off the direct Numba kernel, which computes neither form.

# %%
def run_once(mode, x_np, w_np, kw):
    xt = tinycnn.tensor(x_np, requires_grad=True)
    wt = tinycnn.tensor(w_np, requires_grad=True)
    with tinycnn.config(conv_backward=mode, conv_direct=False):
        start = time.perf_counter()
        y = conv2d(xt, wt, **kw)
        y.backward(gradient=tinycnn.ones_like(y))
        return time.perf_counter() - start

shapes = {"LeNet conv2: x 64×6×14×14, w 16×6×5×5": ((64, 6, 14, 14), (16, 6, 5, 5), {}),
          "VGG-like: x 8×64×32×32, w 64×64×3×3, pad 1": ((8, 64, 32, 32), (64, 64, 3, 3), dict(padding=1)),
          "downsampling: same, stride 2": ((8, 64, 32, 32), (64, 64, 3, 3), dict(padding=1, stride=2))}
timings = {}
for name, (xs, ws, kw) in shapes.items():
    x_np = rng.standard_normal(xs).astype(np.float32)
    w_np = rng.standard_normal(ws).astype(np.float32)
    best = {"rot180": np.inf, "col2im": np.inf}
    for rep in range(8):
        for mode in best:
            t = run_once(mode, x_np, w_np, kw)
            if rep:                                  # the first round is a warm-up
                best[mode] = min(best[mode], t)
    timings[name] = [best["rot180"] * 1e3, best["col2im"] * 1e3]

fig, ax = plt.subplots(figsize=(8, 3))
ypos = np.arange(len(timings))
ax.barh(ypos - 0.2, [t[0] for t in timings.values()], 0.4, label="rot180")
ax.barh(ypos + 0.2, [t[1] for t in timings.values()], 0.4, label="col2im")
ax.set_yticks(ypos, list(timings))
ax.invert_yaxis()
ax.set_xlabel("forward + backward (ms)")
ax.legend()
plt.show()
for name, (a, b) in timings.items():
    print(f"{name}: rot180 {a:.1f} ms, col2im {b:.1f} ms")
print(f"default: {tinycnn.get_config().conv_backward!r}")

# %% [markdown]
# Where the difference comes from: both forms do the same multiply-adds for the useful terms, but the
# rot180 form first builds a zero-dilated, zero-padded copy of the gradient and runs a second im2col over
# it, so with stride $s$ roughly a fraction $1 - 1/s^2$ of its products are multiplications by inserted
# zeros; col2im reuses the forward's column layout and only scatters the products back. tinycnn keeps both,
# selectable, defaults to the one its benchmark found faster, and its tests hold the two to the same
# numbers.
