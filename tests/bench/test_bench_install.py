"""The regular install the reports bench times: rebuilt exactly when the package changes."""

from __future__ import annotations

from pathlib import Path

from bench.install import source_digest


def tree(root: Path) -> Path:
    """A tiny project: pyproject, README and one module in each package folder."""
    (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    (root / "README.md").write_text("x\n")
    for package in ("bus", "services", "otm"):
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    return root


def test_the_digest_is_the_same_for_the_same_files(tmp_path: Path) -> None:
    """Two looks at an unchanged tree give one digest: the install is reused."""
    root = tree(tmp_path)
    expected = source_digest(root)
    assert expected == source_digest(root)


def test_a_changed_module_changes_the_digest(tmp_path: Path) -> None:
    """Editing a module means a new install."""
    root = tree(tmp_path)
    before = source_digest(root)
    (root / "services" / "__init__.py").write_text("X = 1\n")
    expected = False
    assert expected == (before == source_digest(root))


def test_bytecode_and_other_folders_do_not_change_the_digest(tmp_path: Path) -> None:
    """``__pycache__`` and folders outside the package (tests, bench) are not part of it."""
    root = tree(tmp_path)
    before = source_digest(root)
    (root / "otm" / "__pycache__").mkdir()
    (root / "otm" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (root / "tests").mkdir()
    (root / "tests" / "test_x.py").write_text("")
    expected = before
    assert expected == source_digest(root)
