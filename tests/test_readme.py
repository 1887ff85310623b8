"""README's examples run as written, and the first example's LeNet prints the same shapes as under PyTorch."""
import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def run(code: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<README>", "exec"), {"__name__": "__readme__"})
    return out.getvalue()


def shapes(text: str):
    return [(line.split()[0], re.findall(r"\d+", line.split("\t")[-1])) for line in text.splitlines() if line]


def test_first_example_prints_the_shapes_shown_in_the_readme():
    code = python_blocks()[0]
    printed = run(code)
    shown = re.search(r"```\n(Conv2d output shape.*?)```", README.read_text(), flags=re.S).group(1)
    assert printed.strip() == shown.strip()


def test_seed_lenet_prints_the_same_shapes_as_pytorch():
    torch = pytest.importorskip("torch")
    body = python_blocks()[0].split("\n", 2)[2]          # the example's code, after the two import lines
    ours = run("import tinycnn as torch\nfrom tinycnn import nn\n" + body)
    theirs = run("import torch\nfrom torch import nn\n" + body)
    assert torch is not None and shapes(ours) == shapes(theirs) and len(shapes(ours)) == 12


def test_gradcheck_example_runs():
    block = next(b for b in python_blocks() if "tinycnn.gradcheck" in b)
    run(block)
