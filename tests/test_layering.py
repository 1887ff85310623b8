"""The package's layers only point down: backend -> autograd core -> kernels -> ops -> nn / optim / data ->
models -> tools -> training / CLI. Every ``import`` of a tinycnn module (at module level or inside a function)
is read from the source, each module is given its layer, and an import of a higher layer fails the test, with
the file and line. The one deliberate exception is listed with its reason."""
from __future__ import annotations

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "tinycnn")

# (module prefix, layer); the longest matching prefix decides.
LAYERS = {
    "tinycnn.backend": 0, "tinycnn.config": 0, "tinycnn.errors": 0, "tinycnn.hooks": 0, "tinycnn.cuda": 0,
    "tinycnn.shared_memory": 0,
    "tinycnn.autograd": 1, "tinycnn.backward_pass": 1, "tinycnn.grad_mode": 1,
    "tinycnn.kernels": 2, "tinycnn.accel": 2,
    "tinycnn.ops": 3, "tinycnn.creation": 3,
    "tinycnn.nn": 4, "tinycnn.optim": 4, "tinycnn.utils.data": 4, "tinycnn.vision.transforms": 4,
    "tinycnn.vision.datasets": 4, "tinycnn.multiprocessing": 4, "tinycnn.distributed": 4,
    # saving and loading tensors and state dicts (torch.save / torch.load's place), beside nn
    "tinycnn.utils.serialization": 4, "tinycnn.utils.torch_loader": 4, "tinycnn.utils.atomic": 4,
    # fuse(model) builds nn layers: it lives with the speed layer but sits at nn's level
    "tinycnn.accel.fusion": 4,
    "tinycnn.models": 5, "tinycnn.vision": 5,
    "tinycnn.utils": 6,
    "tinycnn": 7,
}
NAMES = ["backend", "autograd core", "kernels", "ops", "nn / optim / data", "models", "tools", "training / CLI"]

# An upward import allowed on purpose: (importer, imported) -> why.
ALLOWED = {
    ("tinycnn.accel", "tinycnn.accel.fusion"):
        "tinycnn.accel.fuse is a public name; __getattr__ loads fusion.py on first use, never at import",
}


def _layer(module: str) -> int:
    best = max((p for p in LAYERS if module == p or module.startswith(p + ".")), key=len)
    return LAYERS[best]


def _module_name(path: str) -> str:
    name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, ".")
    return name[: -len(".__init__")] if name.endswith(".__init__") else name


def _is_module(name: str) -> bool:
    base = os.path.join(ROOT, *name.split("."))
    return os.path.exists(base + ".py") or os.path.exists(os.path.join(base, "__init__.py"))


def _imports(module: str, source: str, is_package: bool = False):
    """(imported tinycnn module, line) for every import in ``source``, the text of ``module``;
    ``from pkg import sub`` names ``sub`` where it is a module, else ``pkg``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tinycnn":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                target = ".".join(parts + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "tinycnn":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                yield (sub if _is_module(sub) else target), node.lineno


def _sources():
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def test_every_module_has_a_layer_and_the_table_names_real_modules():
    assert all(_is_module(prefix) for prefix in LAYERS), [p for p in LAYERS if not _is_module(p)]
    assert len(list(_sources())) > 100


def test_imports_point_down():
    upward = []
    for path in _sources():
        importer = _module_name(path)
        with open(path, encoding="utf-8") as f:
            source = f.read()
        for imported, line in _imports(importer, source, path.endswith("__init__.py")):
            if _layer(imported) > _layer(importer) and (importer, imported) not in ALLOWED:
                upward.append(f"{os.path.relpath(path, ROOT)}:{line}: {importer} ({NAMES[_layer(importer)]}) "
                              f"imports {imported} ({NAMES[_layer(imported)]})")
    assert not upward, "imports that point up:\n" + "\n".join(upward)


@pytest.mark.parametrize("source, expected", [
    ("from ..nn.module import Module\n", [("tinycnn.nn.module", 1)]),
    ("from .. import backend\n", [("tinycnn.backend", 1)]),
    ("from . import conv\n", [("tinycnn.ops.conv", 1)]),
    ("def f():\n    from ..utils import summary\n", [("tinycnn.utils.summary", 2)]),
    ("import tinycnn\nimport numpy\n", [("tinycnn", 1)]),
])
def test_the_reader_resolves_relative_and_function_level_imports(source, expected):
    """The scan itself, on a module placed in tinycnn/ops (a reader that missed relative or function-level
    imports would pass any tree)."""
    assert list(_imports("tinycnn.ops.probe", source)) == expected


def test_an_upward_import_is_caught():
    """An ops module importing nn would be reported: the layer table orders them."""
    assert _layer("tinycnn.nn.layers.conv") > _layer("tinycnn.ops.conv") > _layer("tinycnn.accel.winograd")
    assert _layer("tinycnn.accel.fusion") == _layer("tinycnn.nn") and _layer("tinycnn.cli") == len(NAMES) - 1
