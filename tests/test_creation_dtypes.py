"""Creation functions, dtypes and devices as PyTorch's: eye, linspace, logspace, empty(_like), full(_like),
zeros/ones_like, rand(n)_like, randint(_like), randperm, arange with dtype, tril/triu_indices; the dtype
names and aliases, Tensor.type() and the conversion methods; devices as objects equal to their names."""
import pickle

import numpy as np
import pytest

import tinycnn
from tinycnn import backend


def _same(ours, theirs):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(ours.numpy().astype(float), theirs.numpy().astype(float), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("call", [
    "lib.eye(3)", "lib.eye(2, 4)", "lib.eye(3, dtype=lib.int64)", "lib.linspace(0, 1, 5)", "lib.linspace(-2, 3, 1)",
    "lib.linspace(1, 0, 4, dtype=lib.float64)", "lib.logspace(0, 2, 3)", "lib.logspace(0, 3, 4, base=2)",
    "lib.arange(5)", "lib.arange(1, 4, 0.5)", "lib.arange(6, dtype=lib.float32)", "lib.arange(0, 10, 3)",
    "lib.arange(5, 0, -1)", "lib.arange(3, dtype=lib.int32)", "lib.full((2, 3), 7)", "lib.full((2,), 1.5)",
    "lib.full((2,), True)", "lib.full((2, 2), 3, dtype=lib.float64)", "lib.zeros(2, 3, dtype=lib.int8)",
    "lib.ones((2,), dtype=lib.uint8)", "lib.zeros_like(lib.ones(2, 3, dtype=lib.int32))",
    "lib.ones_like(lib.zeros(3), dtype=lib.float64)", "lib.full_like(lib.zeros(2, 2, dtype=lib.int64), 4)",
    "lib.full_like(lib.zeros(3), 0.5)", "lib.tril_indices(3, 3)", "lib.tril_indices(3, 4, 1)",
    "lib.tril_indices(4, 3, -1)", "lib.triu_indices(3, 3)", "lib.triu_indices(3, 5, 2)", "lib.triu_indices(4, 2, -1)",
    "lib.tensor([1, 2]) ", "lib.tensor([1.0, 2.0])", "lib.tensor([True, False])", "lib.tensor(3)",
    "lib.as_tensor([1, 2])", "lib.empty(2, 3).shape", "lib.empty_like(lib.zeros(2, dtype=lib.int16)).dtype",
])
def test_creation_matches_torch(torch, call):
    ours, theirs = eval(call, {"lib": tinycnn}), eval(call, {"lib": torch})
    if isinstance(theirs, (torch.Size, torch.dtype)):
        assert str(ours).replace("tinycnn.", "") == str(theirs).replace("torch.", "")
        return
    _same(ours, theirs)


@pytest.mark.parametrize("call,dtype,low,high", [
    ("lib.randint(10, (200,))", "int64", 0, 10), ("lib.randint(-3, 3, (4, 50))", "int64", -3, 3),
    ("lib.randint(0, 5, size=(3,), dtype=lib.int32)", "int32", 0, 5), ("lib.randperm(20)", "int64", 0, 20),
    ("lib.rand_like(lib.zeros(3, 4))", "float32", 0, 1),
    ("lib.randn_like(lib.zeros(3, dtype=lib.float64))", "float64", None, None),
    ("lib.randint_like(lib.zeros(2, 3), 7)", "float32", 0, 7),
    ("lib.randint_like(lib.zeros(50, dtype=lib.int64), 2, 4)", "int64", 2, 4),
    ("lib.rand(2, 3, dtype=lib.float64)", "float64", 0, 1), ("lib.normal(0.0, 1.0, (3, 3))", "float32", None, None),
])
def test_random_creation_dtypes_shapes_and_ranges_match_torch(torch, call, dtype, low, high):
    ours, theirs = eval(call, {"lib": tinycnn}), eval(call, {"lib": torch})
    assert str(ours.dtype) == dtype == str(theirs.dtype).replace("torch.", "")
    assert tuple(ours.shape) == tuple(theirs.shape)
    if low is not None:
        assert ours.numpy().min() >= low and ours.numpy().max() < high
    if "randperm" in call:
        assert sorted(ours.tolist()) == list(range(20))


def test_random_creation_follows_the_seed():
    for make in (lambda: tinycnn.randint(0, 100, (5,)), lambda: tinycnn.randperm(10), lambda: tinycnn.rand(3),
                 lambda: tinycnn.randn_like(tinycnn.zeros(4)), lambda: tinycnn.normal(tinycnn.zeros(3), 2.0),
                 lambda: tinycnn.multinomial(tinycnn.tensor([0.1, 0.5, 0.4]), 5, replacement=True)):
        tinycnn.manual_seed(7)
        a = make().tolist()
        tinycnn.manual_seed(7)
        assert make().tolist() == a


def test_multinomial_and_bernoulli(torch):
    tinycnn.manual_seed(0)
    draws = tinycnn.multinomial(tinycnn.tensor([[0.0, 1.0, 3.0], [1.0, 0.0, 0.0]]), 2000, replacement=True)
    assert draws.shape == (2, 2000) and draws.dtype == tinycnn.int64
    assert abs((draws[0] == 2).float().mean().item() - 0.75) < 0.03 and (draws[1] == 0).all().item()
    no_repeat = tinycnn.multinomial(tinycnn.tensor([1.0, 1.0, 1.0]), 3)
    assert sorted(no_repeat.tolist()) == [0, 1, 2]
    b = tinycnn.bernoulli(tinycnn.full((5000,), 0.3))
    assert abs(b.mean().item() - 0.3) < 0.03 and b.dtype == tinycnn.float32


def test_creation_errors():
    with pytest.raises(ValueError, match="high"):
        tinycnn.randint(3, 3, (2,))
    with pytest.raises(TypeError, match="floating-point dtype"):
        tinycnn.rand(2, dtype=tinycnn.int64)
    with pytest.raises(ValueError, match="step"):
        tinycnn.arange(0, 3, 0)
    with pytest.raises(ValueError, match="size must be non-negative"):
        tinycnn.zeros(-1)


# ---- dtypes ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["float32", "float64", "float16", "int8", "int16", "int32", "int64", "uint8", "bool",
                                  "float", "double", "half", "long", "int", "short"])
def test_dtype_names_and_aliases_are_pytorchs(torch, name):
    ours, theirs = getattr(tinycnn, name), getattr(torch, name)
    assert str(ours) == str(theirs).replace("torch.", "")
    t = tinycnn.zeros(2, dtype=ours)
    assert t.dtype == ours and str(torch.zeros(2, dtype=theirs).dtype).endswith(str(t.dtype))


@pytest.mark.parametrize("method,dtype", [("float", "float32"), ("double", "float64"), ("half", "float16"),
                                          ("long", "int64"), ("int", "int32"), ("short", "int16"), ("char", "int8"),
                                          ("byte", "uint8"), ("bool", "bool")])
def test_conversion_methods_and_type_names_match_torch(torch, method, dtype):
    x = np.array([0.0, 1.7, -2.2, 300.0])
    if method in ("byte", "char"):
        x = np.array([0.0, 1.7, 2.2, 100.0])
    ours, theirs = getattr(tinycnn.tensor(x), method)(), getattr(torch.tensor(x), method)()
    assert str(ours.dtype) == dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.type() == theirs.type().replace("torch.", "tinycnn.")


def test_to_and_type_accept_pytorchs_forms(torch):
    x = tinycnn.tensor([1.5, -2.5])
    assert x.to(tinycnn.float64).dtype == tinycnn.float64
    assert x.to("float64").dtype == tinycnn.float64
    assert x.to("cpu") is x and x.to(tinycnn.device("cpu")) is x
    assert x.to("cpu", tinycnn.int32).tolist() == [1, -2]
    assert x.to(tinycnn.zeros(1, dtype=tinycnn.int64)).dtype == tinycnn.int64
    assert x.to(dtype=tinycnn.float16, copy=True).dtype == tinycnn.float16
    y = x.to(copy=True)
    assert y is not x and y.tolist() == x.tolist()
    assert x.type(tinycnn.float64).dtype == tinycnn.float64
    assert x.type("tinycnn.LongTensor").tolist() == [1, -2]
    assert x.type("torch.IntTensor").dtype == tinycnn.int32
    assert x.type_as(tinycnn.zeros(1, dtype=tinycnn.float64)).dtype == tinycnn.float64
    assert x.is_floating_point() and not x.long().is_floating_point() and tinycnn.is_tensor(x)
    assert x.element_size() == 4 and x.half().element_size() == 2 and x.nbytes == 8 and x.itemsize == 4
    assert x.get_device() == -1 and not x.is_cuda


def test_float_conversions_pass_gradients_and_integer_ones_cut_the_graph():
    x = tinycnn.tensor([1.5, 2.5], requires_grad=True)
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == tinycnn.float32 and x.grad.tolist() == [2.0, 2.0]
    assert not x.long().requires_grad and not x.bool().requires_grad
    h = x.half()
    assert h.requires_grad and h.dtype == tinycnn.float16


def test_float16_is_storage_and_arithmetic(torch):
    a = tinycnn.tensor([1.0, 2.5, 1000.0]).half()
    b = torch.tensor([1.0, 2.5, 1000.0]).half()
    np.testing.assert_array_equal((a * 3 + 1).numpy(), (b * 3 + 1).numpy())
    assert (a + 1.0).dtype == tinycnn.float16 and (a + tinycnn.ones(3)).dtype == tinycnn.float32
    assert repr(a).endswith("dtype=tinycnn.float16)")


def test_dtype_strings_and_python_types():
    assert backend.to_dtype("float") == tinycnn.float32 and backend.to_dtype("long") == tinycnn.int64
    assert backend.to_dtype("tinycnn.float64") == tinycnn.float64 and backend.to_dtype(float) == tinycnn.float64
    assert tinycnn.tensor([1, 2], dtype=bool).dtype == tinycnn.bool
    with pytest.raises(TypeError, match="dtype"):
        backend.to_dtype("no-such-dtype")


# ---- devices --------------------------------------------------------------------------------------------
def test_devices_are_objects_equal_to_their_names(torch):
    cpu = tinycnn.device("cpu")
    assert cpu == "cpu" and "cpu" == cpu and cpu.type == "cpu" and cpu.index is None
    assert repr(cpu) == repr(torch.device("cpu")) and str(cpu) == "cpu"
    cuda1 = tinycnn.device("cuda", 1)
    assert str(cuda1) == str(torch.device("cuda", 1)) and repr(cuda1) == repr(torch.device("cuda", 1))
    assert cuda1 == "cuda:1" and cuda1 != "cuda" and cuda1 != "cuda:0" and cuda1 != "cpu"
    assert (tinycnn.device("cuda:0") == tinycnn.device("cuda")) == (torch.device("cuda:0") == torch.device("cuda"))
    assert hash(tinycnn.device("cuda:0")) == hash("cuda:0") and tinycnn.device("cuda") == "cuda"
    assert {cpu: 1}["cpu"] == 1 and {"cpu": 2}[cpu] == 2 and tinycnn.device(tinycnn.device("cuda:1")) == cuda1
    x = tinycnn.zeros(2)
    assert x.device == "cpu" and isinstance(x.device, tinycnn.Device) and x.device.type == "cpu"
    assert pickle.loads(pickle.dumps(cuda1)) == cuda1
    with pytest.raises(ValueError, match="unknown device"):
        tinycnn.device("tpu")
    with pytest.raises(AttributeError):
        cpu.type = "cuda"


def test_normalize_device_is_the_one_parser():
    for given in ("cpu", "CPU", tinycnn.device("cpu"), "cuda", "cuda:3", tinycnn.device("cuda", 2)):
        assert backend.normalize_device(given) in ("cpu", "cuda")
    with pytest.raises(ValueError, match="unknown device"):
        backend.normalize_device("cuda:x")


def test_cuda_request_without_a_gpu_is_a_clear_error():
    if tinycnn.cuda.is_available():
        pytest.skip("a GPU is present")
    with pytest.raises(RuntimeError, match="CuPy is not installed or no GPU"):
        tinycnn.zeros(2).to(tinycnn.device("cuda", 0))


def test_new_methods_contiguous_and_mT_match_torch(torch):
    for lib in (tinycnn, torch):
        x = lib.zeros(2, 3, 4, dtype=lib.float64)
        assert x.new_zeros(2, 3).dtype == x.dtype and x.new_ones((4,)).shape == (4,)
        assert x.new_full((2,), 7).tolist() == [7.0, 7.0] and x.new_empty(3).dtype == x.dtype
        assert x.new_tensor([1, 2]).dtype == x.dtype and x.nelement() == 24
        t = x.transpose(0, 2)
        assert not t.is_contiguous() and t.contiguous().is_contiguous() and x.contiguous() is x
        assert x.mT.shape == (2, 4, 3)
    g = tinycnn.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (g.t().contiguous() * tinycnn.tensor([[1.0, 2.0]])).sum().backward()
    assert g.grad.tolist() == [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
