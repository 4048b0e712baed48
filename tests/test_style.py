"""The test suite's own style: every test says what it checks, and asserts put the expected
value first (``assert 3 == event.seq``), scanned with ast over every test module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def _literal(node: ast.expr) -> bool:
    """A constant, or a tuple, list, set or dict made only of constants."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.UnaryOp):
        return _literal(node.operand)
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return all(_literal(e) for e in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _literal(k) for k in node.keys) and all(
            _literal(v) for v in node.values
        )
    return False


def undocumented_tests(source: str) -> list[str]:
    """The test functions of ``source`` without a docstring."""
    return [
        f"line {node.lineno}: {node.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.name.startswith("test_")
        and not ast.get_docstring(node)
    ]


def expected_last(source: str) -> list[str]:
    """Asserts of ``source`` comparing a computed value with a literal written after it."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)):
            continue
        left, ops, rights = node.test.left, node.test.ops, node.test.comparators
        equality = len(ops) == 1 and isinstance(ops[0], ast.Eq | ast.NotEq)
        if equality and _literal(rights[0]) and not _literal(left):
            found.append(f"line {node.lineno}: {ast.unparse(node.test)}")
    return found


def suite_modules() -> list[Path]:
    """Every test module under tests/."""
    return sorted(TESTS.rglob("test_*.py"))


@pytest.mark.parametrize(
    ("source", "problems"),
    [
        ("def test_a():\n    assert 1 == f()\n", ([], ["line 1: test_a"])),
        ('def test_b():\n    """Says what."""\n    assert f() == 3\n', (["line 3: f() == 3"], [])),
        ('def test_c():\n    """Says what."""\n    assert f() != (1, "x")\n', (["line 3"], [])),
        ('def test_d():\n    """Says what."""\n    assert 3 == f()\n', ([], [])),
        ('def test_e():\n    """Says what."""\n    assert f() == g()\n', ([], [])),
        ("def helper():\n    assert f() == {'a': 1}\n", (["line 2"], [])),
    ],
)
def test_the_checks_find_what_they_look_for(source: str, problems: tuple[list[str], ...]) -> None:
    """Each check reports a bad example and passes a good one."""
    found = (expected_last(source), undocumented_tests(source))
    assert [len(p) for p in problems] == [len(f) for f in found]
    assert all(
        want in got
        for wants, gots in zip(problems, found, strict=True)
        for want, got in zip(wants, gots, strict=True)
    )


def test_every_test_has_a_docstring() -> None:
    """Every test function under tests/ has a docstring saying what it checks."""
    found = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in suite_modules()
        for problem in undocumented_tests(path.read_text())
    ]
    assert [] == found


def test_asserts_put_the_expected_value_first() -> None:
    """No assert under tests/ writes a literal expected value after the computed one."""
    found = [
        f"{path.relative_to(ROOT)} {problem}"
        for path in suite_modules()
        for problem in expected_last(path.read_text())
    ]
    assert [] == found
