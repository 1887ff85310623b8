# %% [markdown]
# # 07 · Optimizers on a 2-D loss surface
#
# Every optimizer turns the gradient $g_t = \nabla L(w_t)$ into a step. This notebook writes the update
# rules in NumPy, checks that `tinycnn.optim` takes exactly the same steps, and draws the
# paths of SGD, momentum, Nesterov, Adagrad, RMSProp and Adam on the contours of an ill-conditioned bowl.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import nn, optim

plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})

# %% [markdown]
# ## 1. The loss surface
#
# $$L(x, y) = \frac{x^2}{50} + y^2, \qquad \nabla L = \Bigl(\frac{x}{25},\ 2y\Bigr).$$
#
# The curvature along $y$ is 50 times that along $x$ (condition number 50). Plain gradient descent must
# use a step small enough for the steep direction ($\eta < 2/2 = 1$), which makes it crawl along the flat
# one: the classic zig-zag.

# %%
def loss_np(w):
    return w[0] ** 2 / 50 + w[1] ** 2

def grad_np(w):
    return np.array([w[0] / 25, 2 * w[1]])

START = np.array([-9.0, 2.0])
STEPS = 60

# %% [markdown]
# ## 2. The update rules
#
# With learning rate $\eta$ and $g_t = \nabla L(w_t)$ (all operations elementwise):
#
# | optimizer | update |
# |---|---|
# | SGD | $w_{t+1} = w_t - \eta\, g_t$ |
# | momentum | $v_t = \mu v_{t-1} + \eta\, g_t, \quad w_{t+1} = w_t - v_t$ |
# | Nesterov | $b_t = \mu b_{t-1} + g_t, \quad w_{t+1} = w_t - \eta\,(g_t + \mu b_t)$ |
# | Adagrad | $s_t = s_{t-1} + g_t^2, \quad w_{t+1} = w_t - \dfrac{\eta}{\sqrt{s_t} + \epsilon}\, g_t$ |
# | RMSProp | $s_t = \alpha s_{t-1} + (1-\alpha)\, g_t^2, \quad w_{t+1} = w_t - \dfrac{\eta}{\sqrt{s_t} + \epsilon}\, g_t$ |
# | Adam | $m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t,\ v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,\ w_{t+1} = w_t - \eta\,\dfrac{m_t/(1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}$ |
#
# Two remarks on versions often written elsewhere:
#
# * Momentum is often written as $v_t = \mu v + \eta g$, $w \mathrel{-}= v$, while PyTorch (and tinycnn)
#   keep $b_t = \mu b_{t-1} + g_t$ and step $\eta\, b_t$. With a constant $\eta$ these are the same thing
#   ($v_t = \eta\, b_t$); they differ only when a scheduler changes $\eta$ mid-run.
# * Adagrad and RMSProp are sometimes written dividing by $s_t + \epsilon$; the divisor is $\sqrt{s_t} + \epsilon$. The root
#   matters: $g/\sqrt{s}$ is dimensionless (the step has the units of $\eta$ whatever the scale of the
#   loss), while $g/s$ would grow as the gradients shrink.
#
# The same rules in NumPy (every state starts at zero; Nesterov's buffer at $b_1 = g_1$):

# %%
def run_by_hand(rule, lr, steps=STEPS, mu=0.9, alpha=0.9, betas=(0.9, 0.999), eps=1e-8):
    w = START.copy()
    path = [w.copy()]
    v = np.zeros(2); s = np.zeros(2); m = np.zeros(2)
    for t in range(1, steps + 1):
        g = grad_np(w)
        if rule == "SGD":
            w = w - lr * g
        elif rule == "momentum":
            v = mu * v + lr * g
            w = w - v
        elif rule == "Nesterov":
            v = g if t == 1 else mu * v + g
            w = w - lr * (g + mu * v)
        elif rule == "Adagrad":
            s = s + g * g
            w = w - lr * g / (np.sqrt(s) + eps)
        elif rule == "RMSProp":
            s = alpha * s + (1 - alpha) * g * g
            w = w - lr * g / (np.sqrt(s) + eps)
        elif rule == "Adam":
            b1, b2 = betas
            m = b1 * m + (1 - b1) * g
            s = b2 * s + (1 - b2) * g * g
            w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(s / (1 - b2 ** t)) + eps)
        path.append(w.copy())
    return np.array(path)

# %% [markdown]
# ## 3. The same runs with `tinycnn.optim`
#
# Each coordinate is an `nn.Parameter`; the loss is built from tensor ops, so `backward()` provides the
# gradient and `optimizer.step()` applies the rule.

# %%
OPTIMIZERS = {   # name: (factory, learning rate)
    "SGD": (lambda ps, lr: optim.SGD(ps, lr=lr), 0.9),
    "momentum": (lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9), 0.1),
    "Nesterov": (lambda ps, lr: optim.SGD(ps, lr=lr, momentum=0.9, nesterov=True), 0.1),
    "Adagrad": (lambda ps, lr: optim.Adagrad(ps, lr=lr, eps=1e-8), 1.5),
    "RMSProp": (lambda ps, lr: optim.RMSprop(ps, lr=lr, alpha=0.9, eps=1e-8), 0.3),
    "Adam": (lambda ps, lr: optim.Adam(ps, lr=lr, betas=(0.9, 0.999), eps=1e-8), 0.5),
}

def run_tinycnn(name, steps=STEPS):
    factory, lr = OPTIMIZERS[name]
    x = nn.Parameter(tinycnn.tensor(START[:1].copy()))      # float64, shape (1,)
    y = nn.Parameter(tinycnn.tensor(START[1:].copy()))
    opt = factory([x, y], lr)
    path = [START.copy()]
    for _ in range(steps):
        opt.zero_grad()
        loss = x * x / 50 + y * y
        loss.backward()
        opt.step()
        path.append(np.array([x.item(), y.item()]))
    return np.array(path)

paths = {}
for name, (_, lr) in OPTIMIZERS.items():
    paths[name] = run_tinycnn(name)
    by_hand = run_by_hand(name, lr)
    assert np.allclose(paths[name], by_hand, rtol=1e-10, atol=1e-12), name
print("tinycnn.optim takes exactly the hand-written steps for:", ", ".join(paths))

# %% [markdown]
# ## 4. Paths on the contours

# %%
gx, gy = np.meshgrid(np.linspace(-10, 3, 300), np.linspace(-3, 3, 200))
levels = np.geomspace(0.01, 9, 14)

fig, axes = plt.subplots(2, 3, figsize=(13, 4.6), sharex=True, sharey=True)
for ax, (name, path) in zip(axes.flat, paths.items()):
    ax.contour(gx, gy, loss_np(np.array([gx, gy])), levels=levels, colors="0.55", linewidths=0.7)
    ax.plot(path[:, 0], path[:, 1], "o-", ms=2.5, lw=1, color="C3")
    ax.plot(0, 0, "k*", ms=10)
    ax.set_title(f"{name} (lr {OPTIMIZERS[name][1]}): loss {loss_np(path[-1]):.1e} after {STEPS} steps",
                 fontsize=9)
    ax.set_aspect("equal")
fig.tight_layout()
plt.show()

# %%
fig, ax = plt.subplots(figsize=(7, 4))
for name, path in paths.items():
    ax.semilogy([loss_np(w) for w in path], label=name)
ax.set_xlabel("step")
ax.set_ylabel("loss")
ax.legend(ncol=2)
plt.show()

final = {name: loss_np(path[-1]) for name, path in paths.items()}
assert final["momentum"] < final["SGD"] and final["Nesterov"] < final["SGD"]
assert final["Adam"] < final["SGD"]

# %% [markdown]
# What the pictures show:
#
# * **SGD** bounces across the steep $y$ direction and inches along the flat $x$ direction: its step in $x$ is
#   $\eta \cdot x/25$, and $\eta$ cannot grow without diverging in $y$.
# * **Momentum** accumulates the consistent $x$ component of the gradient while the alternating $y$
#   components cancel, so it accelerates along the valley (overshooting a bit); **Nesterov** evaluates the
#   correction "one step ahead", which damps the overshoot.
# * **Adagrad, RMSProp, Adam** divide each coordinate by its own gradient scale $\sqrt{s}$, so both
#   coordinates move at about the same speed whatever the conditioning: no zig-zag. The normalised step
#   does not shrink with the gradient, so near the minimum RMSProp starts to bounce (the spike at the end
#   of the loss curve) unless $\eta$ decays; Adam adds momentum to the normalisation, hence its fast start
#   and the swing around the minimum.
#
# ## 5. Adagrad's shrinking step
#
# Adagrad's $s_t$ only grows, so its effective learning rate $\eta/\sqrt{s_t}$ decays for ever, and
# it may stop before converging. RMSProp replaces the sum by a moving average and keeps the step
# alive. The effective step of the $x$ coordinate along each run:

# %%
def effective_lr(name, lr, alpha=0.9):
    s, out = 0.0, []
    for w in paths[name][:-1]:
        g = grad_np(w)[0]
        s = s + g * g if name == "Adagrad" else alpha * s + (1 - alpha) * g * g
        out.append(lr / (np.sqrt(s) + 1e-8))
    return np.array(out)

fig, ax = plt.subplots(figsize=(7, 3.5))
for name in ("Adagrad", "RMSProp"):
    ax.semilogy(effective_lr(name, OPTIMIZERS[name][1]), label=name)
ax.set_xlabel("step")
ax.set_ylabel(r"$\eta / \sqrt{s_t}$ for $x$")
ax.legend()
plt.show()

ada = effective_lr("Adagrad", OPTIMIZERS["Adagrad"][1])
assert np.all(np.diff(ada) <= 1e-12)          # monotonically non-increasing
