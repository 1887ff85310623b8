"""The autograd engine: tensor creation rules, graph recording, accumulation, freeing, grad mode."""
import gc
import weakref

import numpy as np
import pytest

import tinycnn
from tinycnn import Tensor


# ---- creation and dtypes -----------------------------------------------------------------------------------
def test_tensor_keeps_numpy_dtype_and_lists_default_to_float32():
    assert tinycnn.tensor(np.zeros(3, dtype=np.float64)).dtype == np.float64
    assert tinycnn.tensor(np.zeros(3, dtype=np.float32)).dtype == np.float32
    assert tinycnn.tensor([1.0, 2.0]).dtype == np.float32
    assert tinycnn.tensor([1, 2]).dtype == np.int64
    assert tinycnn.tensor(3.5).dtype == np.float32
    assert tinycnn.tensor([1.0], dtype=tinycnn.float64).dtype == np.float64
    assert tinycnn.nn.Parameter([1.0, 2.0]).dtype == np.float32


def test_tensor_copies_its_data_but_from_numpy_shares():
    a = np.zeros(3)
    tinycnn.tensor(a).array[0] = 1
    assert a[0] == 0
    tinycnn.from_numpy(a).array[0] = 1
    assert a[0] == 1


def test_ragged_lists_and_int_grads_are_clear_errors():
    with pytest.raises(ValueError, match="ragged"):
        tinycnn.tensor([[1.0, 2.0], [3.0]])
    with pytest.raises(TypeError, match="floating-point"):
        tinycnn.tensor([1, 2], requires_grad=True)


@pytest.mark.parametrize("make", [tinycnn.zeros, tinycnn.ones, tinycnn.rand, tinycnn.randn])
def test_creation_functions_accept_size_forms_and_dtype(make):
    assert make(2, 3).shape == (2, 3)
    assert make((2, 3)).shape == (2, 3)
    assert make(size=(4,)).shape == (4,)
    assert make(2, dtype=tinycnn.float64).dtype == np.float64
    assert make(2).dtype == np.float32


def test_manual_seed_makes_random_tensors_reproducible():
    tinycnn.manual_seed(7)
    a = tinycnn.randn(5).numpy().copy()
    tinycnn.manual_seed(7)
    np.testing.assert_array_equal(a, tinycnn.randn(5).numpy())
    with pytest.raises(ValueError, match="seed"):
        tinycnn.manual_seed(-1)


def test_arange_dtypes_like_torch():
    assert tinycnn.arange(5).dtype == np.int64
    assert tinycnn.arange(0, 1, 0.25).dtype == np.float32
    assert tinycnn.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]


def test_basic_attributes():
    x = tinycnn.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert x.shape == (2, 3) and isinstance(x.shape, tinycnn.Size) and x.ndim == 2
    assert repr(x.shape) == "tinycnn.Size([2, 3])"
    assert x.T.shape == (3, 2)
    assert x.tolist() == [[1, 2, 3], [4, 5, 6]]
    assert x[1, 2].item() == 6.0
    assert isinstance(x.numpy(), np.ndarray)
    with pytest.raises(ValueError, match="one-element"):
        x.item()


# ---- the graph -------------------------------------------------------------------------------------------
def test_gradients_accumulate_across_uses_and_calls():
    x = tinycnn.tensor([1.0, 2.0, 3.0], requires_grad=True)
    (x * x + x).sum().backward()            # d/dx = 2x + 1
    np.testing.assert_allclose(x.grad.numpy(), [3, 5, 7])
    (x * 2).sum().backward()                # accumulates +2
    np.testing.assert_allclose(x.grad.numpy(), [5, 7, 9])
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2, 2, 2])


def test_graph_is_freed_after_backward_unless_retained():
    x = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), [4, 8])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_intermediate_arrays_are_released_after_backward():
    x = tinycnn.tensor(np.ones(1000), requires_grad=True)
    h = x * 3.0
    ref = weakref.ref(h.array)
    y = (h * h).sum()
    del h
    gc.collect()
    assert ref() is not None          # the product saved it for its backward
    y.backward()
    gc.collect()
    assert ref() is None              # ... and lets go afterwards


def test_intermediate_array_not_saved_by_its_consumer_is_freed_before_backward():
    # relu keeps a mask, not its input: as in PyTorch, nothing holds h's array once the caller drops h
    x = tinycnn.tensor(np.linspace(-1, 1, 10_000), requires_grad=True)    # 80 kB: above WEAK_INPUT_MIN_BYTES
    h = x * 3.0
    ref = weakref.ref(h.array)
    y = (tinycnn.relu(h) * 2.0).sum()
    fn = y.grad_fn.inputs[0].grad_fn.inputs[0].grad_fn      # relu's
    del h
    gc.collect()
    assert ref() is None
    stand_in = fn.inputs[0]                                  # what the graph tools see in its place
    assert stand_in.shape == (10_000,) and stand_in.grad_fn is not None
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.where(x.numpy() * 3.0 > 0, 6.0, 0.0))


def test_hook_and_retain_grad_of_a_dropped_intermediate_still_run():
    x = tinycnn.tensor(np.tile([1.0, -2.0, 3.0], 5000), requires_grad=True)   # large enough to be weak
    h = x * 2.0
    seen = []
    h.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = tinycnn.relu(h).sum()
    del h
    gc.collect()
    y.backward()
    np.testing.assert_array_equal(seen[0], np.tile([1.0, 0.0, 1.0], 5000))
    h = x * 2.0
    h.retain_grad()
    ref = weakref.ref(h)
    y = tinycnn.relu(h).sum()
    y.backward()
    assert ref() is h
    np.testing.assert_array_equal(h.grad.numpy(), np.tile([1.0, 0.0, 1.0], 5000))


def test_deep_graph_of_100k_nodes_needs_no_recursion():
    x = tinycnn.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y + 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_diamond_graph_sums_both_paths():
    x = tinycnn.tensor([2.0], requires_grad=True)
    a = x * 3.0
    b = x * x
    (a * b).sum().backward()             # d/dx (3x * x^2) = 9 x^2 = 36
    assert x.grad.item() == pytest.approx(36.0)


def test_backward_of_non_scalar_needs_a_gradient():
    x = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    (x * 2).backward(tinycnn.tensor([1.0, 10.0]))
    np.testing.assert_allclose(x.grad.numpy(), [2, 20])
    with pytest.raises(ValueError, match="shape"):
        (x * 2).backward(tinycnn.tensor([1.0]))


def test_backward_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        tinycnn.tensor([1.0]).sum().backward()


def test_no_grad_context_and_decorator_record_nothing():
    x = tinycnn.tensor([1.0], requires_grad=True)
    with tinycnn.no_grad():
        y = x * 2
    assert not y.requires_grad and y.grad_fn is None

    @tinycnn.no_grad()
    def f(t):
        return t * 2

    assert not f(x).requires_grad
    assert tinycnn.is_grad_enabled()
    assert (x * 2).requires_grad


def test_detach_cuts_the_graph_and_shares_data():
    x = tinycnn.tensor([1.0], requires_grad=True)
    d = (x * 2).detach()
    assert not d.requires_grad and d.is_leaf


def test_retain_grad_keeps_non_leaf_gradient():
    x = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    h = (x * 3.0).retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.numpy(), [6, 12])
    np.testing.assert_allclose(x.grad.numpy(), [18, 36])


def test_leaf_gradients_are_not_aliased():
    a = tinycnn.tensor([1.0], requires_grad=True)
    b = tinycnn.tensor([1.0], requires_grad=True)
    (a + b).sum().backward()
    a.grad.zero_()
    assert b.grad.item() == 1.0


def test_float32_graph_gives_float32_gradients():
    x = tinycnn.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = (x * 2.5 + 1.0) / 3.0 - x ** 2
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_mixed_precision_gradient_is_cast_back_to_the_input_dtype():
    a = tinycnn.tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = tinycnn.tensor(np.ones(2, dtype=np.float64), requires_grad=True)
    y = a * b
    assert y.dtype == np.float64
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_custom_function_is_checked_by_gradcheck():
    class Cube(tinycnn.Function):
        """y = x^3, dy/dx = 3 x^2."""

        def forward(self, x):
            self.x = x
            return x ** 3

        def backward(self, gy):
            return gy * 3 * self.x ** 2

    x = np.random.default_rng(0).standard_normal((3, 2))
    assert tinycnn.gradcheck(lambda t: Cube.apply(t), [x])

    class WrongCube(Cube):
        def backward(self, gy):
            return gy * 2 * self.x ** 2

    with pytest.raises(tinycnn.GradcheckError, match="input 0"):
        tinycnn.gradcheck(lambda t: WrongCube.apply(t), [x])


def test_gradcheck_directional_mode_catches_a_wrong_gradient():
    class Leaky(tinycnn.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 2.001

    x = np.random.default_rng(0).standard_normal((50, 100))
    assert tinycnn.gradcheck(lambda t: t * 2, [x], directional=True)
    with pytest.raises(tinycnn.GradcheckError, match="direction"):
        tinycnn.gradcheck(lambda t: Leaky.apply(t), [x], directional=True, atol=1e-7, rtol=1e-6)


def test_backward_returning_wrong_shape_is_reported():
    class Broken(tinycnn.Function):
        def forward(self, x):
            return x.sum(keepdims=True)

        def backward(self, gy):
            return gy

    x = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="Broken.backward returned a gradient of shape"):
        Broken.apply(x).sum().backward()


def test_tensor_is_hashable_and_usable_as_dict_key():
    t = Tensor(np.zeros(2))
    assert {t: 1}[t] == 1


def test_data_is_a_tensor_sharing_the_storage_outside_the_graph():
    w = tinycnn.tensor([1.0, 2.0], requires_grad=True)
    d = w.data
    assert isinstance(d, Tensor) and not d.requires_grad and d.grad_fn is None
    d.array[0] = 5.0                                  # one storage: w sees the change
    assert w.tolist() == [5.0, 2.0]
    w.data = tinycnn.tensor([7.0, 8.0])               # assignment swaps the storage, w stays a leaf
    assert w.tolist() == [7.0, 8.0] and w.requires_grad and w.is_leaf
    (w * w).sum().backward()
    assert w.grad.tolist() == [14.0, 16.0]
