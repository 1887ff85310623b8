"""Execute every notebook in notebooks/ and fail on any error (each notebook asserts its own claims).

Marked ``notebooks`` so it can be deselected (``pytest -m "not notebooks"``); it runs by default. A second
test checks that each saved ``.ipynb`` holds the same cells as its source in ``notebooks/src/``, so a
source edited without rebuilding (``python notebooks/build_notebooks.py``) is caught.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
TIMEOUT_S = 300


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


SOURCES = sorted((NOTEBOOKS / "src").glob("[0-9][0-9]_*.py"))


def test_every_source_has_a_saved_notebook():
    assert SOURCES, f"no notebook sources in {NOTEBOOKS / 'src'}"
    missing = [s.stem for s in SOURCES if not (NOTEBOOKS / f"{s.stem}.ipynb").exists()]
    assert not missing, f"sources without a built notebook (run notebooks/build_notebooks.py): {missing}"


@pytest.mark.notebooks
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_saved_notebook_matches_source(source):
    saved_path = NOTEBOOKS / f"{source.stem}.ipynb"
    if not saved_path.exists():
        pytest.fail(f"{saved_path.name} is missing: run python notebooks/build_notebooks.py {source.stem[:2]}")
    saved = nbformat.read(saved_path, as_version=4)
    built = _builder().build(source)
    assert [(c.cell_type, c.source) for c in saved.cells] == [(c.cell_type, c.source) for c in built.cells], \
        f"{saved_path.name} is out of date with src/{source.name}: rebuild it"


@pytest.mark.notebooks
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_notebook_executes(source):
    """Run the saved notebook in a fresh kernel (cwd notebooks/); any failing cell (an assert) fails."""
    saved_path = NOTEBOOKS / f"{source.stem}.ipynb"
    nb = nbformat.read(saved_path, as_version=4) if saved_path.exists() else _builder().build(source)
    _builder().execute(nb, timeout=TIMEOUT_S)     # raises CellExecutionError naming the cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors, f"{source.stem}: {errors[0].get('ename')}: {errors[0].get('evalue')}"
