# %% [markdown]
# # 13 · The middle ideas, checked: NiN, GAP, ResNeXt, DenseNet, MobileNetV2, and two corrections
#
# Between the big architectures come a handful of claims usually stated without proof: a 1×1 convolution *is* a
# fully connected layer applied at every pixel; global average pooling saves the parameters of a fully
# connected head; ResNeXt's grouped convolution *is* its 32-path split-transform-merge block; a DenseNet
# block grows its width by $k$ channels per layer; MobileNetV2 adds its shortcut only when stride is 1 and
# the shapes agree. They also carry two slips: SGD's update written with a plus sign, and the "full"
# convolution of the conv backward padded by $(K-1)/2$. Each claim below is checked numerically with
# tinycnn's own layers and models; every check is an `assert`.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn, optim
import tinycnn.nn.functional as F
from tinycnn.models import Bottleneck, densenet121, mobilenet_v2, nin, nin_block
from tinycnn.models.mobilenet_v2 import InvertedResidual

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})
rng = np.random.default_rng(0)
T = tinycnn.tensor


def n_params(module):
    return sum(int(p.numel()) for p in module.parameters())

# %% [markdown]
# ## 1. NiN: a 1×1 convolution is a fully connected layer at every pixel
#
# A 1×1 conv with weights $W \in \mathbb{R}^{O \times C}$ computes $y_{n,o,i,j} = \sum_c W_{oc}\, x_{n,c,i,j}
# + b_o$. Take every pixel $(n, i, j)$ as a sample and its $C$ channels as the features: that is
# $Y = X W^\top + b$ on the matrix $X$ of shape $(N H W, C)$, a `Linear(C, O)` shared by all positions.
# Both the outputs and the weight gradients agree.

# %%
x = rng.standard_normal((2, 5, 4, 3))
weight, bias = rng.standard_normal((7, 5, 1, 1)), rng.standard_normal(7)

xc, wc, bc = T(x), T(weight, requires_grad=True), T(bias, requires_grad=True)
y_conv = F.conv2d(xc, wc, bc)

pixels = T(x.transpose(0, 2, 3, 1).reshape(-1, 5))                 # (N*H*W, C): one row per pixel
wl, bl = T(weight[:, :, 0, 0], requires_grad=True), T(bias, requires_grad=True)
y_fc = F.linear(pixels, wl, bl)                                      # (N*H*W, O)
assert np.allclose(y_conv.numpy(), y_fc.numpy().reshape(2, 4, 3, 7).transpose(0, 3, 1, 2), atol=1e-12)

upstream = rng.standard_normal(y_conv.shape)
y_conv.backward(T(upstream))
y_fc.backward(T(upstream.transpose(0, 2, 3, 1).reshape(-1, 7)))
assert np.allclose(wc.grad.numpy()[:, :, 0, 0], wl.grad.numpy()) and np.allclose(bc.grad.numpy(), bl.grad.numpy())
print("1x1 conv == per-pixel Linear: outputs and weight gradients agree")
print(nin_block(3, 8, 3, 1, 1))   # a NiN block: one conv, then two 1x1 convs = a two-layer MLP at every pixel

# %% [markdown]
# ## 2. Global average pooling: a head without parameters
#
# NiN's last block outputs one channel per class and averages each over its 5×5 map, so the classifier has
# no weights. An AlexNet-style head on the same 384×5×5 features (flatten, 4096, 4096, 10) would hold 56M;
# even one Linear to 10 classes holds 96,010, five percent of all of NiN. GAP is the mean over the map, and it
# makes the network independent of the input size.

# %%
model = nin().eval()
x = tinycnn.randn(1, 1, 224, 224)
with tinycnn.no_grad():
    maps = model[:8](x)                                            # up to the global average pool: 10 x 5 x 5
    logits = model(x)
assert maps.shape == (1, 10, 5, 5)
assert np.allclose(logits.numpy(), maps.numpy().mean(axis=(2, 3)), atol=1e-6)

features = 384 * 5 * 5
fc_head = nn.Sequential(nn.Flatten(), nn.Linear(features, 4096), nn.ReLU(), nn.Linear(4096, 4096), nn.ReLU(),
                        nn.Linear(4096, 10))
one_linear = nn.Linear(features, 10)
gap_head = model[7:]                                                # the last NiN block, then the pool
print(f"NiN in all: {n_params(model):,} parameters; its head (last block + GAP): {n_params(gap_head):,}")
print(f"a fully connected head on 384x5x5: {n_params(fc_head):,}; a single Linear to 10: {n_params(one_linear):,}")
assert n_params(model) == 1_992_166 and n_params(model[8]) == 0
assert n_params(fc_head) == 9600 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 10 + 10
assert n_params(fc_head) > 25 * n_params(model)
with tinycnn.no_grad():
    assert model(tinycnn.randn(1, 1, 96, 96)).shape == (1, 10)    # a smaller image: same network, same output

# %% [markdown]
# ## 3. ResNeXt: the grouped block is the split-transform-merge block
#
# ResNeXt's block (Xie et al. 2016, Figure 3a) sums 32 paths, each a 1×1 conv 256→4, a 3×3 conv 4→4 and a
# 1×1 conv 4→256, and adds the input. Stacking the 32 first convs gives one 1×1 conv 256→128; the 32 3×3
# convs, each reading only its own 4 channels, are one 3×3 conv with `groups=32`; and the sum of the 32 last
# convs is one 1×1 conv 128→256 on the concatenation. That is `Bottleneck(256, 64, groups=32,
# base_width=4)`, the block of `resnext50_32x4d`. Below, its weights (with BatchNorm in eval mode, which is
# per channel and so splits across the paths too) are cut into 32 paths and the paths summed.

# %%
block = Bottleneck(256, 64, groups=32, base_width=4).double().eval()
for bn in (block.bn1, block.bn2, block.bn3):
    bn.running_mean.array = rng.standard_normal(bn.num_features) * 0.1
    bn.running_var.array = rng.uniform(0.5, 1.5, bn.num_features)
    bn.weight.array, bn.bias.array = rng.uniform(0.5, 1.5, bn.num_features), rng.standard_normal(bn.num_features) * 0.1
assert (block.conv1.out_channels, block.conv2.groups, tuple(block.conv2.weight.shape)) == (128, 32, (128, 4, 3, 3))


def bn_eval(x, bn, channels):
    """Eval-mode BatchNorm restricted to ``channels``: (x - mean) / sqrt(var + eps) * gamma + beta."""
    shape = (1, -1, 1, 1)
    mean, var = bn.running_mean.numpy()[channels], bn.running_var.numpy()[channels]
    gamma, beta = bn.weight.numpy()[channels], bn.bias.numpy()[channels]
    return (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + bn.eps) * gamma.reshape(shape) + beta.reshape(shape)


def relu(a):
    return np.maximum(a, 0)


x = rng.standard_normal((2, 256, 8, 8))
w1, w2, w3 = (c.weight.numpy() for c in (block.conv1, block.conv2, block.conv3))
paths = 0.0
for i in range(32):
    ch = slice(4 * i, 4 * i + 4)                                    # path i's four channels
    h = relu(bn_eval(F.conv2d(T(x), T(w1[ch])).numpy(), block.bn1, ch))           # 1x1: 256 -> 4
    h = relu(bn_eval(F.conv2d(T(h), T(w2[ch]), padding=1).numpy(), block.bn2, ch))  # 3x3: 4 -> 4
    paths = paths + F.conv2d(T(h), T(w3[:, ch])).numpy()                          # 1x1: 4 -> 256, summed
split_transform_merge = relu(bn_eval(paths, block.bn3, slice(None)) + x)
with tinycnn.no_grad():
    grouped = block(T(x)).numpy()
print("max |grouped - sum of 32 paths| =", np.abs(grouped - split_transform_merge).max())
assert np.allclose(grouped, split_transform_merge, rtol=1e-10, atol=1e-10)
per_path = 256 * 4 + 4 * 4 * 9 + 4 * 256
assert 32 * per_path == w1.size + w2.size + w3.size == 70_144       # the same weights, counted either way

# %% [markdown]
# ## 4. DenseNet: the width grows by $k$ per layer
#
# In a dense block every layer receives the concatenation of the block input and all earlier layers'
# outputs and adds $k$ (the growth rate) channels of its own: after $l$ layers the block carries
# $k_0 + l k$ channels, and its first $k_0$ channels are the block input, untouched. Each transition halves the
# width (compression 0.5) and the resolution. DenseNet-121 has $k = 32$ and blocks of 6, 12, 24, 16 layers.

# %%
model = densenet121().eval()
x = tinycnn.randn(1, 3, 64, 64)
widths, expected, k = [], [], 32
with tinycnn.no_grad():
    h = x
    for name, child in model.features.named_children():
        before = h
        h = child(h)
        if name.startswith("denseblock"):
            layers = len(list(child.children()))
            expected.append((name, before.shape[1] + layers * k))
            widths.append((name, h.shape[1]))
            assert np.array_equal(h.numpy()[:, :before.shape[1]], before.numpy())   # the input is carried along
            for i, layer in enumerate(child.children()):                          # layer i reads k0 + i k channels
                assert layer.conv1.in_channels == before.shape[1] + i * k and layer.conv2.out_channels == k
        elif name.startswith("transition"):
            assert h.shape[1] == before.shape[1] // 2 and h.shape[2] == before.shape[2] // 2
            widths.append((name, h.shape[1]))
print(widths)
assert [w for n, w in widths if n.startswith("dense")] == [w for _, w in expected] == [256, 512, 1024, 1024]
assert [w for n, w in widths if n.startswith("trans")] == [128, 256, 512]

curve, c = [64], 64
for i, layers in enumerate((6, 12, 24, 16)):
    for _ in range(layers):
        c += k
        curve.append(c)
    if i < 3:
        c //= 2
        curve.append(c)
plt.figure(figsize=(7, 2.8))
plt.plot(curve, drawstyle="steps-post")
plt.xlabel("layer (dense layers and transitions)")
plt.ylabel("channels")
plt.title("DenseNet-121: +32 per layer, halved at each transition")
plt.show()

# %% [markdown]
# ## 5. MobileNetV2: the shortcut exists only when stride is 1 and the channels agree
#
# An inverted residual block adds its input to its output only if the two have the same shape, i.e. stride
# 1 and $C_\text{in} = C_\text{out}$. In `mobilenet_v2` that holds for 10 of the 17 blocks: every block after
# the first of its stage. The output of such a block minus its input is exactly its convolution path; the
# other blocks are their path alone (and the sum would not even have a shape).

# %%
model = mobilenet_v2().eval()
blocks = [m for m in model.features if isinstance(m, InvertedResidual)]
x = tinycnn.randn(1, 3, 64, 64)
with tinycnn.no_grad():
    h = model.features[0](x)
    table = []
    for blk in blocks:
        out, path = blk(h), blk.conv(h)
        c_in, c_out = h.shape[1], out.shape[1]
        assert blk.use_res_connect == (blk.stride == 1 and c_in == c_out)
        if blk.use_res_connect:
            assert np.allclose(out.numpy() - h.numpy(), path.numpy(), atol=1e-5)
        else:
            assert np.array_equal(out.numpy(), path.numpy()) and (blk.stride == 2 or c_in != c_out)
            assert h.shape != out.shape
        table.append((blk.stride, c_in, c_out, blk.use_res_connect))
        h = out
for stride, c_in, c_out, res in table:
    print(f"stride {stride}  {c_in:>3} -> {c_out:<3}  {'x + F(x)' if res else 'F(x)'}")
assert sum(res for *_, res in table) == 10 and len(table) == 17

# %% [markdown]
# ## 6. Correction: SGD steps *against* the gradient
#
# SGD is sometimes miswritten as $w_{t+1} = w_t + \eta\, g(w_t)$. The gradient points uphill, so that step climbs;
# gradient descent is $w_{t+1} = w_t - \eta\, g(w_t)$. To first order $L(w - \eta g) \approx L(w) - \eta \lVert g
# \rVert^2 \le L(w)$, while the plus sign gives $L(w) + \eta \lVert g \rVert^2$. On $L(w) = (w - 3)^2$ from $w = 0$:

# %%
def loss(w):
    return (w - 3.0) ** 2


def grad(w):
    return 2 * (w - 3.0)


lr, minus, plus = 0.1, [0.0], [0.0]
for _ in range(30):
    minus.append(minus[-1] - lr * grad(minus[-1]))
    plus.append(plus[-1] + lr * grad(plus[-1]))
print(f"w - lr*g: w = {minus[-1]:.6f}, L = {loss(minus[-1]):.2e};   w + lr*g: w = {plus[-1]:.3e}, L = {loss(plus[-1]):.3e}")
assert abs(minus[-1] - 3) < 1e-2 and loss(plus[-1]) > 1e4 * loss(plus[0])
assert all(loss(a) > loss(b) for a, b in zip(minus, minus[1:]))       # every descent step lowers the loss

w = nn.Parameter(np.array([0.0]))                                        # tinycnn.optim.SGD takes the minus step
opt = optim.SGD([w], lr=lr)
((w - 3.0) ** 2).sum().backward()
opt.step()
assert abs(w.numpy()[0] - minus[1]) < 1e-12 and abs(minus[1] - 0.6) < 1e-12   # 0 - 0.1 * 2 * (0 - 3)

plt.figure(figsize=(6, 2.8))
plt.plot([loss(v) for v in minus], label=r"$w - \eta g$")
plt.plot([loss(v) for v in plus], label=r"$w + \eta g$ (wrong sign)")
plt.yscale("log")
plt.xlabel("step")
plt.ylabel("L(w)")
plt.legend()
plt.show()

# %% [markdown]
# ## 7. Correction: "full" convolution pads by $K - 1$, not $(K - 1)/2$
#
# A common derivation computes $\partial L/\partial X$ as the full-mode convolution of $\partial L/\partial O$ with the
# 180°-rotated kernel, "setting the padding to $(K-1)/2$". But $(K-1)/2$ is *same* padding (output size =
# input size). With an $N \times N$ input and a $K \times K$ kernel, $O$ is $(N-K+1) \times (N-K+1)$, and to
# get back to $N$ the full mode pads $K - 1$ on each side: $(N - K + 1) + 2(K-1) - K + 1 = N$. In the
# 3×3 / 2×2 example ($N = 3$, $K = 2$) $(K-1)/2 = 1/2$ is not even a padding; with $K = 3$ it gives the wrong size.

# %%
def input_grad_by_full_conv(dO, W, padding):
    return F.conv2d(T(dO), T(W[:, :, ::-1, ::-1].copy()), padding=padding).numpy()   # rot180, single channel


for N, K in ((3, 2), (5, 3), (6, 5)):
    X = T(rng.standard_normal((1, 1, N, N)), requires_grad=True)
    W = rng.standard_normal((1, 1, K, K))
    out = F.conv2d(X, T(W))
    dO = rng.standard_normal(out.shape)
    out.backward(T(dO))
    full = input_grad_by_full_conv(dO, W, padding=K - 1)
    assert full.shape == X.shape and np.allclose(full, X.grad.numpy(), atol=1e-12)
    if (K - 1) % 2 == 0:
        same = input_grad_by_full_conv(dO, W, padding=(K - 1) // 2)
        assert same.shape != X.shape
        print(f"N={N}, K={K}: padding K-1={K - 1} gives {full.shape[2:]} = dL/dX; "
              f"padding (K-1)/2={(K - 1) // 2} gives {same.shape[2:]}")
    else:
        print(f"N={N}, K={K}: padding K-1={K - 1} gives {full.shape[2:]} = dL/dX; (K-1)/2 = {(K - 1) / 2} is no padding")

# %% [markdown]
# ## Summary
#
# | claim | checked by |
# |---|---|
# | a 1×1 conv is a per-pixel Linear | outputs and weight gradients equal to 1e-12 |
# | GAP removes the head's parameters | NiN's head has 0 weights beyond its last block; an FC head would hold 56M |
# | ResNeXt's grouped block = 32 summed paths | equal to 1e-10 in float64, eval-mode BatchNorm included; 70,144 weights either way |
# | DenseNet grows by $k$ per layer | 64 + 6·32 = 256, 128 + 12·32 = 512, 256 + 24·32 = 1024, 512 + 16·32 = 1024; the input is carried unchanged |
# | MobileNetV2's shortcut iff stride 1 and $C_\text{in} = C_\text{out}$ | every block of `mobilenet_v2`, 10 of 17 with a shortcut |
# | SGD subtracts the gradient | the plus sign diverges; `optim.SGD` takes $w - \eta g$ |
# | full-mode padding is $K - 1$ | equal to autograd's $\partial L/\partial X$; $(K-1)/2$ gives the wrong size |
