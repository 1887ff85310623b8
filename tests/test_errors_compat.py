"""Errors PyTorch code catches: where PyTorch raises IndexError (a dim or an index out of range) or
RuntimeError (shapes that do not fit), ours is caught by the same ``except`` clause, keeps its clear message,
and is still a ValueError as before (``except ValueError`` keeps working)."""
import numpy as np
import pytest

import tinycnn
from tinycnn.errors import DimensionError, IndexOutOfRangeError, ShapeError

SNIPPETS = [
    "lib.randn(2, 3).sum(5)", "lib.randn(2, 3).mean(-3)", "lib.randn(2, 3).transpose(0, 4)",
    "lib.randn(2, 3).squeeze(2)", "lib.randn(2, 3).unsqueeze(3)", "lib.randn(2, 3).softmax(2)",
    "lib.randn(2, 3).cumsum(2)",
    "lib.randn(2, 3).flip(2)", "lib.randn(2, 3).sort(2)", "lib.randn(2, 3).max(2)", "lib.randn(2, 3).argmax(3)",
    "lib.randn(2, 3).logsumexp(3)", "lib.randn(2, 3).gather(2, lib.zeros(2, 3, dtype=lib.int64))",
    "lib.cat([lib.randn(2, 3)], dim=2)", "lib.stack([lib.randn(2)], dim=3)", "lib.randn(2, 3).unbind(2)",
    "lib.randn(4, 3) + lib.randn(3, 4)", "lib.randn(4, 3) * lib.randn(2)", "lib.randn(4, 3) @ lib.randn(4, 4)",
    "lib.randn(4, 3).reshape(5, 3)", "lib.randn(4, 3).view(7)", "lib.cat([lib.randn(2, 3), lib.randn(2, 4)])",
    "lib.stack([lib.randn(2, 3), lib.randn(3, 2)])", "lib.randn(2, 3).expand(3, 3)",
    "lib.randn(2, 3).permute(0, 1, 2)", "lib.randn(3).t().reshape(2, 2)",
    "lib.randn(2, 3).gather(1, lib.tensor([[5]]))", "lib.randn(2, 3).index_select(0, lib.tensor([4]))",
    "lib.randn(2, 3)[5]", "lib.randn(2, 3)[:, 7]", "lib.randn(2, 3).masked_fill(lib.ones(3, 3).bool(), 0.0)",
    "lib.randn(2, 3).where(lib.ones(3, 3).bool(), lib.randn(2, 3))", "lib.zeros(3).add_(lib.zeros(2, 3))",
    "lib.randn(2, 3).scatter(1, lib.tensor([[9]]), 1.0)", "lib.randn(2, 3).take(lib.tensor([6]))",
    "lib.randn(2, 3).atan2(lib.randn(3, 2))",
    "lib.nn.Conv2d(3, 8, 3)(lib.randn(1, 2, 5, 5))", "lib.nn.Linear(4, 2)(lib.randn(3, 5))",
    "lib.nn.BatchNorm2d(3)(lib.randn(2, 4, 5, 5))",
    "lib.nn.functional.cross_entropy(lib.randn(4, 3), lib.tensor([0, 1, 2, 3]))",
]


def _raised(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001  (the test compares what each library raises)
        return exc
    return None


@pytest.mark.parametrize("snippet", SNIPPETS)
def test_ours_is_caught_by_the_except_clause_that_catches_torchs(torch, snippet):
    theirs = _raised(lambda: eval(snippet, {"lib": torch}))
    ours = _raised(lambda: eval(snippet, {"lib": tinycnn}))
    assert theirs is not None, f"torch accepts {snippet}"
    assert ours is not None, f"tinycnn accepts {snippet}"
    for kind in (IndexError, RuntimeError):
        if isinstance(theirs, kind):
            assert isinstance(ours, kind), f"{snippet}: torch raises {type(theirs).__name__}, ours " \
                                           f"{type(ours).__name__}: {ours}"
    assert isinstance(ours, (ValueError, TypeError)), f"{snippet}: {type(ours).__name__} is no ValueError"


def test_the_classes_derive_from_both_families():
    assert issubclass(DimensionError, IndexError) and issubclass(DimensionError, ValueError)
    assert issubclass(ShapeError, RuntimeError) and issubclass(ShapeError, ValueError)
    assert all(issubclass(IndexOutOfRangeError, k) for k in (IndexError, RuntimeError, ValueError))
    assert tinycnn.ShapeError is ShapeError and tinycnn.DimensionError is DimensionError


def test_messages_stay_clear():
    with pytest.raises(IndexError, match=r"sum\(\): dim 5 is out of range for a tensor with ndim 2 \(expected a dim "
                                         r"in \[-2, 1\]\)"):
        tinycnn.randn(2, 3).sum(5)
    with pytest.raises(RuntimeError, match=r"add: shapes \(4, 3\) and \(3, 4\) cannot be broadcast together"):
        tinycnn.randn(4, 3) + tinycnn.randn(3, 4)
    with pytest.raises(ValueError, match="expects 3 input channels"):
        tinycnn.nn.Conv2d(3, 8, 3)(tinycnn.randn(1, 2, 5, 5))
    with pytest.raises(IndexError, match="class index out of range"):
        tinycnn.nn.functional.cross_entropy(tinycnn.randn(4, 3), tinycnn.tensor(np.array([0, 1, 2, 3])))
