"""Imports go one way, ``bus`` <- ``services`` <- ``otm``, and nothing imports in a circle.

Every import statement of every module is read with ``ast`` (imports inside functions too, since
those run as well), so a wrong-way edge fails here before anyone has to find it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("bus", "services", "otm")
"""Lowest first: a module may import its own layer and the ones before it."""


def module_name(path: Path) -> str:
    """``services/store/log.py`` -> ``services.store.log``; a package is its ``__init__``."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the three layers, by dotted name."""
    return {module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The project modules that module ``name`` imports (``from x import y`` counts ``x.y``
    when that is a module, else ``x``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        yield from (t for t in targets if t.split(".")[0] in LAYERS)


def graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports."""
    known = modules()
    return {name: set(imported(name, path, known)) for name, path in known.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan), i.e. import circles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_no_import_goes_the_wrong_way() -> None:
    """bus imports neither services nor otm; services never imports otm."""
    wrong = [
        f"{source} -> {target}"
        for source, targets in graph().items()
        for target in targets
        if LAYERS.index(target.split(".")[0]) > LAYERS.index(source.split(".")[0])
    ]
    assert [] == sorted(wrong)


def test_no_module_imports_another_in_a_circle() -> None:
    """The module import graph has no cycle."""
    edges = graph()
    known = set(edges)
    assert [] == cycles({m: {t for t in ts if t in known} for m, ts in edges.items()})


def test_no_two_folders_of_services_import_each_other() -> None:
    """Folders under services/ (processes, runtime, queries) depend on each other one way."""
    folders: dict[str, set[str]] = {}
    for source, targets in graph().items():
        if not source.startswith("services."):
            continue
        mine = source.split(".")[1]
        theirs = {t.split(".")[1] for t in targets if t.startswith("services.")}
        folders.setdefault(mine, set()).update(theirs - {mine})
    assert [] == cycles(folders)


def test_the_shared_runtime_imports_no_process() -> None:
    """services.runtime is below every process: it imports only bus and itself."""
    outside = sorted(
        f"{source} -> {target}"
        for source, targets in graph().items()
        if source.startswith("services.runtime")
        for target in targets
        if target.startswith("services.") and not target.startswith("services.runtime")
    )
    assert [] == outside


def test_nothing_imports_the_cli() -> None:
    """The otm command is a leaf: no module of bus/, services/ or bench/ imports it."""
    known = modules()
    importers = sorted(
        str(path.relative_to(ROOT))
        for folder in ("bus", "services", "bench")
        for path in (ROOT / folder).rglob("*.py")
        # bench/.cache holds installs of this code that bench.install made: not the source.
        if ".cache" not in path.relative_to(ROOT).parts
        and any(t.split(".")[0] == "otm" for t in imported(module_name(path), path, known))
    )
    assert [] == importers


@pytest.mark.parametrize(
    ("edges", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
)
def test_cycle_finder_finds_circles(edges: dict[str, set[str]], expected: list[list[str]]) -> None:
    """The checker itself: a two-module circle is found, a chain is not."""
    assert expected == cycles(edges)
