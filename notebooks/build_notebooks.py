"""Build the teaching notebooks from their sources, execute them, and save them with their outputs.

Each notebook's source is a plain Python file in ``notebooks/src/`` written in the "percent" format that
editors (VS Code, Spyder, jupytext) understand, so a source is also a script that runs top to bottom:

    # %% [markdown]
    # # A title
    # Text with $\\LaTeX$; every line starts with "# ".

    # %%
    x = 1 + 1          # a code cell runs to the next "# %%" line

Usage (from the repository root or from ``notebooks/``)::

    python notebooks/build_notebooks.py                 # build and execute every notebook
    python notebooks/build_notebooks.py 02 07           # only those whose name starts with 02 or 07
    python notebooks/build_notebooks.py --no-execute    # write the notebooks without outputs

Execution uses nbclient with the ``python3`` kernel, the working directory ``notebooks/``, and fails on the
first error (each notebook asserts its numerical claims, so a wrong gradient stops the build).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
SRC = HERE / "src"
KERNEL = "python3"
TIMEOUT_S = 300          # per cell; the whole notebook is meant to take well under a minute


def parse_percent(text: str) -> list[tuple[str, str]]:
    """Split a percent-format source into ``(kind, source)`` cells, kind "markdown" or "code"."""
    cells: list[tuple[str, list[str]]] = []
    kind, lines = None, []
    for line in text.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append((kind, lines))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            continue
        if kind is None:      # text before the first marker (a module docstring, say) is not a cell
            continue
        if kind == "markdown":
            if line.startswith("# "):
                line = line[2:]
            elif line.strip() == "#":
                line = ""
        lines.append(line)
    if kind is not None:
        cells.append((kind, lines))
    out = []
    for kind, lines in cells:
        while lines and not lines[-1].strip():     # blank lines between cells belong to no cell
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            out.append((kind, "\n".join(lines)))
    return out


def build(source: Path) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, text in parse_percent(source.read_text(encoding="utf-8")):
        nb.cells.append(nbformat.v4.new_markdown_cell(text) if kind == "markdown"
                        else nbformat.v4.new_code_cell(text))
    return nb


def execute(nb: nbformat.NotebookNode, timeout: int = TIMEOUT_S) -> nbformat.NotebookNode:
    """Run every cell in a fresh kernel whose working directory is ``notebooks/``; raises on an error."""
    client = NotebookClient(nb, timeout=timeout, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(HERE)}})
    client.execute()
    return nb


def sources(prefixes: list[str] | None = None) -> list[Path]:
    files = sorted(SRC.glob("[0-9][0-9]_*.py"))
    if prefixes:
        files = [f for f in files if any(f.stem.startswith(p) for p in prefixes)]
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help="name prefixes of the notebooks to build (default: all)")
    parser.add_argument("--no-execute", action="store_true", help="write the notebooks without running them")
    args = parser.parse_args(argv)
    files = sources(args.only)
    if not files:
        print(f"no notebook source matches {args.only} in {SRC}", file=sys.stderr)
        return 1
    total = 0.0
    for src in files:
        nb = build(src)
        start = time.perf_counter()
        if not args.no_execute:
            execute(nb)
        seconds = time.perf_counter() - start
        total += seconds
        target = HERE / f"{src.stem}.ipynb"
        nbformat.write(nb, target)
        print(f"{target.name:40s} {seconds:6.1f} s", flush=True)
    print(f"{'total':40s} {total:6.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
