"""Every text file of the product is free of unresolved merge-conflict markers."""
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
FOLDERS = ("tinycnn", "tests", "docs", "benchmarks", "notebooks")
SUFFIXES = {".py", ".md", ".ipynb", ".cfg", ".toml", ".txt"}
MARKERS = ("<" * 7 + " ", "=" * 7 + "\n", ">" * 7 + " ")


def _text_files():
    files = [ROOT / "README.md", ROOT / "setup.cfg"]
    for folder in FOLDERS:
        files += [p for p in sorted((ROOT / folder).rglob("*")) if p.suffix in SUFFIXES and p.is_file()]
    return files


@pytest.mark.parametrize("path", _text_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_conflict_markers(path):
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    bad = [i + 1 for i, line in enumerate(lines) if line.startswith(MARKERS)]
    assert not bad, f"{path.relative_to(ROOT)}: merge-conflict marker on line(s) {bad}"
