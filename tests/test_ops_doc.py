"""docs/ops.md lists what exists: every op named in its tables exists in the forms the table says (a
function ``tinycnn.X`` where the *fn* column says so, a method ``Tensor.X`` where *method* does), and every
in-place method it names is there."""
import re
from pathlib import Path

import pytest

import tinycnn
from tinycnn import Tensor

DOC = Path(__file__).resolve().parent.parent / "docs" / "ops.md"
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _names(cell: str) -> list[str]:
    """Backticked identifiers outside parentheses (inside them are arguments and notes)."""
    depth, outside = 0, []
    for ch in re.sub(r"`[^`]*`", lambda m: m.group(0).replace("(", "\0").replace(")", "\1"), cell):
        depth += ch == "("
        if depth == 0:
            outside.append(ch)
        depth -= ch == ")" and depth > 0
    text = "".join(outside).replace("\0", "(").replace("\1", ")")
    return [n for n in re.findall(r"`([^`]*)`", text) if IDENT.match(n)]


def _rows(section: str):
    text = DOC.read_text().split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    for line in text.splitlines():
        if line.startswith("| `"):
            yield [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


TABLES = ["Elementwise math", "Reductions and scans", "Shape and view", "Indexing"]
ROWS = [(t, row) for t in TABLES for row in _rows(t)]


@pytest.mark.parametrize("section,row", ROWS, ids=[f"{t}:{r[0][:40]}" for t, r in ROWS])
def test_every_listed_op_exists_in_the_listed_forms(section, row):
    names, fn, method = _names(row[0]), row[1], row[2]
    assert names, f"no op names in {row[0]!r}"
    functions = names if fn.startswith("yes") else _names(fn)
    methods = names if method.startswith("yes") else _names(method)
    missing = [f"tinycnn.{n}" for n in functions if not callable(getattr(tinycnn, n, None))]
    missing += [f"Tensor.{n}" for n in methods if not hasattr(Tensor, n)]
    assert not missing, f"docs/ops.md lists {missing} but they do not exist"


def test_creation_table_names_exist():
    for row in _rows("Creation, dtypes and devices"):
        for name in _names(row[0]):
            assert hasattr(tinycnn, name) or hasattr(Tensor, name), name


def test_every_in_place_method_named_exists():
    text = DOC.read_text().split("## In-place ops and storage\n", 1)[1]
    names = [n for n in re.findall(r"`([a-z_0-9]+_)`", text)]
    assert len(names) > 20
    missing = [n for n in names if not hasattr(Tensor, n)]
    assert not missing, missing
