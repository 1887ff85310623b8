"""The command line: --help, --version, gradcheck, summary, and argument errors."""
import subprocess
import sys

import tinycnn
from tinycnn.cli import main


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "tinycnn", *args], capture_output=True, text=True, timeout=300)


def test_help_and_version():
    out = run_cli("--help")
    assert out.returncode == 0
    for command in ("train", "eval", "summary", "gradcheck"):
        assert command in out.stdout
    out = run_cli("--version")
    assert out.returncode == 0 and tinycnn.__version__ in out.stdout


def test_gradcheck_command_checks_every_registered_op():
    out = run_cli("gradcheck")
    assert out.returncode == 0, out.stdout + out.stderr
    last = out.stdout.strip().splitlines()[-1]
    assert last.startswith("gradcheck: ") and last.endswith(" ops pass")
    passed, total = last.split()[1].split("/")
    assert passed == total and int(total) >= 40
    for op in ("conv2d", "max_pool2d", "batch_norm", "cross_entropy", "matmul"):
        assert any(line.startswith(op) for line in out.stdout.splitlines()), op


def test_gradcheck_exit_code_is_one_when_an_op_fails(monkeypatch, capsys):
    from tinycnn.utils import gradcheck_registry as registry

    class Wrong(tinycnn.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 3

    monkeypatch.setitem(registry.REGISTRY, "wrong_op", registry.RegisteredOp(
        "wrong_op", lambda x: Wrong.apply(x), lambda rng: [rng.standard_normal(3)]))
    assert main(["gradcheck", "wrong_op"]) == 1
    out = capsys.readouterr().out
    assert "wrong_op" in out and "FAIL" in out and "gradcheck: 0/1 ops pass" in out
    assert main(["gradcheck", "no_such_op"]) == 2


def test_summary_command_prints_the_lenet_table(capsys):
    assert main(["summary", "lenet5", "--variant", "classic"]) == 0
    text = capsys.readouterr().out.replace(",", "")
    assert "156" in text and "61706" in text  # conv1's parameters and LeNet's total


def test_train_rejects_bad_arguments():
    out = run_cli("train", "lenet5", "--optimizer", "nope")
    assert out.returncode == 2 and "invalid choice" in out.stderr
