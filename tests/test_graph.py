"""tinycnn.utils.graph: the recorded graph as a snapshot, its DOT drawing, module collapsing, rendering, and
``tinycnn graph``. Rendering tests skip where Graphviz's ``dot`` program is missing; the DOT text does not
need it."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinycnn
from tinycnn import Function
from tinycnn.models import lenet5, resnet18
from tinycnn.nn import functional as F
from tinycnn.utils.graph import (DotNotFoundError, Graph, make_dot, render, trace_modules,
                                 training_step_graph)

graphviz = pytest.importorskip("graphviz")   # the DOT writer (the viz extra); everything here needs it
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def scalar(v):
    return tinycnn.tensor(np.array(v, dtype=np.float64), requires_grad=True)


def lenet_step(variant="modern", batch=2):
    tinycnn.manual_seed(0)
    model = lenet5(variant)
    x = tinycnn.tensor(np.random.default_rng(0).standard_normal((batch, 1, 28, 28)).astype(np.float32))
    y = tinycnn.tensor(np.arange(batch) % 10)
    return model, x, y


# ---- the snapshot ---------------------------------------------------------------------------------------
def test_expression_graph_has_every_op_tensor_and_constant_in_topological_order():
    a, b, c = scalar(2.0), scalar(-3.0), scalar(10.0)
    L = (a * b + c) * a.sigmoid() * 2
    g = Graph(L, params={"a": a, "b": b, "c": c})
    assert [f.name for f in g.functions] == ["Mul", "Add", "Sigmoid", "Mul", "Mul"]
    position = {f.output: i for i, f in enumerate(g.functions)}
    for i, f in enumerate(g.functions):              # every operand made by an earlier op
        assert all(position.get(t, -1) < i for t in f.inputs)
    names = {n.name: n for n in g.tensors.values() if n.name}
    assert set(names) == {"a", "b", "c"} and all(n.kind == "parameter" for n in names.values())
    (constant,) = [n for n in g.tensors.values() if n.kind == "constant"]
    assert constant.value == 2.0
    out = g.tensors[g.roots[0]]
    assert out.kind == "output" and out.shape == () and out.value == pytest.approx(L.item())
    assert len([n for n in g.tensors.values() if n.kind == "intermediate"]) == 4


def test_a_freed_intermediate_is_one_node_for_all_its_consumers_and_small_ones_keep_their_values():
    x = tinycnn.randn(100, 200, requires_grad=True)   # 80 kB: the graph holds y only weakly
    y = x * 2
    z = y.exp() + y.sin()
    del y
    g = Graph(z)
    mul, exp, sin, _ = g.functions
    assert exp.inputs == sin.inputs == [mul.output]
    a, b = scalar(2.0), scalar(-3.0)
    L = (a * b + 1.0) * 2.0                            # a * b is dropped at once, but small: held
    values = sorted(n.value for n in Graph(L).tensors.values() if n.kind == "intermediate")
    assert values == [-6.0, -5.0]


def test_ops_show_their_keyword_parameters():
    x = tinycnn.randn(1, 3, 9, 9)
    w = tinycnn.randn(4, 3, 3, 3, requires_grad=True)
    y = F.max_pool2d(F.conv2d(x, w, stride=2, padding=1), kernel_size=2)
    g = Graph(y.sum(dim=1))
    conv, pool, total = g.functions
    assert conv.name == "Conv2dFunction"
    assert conv.attributes["stride"] == "(2, 2)" and conv.attributes["padding"] == "(1, 1, 1, 1)"
    assert conv.attributes["groups"] == "1"
    assert pool.attributes["kernel_size"] == "(2, 2)"
    assert total.attributes["axes"] == "(1,)" and total.attributes["keepdim"] == "False"
    src = g.source
    assert "stride=(2, 2)" in src and "Conv2dFunction" in src
    x_node = g.tensors[conv.inputs[0]]
    assert x_node.kind == "input" and x_node.shape == (1, 3, 9, 9) and x_node.dtype == "float32"
    assert not x_node.requires_grad and "requires_grad=False" in src


def test_a_users_own_function_is_drawn_with_its_parameters():
    class Scale(Function):
        def forward(self, x, *, factor):
            self.factor = factor
            return x * factor

        def backward(self, gy):
            return gy * self.factor

    y = Scale.apply(tinycnn.randn(3, requires_grad=True), factor=2.5)
    (f,) = Graph(y).functions
    assert f.name == "Scale" and f.attributes == {"factor": "2.5"}


def test_model_parameters_are_labelled_by_their_module_names():
    model, x, y = lenet_step()
    g = Graph(F.cross_entropy(model(x), y), model)
    named = sorted(n.name for n in g.tensors.values() if n.kind == "parameter")
    assert named == sorted(n for n, _ in model.named_parameters())
    assert '"0.weight\\n(6, 1, 5, 5) float32\\nrequires_grad=True"' in g.source


def test_gradient_norms_appear_after_backward():
    model, x, y = lenet_step()
    with trace_modules(model) as trace:
        logits = model(x)
    loss = F.cross_entropy(logits, y)
    g = Graph(loss, model, trace=trace)
    assert all(n.grad is None for n in g.tensors.values())
    assert "grad" not in g.source.replace("requires_grad", "")
    loss.backward()
    w = next(n for n in g.tensors.values() if n.name == "0.weight")
    assert w.grad_norm == pytest.approx(float(np.linalg.norm(model[0].weight.grad.numpy())), rel=1e-6)
    logits_node = next(n for n in g.tensors.values() if n.tensor is logits)
    # dL/dlogits of the mean cross-entropy is (softmax - onehot) / N
    p = np.exp(logits.numpy() - logits.numpy().max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y.numpy()] -= 1
    assert logits_node.grad_norm == pytest.approx(float(np.linalg.norm(p / len(y))), rel=1e-4)
    assert g.tensors[g.roots[0]].grad.item() == 1.0
    assert f"grad norm {w.grad_norm:.3g}" in g.source and "\\ngrad 1\"" in g.source
    assert all(n.grad is not None for n in g.tensors.values() if n.kind in ("intermediate", "parameter"))


def test_graph_taken_after_backward_with_retain_graph_shows_the_leaves_gradients():
    w = tinycnn.randn(3, requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    g = Graph(loss, params={"w": w})
    assert next(n for n in g.tensors.values() if n.name == "w").grad_norm == pytest.approx(
        float(np.linalg.norm(2 * w.numpy())), rel=1e-6)


def test_bad_inputs_get_one_line_errors():
    with pytest.raises(ValueError, match="has no recorded graph") as err:
        Graph(tinycnn.randn(3))
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="it is a leaf"):
        Graph(tinycnn.randn(3, requires_grad=True))
    with tinycnn.no_grad():
        y = tinycnn.randn(3, requires_grad=True) * 2
    with pytest.raises(ValueError, match="no_grad"):
        Graph(y)
    with pytest.raises(TypeError, match="expected a Tensor"):
        Graph(np.zeros(3))
    y = (tinycnn.randn(3, requires_grad=True) * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match=r"freed by backward\(\).*retain_graph=True") as err:
        Graph(y)
    assert "\n" not in str(err.value)


def test_deep_graph_is_walked_without_recursion():
    x = tinycnn.randn(2, requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    assert len(Graph(y.sum()).functions) == 3001


# ---- modules ------------------------------------------------------------------------------------------
def test_module_trace_finds_the_module_of_every_op_and_restores_forward():
    model, x, y = lenet_step()
    with trace_modules(model) as trace:
        out = model(x)
    assert all("forward" not in m.__dict__ for m in model.modules())
    g = Graph(out, trace=trace)
    # one op per layer, each named after its module
    assert [(f.name, f.call.name) for f in g.functions] == [
        ("Conv2dFunction", "0"), ("ReLU", "1"), ("MaxPool2dFunction", "2"), ("Conv2dFunction", "3"),
        ("ReLU", "4"), ("MaxPool2dFunction", "5"), ("Reshape", "6"), ("LinearFunction", "7"), ("ReLU", "8"),
        ("LinearFunction", "9"), ("ReLU", "10"), ("LinearFunction", "11")]
    untraced = Graph(model(x))          # the same ops, without their modules
    assert [f.name for f in untraced.functions] == [f.name for f in g.functions]
    assert untraced.functions[0].call is None


def test_module_trace_restores_forward_when_the_forward_raises():
    model = lenet5()
    with pytest.raises(ValueError), trace_modules(model):
        model(tinycnn.randn(1, 3, 28, 28))
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_residual_blocks_own_their_add_and_functional_ops_belong_to_the_model():
    tinycnn.manual_seed(0)
    model = resnet18(num_classes=10)
    g = training_step_graph(model, tinycnn.randn(2, 3, 32, 32), tinycnn.tensor([1, 2]))
    calls = {c.name: c for c in g.trace.calls}
    adds = [f for f in g.functions if f.name == "Add"]
    assert len(adds) == 8 and all(f.call.type_name == "BasicBlock" for f in adds)
    assert all(f.call.within(calls["layer1"]) for f in g.functions if f.call and f.call.name.startswith("layer1."))
    (flatten,) = [f for f in g.functions if f.name == "Reshape"]
    assert flatten.call.depth == 0                  # torch.flatten in ResNet.forward: the model's own op
    assert g.functions[-1].name == "CrossEntropy" and g.functions[-1].call is None
    assert sum(f.call is None for f in g.functions) == 1


def test_collapse_draws_one_node_per_module_at_the_chosen_depth():
    tinycnn.manual_seed(0)
    model = resnet18(num_classes=10)
    g = training_step_graph(model, tinycnn.randn(2, 3, 32, 32), tinycnn.tensor([1, 2]))
    top = g.to_dot(collapse=True).source
    for name in ("conv1 (Conv2d)", "bn1 (BatchNorm2d)", "layer1 (Sequential)", "layer4 (Sequential)", "fc (Linear)"):
        assert f'"{name}' in top, name
    assert "layer1.0 (BasicBlock)" not in top and "0.weight" not in top and "conv1.weight" not in top
    assert top.count("shape=box3d") == 10               # the model's 10 children, each called once
    assert "Reshape" in top and "CrossEntropy" in top    # ops outside any child stay ops
    second = g.to_dot(collapse=2).source
    assert second.count("shape=box3d") == 6 + 8 and "layer1.0 (BasicBlock)" in second
    assert "cluster_" in second and 'label="layer1 (Sequential)"' in second   # blocks boxed in their stage
    layer1 = next(c for c in g.trace.calls if c.name == "layer1")
    norm = float(np.sqrt(sum((p.grad.numpy().astype(np.float64) ** 2).sum() for p in layer1.module.parameters())))
    assert f"parameters' grad norm {norm:.3g}" in top
    with pytest.raises(ValueError, match="collapse needs to know which module"):
        Graph(F.cross_entropy(model(tinycnn.randn(2, 3, 32, 32)), tinycnn.tensor([1, 2]))).to_dot(collapse=1)
    with pytest.raises(ValueError, match="collapse must be"):
        g.to_dot(collapse="yes")


def test_clusters_box_each_module_call():
    model, x, y = lenet_step()
    src = training_step_graph(model, x, y).source
    assert src.count("subgraph cluster_") == 12 and 'label="0 (Conv2d)"' in src
    assert "subgraph" not in training_step_graph(model, x, y).to_dot(clusters=False).source


def test_dot_text_is_valid_graphviz_input():
    model, x, y = lenet_step()
    g = training_step_graph(model, x, y)
    for options in ({}, {"collapse": 1}, {"show_attrs": False, "show_grads": False, "rankdir": "LR"}):
        src = g.to_dot(**options).source
        parsed = graphviz.Source(src)        # the package reads it back; dot checks it below where present
        assert parsed.source == src
        if shutil.which("dot"):
            subprocess.run(["dot", "-Tsvg", "-o", os.devnull], input=src, text=True, check=True)


def test_make_dot_takes_torchvizs_arguments():
    model, x, y = lenet_step()
    dot = make_dot(F.cross_entropy(model(x), y), params=dict(model.named_parameters()))
    assert isinstance(dot, graphviz.Digraph)
    assert "11.bias" in dot.source and "CrossEntropy" in dot.source


# ---- rendering ----------------------------------------------------------------------------------------
@needs_dot
def test_render_writes_svg_png_pdf_and_dot(tmp_path):
    model, x, y = lenet_step()
    g = training_step_graph(model, x, y)
    assert g.save(tmp_path / "g.svg") == str(tmp_path / "g.svg")
    assert b"<svg" in (tmp_path / "g.svg").read_bytes() and b"Conv2dFunction" in (tmp_path / "g.svg").read_bytes()
    g.save(tmp_path / "g.png", collapse=1)
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    render(make_dot((scalar(1.0) * 3).sum()), tmp_path / "m.pdf")
    assert (tmp_path / "m.pdf").read_bytes()[:5] == b"%PDF-"
    assert sorted(os.listdir(tmp_path)) == ["g.png", "g.svg", "m.pdf"]        # no temporary files left
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and "Graph(" in bundle["text/plain"]


def test_render_without_dot_still_writes_the_dot_text(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    g = Graph((scalar(1.0) * 3).sum())
    with pytest.raises(DotNotFoundError, match="apt-get install graphviz") as err:
        g.save(tmp_path / "graph.svg")
    assert "\n" not in str(err.value) and str(tmp_path / "graph.dot") in str(err.value)
    assert err.value.dot_path == str(tmp_path / "graph.dot")
    assert (tmp_path / "graph.dot").read_text() == g.source
    assert not (tmp_path / "graph.svg").exists()
    bundle = g._repr_mimebundle_()
    assert list(bundle) == ["text/plain"] and "apt-get install graphviz" in bundle["text/plain"]
    assert g.source in bundle["text/plain"]
    g.save(tmp_path / "again.dot")                   # text formats need no dot
    assert (tmp_path / "again.dot").read_text() == g.source
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(tmp_path / "again.dot").st_mode & 0o777 == 0o666 & ~umask     # not private to its writer


def test_render_rejects_unknown_formats_and_unwritable_places(tmp_path):
    g = Graph((scalar(1.0) * 3).sum())
    with pytest.raises(ValueError, match="use one of .svg, .png, .pdf, .dot, .gv"):
        g.save(tmp_path / "graph.jpeg")
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="render: cannot write .*file/graph.dot"):
        g.save(tmp_path / "file" / "graph.dot")
    assert (tmp_path / "file").read_text() == "x"


# ---- tinycnn graph --------------------------------------------------------------------------------------
def run_cli(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "tinycnn", "graph", *args], capture_output=True, text=True,
                          timeout=300, env=env, cwd=cwd)


@needs_dot
def test_graph_command_draws_lenets_training_step(tmp_path):
    out = run_cli("lenet5", "--out", str(tmp_path / "lenet.svg"))
    assert out.returncode == 0, out.stderr
    assert "lenet5, one training step on a batch of 2x1x28x28, 13 ops; every op" in out.stdout
    svg = (tmp_path / "lenet.svg").read_text()
    for text in ("Conv2dFunction", "MaxPool2dFunction", "CrossEntropy", "0.weight", "grad norm", "(2, 6, 28, 28)"):
        assert text in svg, text


def test_graph_command_writes_dot_and_collapses(tmp_path):
    out = run_cli("resnet18", "--input-size", "32", "--collapse", "1", "--out", str(tmp_path / "r.dot"))
    assert out.returncode == 0, out.stderr
    assert "one node per child module" in out.stdout
    src = (tmp_path / "r.dot").read_text()
    assert src.startswith("digraph") and "layer3 (Sequential)" in src and "(2, 3, 32, 32) float32" in src
    out = run_cli("lenet5", "--variant", "classic", "--input-size", "1", "28", "28", "--batch-size", "3",
                  "--no-grads", "--out", str(tmp_path / "c.dot"))
    assert out.returncode == 0, out.stderr
    src = (tmp_path / "c.dot").read_text()
    assert "Sigmoid" in src and "AvgPool2dFunction" in src and "(3, 1, 28, 28)" in src and "grad norm" not in src


def test_graph_command_without_dot_writes_the_dot_and_says_what_to_install(tmp_path):
    env = dict(os.environ, PATH=str(tmp_path / "empty"))
    out = run_cli("lenet5", "--out", str(tmp_path / "lenet.svg"), env=env)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "apt-get install graphviz" in out.stderr
    assert (tmp_path / "lenet.dot").read_text().startswith("digraph")
    assert not (tmp_path / "lenet.svg").exists()


def test_graph_command_bad_input_gets_one_line_errors(tmp_path):
    cases = [
        (("lenet5", "--input-size", "8"), "lenet5 cannot take a batch of shape (2, 1, 8, 8)"),
        (("lenet5", "--input-size", "1", "28"), "--input-size: give one side or C H W"),
        (("no_such_model",), "unknown model 'no_such_model'"),
        (("lenet5", "--out", "g.txt"), "cannot tell the format"),
        (("lenet5", "--collapse", "deep"), "--collapse: expected a depth"),
        (("lenet5", "--batch-size", "0"), "--batch-size: expected a positive integer"),
    ]
    for args, message in cases:
        out = run_cli(*args, cwd=tmp_path)
        assert out.returncode == 2, (args, out.stdout)
        assert message in out.stderr and out.stderr.startswith("tinycnn graph: ") and out.stderr.count("\n") == 1
    assert os.listdir(tmp_path) == []


def test_graph_is_listed_in_the_help():
    out = subprocess.run([sys.executable, "-m", "tinycnn", "--help"], capture_output=True, text=True, timeout=60)
    assert "graph" in out.stdout


def test_readmes_drawing_example_runs_and_its_picture_exists(tmp_path, monkeypatch):
    import re
    from pathlib import Path
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "GradientFlow" in b)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "<README>", "exec"), {"__name__": "__readme__"})
    assert (tmp_path / "lenet_step.dot").read_text().startswith("digraph")
    assert (tmp_path / "gradflow.png").read_bytes()[:4] == b"\x89PNG"
    picture = re.search(r"!\[[^]]*\]\((docs/[^)]+\.svg)\)", text).group(1)
    svg = (readme.parent / picture).read_text()
    assert "Conv2dFunction" in svg and "grad norm" in svg and "0.weight" in svg
