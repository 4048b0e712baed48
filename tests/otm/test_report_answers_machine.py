"""Kept report answers are keyed on ``--machine``: a filtered answer never stands in for
another filter's, or for the unfiltered one."""

from __future__ import annotations

from otm import report_answers, report_args


def _key(machine: str | None) -> tuple[object, ...]:
    """The kept-answer key of ``otm report daily`` with ``--machine machine``."""
    values = {**report_args.defaults(), "machine": machine}
    return report_answers.key_of("daily", values, (1, 2), 10, False)


def test_a_machine_filter_changes_the_kept_answers_key() -> None:
    """``--machine desk`` and no ``--machine`` are two different kept answers."""
    assert _key(None) != _key("desk")


def test_two_machine_filters_have_different_keys() -> None:
    """``--machine desk`` and ``--machine laptop`` are two different kept answers."""
    assert _key("laptop") != _key("desk")


def test_the_fast_path_reads_the_machine_option() -> None:
    """``otm report daily -m desk`` parses without typer, to the machine ``desk``."""
    parsed = report_args.parse(["daily", "-m", "desk"])
    assert ("daily", "desk") == (parsed and parsed[0], parsed and parsed[1]["machine"])
