"""Fitting a report table to its terminal without cutting what must stay whole.

A table is offered as a list of layouts, richest first (full ids and model names, every column),
each leaner than the one before (short names, compact token counts, fewer columns). The first
layout whose natural width fits is drawn, with every column at exactly that width, so rich never
has to shrink (and so cut) a column: dates, dollars and model names are never cut. Output that is
not a terminal (a pipe, a file) gets the richest layout at its own width, drawn as plain text
without rich (`draw_plain`: the same characters, as the tests hold).

Widths are computed here from the cells' text, not by asking rich to measure, which costs more
than the drawing; the arithmetic matches the box drawn by `make_table` (tested against it).
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from typing import Any


def cell_len(text: str) -> int:
    """The cells ``text`` takes on a terminal (rich's measure, loaded only for non-ASCII)."""
    if text.isascii():
        return len(text)
    from rich.cells import cell_len as rich_cell_len

    return rich_cell_len(text)


GAP = 2
"""Cells between two columns in `make_table`'s box (collapsed padding, no vertical rules)."""


class Column:
    """One column of a layout: its header, its body cells, its totals cell, whether it is
    right-justified and a style per body cell (empty: none). Immutable. (A plain class: the
    ``dataclasses`` module costs a piped report a few milliseconds.)"""

    __slots__ = ("_width", "cells", "footer", "header", "right", "styles")
    header: str
    cells: Sequence[str]
    footer: str
    right: bool
    styles: Sequence[str | None]
    _width: int | None

    def __init__(
        self,
        header: str,
        cells: Sequence[str],
        footer: str = "",
        right: bool = False,
        styles: Sequence[str | None] = (),
    ) -> None:
        set_field = object.__setattr__
        set_field(self, "header", header)
        set_field(self, "cells", cells)
        set_field(self, "footer", footer)
        set_field(self, "right", right)
        set_field(self, "styles", styles)
        set_field(self, "_width", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Column is immutable: cannot set {name!r}")

    def __eq__(self, other: object) -> bool:
        if type(other) is not Column:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Column({!r}, {!r}, {!r}, {!r}, {!r})".format(*self._fields())

    def _fields(self) -> tuple[object, ...]:
        return (self.header, self.cells, self.footer, self.right, self.styles)

    @property
    def width(self) -> int:
        """The narrowest width that shows every cell whole (a header may wrap at its spaces)."""
        if self._width is not None:
            return self._width
        widest = max((cell_len(word) for word in self.header.split()), default=0)
        for text in (*self.cells, self.footer):
            for line in text.split("\n"):
                widest = max(widest, cell_len(line))
        object.__setattr__(self, "_width", widest)
        return widest


if TYPE_CHECKING:
    Layout = Sequence[Column]


def layout_width(columns: Layout) -> int:
    """The width `make_table` draws ``columns`` at."""
    return sum(c.width for c in columns) + GAP * max(0, len(columns) - 1)


def choose(layouts: Iterable[Layout], width: int | None) -> Layout:
    """The first of ``layouts`` that fits in ``width`` columns (``None``: no limit), else the
    last (the leanest). Layouts after the one chosen are not made (``layouts`` may be lazy)."""
    columns: Layout = ()
    for columns in layouts:
        if width is None or layout_width(columns) <= width:
            return columns
    return columns


def terminal_width() -> int | None:
    """The width to fit: the terminal's (``COLUMNS`` wins, as in rich), ``None`` when standard
    output is not a terminal and ``COLUMNS`` is not set (a pipe is never cut to 80)."""
    import sys

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    try:
        if not sys.stdout.isatty():
            return None
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (AttributeError, ValueError, OSError):
        return None


def compact_count(n: int) -> str:
    """A token count in at most 5 characters from 10,000 up: ``12.3k``, ``1.76M``, ``176M``."""
    if n < 10_000:
        return f"{n:,}"
    value = float(n)
    for unit in ("k", "M", "B", "T"):
        value /= 1000
        if round(value, 2) < 9.995:
            return f"{value:.2f}{unit}"
        if round(value, 1) < 99.95:
            return f"{value:.1f}{unit}"
        if round(value) < 999.5:
            return f"{value:.0f}{unit}"
    return f"{value:.0f}T"


_DATE_SUFFIX = re.compile(r"-\d{8}$")
_PREVIEW = re.compile(r"-preview(-\d{2}-\d{2})?$")


def short_model(name: str) -> str:
    """A model's name without what every row repeats: ``claude-opus-4-6-20260101`` is
    ``opus-4-6``, ``gemini-3-pro-preview`` is ``gemini-3-pro``; other names stay."""
    short = _PREVIEW.sub("", _DATE_SUFFIX.sub("", name))
    if short.startswith("claude-") and len(short) > len("claude-"):
        short = short[len("claude-") :]
    return short or name


def model_list(models: Iterable[str], short: bool) -> str:
    """One model a line (short names when ``short``, each once, order kept)."""
    names = [short_model(m) for m in models] if short else list(models)
    return "\n".join(dict.fromkeys(names))


_HEX_RUN = re.compile(r"[0-9a-fA-F]{8,}(?:-[0-9a-fA-F]{4,})*")


def short_ids(ids: Sequence[str], keep: int = 8) -> list[str]:
    """Each id by the last ``keep`` characters of its last hexadecimal run (a UUID's random
    end: Codex's ``2026/04/30/rollout-…-019de091-…-96bf4889e6b1`` is ``4889e6b1``), lengthened
    until the distinct ids stay distinct; an id without such a run stays whole."""
    distinct = len(set(ids))
    for length in (keep, keep + 4, 2 * keep):
        shorter = [_tail(i, length) for i in ids]
        if len(set(shorter)) == distinct:
            return shorter
    return list(ids)


def _tail(identifier: str, length: int) -> str:
    runs = _HEX_RUN.findall(identifier)
    if not runs:
        return identifier
    digits = runs[-1].replace("-", "")
    return digits[-length:] if len(digits) > length else identifier


_HOME_PREFIX = re.compile(r"^-(?:home|Users)-[^-]+-(.+)$")
_HASH = re.compile(r"^[0-9a-f]{32,}$")


def short_project(path: str) -> str:
    """A project by its own folder: ``/home/dev/webapp`` and Claude's ``-home-dev-webapp`` are
    ``webapp``, Gemini's hashed project ``a350dd9c…`` (64 hex digits) is ``a350dd9c``."""
    stripped = path.rstrip("/\\")
    if "/" in stripped or "\\" in stripped:
        return re.split(r"[/\\]", stripped)[-1] or path
    found = _HOME_PREFIX.match(stripped)
    if found:
        return found.group(1)
    if _HASH.match(stripped):
        return stripped[:8]
    return path


def short_projects(paths: Sequence[str]) -> list[str]:
    """`short_project` of each path, except where two different paths would read the same
    (``/home/dev/webapp`` of Codex, ``webapp`` of Gemini): those stay whole."""
    owners: dict[str, set[str]] = {}
    for path in paths:
        owners.setdefault(short_project(path), set()).add(path)
    return [p if len(owners[short_project(p)]) > 1 else short_project(p) for p in paths]


def make_table(title: str, columns: Layout, row_styles: Sequence[str | None] = ()) -> object:
    """A rich table of ``columns``, each at its `Column.width` (so nothing is shrunk), with a
    rule under the header and the totals as its footer."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=title,
        box=box.SIMPLE,
        show_edge=False,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
        show_footer=True,
    )
    for c in columns:
        width = c.width
        # no_wrap keeps cells whole and applies to the header too: a header wider than its
        # column is given its line breaks here, at its spaces.
        header = c.header if cell_len(c.header) <= width else "\n".join(c.header.split())
        table.add_column(
            header,
            footer=Text(c.footer, style="bold"),
            justify="right" if c.right else "left",
            width=width,
            no_wrap=True,
        )
    table.add_row(*_body(columns, row_styles))
    return table


def _body(columns: Layout, row_styles: Sequence[str | None]) -> list[Any]:
    """Each column's cells as one tall ``Text``, every row padded to its tallest cell, so the
    whole body is one table row: rich lays out a dozen cells instead of one per row and
    column (several times faster), and the rows still line up."""
    from rich.text import Text

    count = len(columns[0].cells) if columns else 0
    split = [[text.split("\n") for text in c.cells] for c in columns]
    heights = [max(len(cells[i]) for cells in split) for i in range(count)]
    out = []
    for c, cells in zip(columns, split, strict=True):
        body = Text()
        for i, lines in enumerate(cells):
            style = " ".join(
                s
                for s in (row_styles[i] if row_styles else None, c.styles[i] if c.styles else None)
                if s
            )
            for j in range(heights[i]):
                if i or j:
                    body.append("\n")
                body.append(lines[j] if j < len(lines) else "", style=style or None)
        out.append(body)
    return out


RULE = "\u2500"
"""box.SIMPLE's horizontal line, under the header and over the totals."""
SEPARATOR = "  "
"""A column's collapsed padding and the box's blank divider (``table_fit.GAP``)."""


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(0, width - cell_len(text))
    return fill + text if right else text + fill


def _block(lines: list[list[str]], widths: list[int], rights: list[bool], bottom: bool) -> str:
    """Rows of one table section: each column's lines, aligned to the tallest column."""
    height = max((len(cell) for cell in lines), default=0)
    out = []
    for row in range(height):
        parts = []
        for cell, width, right in zip(lines, widths, rights, strict=True):
            index = row - (height - len(cell)) if bottom else row
            text = cell[index] if 0 <= index < len(cell) else ""
            parts.append(_pad(text, width, right))
        out.append(SEPARATOR.join(parts) + "\n")
    return "".join(out)


def draw_plain(title: str, columns: Layout) -> str:
    """`make_table` as plain text, exactly as a soft-wrapping rich console prints it where
    there is no terminal (no colours to draw, and loading rich is ~100 ms): the title, the
    header (bottom-aligned, a header wider than its column broken at its spaces), a rule,
    the body rows, a rule and the totals row; every line at the table's width but the
    title's."""
    widths = [c.width for c in columns]
    rights = [c.right for c in columns]
    width = sum(widths) + len(SEPARATOR) * max(0, len(columns) - 1)
    headers = [
        c.header.split("\n") if cell_len(c.header) <= c.width else c.header.split() for c in columns
    ]
    count = len(columns[0].cells) if columns else 0
    split = [[text.split("\n") for text in c.cells] for c in columns]
    body = []
    for i in range(count):
        body.append(_block([cells[i] for cells in split], widths, rights, bottom=False))
    footers = [c.footer.split("\n") for c in columns]
    rule = RULE * width + "\n"
    return "".join(
        (
            title + "\n",
            _block(headers, widths, rights, bottom=True),
            rule,
            *body,
            rule,
            _block(footers, widths, rights, bottom=False),
        )
    )


def hidden_note(shown: Layout, full: Layout, width: int | None) -> str:
    """``""``, or one line naming the columns of ``full`` that ``shown`` leaves out at ``width``."""
    names = {c.header for c in shown}
    missing = [c.header for c in full if c.header not in names]
    if not missing:
        return ""
    return (
        f"Not shown at {width} columns: {', '.join(missing)} "
        "(a wider terminal shows them, as do --json and --csv)."
    )
