"""The width logic of the report tables (``otm.table_fit``): short forms, compact counts, the
layout chosen for a width, and the width arithmetic checked against what rich draws."""

from __future__ import annotations

import pytest
from rich.console import Console

from otm import table_fit
from otm.table_fit import (
    Column,
    choose,
    compact_count,
    layout_width,
    make_table,
    model_list,
    short_ids,
    short_model,
    short_project,
    short_projects,
)


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0"),
        (9_999, "9,999"),
        (12_345, "12.3k"),
        (99_949, "99.9k"),
        (123_456, "123k"),
        (999_499, "999k"),
        (999_999, "1.00M"),
        (1_758_033, "1.76M"),
        (17_580_330, "17.6M"),
        (2_500_000_000, "2.50B"),
    ],
)
def test_compact_count(count: int, shown: str) -> None:
    """A count from 10,000 up is three significant digits and a unit, at most 5 characters."""
    assert shown == compact_count(count)


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("claude-sonnet-4-5-20250929", "sonnet-4-5"),
        ("claude-opus-4-6", "opus-4-6"),
        ("claude-opus-4-6-fast", "opus-4-6-fast"),
        ("gemini-3-pro-preview", "gemini-3-pro"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("gpt-5.3-codex", "gpt-5.3-codex"),
        ("claude-", "claude-"),
    ],
)
def test_short_model(name: str, short: str) -> None:
    """A model's short name drops the vendor prefix, a release date and a preview tag."""
    assert short == short_model(name)


def test_model_list_lists_each_short_name_once() -> None:
    """Two releases of one model read as one short name, one model a line."""
    models = ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5", "gpt-5"]
    assert "sonnet-4-5\ngpt-5" == model_list(models, short=True)


def test_short_ids_take_the_random_end_of_a_uuid() -> None:
    """Claude's UUID and Codex's rollout path are shown by their last 8 hex digits."""
    ids = [
        "60f3967c-3457-4ed0-80b5-b7ddc0631893",
        "2026/04/30/rollout-2026-04-30T22-44-59-019de091-1a38-77dd-8f6c-96bf4889e6b1",
    ]
    assert ["c0631893", "4889e6b1"] == short_ids(ids)


def test_short_ids_lengthen_until_distinct() -> None:
    """Two ids with the same last 8 digits are shown by 12."""
    ids = ["aaaa1111-0000-0000-0000-111122223333", "bbbb2222-0000-0000-0000-999922223333"]
    assert ["111122223333", "999922223333"] == short_ids(ids)


def test_short_ids_keep_an_id_without_hex_whole() -> None:
    """An id that is not hexadecimal is not shortened."""
    assert ["my-session"] == short_ids(["my-session"])


@pytest.mark.parametrize(
    ("path", "short"),
    [
        ("/home/dev/work/acme/backend", "backend"),
        ("-home-dev-api-server", "api-server"),
        ("-Users-ann-web", "web"),
        ("a350dd9c36ee0dad7579e3a44163911fd4f1bc5dc86b11394d2756879fd7c0c9", "a350dd9c"),
        ("webapp", "webapp"),
    ],
)
def test_short_project(path: str, short: str) -> None:
    """A project reads as its own folder's name."""
    assert short == short_project(path)


def test_short_projects_keep_paths_that_would_read_the_same_whole() -> None:
    """Two projects that would both read ``webapp`` stay whole; the others are shortened."""
    paths = ["/home/dev/webapp", "-home-dev-webapp", "/home/dev/infra"]
    assert ["/home/dev/webapp", "-home-dev-webapp", "infra"] == short_projects(paths)


def _drawn(columns: list[Column], width: int = 300) -> list[str]:
    console = Console(width=width, force_terminal=False)
    with console.capture() as captured:
        console.print(make_table("", columns))
    return captured.get().splitlines()


COLUMNS = [
    Column("Date", ["2026-05-01", "2026-05-02"], "Total"),
    Column("Models", ["opus-4-6\ngpt-5", "gemini-2.5-flash"]),
    Column("Cache read", ["1,234,567", "12"], "1,234,579", right=True),
    Column("Cost", ["$1,234.56", "$0.01"], "$1,234.57", right=True),
]


def test_layout_width_is_what_rich_draws() -> None:
    """`layout_width` is the width of every line rich draws for the table."""
    assert {layout_width(COLUMNS)} == {len(line) for line in _drawn(COLUMNS)}


def test_table_at_its_width_cuts_nothing() -> None:
    """Drawn at exactly its width, every cell appears whole."""
    text = "\n".join(_drawn(COLUMNS, layout_width(COLUMNS)))
    wanted = ["2026-05-01", "gemini-2.5-flash", "1,234,567", "$1,234.56", "$1,234.57"]
    assert [] == [cell for cell in wanted if cell not in text]


def test_a_header_wider_than_its_column_wraps_at_its_spaces() -> None:
    """``Cache read`` over 6-character numbers reads ``Cache`` then ``read``, both whole."""
    columns = [Column("Cache read", ["12,345"], right=True)]
    assert [" Cache", "  read"] == _drawn(columns)[:2]


def test_choose_takes_the_first_layout_that_fits() -> None:
    """The richest layout that fits the width is chosen."""
    wide, narrow = COLUMNS, COLUMNS[:1]
    assert (wide, narrow, narrow) == (
        choose([wide, narrow], layout_width(wide)),
        choose([wide, narrow], layout_width(wide) - 1),
        choose([wide, narrow], 3),
    )


def test_choose_without_a_width_takes_the_richest() -> None:
    """Output that is not a terminal gets the first (richest) layout."""
    assert COLUMNS == choose([COLUMNS, COLUMNS[:1]], None)


def test_terminal_width_honours_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    """``COLUMNS`` sets the width, as it does for rich."""
    monkeypatch.setenv("COLUMNS", "80")
    assert 80 == table_fit.terminal_width()


def test_terminal_width_of_a_pipe_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard output that is not a terminal, without ``COLUMNS``, has no width to fit."""
    monkeypatch.delenv("COLUMNS", raising=False)
    assert table_fit.terminal_width() is None


def test_rows_line_up_below_a_cell_of_several_lines() -> None:
    """A row whose models take two lines pushes the next row down by two lines in every column."""
    assert ["2026-05-01  opus-4-6", "            gpt-5", "2026-05-02  gemini-2.5-flash"] == [
        line.rstrip() for line in _drawn(COLUMNS[:2])[2:5]
    ]


def test_styles_reach_their_cells() -> None:
    """A cell's style and its row's style are both drawn (here: bold green, then dim)."""
    console = Console(width=80, force_terminal=True, color_system="standard")
    columns = [Column("Status", ["ACTIVE", "gap"], styles=["bold green", None])]
    with console.capture() as captured:
        console.print(make_table("", columns, [None, "dim"]))
    text = captured.get()
    assert (True, True) == ("\x1b[1;32mACTIVE" in text, "\x1b[2mgap" in text)
