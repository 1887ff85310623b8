# %% [markdown]
# # 01 · Autograd from scratch
#
# Backpropagation is the chain rule applied in a clever order. This notebook takes a tiny expression,
# differentiates it **by hand**, lets tinycnn's engine do the same, opens the recorded graph to see the
# **topological order** the engine walks (and draws it, with every gradient after backward),
# re-implements that walk in a dozen lines, shows where
# **gradients accumulate**, and finally checks gradients numerically with **finite differences**
# (`tinycnn.gradcheck`).
#
# Every claim is an `assert`: running this notebook is a test.

# %%
import numpy as np
import matplotlib.pyplot as plt

import tinycnn
from tinycnn import Function, Tensor
from tinycnn.utils.graph import Graph

np.set_printoptions(precision=6, suppress=True)
plt.rcParams.update({"figure.dpi": 90, "axes.grid": True, "grid.alpha": 0.3})


def scalar(value):
    """A float64 scalar tensor that requires grad (built from a NumPy array so no digit is lost)."""
    return tinycnn.tensor(np.array(value, dtype=np.float64), requires_grad=True)

# %% [markdown]
# ## 1. A computation graph, by hand
#
# Take three inputs $a, b, c$ and
#
# $$u = a\,b,\qquad v = u + c,\qquad s = \sigma(a) = \frac{1}{1+e^{-a}},\qquad L = v\,s .$$
#
# Reverse mode starts from $\partial L/\partial L = 1$ and multiplies by one **local derivative** per edge,
# going from the output back to the inputs:
#
# | node | local derivatives | gradient |
# |---|---|---|
# | $L = v s$ | $\partial L/\partial v = s,\ \partial L/\partial s = v$ | $\bar v = s,\ \bar s = v$ |
# | $v = u + c$ | $\partial v/\partial u = 1,\ \partial v/\partial c = 1$ | $\bar u = \bar v,\ \bar c = \bar v$ |
# | $u = a b$ | $\partial u/\partial a = b,\ \partial u/\partial b = a$ | $\bar b = \bar u\, a$, and $\bar u\, b$ **to** $\bar a$ |
# | $s = \sigma(a)$ | $\sigma'(a) = \sigma(a)(1-\sigma(a))$ | $\bar s\, s(1-s)$ **to** $\bar a$ |
#
# ($\bar x$ is short for $\partial L/\partial x$.) The input $a$ feeds two nodes, so its gradient is the
# **sum** over both paths (the multivariate chain rule):
#
# $$\bar a = \underbrace{s\,b}_{\text{through } u} + \underbrace{v\,s(1-s)}_{\text{through } s}.$$

# %%
a_val, b_val, c_val = 2.0, -3.0, 10.0

# forward, by hand
u = a_val * b_val
v = u + c_val
s = 1.0 / (1.0 + np.exp(-a_val))
L = v * s

# backward, by hand, in reverse order of the forward
L_bar = 1.0
v_bar, s_bar = s * L_bar, v * L_bar
u_bar, c_bar = v_bar, v_bar
b_bar = u_bar * a_val
a_bar = u_bar * b_val + s_bar * s * (1 - s)      # two paths reach a: their contributions add

print(f"L = {L:.6f}")
print(f"dL/da = {a_bar:.6f}   dL/db = {b_bar:.6f}   dL/dc = {c_bar:.6f}")

# %% [markdown]
# The engine records the same graph while the forward runs (*define-by-run*) and walks it backwards when
# we call `L.backward()`:

# %%
a, b, c = scalar(a_val), scalar(b_val), scalar(c_val)

u_t = a * b
v_t = u_t + c
s_t = a.sigmoid()
L_t = v_t * s_t
print(L_t)

# %% [markdown]
# ## 2. The recorded graph and its topological order
#
# Every tensor made by an op keeps that op (`t.grad_fn`, a `Function`), and the op keeps its inputs. The
# backward pass may only process a node once **all** the nodes that consumed it have sent their share of
# the gradient, i.e. in *reverse topological order*. A depth-first search that appends a node after all
# its inputs yields a topological order:

# %%
def topological_order(root):
    """Tensors of the graph of `root`, every tensor after all of its inputs (DFS post-order)."""
    order, seen = [], set()

    def visit(t):
        if id(t) in seen:
            return
        seen.add(id(t))
        if t.grad_fn is not None:
            for inp in t.grad_fn.inputs:
                if isinstance(inp, Tensor):
                    visit(inp)
        order.append(t)

    visit(root)
    return order


names = {id(a): "a", id(b): "b", id(c): "c", id(u_t): "u", id(v_t): "v", id(s_t): "s", id(L_t): "L"}
order = topological_order(L_t)
for t in order:
    op = t.grad_fn.name if t.grad_fn else "leaf"
    ins = ", ".join(names[id(i)] for i in t.grad_fn.inputs) if t.grad_fn else ""
    print(f"{names[id(t)]:>2} = {op}({ins})".ljust(18), f"value {t.item():9.5f}")

pos = {id(t): i for i, t in enumerate(order)}
for t in order:        # the defining property: every input comes before its consumer
    if t.grad_fn:
        assert all(pos[id(i)] < pos[id(t)] for i in t.grad_fn.inputs)

# %% [markdown]
# `tinycnn.utils.graph.Graph` draws the graph the engine recorded (with Graphviz): blue boxes are the ops,
# green boxes the leaves that require grad, yellow ellipses the tensors the ops made, the red one the output.
# Each tensor shows its shape, dtype, `requires_grad` and, having one element, its value; an op's operands
# come in from left to right in the order it takes them. `params` names the tensors (for a model,
# `dict(model.named_parameters())`).

# %%
picture = Graph(L_t, params={"a": a, "b": b, "c": c, "u": u_t, "v": v_t, "s": s_t, "L": L_t})
assert [f.name for f in picture.functions] == [t.grad_fn.name for t in order if t.grad_fn is not None]
picture

# %% [markdown]
# ## 3. The backward engine in a dozen lines
#
# Walk the tensors in reverse topological order; each op's `backward` turns the gradient of its output into
# one gradient per input; gradients arriving at the same tensor from several consumers are **added**.

# %%
def my_backward(root):
    grads = {id(root): np.ones_like(root.array)}             # dL/dL = 1
    for t in reversed(topological_order(root)):
        g = grads.get(id(t))
        if t.grad_fn is None or g is None:
            continue
        in_grads = t.grad_fn.backward(g)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        for inp, gi in zip(t.grad_fn.inputs, in_grads):
            if isinstance(inp, Tensor) and inp.requires_grad and gi is not None:
                grads[id(inp)] = grads.get(id(inp), 0) + gi   # accumulate over consumers
    return grads

mine = {k: float(v) for k, v in my_backward(L_t).items()}
print({names[k]: round(v, 6) for k, v in mine.items()})
assert np.isclose(mine[id(a)], a_bar) and np.isclose(mine[id(b)], b_bar) and np.isclose(mine[id(c)], c_bar)

# %% [markdown]
# Now the real engine (`Tensor.backward`, Kahn's algorithm: a node is processed once its count of pending
# consumers reaches zero). All three agree: hand derivation, our loop, and tinycnn.

# %%
L_t.backward()
print(f"tinycnn: dL/da = {a.grad.item():.6f}  dL/db = {b.grad.item():.6f}  dL/dc = {c.grad.item():.6f}")
assert np.allclose([a.grad.item(), b.grad.item(), c.grad.item()], [a_bar, b_bar, c_bar])

# %% [markdown]
# The picture was taken before `backward()`, so it marked the intermediate tensors to keep their gradients
# (`retain_grad()`; by default only leaves keep one). Drawn again it shows every gradient: $\bar u = \bar v = s$,
# $\bar s = v$, and the two paths into $a$ adding up.

# %%
grads = {node.name: node.grad.item() for node in picture.tensors.values() if node.name}
assert np.allclose([grads["u"], grads["v"], grads["s"], grads["a"]], [u_bar, v_bar, s_bar, a_bar])
assert all(np.isclose(grads[k], mine[id(t)]) for k, t in (("u", u_t), ("s", s_t), ("b", b)))
picture

# %% [markdown]
# ## 4. Gradient accumulation
#
# **Within one graph**, a tensor used twice receives the sum of both contributions, as seen for $a$ above.
# The two shares can be computed separately by cutting one path with `detach()` (which returns the same
# value with no history):

# %%
def grad_of_a(cut):
    a = scalar(a_val)
    a_u = a.detach() if cut == "u" else a       # cut the path through u = a*b
    a_s = a.detach() if cut == "s" else a       # cut the path through s = sigmoid(a)
    L = (a_u * b.detach() + c.detach()) * a_s.sigmoid()
    L.backward()
    return a.grad.item()

via_s, via_u, both = grad_of_a("u"), grad_of_a("s"), grad_of_a(None)
print(f"through u: {via_u:.6f}   through s: {via_s:.6f}   sum: {via_u + via_s:.6f}   engine: {both:.6f}")
assert np.isclose(via_u, s * b_val) and np.isclose(via_s, v * s * (1 - s))
assert np.isclose(via_u + via_s, both)

# %% [markdown]
# **Across backward calls**, `.grad` also accumulates: a second `backward()` *adds* to what is there. That
# is why training loops call `optimizer.zero_grad()` every step (and why gradient accumulation over
# micro-batches works for free). A graph's saved arrays are freed after its first backward unless
# `retain_graph=True`.

# %%
x = scalar(3.0)
y = x * x                                    # dy/dx = 2x = 6
y.backward(retain_graph=True)
first = x.grad.item()
y.backward()                                 # adds another 6
print("after one backward:", first, " after two:", x.grad.item())
assert first == 6.0 and x.grad.item() == 12.0

try:
    y.backward()                             # the graph was freed by the previous call
except RuntimeError as err:
    print("third backward ->", err)
else:
    raise AssertionError("expected an error on backward through a freed graph")

with tinycnn.no_grad():                      # inside no_grad nothing is recorded
    z = x * x
assert not z.requires_grad and z.grad_fn is None

# %% [markdown]
# ## 5. Checking gradients with finite differences
#
# The analytic gradient can be checked against the definition of the derivative. The **central**
# difference is much more accurate than the one-sided one, by Taylor expansion:
#
# $$\frac{f(x+\varepsilon) - f(x)}{\varepsilon} = f'(x) + \tfrac{\varepsilon}{2} f''(x) + O(\varepsilon^2),
# \qquad
# \frac{f(x+\varepsilon) - f(x-\varepsilon)}{2\varepsilon} = f'(x) + \tfrac{\varepsilon^2}{6} f'''(x) + O(\varepsilon^4).$$
#
# Rounding adds an error of about $\delta_{\text{mach}}\,|f| / \varepsilon$, so the total error is a V in
# $\varepsilon$: truncation on the right, rounding on the left. In float32
# ($\delta_{\text{mach}} \approx 6\cdot 10^{-8}$) the best achievable error is around $10^{-6}$, far too
# coarse to catch small mistakes; that is why `gradcheck` casts everything to **float64**
# ($\delta_{\text{mach}} \approx 10^{-16}$).

# %%
x0 = 0.7
xt = scalar(x0)
xt.sigmoid().backward()
exact = xt.grad.item()                        # sigma(x)(1 - sigma(x)), from the engine

def sig(x, dtype):
    x = dtype(x)
    return dtype(1) / (dtype(1) + np.exp(-x))

eps = np.logspace(-13, -1, 49)
errors = {}
for dtype in (np.float64, np.float32):
    fwd = np.array([abs((sig(x0 + e, dtype) - sig(x0, dtype)) / dtype(e) - exact) for e in eps])
    ctr = np.array([abs((sig(x0 + e, dtype) - sig(x0 - e, dtype)) / dtype(2 * e) - exact) for e in eps])
    errors[dtype.__name__] = (fwd, ctr)

fig, ax = plt.subplots(figsize=(7, 4))
for name, style in (("float64", "-"), ("float32", ":")):
    fwd, ctr = errors[name]
    ax.loglog(eps, np.maximum(fwd, 1e-17), style, color="C0", label=f"forward difference, {name}")
    ax.loglog(eps, np.maximum(ctr, 1e-17), style, color="C1", label=f"central difference, {name}")
ax.set_xlabel(r"step $\varepsilon$")
ax.set_ylabel("|numeric - analytic|")
ax.set_title(r"finite-difference error for $\sigma'(0.7)$")
ax.legend(fontsize=8)
plt.show()

fwd64, ctr64 = errors["float64"]
i6 = np.argmin(abs(eps - 1e-6))
print(f"at eps = 1e-6 (gradcheck's default): forward error {fwd64[i6]:.1e}, central error {ctr64[i6]:.1e}")
assert ctr64[i6] < 1e-9 < fwd64[i6]           # central differences are ~1000x more accurate there
assert ctr64.min() < 1e-10 and errors["float32"][1].min() > 1e-7

# %% [markdown]
# `tinycnn.gradcheck(fn, inputs)` does this for every element of every input: it draws a random upstream
# gradient $u$, sets $L = \sum u \odot f(x)$ (so that `backward(u)` gives $\partial L/\partial x$) and compares
# each element with the central difference. It returns `True`, or raises `GradcheckError` naming the input
# and element that disagree.

# %%
rng = np.random.default_rng(0)
X = tinycnn.tensor(rng.standard_normal((4, 3)), requires_grad=True)
W = tinycnn.tensor(rng.standard_normal((3, 2)), requires_grad=True)
bias = tinycnn.tensor(rng.standard_normal(2), requires_grad=True)

assert tinycnn.gradcheck(lambda X, W, bias: (X @ W + bias).sigmoid(), [X, W, bias])
print("a small sigmoid layer passes gradcheck")

# %% [markdown]
# And it catches mistakes. Here is a square whose backward "forgets" the factor 2
# ($\frac{d}{dx}x^2 = 2x$); notebook 11 shows how to write such a `Function` properly.

# %%
class BuggySquare(Function):
    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, gy):
        return gy * self.x          # wrong: should be 2 * x * gy

try:
    tinycnn.gradcheck(lambda x: BuggySquare.apply(x), [tinycnn.tensor(rng.standard_normal(3), requires_grad=True)])
except tinycnn.GradcheckError as err:
    print(str(err).splitlines()[0])
    print(str(err).splitlines()[1])
else:
    raise AssertionError("gradcheck should have caught the missing factor 2")
