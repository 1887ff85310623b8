"""tinycnn.config: scoped settings that restore on exit (also on exceptions), nest, stay in their thread,
refuse bad values with one line, and take the process default of the kernels from TINYCNN_KERNELS once."""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import tinycnn
import tinycnn.nn.functional as F
from tinycnn import kernels
from tinycnn.config import DEFAULTS
from tinycnn.ops import conv as conv_ops

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_scope_sets_and_restores():
    before = tinycnn.get_config()
    with tinycnn.config(kernels="numpy", conv_backward="rot180", conv_direct=False, fusion=False) as inside:
        assert tinycnn.get_config() == inside
        assert inside == tinycnn.Settings("numpy", "rot180", False, False)
        assert kernels.get_kernels_name() == "numpy"
    assert tinycnn.get_config() == before


def test_scopes_nest_and_change_only_what_they_name():
    with tinycnn.config(conv_backward="rot180"):
        with tinycnn.config(kernels="numpy"):
            assert tinycnn.get_config()[:2] == ("numpy", "rot180")
            with tinycnn.config(conv_backward="col2im"):
                assert tinycnn.get_config()[:2] == ("numpy", "col2im")
            assert tinycnn.get_config().conv_backward == "rot180"
        assert tinycnn.get_config().kernels == DEFAULTS.kernels
        assert tinycnn.get_config().conv_backward == "rot180"


def test_one_object_entered_twice_nested():
    scope = tinycnn.config(fusion=False)
    with scope:
        with scope:
            assert not tinycnn.get_config().fusion
        assert not tinycnn.get_config().fusion
    assert tinycnn.get_config().fusion


def test_exception_restores():
    before = tinycnn.get_config()
    with pytest.raises(ZeroDivisionError):
        with tinycnn.config(conv_backward="rot180", kernels="numpy"):
            1 / 0
    assert tinycnn.get_config() == before


def test_decorator():
    @tinycnn.config(conv_backward="rot180")
    def mode():
        return tinycnn.get_config().conv_backward

    assert mode() == "rot180" and tinycnn.get_config().conv_backward == "col2im"


def test_threads_do_not_see_each_others_scope():
    """Two threads in different scopes at the same time each compute with their own setting."""
    barrier = threading.Barrier(2, timeout=30)
    seen, errors = {}, []
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 6, 6)), rng.standard_normal((4, 3, 3, 3))

    def work(mode):
        try:
            with tinycnn.config(conv_backward=mode, kernels="numpy"):
                barrier.wait()                     # both scopes are open now
                xt = tinycnn.tensor(x, requires_grad=True)
                F.conv2d(xt, tinycnn.tensor(w), stride=2).sum().backward()
                barrier.wait()
                seen[mode] = (tinycnn.get_config().conv_backward, xt.grad.numpy())
        except Exception as exc:                    # noqa: BLE001  (reported by the main thread)
            errors.append(exc)

    calls = []
    original = conv_ops.conv_input_grad_rot180

    def spy(*args, **kw):
        calls.append(threading.current_thread().name)
        return original(*args, **kw)

    conv_ops.conv_input_grad_rot180 = spy
    try:
        threads = [threading.Thread(target=work, args=(m,), name=m) for m in ("rot180", "col2im")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        conv_ops.conv_input_grad_rot180 = original
    assert not errors, errors
    assert seen["rot180"][0] == "rot180" and seen["col2im"][0] == "col2im"
    assert calls == ["rot180"]                      # only the thread in the rot180 scope took that path
    np.testing.assert_allclose(seen["rot180"][1], seen["col2im"][1], atol=1e-12)


def test_a_new_thread_sees_the_process_defaults():
    seen = []
    with tinycnn.config(conv_backward="rot180"):
        t = threading.Thread(target=lambda: seen.append(tinycnn.get_config()))
        t.start()
        t.join()
    assert seen == [DEFAULTS]


@pytest.mark.parametrize("settings,message", [
    (dict(kernels="cuda"), "tinycnn.config: kernels must be one of 'auto', 'numpy', 'numba', got 'cuda'"),
    (dict(conv_backward="fft"), "tinycnn.config: conv_backward must be one of 'col2im', 'rot180', got 'fft'"),
    (dict(conv_direct=1), "tinycnn.config: conv_direct must be True or False, got 1"),
    (dict(fusion="no"), "tinycnn.config: fusion must be True or False, got 'no'"),
])
def test_bad_values_are_one_line_value_errors(settings, message):
    before = tinycnn.get_config()
    with pytest.raises(ValueError) as info:
        tinycnn.config(**settings)
    assert str(info.value) == message
    assert tinycnn.get_config() == before


def test_unknown_setting_is_a_type_error():
    with pytest.raises(TypeError, match="unknown setting 'kernel'; the settings are kernels, conv_backward"):
        tinycnn.config(kernel="numpy")


def _run(code, **env):
    full = {k: v for k, v in os.environ.items() if k != "TINYCNN_KERNELS"}
    full.update(env)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=full, cwd=ROOT,
                          timeout=120)


def test_environment_variable_is_read_once_at_import():
    code = ("import os, tinycnn\n"
            "from tinycnn import kernels\n"
            "print(tinycnn.get_config().kernels, kernels.get_kernels_name())\n"
            "os.environ['TINYCNN_KERNELS'] = 'numba'\n"
            "print(tinycnn.get_config().kernels, kernels.get_kernels_name())\n")
    res = _run(code, TINYCNN_KERNELS="numpy")
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["numpy", "numpy", "numpy", "numpy"]


def test_bad_environment_variable_fails_at_first_use_not_at_import():
    code = ("import tinycnn\n"
            "from tinycnn import kernels\n"
            "with tinycnn.config(kernels='numpy'):\n"
            "    print(kernels.get_kernels_name())\n"
            "kernels.get_kernels_name()\n")
    res = _run(code, TINYCNN_KERNELS="fortran")
    assert res.stdout.split() == ["numpy"]
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == \
        "ValueError: TINYCNN_KERNELS must be 'numpy' or 'numba', got 'fortran'"
