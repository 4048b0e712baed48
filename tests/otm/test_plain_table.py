"""Piped report tables are drawn without rich (``otm.table_fit.draw_plain``): the very text a
soft-wrapping rich console prints for the same layout, checked here against rich itself."""

from __future__ import annotations

import io
import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from otm import render
from otm.table_fit import layout_width, make_table
from services.queries.reports.build import KINDS, ReportOptions, build_report
from tests.services.queries.reports_support import claude, codex, gemini, ms, seed

NOW = "2026-05-02T12:30:00+00:00"
"""Inside the last Claude block: it is active (burn rate, projection, token limit)."""


def history(db: sqlite3.Connection) -> sqlite3.Connection:
    """Three CLIs, two days, a gap, an unpriced model, a model name wider than its header."""
    return seed(
        db,
        claude("a", "2026-05-01T10:15:00+00:00", output=1200, cache_read=30_000),
        claude("b", "2026-05-01T10:45:00+00:00", model="claude-opus-4-6", output=50),
        claude("c", "2026-05-02T11:05:00+00:00", model="mystery-model", output=7),
        claude("d", "2026-05-02T12:10:00+00:00", output=999_999),
        codex("e", "2026-05-01T22:00:00+00:00"),
        gemini("f", "2026-05-02T03:00:00+00:00"),
    )


def rich_text(kind: str, report: dict[str, Any], provider: str) -> str:
    """What the table, and the lines under it, printed through rich with no terminal."""
    zone = ZoneInfo("UTC")
    title = f"{render.PROVIDER_TITLES[provider]} usage {render.KIND_TITLES[kind]}"
    step = render.STEPS[0]
    columns = (
        render.block_layout(report, provider, zone, step)
        if kind == "blocks"
        else render.row_layout(kind, report, provider, step)
    )
    out = io.StringIO()
    console = Console(file=out, soft_wrap=True, emoji=False, width=layout_width(columns))
    styles = [("dim" if b["isGap"] else None) for b in report["blocks"]] if kind == "blocks" else ()
    console.print(make_table(title, columns, styles))
    active = [b for b in report["blocks"] if b["isActive"]] if kind == "blocks" else []
    lines = [line for b in active for line in render._active_lines(b, zone)]
    render._print_lines(console, [*lines, *render.unpriced_lines(report)])
    return out.getvalue()


def plain_text(
    kind: str, report: dict[str, Any], provider: str, capsys: pytest.CaptureFixture[str]
) -> str:
    """What ``render_report`` prints to a pipe."""
    render.render_report(kind, report, provider, "UTC")
    return capsys.readouterr().out


@pytest.mark.parametrize("provider", ["claude", "all"])
@pytest.mark.parametrize("kind", KINDS)
def test_piped_table_is_what_rich_prints(
    db: sqlite3.Connection,
    kind: str,
    provider: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every kind and provider shape, piped, prints exactly rich's text for the same table."""
    monkeypatch.delenv("COLUMNS", raising=False)
    options = ReportOptions(provider=provider, now_ms=ms(NOW), token_limit="max")
    report = build_report(history(db), kind, options)
    assert rich_text(kind, report, provider) == plain_text(kind, report, provider, capsys)


def test_piped_table_does_not_load_rich(
    db: sqlite3.Connection, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Drawing a piped table imports nothing of rich (a full import of it is ~100 ms)."""
    import sys

    monkeypatch.delenv("COLUMNS", raising=False)
    report = build_report(history(db), "daily", ReportOptions(provider="all"))
    for name in [m for m in sys.modules if m == "rich" or m.startswith("rich.")]:
        monkeypatch.delitem(sys.modules, name)
    render.render_report("daily", report, "all", "UTC")
    assert [] == [m for m in sys.modules if m == "rich" or m.startswith("rich.")]


def test_the_history_has_an_active_block_and_an_unpriced_model(db: sqlite3.Connection) -> None:
    """The comparison above covers the lines under a table: an active block and an unpriced
    model are both in its history."""
    options = ReportOptions(provider="claude", now_ms=ms(NOW), token_limit="max")
    report = build_report(history(db), "blocks", options)
    unpriced = [u["model"] for u in report["unpriced"]]
    active = any(b["isActive"] for b in report["blocks"])
    assert (True, True) == (active, "mystery-model" in unpriced)
