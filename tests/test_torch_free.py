"""Where PyTorch is absent only the tests that compare with it skip: the finite-difference gradchecks and the
other torch-free tests of the same modules still run.

A child pytest runs a few oracle-heavy modules with ``TINYCNN_TESTS_HIDE_TORCH=1`` (tests/conftest.py then
makes ``import torch`` fail) and its JUnit report is read test by test.
"""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

TESTS = Path(__file__).resolve().parent
MODULES = ["test_activations.py", "test_ops_reduction.py", "test_arithmetic.py"]


def _outcomes(report: Path) -> dict[str, str]:
    """{test name: "passed" | "skipped" | "failed"} from a JUnit XML report."""
    out = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        out[f"{case.get('classname')}::{case.get('name')}"] = (
            "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed")
    return out


def test_torch_free_tests_run_without_torch(tmp_path):
    report = tmp_path / "report.xml"
    env = dict(os.environ, TINYCNN_TESTS_HIDE_TORCH="1")
    env.pop("PYTEST_XDIST_WORKER", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}",
                           *(str(TESTS / m) for m in MODULES)], cwd=TESTS.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    outcomes = _outcomes(report)
    for module in MODULES:
        stem = module.removesuffix(".py")
        mine = {name: kind for name, kind in outcomes.items() if name.split("::")[0].endswith(stem)}
        test = {name: name.split("::")[1] for name in mine}
        gradchecks = [n for n in mine if "gradcheck" in test[n] or "finite_differences" in test[n]]
        oracle = [n for n in mine if "match_torch" in test[n] or "matches_torch" in test[n]]
        assert gradchecks and oracle, f"{module}: expected both gradcheck and torch tests, got {sorted(mine)}"
        assert all(mine[n] == "passed" for n in gradchecks), {n: mine[n] for n in gradchecks}
        assert all(mine[n] == "skipped" for n in oracle), {n: mine[n] for n in oracle}
