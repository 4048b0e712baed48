"""What the fast report path shares or mirrors: options, providers, prices, quiet time."""

from __future__ import annotations

import warnings

import msgspec
import pytest

from bus.messages import PROVIDERS, ModelPrice
from otm import report_args
from services.collector.codex.reader import IDLE_SECONDS
from services.queries.catchup_snapshot import QUIET_SECONDS
from services.queries.costs import Price
from services.queries.reports import common

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import typer.main

    from otm import cli


def _typer_options(kind: str) -> dict[str, tuple[tuple[str, ...], object, str | None]]:
    group = typer.main.get_command(cli.app).commands["report"]  # type: ignore[attr-defined]
    command = group.commands[kind]
    return {p.name: (tuple(p.opts + p.secondary_opts), p.default, p.help) for p in command.params}


@pytest.mark.parametrize("kind", list(report_args.KINDS))
def test_typer_commands_take_the_shared_options(kind: str) -> None:
    """Each typer report command has exactly report_args' options: spellings, defaults, help."""
    expected = {o.dest: (o.flags, o.default, o.help) for o in report_args.KINDS[kind][1]}
    assert expected == _typer_options(kind)


@pytest.mark.parametrize(
    "argv",
    [["daily", "--help"], ["daily", "--tz"], ["daily", "-pclaude"], ["daily", "--", "x"], []],
)
def test_parse_hands_unusual_command_lines_to_typer(argv: list[str]) -> None:
    """Anything but the plain spellings is left to typer."""
    assert None is report_args.parse(argv)


def test_parse_reads_every_spelling() -> None:
    """Long, short and ``=`` spellings all set their option."""
    kind, values = report_args.parse(["blocks", "--json", "-p", "codex", "--tz=UTC", "-t", "9"])
    assert ("blocks", True, "codex", "UTC", "9") == (
        kind,
        values["json_output"],
        values["provider"],
        values["tz"],
        values["token_limit"],
    )


def test_providers_mirror_the_wire() -> None:
    """The reports' provider list is bus.messages.PROVIDERS."""
    assert PROVIDERS == common.PROVIDERS


def test_price_mirrors_model_price() -> None:
    """costs.Price has ModelPrice's fields, in order, with its defaults."""
    fields = msgspec.structs.fields(ModelPrice)
    assert [f.name for f in fields] == list(Price._fields)
    defaults = {f.name: f.default for f in fields if f.default is not msgspec.NODEFAULT}
    assert defaults == Price._field_defaults


def test_decoded_price_equals_msgspec() -> None:
    """A committed price blob reads as the same values msgspec decodes."""
    price = ModelPrice("3", "15", "3.75", "6", "0.3", 200_000, "6", "22.5", None, None, "0.6")
    decoded = common.decode_price(msgspec.msgpack.encode(price))
    assert tuple(getattr(price, f) for f in Price._fields) == tuple(decoded)


def test_snapshot_waits_longer_than_the_codex_reader() -> None:
    """A snapshot only skips once files have been quiet longer than Codex's idle rule."""
    assert QUIET_SECONDS > IDLE_SECONDS
