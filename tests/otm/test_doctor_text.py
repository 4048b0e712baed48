"""``otm doctor`` as text in an empty home: each finding once, nothing missing called found."""

from __future__ import annotations

import pytest

from otm.health import show_doctor
from services.runtime.installation import load_runtime

# Every provider's source is built together: without a working Gemini module none can run.
pytest.importorskip(
    "services.collector.gemini.live", reason="the Gemini live source is not importable yet"
)


def doctor_lines(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The lines ``otm doctor`` prints in this test's empty hermetic home (wide enough that
    rich wraps no path)."""
    monkeypatch.setenv("COLUMNS", "400")
    show_doctor(load_runtime(), "all", live=False, as_json=False)
    return capsys.readouterr().out.splitlines()


def test_doctor_prints_the_sign_in_problem_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no sign-in anywhere, each provider's reason is printed as "why" only, once."""
    lines = doctor_lines(capsys, monkeypatch)
    whys = [line.split(maxsplit=1)[1] for line in lines if line.lstrip().startswith("why ")]
    problems = [line for line in lines if line.lstrip().startswith("problem ")]
    assert (3, 3, []) == (len(whys), len(set(whys)), problems)


def test_doctor_says_missing_files_were_looked_at(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing sign-in file is listed as looked at, with no line calling it found or auth."""
    lines = doctor_lines(capsys, monkeypatch)
    claude = next(line for line in lines if line.rstrip().endswith(".credentials.json: missing"))
    auth_lines = [line for line in lines if line.lstrip().startswith(("auth ", "found "))]
    assert ("looked", []) == (claude.split()[0], auth_lines)
