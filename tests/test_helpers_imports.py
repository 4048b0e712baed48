"""Test helper modules are imported one way only: by their full name under ``tests.``.

A helper is any module under tests/ that is neither a test module nor a conftest. Importing one
by a bare name (``import helpers``, ``from api_support import ...``) only works while pytest
happens to put its folder on ``sys.path``, and then it is a second copy of the module; importing
a conftest, a relative import or changing ``sys.path`` are the same mistake by other means.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def module_name(path: Path) -> str:
    """``tests/services/api/api_support.py`` -> ``tests.services.api.api_support``."""
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def is_helper(path: Path) -> bool:
    """Whether a file under tests/ is a helper module (not a test module, not a conftest)."""
    return not path.name.startswith("test_") and path.name != "conftest.py"


def helper_modules() -> list[str]:
    """The full names of every helper module under tests/."""
    return sorted(module_name(p) for p in TESTS.rglob("*.py") if is_helper(p))


def conftest_modules() -> list[str]:
    """The full names of every conftest under tests/."""
    return sorted(module_name(p) for p in TESTS.rglob("conftest.py"))


def _imported_names(node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    """Each dotted name an import statement may resolve to a module."""
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    if node.module is None:
        return
    yield node.module
    yield from (f"{node.module}.{alias.name}" for alias in node.names)


def import_problems(source: str, helpers: list[str], conftests: list[str]) -> list[str]:
    """What is wrong with the imports of one module's ``source``, one line per problem."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            problems.append(f"line {node.lineno}: relative import")
            continue
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported_names(node):
                bare = [h for h in helpers if h.endswith(f".{name}")]
                if bare:
                    problems.append(f"line {node.lineno}: `{name}` is a bare name for {bare[0]}")
                if name in conftests or any(c.endswith(f".{name}") for c in conftests):
                    problems.append(f"line {node.lineno}: `{name}` imports a conftest")
        if _changes_sys_path(node):
            problems.append(f"line {node.lineno}: changes sys.path")
    return problems


def _is_sys_path(node: ast.AST) -> bool:
    """``sys.path``, or an item or slice of it."""
    if isinstance(node, ast.Subscript):
        node = node.value
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "path"
        and isinstance(node.value, ast.Name)
        and node.value.id == "sys"
    )


def _changes_sys_path(node: ast.AST) -> bool:
    """``sys.path.insert(...)`` and the like, assigning to it, ``syspath_prepend``,
    ``site.addsitedir``."""
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(_is_sys_path(t) for t in targets)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        method, owner = node.func.attr, node.func.value
        if method in ("insert", "append", "extend", "remove", "pop", "clear"):
            return _is_sys_path(owner)
        return method in ("syspath_prepend", "addsitedir")
    return False


def test_helper_modules_are_found() -> None:
    """The scan knows the project's helper modules (it would pass vacuously otherwise)."""
    expected = {
        "tests.helpers",
        "tests.fake_endpoint",
        "tests.services.api.api_support",
        "tests.services.queries.reports_support",
        "tests.e2e.stack",
    }
    assert set() == expected - set(helper_modules())


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import helpers", "`helpers` is a bare name for tests.helpers"),
        ("from helpers import batch", "`helpers` is a bare name for tests.helpers"),
        ("from fake_endpoint import Reply", "`fake_endpoint` is a bare name"),
        ("import api_support as s", "`api_support` is a bare name"),
        ("from api import api_support", "`api.api_support` is a bare name"),
        ("from queries.reports_support import seed", "`queries.reports_support` is a bare name"),
        ("from stack import Stack", "`stack` is a bare name for tests.e2e.stack"),
        ("from e2e.stack import Stack", "`e2e.stack` is a bare name"),
        ("from .stack import Stack", "relative import"),
        ("from tests.e2e.conftest import corpus", "imports a conftest"),
        ("import conftest", "imports a conftest"),
        ("import sys\nsys.path.insert(0, 'tests')", "changes sys.path"),
        ("import sys\nsys.path[:0] = ['tests']", "changes sys.path"),
        ("import sys\nsys.path += ['tests/e2e']", "changes sys.path"),
        ("def f(monkeypatch):\n    monkeypatch.syspath_prepend('tests')", "changes sys.path"),
    ],
)
def test_a_wrong_import_is_reported(source: str, problem: str) -> None:
    """Bare names, relative imports, conftest imports and sys.path changes are each caught."""
    found = import_problems(source, helper_modules(), conftest_modules())
    assert 1 == len(found) and problem in found[0], found


@pytest.mark.parametrize(
    "source",
    [
        "from tests.helpers import batch",
        "import tests.fake_endpoint",
        "from tests.services.api import api_support",
        "from tests.services.queries.reports_support import seed",
        "from tests.e2e.stack import Stack",
        "from services.demo.corpus.claude import generate",
        "from bus.client import Subscriber",
        "import sys\nfolders = list(sys.path)",
    ],
)
def test_full_names_are_accepted(source: str) -> None:
    """Imports by full name, of the project's own packages, and reading sys.path are fine."""
    assert [] == import_problems(source, helper_modules(), conftest_modules())


def test_every_test_file_imports_helpers_by_full_name() -> None:
    """No file under tests/ imports a helper by a bare name, imports a conftest or uses sys.path."""
    helpers, conftests = helper_modules(), conftest_modules()
    problems = []
    for path in sorted(TESTS.rglob("*.py")):
        rel = path.relative_to(ROOT)
        problems += [f"{rel} {p}" for p in import_problems(path.read_text(), helpers, conftests)]
    assert [] == problems


def test_no_tests_folder_is_on_sys_path() -> None:
    """pytest imports test modules without putting their folders on sys.path (importlib mode)."""
    on_path = [p for p in sys.path if p and Path(p).resolve().is_relative_to(TESTS)]
    assert [] == on_path
