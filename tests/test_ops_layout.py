"""Shape and view ops: roll, flip, fliplr, flipud, rot90, tril, triu, diagonal, diag, diag_embed, unflatten,
repeat, repeat_interleave, tile, meshgrid, movedim, swapaxes, narrow, select, chunk, split (sizes list),
unbind, Tensor.unfold, expand_as, broadcast_to, the stacks. Forward and gradients equal PyTorch's, on
strided input too; views share storage as PyTorch's do."""
import numpy as np
import pytest

import tinycnn
from helpers import assert_grads_match, compare_with_torch

X234 = np.random.default_rng(0).standard_normal((2, 3, 4))
X34 = np.random.default_rng(1).standard_normal((3, 4))


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def _sum_all(outs):
    """A tuple of tensors as one output (each weighted differently) so every piece's gradient is checked."""
    total = None
    for k, t in enumerate(outs):
        term = (t * (k + 1)).sum()
        total = term if total is None else total + term
    return total


# (name, ours, theirs, input): theirs is applied to a torch tensor, ours to a tinycnn tensor
CASES = [
    ("roll", lambda x: x.roll((1, -2), (0, 2)), lambda x: x.roll((1, -2), (0, 2)), X234),
    ("roll_flat", lambda x: tinycnn.roll(x, 5), lambda x: x.roll(5), X234),
    ("flip", lambda x: x.flip((0, 2)), lambda x: x.flip((0, 2)), X234),
    ("fliplr", tinycnn.fliplr, lambda x: x.fliplr(), X34),
    ("flipud", lambda x: x.flipud(), lambda x: x.flipud(), X34),
    *[(f"rot90_{k}", lambda x, k=k: x.rot90(k, (1, 2)), lambda x, k=k: x.rot90(k, (1, 2)), X234)
      for k in (0, 1, 2, 3, -1, 5)],
    ("tril", lambda x: x.tril(), lambda x: x.tril(), X234),
    ("tril_neg", lambda x: tinycnn.tril(x, -1), lambda x: x.tril(-1), X34),
    ("triu", lambda x: x.triu(1), lambda x: x.triu(1), X234),
    ("diagonal", lambda x: x.diagonal(), lambda x: x.diagonal(), X34),
    ("diagonal_offset_dims", lambda x: x.diagonal(1, 0, 2), lambda x: x.diagonal(1, 0, 2), X234),
    ("diagonal_negative", lambda x: tinycnn.diagonal(x, -1, -1, -2), lambda x: x.diagonal(-1, -1, -2), X234),
    ("diag_2d", lambda x: x.diag(1), lambda x: x.diag(1), X34),
    ("diag_1d", lambda x: tinycnn.diag(x, -2), lambda x: x.diag(-2), X34[0]),
    ("diag_embed", lambda x: x.diag_embed(), lambda x: x.diag_embed(), X34),
    ("diag_embed_dims", lambda x: x.diag_embed(1, 0, 2), lambda x: x.diag_embed(1, 0, 2), X34),
    ("diag_embed_swapped", lambda x: x.diag_embed(-1, 2, 0), lambda x: x.diag_embed(-1, 2, 0), X34),
    ("diagflat", lambda x: tinycnn.diagflat(x, 1), lambda x: x.diagflat(1), X34[:2]),
    ("trace", lambda x: x.trace(), lambda x: x.trace(), X34),
    ("unflatten", lambda x: x.unflatten(2, (2, -1)), lambda x: x.unflatten(2, (2, -1)), X234),
    ("repeat", lambda x: x.repeat(2, 1, 3), lambda x: x.repeat(2, 1, 3), X34),
    ("repeat_new_dims", lambda x: x.repeat((2, 1, 1, 2)), lambda x: x.repeat((2, 1, 1, 2)), X234),
    ("repeat_interleave", lambda x: x.repeat_interleave(2, dim=1), lambda x: x.repeat_interleave(2, dim=1), X34),
    ("repeat_interleave_flat", lambda x: x.repeat_interleave(3), lambda x: x.repeat_interleave(3), X34),
    ("repeat_interleave_counts", lambda x: x.repeat_interleave(tinycnn.tensor([1, 0, 2]), dim=0),
     lambda x: x.repeat_interleave(__import__("torch").tensor([1, 0, 2]), dim=0), X34),
    ("tile", lambda x: x.tile((2,)), lambda x: x.tile((2,)), X34),
    ("tile_more", lambda x: tinycnn.tile(x, (2, 1, 2)), lambda x: x.tile((2, 1, 2)), X34),
    ("movedim", lambda x: x.movedim(0, -1), lambda x: x.movedim(0, -1), X234),
    ("movedim_many", lambda x: tinycnn.movedim(x, (0, 1), (2, 0)), lambda x: x.movedim((0, 1), (2, 0)), X234),
    ("moveaxis", lambda x: tinycnn.moveaxis(x, 1, 0), lambda x: x.moveaxis(1, 0), X234),
    ("swapaxes", lambda x: x.swapaxes(0, 2), lambda x: x.swapaxes(0, 2), X234),
    ("swapdims", lambda x: x.swapdims(-1, 0), lambda x: x.swapdims(-1, 0), X234),
    ("narrow", lambda x: x.narrow(2, 1, 2), lambda x: x.narrow(2, 1, 2), X234),
    ("narrow_negative_start", lambda x: tinycnn.narrow(x, 1, -2, 2), lambda x: x.narrow(1, -2, 2), X234),
    ("select", lambda x: x.select(1, -1), lambda x: x.select(1, -1), X234),
    ("chunk", lambda x: _sum_all(x.chunk(3, 2)), lambda x: _sum_all(x.chunk(3, 2)), X234),
    ("split_size", lambda x: _sum_all(x.split(2, 2)), lambda x: _sum_all(x.split(2, 2)), X234),
    ("split_sizes", lambda x: _sum_all(x.split([1, 3], dim=2)), lambda x: _sum_all(x.split([1, 3], dim=2)), X234),
    ("unbind", lambda x: _sum_all(x.unbind(1)), lambda x: _sum_all(x.unbind(1)), X234),
    ("unfold", lambda x: x.unfold(2, 2, 1), lambda x: x.unfold(2, 2, 1), X234),
    ("unfold_step", lambda x: x.unfold(0, 2, 2), lambda x: x.unfold(0, 2, 2), np.arange(7.0)),
    ("unfold_dim1", lambda x: x.unfold(1, 3, 1), lambda x: x.unfold(1, 3, 1), X34),
    ("broadcast_to", lambda x: x.broadcast_to((2, 3, 4)), lambda x: x.broadcast_to((2, 3, 4)), X34[:, :1]),
    ("broadcast_to_fn", lambda x: tinycnn.broadcast_to(x, (5, -1, 4)), lambda x: x.broadcast_to((5, -1, 4)),
     X34[:1]),
    ("expand_as", lambda x: x.expand_as(tinycnn.zeros(2, 3, 4)),
     lambda x: x.expand_as(__import__("torch").zeros(2, 3, 4)), X34[:1]),
    ("meshgrid_ij", lambda x: _sum_all(tinycnn.meshgrid(x[0], x[1, :3], indexing="ij")),
     lambda x: _sum_all(__import__("torch").meshgrid(x[0], x[1, :3], indexing="ij")), X34),
    ("meshgrid_xy", lambda x: _sum_all(tinycnn.meshgrid(x[0], x[1, :3], indexing="xy")),
     lambda x: _sum_all(__import__("torch").meshgrid(x[0], x[1, :3], indexing="xy")), X34),
    ("hstack", lambda x: tinycnn.hstack([x, x[:, :1]]), lambda x: __import__("torch").hstack([x, x[:, :1]]), X34),
    ("vstack", lambda x: tinycnn.vstack([x[0], x]), lambda x: __import__("torch").vstack([x[0], x]), X34),
    ("dstack", lambda x: tinycnn.dstack([x, x]), lambda x: __import__("torch").dstack([x, x]), X34),
    ("column_stack", lambda x: tinycnn.column_stack([x[0], x.T]),
     lambda x: __import__("torch").column_stack([x[0], x.T]), X34),
    ("ravel", lambda x: x.ravel(), lambda x: x.ravel(), X234),
]
IDS = [c[0] for c in CASES]


@pytest.mark.parametrize("name,ours,theirs,x", CASES, ids=IDS)
def test_finite_differences(name, ours, theirs, x):
    assert_grads_match(lambda t: _first(ours(t)), [x])


@pytest.mark.parametrize("name,ours,theirs,x", CASES, ids=IDS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_torch(torch, name, ours, theirs, x, dtype):
    compare_with_torch(lambda t: _first(ours(t)), lambda t: _first(theirs(t)), [x], dtype=dtype)


@pytest.mark.parametrize("name,ours,theirs,x", CASES, ids=IDS)
def test_matches_torch_on_strided_input(torch, name, ours, theirs, x):
    compare_with_torch(lambda t: _first(ours(t)), lambda t: _first(theirs(t)), [x], strided=True)


@pytest.mark.parametrize("make", [
    lambda x: x.narrow(1, 1, 2), lambda x: x.select(0, 1), lambda x: x.diagonal(), lambda x: x.movedim(0, 1),
    lambda x: x.unflatten(1, (2, 2)), lambda x: x.broadcast_to((2, 3, 4)), lambda x: x.unfold(1, 2, 1),
])
def test_views_share_storage_like_torch(make):
    x = tinycnn.tensor(X34.copy())
    v = make(x)
    assert np.shares_memory(v.array, x.array) or v.array.base is not None


def test_repeat_interleave_of_counts_alone(torch):
    assert tinycnn.repeat_interleave(tinycnn.tensor([2, 0, 3])).tolist() == \
        torch.repeat_interleave(torch.tensor([2, 0, 3])).tolist()


def test_broadcast_tensors_and_shapes(torch):
    a, b = tinycnn.broadcast_tensors(tinycnn.ones(3, 1), tinycnn.ones(4))
    assert a.shape == b.shape == (3, 4)
    assert tinycnn.broadcast_shapes((3, 1), (2, 1, 4)) == torch.broadcast_shapes((3, 1), (2, 1, 4))


@pytest.mark.parametrize("call,exc,match", [
    ("x.tril()", RuntimeError, "at least 2 dims"),
    ("x.unflatten(0, (2, 2))", RuntimeError, "do not multiply"),
    ("x.repeat(2)", ValueError, "at least one per dim"),
    ("x.narrow(0, 2, 5)", IndexError, "out of range"),
    ("x.roll(1, 3)", IndexError, "out of range"),
    ("x.unfold(0, 9, 1)", RuntimeError, "size 9"),
    ("x.rot90(1, (0, 0))", ValueError, "must differ"),
    ("x.movedim(0, 5)", IndexError, "out of range"),
    ("tc.meshgrid(x, x)", RuntimeError, "0-D or 1-D"),
])
def test_errors_name_the_problem(call, exc, match):
    x = tinycnn.randn(3) if "tril" in call or "unflatten" in call else tinycnn.randn(3, 4)
    with pytest.raises(exc, match=match):
        eval(call, {"x": x, "tc": tinycnn})
