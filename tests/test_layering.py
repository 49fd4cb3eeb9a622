"""The package layering of ``curate``: stages import only the stages below them, never each
other's upward neighbours, never ``curate.cli`` or ``curate.pipelines``, and no module imports
itself back through others. Read from the source with an AST walk, so nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "curate"

# Lower first: a package may import itself and any package listed before it.
LAYERS = [
    "core",
    "report",
    "calculators",
    "systems",
    "store",
    "samplers",
    "labelling",
    "metrics",
    "models",
    "potentials",
    "curation",
    "compare",
]


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every ``curate`` module a file imports, at any depth of the file (lazy imports count)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "curate" or name.startswith("curate.")}


MODULES = {module_name(path): path for path in ROOT.rglob("*.py")}


def resolved(target: str) -> str:
    """The module an import names: ``curate.x.y.Name`` is module ``curate.x.y``."""
    while target not in MODULES and "." in target:
        target = target.rsplit(".", 1)[0]
    return target


GRAPH = {
    name: {resolved(t) for t in imports_of(path)} - {name, "curate"}
    for name, path in MODULES.items()
}


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_has_a_layer():
    packages = {package_of(m) for m in MODULES} - {""}
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_at_most_three_modules_directly_in_curate():
    assert len([p for p in ROOT.glob("*.py")]) <= 3


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down_the_layers(module):
    here = package_of(module)
    wrong = []
    for target in sorted({resolved(t) for t in imports_of(MODULES[module])}):
        if target.startswith(("curate.cli", "curate.pipelines")):
            wrong.append(f"{target} (the library never imports the CLI or pipelines)")
            continue
        there = package_of(resolved(target))
        if here and there and there != here and LAYERS.index(there) > LAYERS.index(here):
            wrong.append(f"{target} ({there} is above {here})")
    assert not wrong, f"{module} imports " + "; ".join(wrong)


def test_no_import_cycles():
    """A depth-first search over module imports finds no way back to where it started."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                raise AssertionError("import cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_every_package_is_installed():
    """pyproject.toml lists every package of the library, so a wheel holds them all."""
    import tomllib

    config = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    present = {module_name(path) for path in ROOT.rglob("__init__.py")}
    assert present <= listed, sorted(present - listed)
