"""tinycnn.utils.gradflow: per-layer gradient and activation statistics, the gradient-norm-per-layer figure,
and the vanishing gradients of a sigmoid LeNet next to a ReLU one on real MNIST digits."""
import json

import numpy as np
import pytest

import tinycnn
from tinycnn import nn, optim
from tinycnn.models import lenet5
from tinycnn.nn import functional as F
from tinycnn.utils.data import DataLoader, Subset
from tinycnn.utils.gradflow import (GradientFlow, activation_stats, gradient_stats, plot_activations,
                                    plot_gradient_flow)
from tinycnn.vision import transforms as T
from tinycnn.vision.datasets import MNIST


def mnist(n=512):
    preprocess = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    return Subset(MNIST(train=True, transform=preprocess), np.arange(n))


def train(model, flow, epochs=1, n=512, lr=0.1):
    opt = optim.SGD(model.parameters(), lr=lr)
    step = 0
    for epoch in range(1, epochs + 1):
        for x, y in DataLoader(mnist(n), batch_size=64, shuffle=True, seed=epoch):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            flow.after_backward(step, epoch=epoch)
            opt.step()
            step += 1
        flow.end_epoch(epoch)
    flow.close()
    return flow


def test_gradient_stats_are_the_norms_of_the_parameters_gradients():
    tinycnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2))
    assert gradient_stats(model) == {}                 # no backward yet: nothing to report
    F.cross_entropy(model(tinycnn.randn(5, 4)), tinycnn.tensor([0, 1, 1, 0, 1])).backward()
    stats = gradient_stats(model)
    assert list(stats) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for name, p in model.named_parameters():
        g, w = p.grad.numpy().astype(np.float64), p.numpy().astype(np.float64)
        s = stats[name]
        assert s["norm"] == pytest.approx(np.linalg.norm(g)) and s["max_abs"] == pytest.approx(np.abs(g).max())
        assert s["mean_abs"] == pytest.approx(np.abs(g).mean()) and s["weight_norm"] == pytest.approx(np.linalg.norm(w))
        assert s["ratio"] == pytest.approx(np.linalg.norm(g) / np.linalg.norm(w))


def test_activation_stats():
    y = tinycnn.tensor(np.array([0.0, 0.0, 0.005, 0.5, 0.995, 1.0]))
    s = activation_stats(y, nn.Sigmoid())
    assert s["zero_fraction"] == pytest.approx(2 / 6) and s["saturated_fraction"] == pytest.approx(5 / 6)
    assert s["mean"] == pytest.approx(y.numpy().mean()) and s["std"] == pytest.approx(y.numpy().std())
    assert activation_stats(y, nn.ReLU())["saturated_fraction"] is None
    assert activation_stats(tinycnn.tensor([0.995, -0.2]), nn.Tanh())["saturated_fraction"] == 0.5


def test_sigmoid_lenets_gradients_vanish_towards_the_input_and_relus_do_not():
    """The classic (sigmoid) LeNet's first conv gets a far smaller gradient than its last layer; the
    modern (ReLU) one's stay within a small factor (the figure of notebook 06)."""
    ratios = {}
    for variant in ("classic", "modern"):
        tinycnn.manual_seed(0)
        model = lenet5(variant)
        flow = train(model, GradientFlow(model, every=2))
        names, norms = flow.series("norm")
        assert names == ["0.weight", "3.weight", "7.weight", "9.weight", "11.weight"]
        assert norms.shape == (4, 5) and np.isfinite(norms).all()
        mean = norms.mean(axis=0)
        ratios[variant] = mean[0] / mean[-1]
    assert ratios["classic"] < 0.01 < 0.1 < ratios["modern"] < 10, ratios


def test_records_every_nth_step_and_activations_of_training_forwards_only():
    tinycnn.manual_seed(0)
    model = lenet5("classic")
    flow = GradientFlow(model, every=3)
    train(model, flow, epochs=2, n=256)              # 4 steps an epoch
    assert [r["step"] for r in flow.records] == [0, 3, 6]
    assert [r["epoch"] for r in flow.records] == [1, 1, 2]
    acts = flow.records[0]["activations"]
    assert list(acts) == [str(i) for i in range(12)]          # every leaf module, in call order
    assert acts["1"]["saturated_fraction"] is not None and acts["0"]["saturated_fraction"] is None
    assert 0.4 < acts["1"]["mean"] < 0.6                      # sigmoid outputs near 1/2 at initialisation
    assert all("forward" not in m.__dict__ for m in model.modules())   # close() restored the modules
    with GradientFlow(model) as flow2:
        with tinycnn.no_grad():
            model(tinycnn.randn(2, 1, 28, 28))        # an evaluation forward: not recorded
        assert flow2.after_backward()["activations"] == {}
    assert all("forward" not in m.__dict__ for m in model.modules())


def test_plot_and_save(tmp_path):
    tinycnn.manual_seed(0)
    model = lenet5("classic")
    flow = train(model, GradientFlow(model, out=str(tmp_path / "run")), epochs=2, n=128)
    fig = flow.plot()
    (ax,) = fig.axes
    assert ax.get_yscale() == "log" and [t.get_text() for t in ax.get_xticklabels()][0] == "0 (Conv2d)"
    assert [line.get_label() for line in ax.get_lines()] == ["epoch 1", "epoch 2"]
    _, norms = flow.series()
    np.testing.assert_allclose(ax.get_lines()[1].get_ydata(), norms[2:].mean(axis=0))
    saved = json.loads((tmp_path / "run" / "gradflow.json").read_text())
    assert len(saved["records"]) == 4 and saved["layer_labels"]["7.weight"] == "7 (Linear)"
    assert (tmp_path / "run" / "gradflow.png").read_bytes()[:4] == b"\x89PNG"
    tinycnn.manual_seed(0)
    relu = lenet5("modern")
    compare = plot_gradient_flow({"sigmoid": flow, "ReLU": train(relu, GradientFlow(relu), n=128)})
    assert [line.get_label() for line in compare.axes[0].get_lines()] == ["sigmoid", "ReLU"]
    act = plot_activations(flow, stat="saturated_fraction")
    assert [t.get_text() for t in act.axes[0].get_xticklabels()] == ["1 (Sigmoid)", "4 (Sigmoid)", "8 (Sigmoid)",
                                                                       "10 (Sigmoid)"]


def test_bad_inputs_get_one_line_errors(tmp_path):
    with pytest.raises(ValueError, match="every must be a positive integer"):
        GradientFlow(lenet5(), every=0)
    with pytest.raises(TypeError, match="expected an nn.Module"):
        GradientFlow("lenet5")
    with pytest.raises(TypeError, match="expected a GradientFlow"):
        plot_gradient_flow([1, 2])
    (tmp_path / "file").write_text("x")
    model = nn.Sequential(nn.Linear(2, 2))
    flow = GradientFlow(model, activations=False)
    F.mse_loss(model(tinycnn.randn(3, 2)), tinycnn.randn(3, 2)).backward()
    flow.after_backward()
    with pytest.raises(OSError, match="GradientFlow: cannot write into .*file"):
        flow.save(str(tmp_path / "file" / "run"))


def test_a_frozen_layer_is_left_out_of_the_figure_without_a_warning(recwarn):
    tinycnn.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    flow = GradientFlow(model, activations=False)
    for epoch in (1, 2):
        F.mse_loss(model(tinycnn.randn(5, 4)), tinycnn.randn(5, 2)).backward()
        flow.after_backward(epoch=epoch)
    for fig in (flow.plot(), plot_gradient_flow({"a": flow, "b": flow})):
        heights = fig.axes[0].get_lines()[0].get_ydata()
        assert np.isnan(heights[0]) and np.isfinite(heights[1])   # no gradient, no point
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
