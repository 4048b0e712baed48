"""The options of ``otm report <kind>``, defined once for the typer commands (``otm.cli``) and for
the fast path (``otm.report_fast``), which parses the common spellings itself so a report does not
pay for importing typer and click.

``parse`` understands exactly what click would accept in the same way — ``--flag``, ``--opt value``,
``--opt=value``, ``-o value`` — and answers ``None`` for anything else (``--help``, an unknown
option, a missing value, a value starting with ``-``, ``--``, a stray argument), which then goes to
typer, whose answer (help, or its usage error) is the command's.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Opt:
    """One option: its parameter name, its spellings, its help and default."""

    __slots__ = ("default", "dest", "flags", "help", "is_flag")

    def __init__(
        self, dest: str, flags: tuple[str, ...], help: str, default: Any, is_flag: bool = False
    ) -> None:
        self.dest = dest
        self.flags = flags
        self.help = help
        self.default = default
        self.is_flag = is_flag


JSON = Opt("json_output", ("--json",), "JSON (ccusage's field names).", False, is_flag=True)
CSV = Opt("csv_output", ("--csv",), "CSV: one line per row.", False, is_flag=True)
PROVIDER = Opt("provider", ("--provider", "-p"), "claude, codex, gemini or all.", "all")
TZ = Opt("tz", ("--tz", "-z"), "IANA zone for dates (default: this machine's).", None)
SINCE = Opt("since", ("--since", "-s"), "First local date, YYYYMMDD or YYYY-MM-DD.", None)
UNTIL = Opt("until", ("--until", "-u"), "Last local date, YYYYMMDD or YYYY-MM-DD.", None)
ORDER = Opt("order", ("--order", "-o"), "asc or desc (default: the report's own).", None)
START_OF_WEEK = Opt("start_of_week", ("--start-of-week", "-w"), "sunday or monday.", "sunday")
TOKEN_LIMIT = Opt(
    "token_limit", ("--token-limit", "-t"), "Tokens per block, or 'max' (largest so far).", None
)
MACHINE = Opt(
    "machine",
    ("--machine", "-m"),
    "Only these machines: names or ids, comma-separated (default: every machine).",
    None,
)
COMMON = (JSON, CSV, PROVIDER, TZ, SINCE, UNTIL, ORDER, MACHINE)
"""Every report's options, in the order ``--help`` lists them."""

KINDS: dict[str, tuple[str, tuple[Opt, ...]]] = {
    "daily": ("Tokens and dollars per local day, per model.", COMMON),
    "weekly": (
        "Tokens and dollars per week (named by its first day), per model.",
        (*COMMON, START_OF_WEEK),
    ),
    "monthly": ("Tokens and dollars per month, per model.", COMMON),
    "session": (
        "Tokens and dollars per session, most expensive first (dates: last activity).",
        COMMON,
    ),
    "project": (
        "Tokens and dollars per project, most expensive first (dates: last activity).",
        COMMON,
    ),
    "blocks": (
        "Five-hour blocks (ccusage's rules), with burn rate and projection for the active one.",
        (*COMMON, TOKEN_LIMIT),
    ),
    "machines": (
        "Tokens and dollars per machine, most expensive first (with when each was last seen).",
        COMMON,
    ),
}
"""Each ``otm report`` command: its summary and its options."""

ALL_OPTIONS = (*COMMON, START_OF_WEEK, TOKEN_LIMIT)


def defaults() -> dict[str, Any]:
    """Every option's default, by parameter name (an option a kind lacks keeps its default)."""
    return {opt.dest: opt.default for opt in ALL_OPTIONS}


def parse(argv: list[str]) -> tuple[str, dict[str, Any]] | None:
    """``(kind, values by parameter name)`` for ``otm report <argv>``, or ``None`` when typer
    must parse it (see the module docstring)."""
    if not argv or argv[0] not in KINDS:
        return None
    kind = argv[0]
    spelled = {flag: opt for opt in KINDS[kind][1] for flag in opt.flags}
    values = defaults()
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg.startswith("--") and "=" in arg:
            name, _, value = arg.partition("=")
            opt = spelled.get(name)
            if opt is None or opt.is_flag:
                return None
            values[opt.dest] = value
            i += 1
            continue
        opt = spelled.get(arg)
        if opt is None:
            return None
        if opt.is_flag:
            values[opt.dest] = True
            i += 1
            continue
        if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
            return None
        values[opt.dest] = argv[i + 1]
        i += 2
    return kind, values
