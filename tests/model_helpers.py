"""Helpers shared by the model tests: building without random init, comparing with a torch twin."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import tinycnn
from tinycnn import nn

# Building a 100M-parameter model spends seconds drawing random numbers that a shape test or a model about to
# be loaded never looks at; these initialisers fill zeros instead while such a model is built.
RANDOM_INITS = ("uniform_", "normal_", "trunc_normal_", "kaiming_uniform_", "kaiming_normal_",
                "xavier_uniform_", "xavier_normal_")


def _zero(tensor, *args, **kwargs):
    tensor.array[...] = 0
    return tensor


def uninitialised(builder, **kwargs):
    """``builder(**kwargs)`` with the random initialisers filling zeros."""
    with pytest.MonkeyPatch.context() as mp:
        for fn in RANDOM_INITS:
            mp.setattr(nn.init, fn, _zero)
        return builder(**kwargs)


def n_params(model) -> int:
    return sum(int(p.numel()) for p in model.parameters())


def keys_and_shapes(model) -> list:
    return [(k, tuple(v.shape)) for k, v in model.state_dict().items()]


def type_counts(model) -> Counter:
    return Counter(type(m).__name__ for m in model.modules())


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def layer_settings(model) -> list:
    """Every hyper-parameter that a state dict does not show, module by module (works on both sides)."""
    out = []
    for m in model.modules():
        kind = type(m).__name__
        if kind == "BatchNorm2d":
            out.append((kind, m.eps, m.momentum))
        elif kind in ("Dropout", "StochasticDepth"):
            out.append((kind, round(float(m.p), 6)))
        elif kind in ("MaxPool2d", "AvgPool2d"):
            out.append((kind, _pair(m.kernel_size), _pair(m.stride), _pair(m.padding), bool(m.ceil_mode)))
        elif kind == "Conv2d":
            out.append((kind, _pair(m.stride), _pair(m.padding), _pair(m.dilation), m.groups))
        elif kind == "LocalResponseNorm":
            out.append((kind, m.size, m.alpha, m.beta, m.k))
    return out


def randomize_batchnorm(ref, torch, seed: int = 1) -> None:
    """Non-trivial BatchNorm statistics and affine parameters in a torch model, so eval-mode BN is tested."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=gen) * 0.2 - 0.1)


def load_from_torch(model, ref) -> None:
    model.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})


def assert_eval_matches(model, ref, torch, x, rtol: float = 1e-4) -> None:
    """Eval-mode outputs of ``model`` (weights copied from ``ref``) and ``ref`` agree on ``x``."""
    load_from_torch(model, ref)
    model.eval()
    ref.eval()
    with tinycnn.no_grad():
        out = model(tinycnn.tensor(x)).numpy()
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    assert out.shape == expected.shape
    assert np.abs(out - expected).max() <= rtol * np.abs(expected).max()


def assert_grads_match_torch(model, ref, rtol: float = 1e-6) -> None:
    """After a backward on both sides, every parameter gradient agrees (relative to its largest entry)."""
    grads = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        g, expected = p.grad.numpy(), grads[name].grad.numpy()
        scale = max(np.abs(expected).max(), 1e-12)
        assert np.abs(g - expected).max() <= rtol * scale, name
