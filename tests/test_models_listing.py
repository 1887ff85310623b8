"""Every model is listed: by ``tinycnn summary --list`` (as a user types it), by ``list_models``, in README's
Models table; each has a description and an input size it runs at."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinycnn import models

README = Path(__file__).resolve().parents[1] / "README.md"


def test_summary_list_prints_every_model():
    out = subprocess.run([sys.executable, "-m", "tinycnn", "summary", "--list"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    rows = [line.split(maxsplit=2) for line in out.stdout.splitlines()]
    assert [r[0] for r in rows] == models.list_models()
    for name, size, description in rows:
        assert size == "x".join(map(str, models.default_input_size(name)))
        assert description == models.describe_model(name) and len(description) > 20


def test_summary_without_a_model_or_with_an_unknown_one():
    out = subprocess.run([sys.executable, "-m", "tinycnn", "summary"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "give a MODEL (or --list" in out.stderr
    out = subprocess.run([sys.executable, "-m", "tinycnn", "summary", "resnet17"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 2 and "unknown model 'resnet17'" in out.stderr and "resnet18" in out.stderr


def test_summary_uses_the_models_own_input_size():
    out = subprocess.run([sys.executable, "-m", "tinycnn", "summary", "lenet5_1998"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Trainable params: 60,000" in out.stdout


def test_readme_lists_every_model():
    text = README.read_text()
    section = text[text.index("## Models"):]
    section = section[:section.index("\n## ", 1)]
    listed = set(re.findall(r"`([a-z0-9_]+)`", section))
    missing = [name for name in models.list_models() if name not in listed]
    assert not missing, f"README's Models table lacks {missing}"


def test_every_model_has_a_description_and_an_input_size():
    for name in models.list_models():
        assert models.describe_model(name), name
        channels, h, w = models.default_input_size(name)
        assert channels in (1, 3) and h == w and h >= 28
    with pytest.raises(ValueError, match="unknown model"):
        models.default_input_size("resnet17")
