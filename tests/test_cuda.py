"""The CuPy backend: every registered op gives the CPU's numbers on "cuda" (skips where no GPU is usable).

The gradcheck registry lists every differentiable op of the library with small inputs, so this sweep
covers each op's forward and backward on the GPU against the CPU: float64 within 1e-10, float32 within
1e-4 relative.
"""
import numpy as np
import pytest

import tinycnn
from tinycnn import nn
from tinycnn.utils.gradcheck_registry import REGISTRY

needs_gpu = pytest.mark.skipif(not tinycnn.cuda.is_available(), reason="CuPy with a GPU is not available")


def _run(op, arrays, device, dtype):
    tensors = [tinycnn.tensor(a.astype(dtype), requires_grad=True, device=device) for a in arrays]
    tinycnn.manual_seed(0)  # ops that draw random numbers (dropout) draw the same ones on both devices
    out = op.fn(*tensors)
    out = out[0] if isinstance(out, (tuple, list)) else out
    upstream = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(tinycnn.tensor(upstream, device=device))
    assert out.device == device
    grads = [t.grad.cpu().numpy() if t.grad is not None else None for t in tensors]
    return out.cpu().numpy(), grads


@needs_gpu
@pytest.mark.parametrize("name", sorted(REGISTRY))
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-10, 1e-10), (np.float32, 1e-4, 1e-5)])
def test_every_op_matches_cpu_on_cuda(name, dtype, rtol, atol):
    op = REGISTRY[name]
    arrays = op.make_inputs(np.random.default_rng(0))
    out_cpu, grads_cpu = _run(op, arrays, "cpu", dtype)
    out_gpu, grads_gpu = _run(op, arrays, "cuda", dtype)
    np.testing.assert_allclose(out_gpu, out_cpu, rtol=rtol, atol=atol)
    for g_gpu, g_cpu in zip(grads_gpu, grads_cpu):
        if g_cpu is not None:
            np.testing.assert_allclose(g_gpu, g_cpu, rtol=rtol, atol=atol)


@needs_gpu
def test_module_to_cuda_trains_like_cpu():
    from tinycnn import optim
    from tinycnn.models import lenet5
    from tinycnn.nn import functional as F

    results = {}
    for device in ("cpu", "cuda"):
        tinycnn.manual_seed(0)
        model = lenet5("modern").double().to(device)
        opt = optim.Adam(model.parameters(), lr=1e-3)
        x = tinycnn.tensor(np.random.default_rng(0).standard_normal((8, 1, 28, 28)), device=device)
        y = tinycnn.tensor(np.arange(8) % 10, device=device)
        for _ in range(3):
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        assert all(p.device == device for p in model.parameters())
        assert all(s.device == device if hasattr(s, "device") else True for s in model.buffers())
        results[device] = {k: v.cpu().numpy() for k, v in model.state_dict().items()}
    for key in results["cpu"]:
        np.testing.assert_allclose(results["cuda"][key], results["cpu"][key], rtol=1e-10, atol=1e-10)


def test_cuda_api_exists_without_a_gpu():
    assert isinstance(tinycnn.cuda.is_available(), bool)
    t = tinycnn.ones(2)
    assert t.device == "cpu" and t.cpu() is t and t.to("cpu") is t
    m = nn.Linear(2, 2).to("cpu")
    assert all(p.device == "cpu" for p in m.parameters())
    if not tinycnn.cuda.is_available():
        with pytest.raises(RuntimeError, match="CuPy"):
            t.to("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        t.to("tpu")


class _FakeCupyArray:
    """Stands in for a CuPy array (only its module name matters to the device check)."""

    __module__ = "cupy._core.core"
    shape = (2,)
    dtype = np.dtype(np.float32)
    ndim = 1


def test_mixing_devices_in_one_op_names_both_devices():
    cpu = tinycnn.ones(2)
    gpu = tinycnn.Tensor.__new__(tinycnn.Tensor)
    gpu.array, gpu.grad, gpu._ctx, gpu._retains_grad, gpu.requires_grad = _FakeCupyArray(), None, None, False, False
    with pytest.raises(RuntimeError, match="cpu and cuda"):
        cpu + gpu
