"""tinycnn.load_torch_state_dict: PyTorch checkpoints read without PyTorch, and malicious pickles refused.

torch (the ``torch`` fixture) is used here only to *write* the files (and as the oracle for the values).
"""
import io
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import tinycnn
from tinycnn.utils import load_torch_state_dict


def _assert_same(loaded, state):
    assert list(loaded) == list(state)
    for key, value in state.items():
        ref = value.detach().float().numpy() if str(value.dtype) == "torch.bfloat16" else value.detach().numpy()
        assert loaded[key].shape == ref.shape, key
        assert loaded[key].dtype == ref.dtype, key
        np.testing.assert_array_equal(loaded[key], ref, err_msg=key)


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_module_state_dict_roundtrip(tmp_path, zip_format, torch):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Linear(5, 2))
    model[1].running_mean.uniform_()
    path = tmp_path / "m.pth"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=zip_format)
    loaded = load_torch_state_dict(path)
    _assert_same(loaded, model.state_dict())
    assert loaded["1.num_batches_tracked"].shape == () and loaded["1.num_batches_tracked"].dtype == np.int64
    assert all(v.flags.writeable and v.flags.c_contiguous for v in loaded.values())


def test_dtypes_views_and_shared_storage(tmp_path, torch):
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    state = {
        "f64": base, "transposed": base.t(), "slice": base[1:3, ::2], "scalar": torch.tensor(3.5),
        "f16": torch.randn(3).half(), "bf16": torch.randn(5).bfloat16(), "i64": torch.arange(4),
        "i32": torch.arange(3, dtype=torch.int32), "u8": torch.arange(5, dtype=torch.uint8),
        "bool": torch.tensor([True, False]), "param": torch.nn.Parameter(torch.ones(2, 2)),
    }
    path = tmp_path / "d.pt"
    torch.save(state, path)
    loaded = load_torch_state_dict(path)
    _assert_same(loaded, state)
    assert loaded["bf16"].dtype == np.float32  # no NumPy bfloat16: widened exactly


def test_resnet18_from_torchvision_into_tinycnn(tmp_path, torch, torchvision):
    tvm = torchvision.models
    from tinycnn.models import resnet
    torch.manual_seed(0)
    ref = tvm.resnet18().eval()
    for m in ref.modules():  # non-trivial BN statistics so that loading them matters
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path / "resnet18.pth"
    torch.save(ref.state_dict(), path)
    state = load_torch_state_dict(path)
    model = resnet.resnet18()
    model.load_state_dict(state)
    model.eval()
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    with tinycnn.no_grad():
        out = model(tinycnn.tensor(x)).numpy()
    with torch.no_grad():
        expected = ref(torch.from_numpy(x)).numpy()
    assert np.abs(out - expected).max() <= 1e-4 * np.abs(expected).max()


def test_loader_does_not_import_torch(tmp_path, torch):
    path = tmp_path / "m.pth"
    torch.save({"w": torch.ones(2)}, path)
    code = ("import sys, tinycnn; d = tinycnn.load_torch_state_dict(sys.argv[1]); "
            "assert 'torch' not in sys.modules, 'torch was imported'; print(d['w'].sum())")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2.0"


# ---- malicious files ---------------------------------------------------------------------------------------
class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _torch_like_zip(path, payload: bytes):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", payload)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/version", "3\n")


def test_zip_with_os_system_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    _torch_like_zip(path, pickle.dumps({"weight": _RunsCode(marker)}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match=r"refusing to load global '(os|posix|nt)\.system'"):
        load_torch_state_dict(path)
    assert not marker.exists()


def test_handwritten_os_system_pickle_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()  # protocol 0: GLOBAL os.system, REDUCE
    for name, write in [("plain.pkl", lambda p: p.write_bytes(payload)),
                        ("zipped.pth", lambda p: _torch_like_zip(p, payload))]:
        path = tmp_path / name
        write(path)
        with pytest.raises(pickle.UnpicklingError, match=r"'os\.system'"):
            load_torch_state_dict(path)
    assert not marker.exists()


def test_other_globals_and_garbage(tmp_path, torch):
    path = tmp_path / "builtins.pth"
    _torch_like_zip(path, pickle.dumps({"x": eval}, protocol=4))  # builtins.eval: refused by name
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        load_torch_state_dict(path)
    zip_without_pickle = tmp_path / "nopkl.pth"
    with zipfile.ZipFile(zip_without_pickle, "w") as zf:
        zf.writestr("archive/other", b"")
    with pytest.raises(ValueError, match="no data.pkl"):
        load_torch_state_dict(zip_without_pickle)
    not_torch = tmp_path / "x.pkl"
    not_torch.write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(ValueError, match="magic number"):
        load_torch_state_dict(not_torch)
    truncated = tmp_path / "t.pth"
    buf = io.BytesIO()
    torch.save({"w": torch.ones(3)}, buf, _use_new_zipfile_serialization=False)
    truncated.write_bytes(buf.getvalue()[:-6])
    with pytest.raises(ValueError, match="truncated"):
        load_torch_state_dict(truncated)


def test_out_of_bounds_tensor_record_is_refused(tmp_path, torch):
    """A tensor whose size/stride reach past its storage would make as_strided read foreign memory."""
    import collections

    class Storage:
        pass

    class Tensor:
        def __init__(self, size):
            self.size = size

        def __reduce__(self):
            return torch._utils._rebuild_tensor_v2, (Storage(), 0, self.size, (1,), False,
                                                     collections.OrderedDict())

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", torch.FloatStorage, "0", "cpu", 2) if isinstance(obj, Storage) else None

    for size, ok in [((2,), True), ((1000,), False)]:
        buf = io.BytesIO()
        Pickler(buf, protocol=2).dump(collections.OrderedDict(w=Tensor(size)))
        path = tmp_path / f"t{size[0]}.pth"
        _torch_like_zip(path, buf.getvalue())
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("archive/data/0", np.array([1.5, 2.5], np.float32).tobytes())
        if ok:
            assert load_torch_state_dict(path)["w"].tolist() == [1.5, 2.5]
        else:
            with pytest.raises(pickle.UnpicklingError, match="reaches element 999"):
                load_torch_state_dict(path)


def test_an_expanded_tensor_stays_a_view_instead_of_gigabytes(tmp_path, torch):
    """torch.zeros(1).expand(50000, 50000) is 4 bytes of storage and 10 GB once copied: it stays a read-only
    view (stride 0), as torch.load keeps it expanded, and loads into a parameter of its shape."""
    path = tmp_path / "expanded.pth"
    torch.save({"big": torch.zeros(1).expand(50000, 50000), "row": torch.arange(3.0).expand(4, 3),
                "weight": torch.ones(1, 1).expand(5, 4), "bias": torch.full((1,), 0.5).expand(5)}, path)
    loaded = load_torch_state_dict(path)
    big = loaded["big"]
    assert big.shape == (50000, 50000) and big.strides == (0, 0) and not big.flags.writeable
    span = sum((n - 1) * step for n, step in zip(big.shape, big.strides)) + big.itemsize
    assert span == 4                                  # the bytes it reads: the storage's one float32, not 10 GB
    assert big[12345, 6789] == 0.0
    np.testing.assert_array_equal(loaded["row"], torch.arange(3.0).expand(4, 3).numpy())
    layer = tinycnn.nn.Linear(4, 5)
    layer.load_state_dict({"weight": loaded["weight"], "bias": loaded["bias"]})
    assert layer.weight.array.flags.writeable and layer.weight.array.strides == (16, 4)
    np.testing.assert_array_equal(layer.bias.array, np.full(5, 0.5, np.float32))


def test_only_overlapping_views_stay_views():
    """The rule, torch-free: a tensor with more elements than the storage span it reads stays a view; any
    other (a transpose, a slice) is copied into its own contiguous, writable array."""
    from tinycnn.utils.torch_loader import _view
    storage = np.arange(12, dtype=np.float32)
    expanded = _view(storage, 2, (3, 4), (0, 1))
    assert expanded.strides == (0, 4) and not expanded.flags.writeable
    np.testing.assert_array_equal(expanded, np.tile(storage[2:6], (3, 1)))
    transposed = _view(storage, 0, (4, 3), (1, 4))
    assert transposed.flags.c_contiguous and transposed.flags.writeable and transposed.flags.owndata
    np.testing.assert_array_equal(transposed, storage.reshape(3, 4).T)
