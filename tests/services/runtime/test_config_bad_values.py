"""Every bad value in ``config.toml`` is refused by ``load_config`` with one message naming the
file, the key and the values it takes."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from msgspec import inspect

from services.runtime.config import Config, ConfigError, config_path, load_config
from services.runtime.config_checks import check_config

BAD_VALUES = [
    # -- types, keys and sections --------------------------------------------------------
    ("[api]\nport = 70000\n", "[api] port = 70000 is out of range: use 1-65535"),
    ("[api]\nport = 0\n", "[api] port = 0 is out of range: use 1-65535"),
    ('[api]\nport = "abc"\n', '[api] port = "abc" is not a whole number: use 1-65535'),
    ("[api]\nport = 80.5\n", "[api] port = 80.5 is not a whole number: use 1-65535"),
    ("[api]\nport = true\n", "[api] port = true is not a whole number: use 1-65535"),
    (
        "[api]\nprot = 9000\n",
        "[api] prot is not a setting: use one of port, host, token, allowed_hosts",
    ),
    (
        "[schedular]\n",
        "[schedular] is not a section: use one of claude, codex, gemini, pricing, api, "
        "scheduler, limits, alerts, activity, bus, machine",
    ),
    ("api = 3\n", "api = 3 is not a table: write [api] with its settings on the lines below"),
    # -- [scheduler] ----------------------------------------------------------------------
    (
        "[scheduler]\nrefresh_seconds = 0\n",
        "[scheduler] refresh_seconds = 0 is out of range: use 1-86400",
    ),
    (
        "[scheduler]\nrefresh_seconds = -5\n",
        "[scheduler] refresh_seconds = -5 is out of range: use 1-86400",
    ),
    (
        "[scheduler]\nrefresh_seconds = nan\n",
        "[scheduler] refresh_seconds = nan is out of range: use 1-86400",
    ),
    (
        '[scheduler]\nrefresh_seconds = "often"\n',
        '[scheduler] refresh_seconds = "often" is not a number: use 1-86400',
    ),
    (
        "[scheduler]\nrefresh_seconds = [1]\n",
        "[scheduler] refresh_seconds = [1] is not a number: use 1-86400",
    ),
    # -- [limits] -------------------------------------------------------------------------
    ("[limits]\npoll_seconds = inf\n", "[limits] poll_seconds = inf is out of range: use 1-86400"),
    (
        "[limits]\nmin_interval_seconds = 0.5\n",
        "[limits] min_interval_seconds = 0.5 is out of range: use 1-86400",
    ),
    ("[limits]\njitter = 2\n", "[limits] jitter = 2 is out of range: use 0-1"),
    (
        "[limits]\ntimeout_seconds = 0\n",
        "[limits] timeout_seconds = 0 is out of range: use 0.1-120",
    ),
    (
        "[limits]\nmax_backoff_seconds = 100000\n",
        "[limits] max_backoff_seconds = 100000 is out of range: use 1-86400",
    ),
    ('[limits]\nenabled = "yes"\n', '[limits] enabled = "yes" is not true or false'),
    (
        "[limits]\npoll_seconds = 30\n",
        "[limits] poll_seconds = 30 is below min_interval_seconds = 60: make it at least 60, "
        "or lower min_interval_seconds",
    ),
    (
        "[limits]\nmin_interval_seconds = 120\nmax_backoff_seconds = 60\npoll_seconds = 300\n",
        "[limits] max_backoff_seconds = 60 is below min_interval_seconds = 120: make it at "
        "least 120, or lower min_interval_seconds",
    ),
    # -- [alerts] -------------------------------------------------------------------------
    (
        "[alerts]\nthresholds = [75, 200]\n",
        "[alerts] thresholds entry 2 = 200 is out of range: use more than 0 and at most 100",
    ),
    (
        "[alerts]\nthresholds = [0]\n",
        "[alerts] thresholds entry 1 = 0 is out of range: use more than 0 and at most 100",
    ),
    (
        "[alerts]\nthresholds = [90, 75]\n",
        "[alerts] thresholds = [90, 75] is not in increasing order: list each percentage once, "
        "lowest first, e.g. [75, 90, 95]",
    ),
    (
        "[alerts]\nthresholds = [90, 90]\n",
        "[alerts] thresholds = [90, 90] is not in increasing order: list each percentage once, "
        "lowest first, e.g. [75, 90, 95]",
    ),
    (
        "[alerts]\nthresholds = 90\n",
        "[alerts] thresholds = 90 is not a list of numbers: put it in brackets, e.g. [90] "
        "(each more than 0 and at most 100)",
    ),
    (
        '[alerts]\nthresholds = ["high"]\n',
        '[alerts] thresholds entry 1 = "high" is not a number: use more than 0 and at most 100',
    ),
    (
        "[alerts]\nbudget_thresholds = [80, 2000]\n",
        "[alerts] budget_thresholds entry 2 = 2000 is out of range: use more than 0 and at "
        "most 1000",
    ),
    (
        "[alerts]\nbudget_thresholds = [100, 80]\n",
        "[alerts] budget_thresholds = [100, 80] is not in increasing order: list each "
        "percentage once, lowest first, e.g. [80, 100]",
    ),
    (
        "[alerts]\npace_margin_minutes = -1\n",
        "[alerts] pace_margin_minutes = -1 is out of range: use 0-10080",
    ),
    (
        "[alerts]\ncommand_timeout_seconds = 0\n",
        "[alerts] command_timeout_seconds = 0 is out of range: use 0.1-300",
    ),
    (
        '[alerts]\ntz = "Mars/Olympus_Mons"\n',
        '[alerts] tz = "Mars/Olympus_Mons" is not a time zone: use an IANA name such as '
        '"UTC" or "Europe/Berlin", or "" for this machine\'s',
    ),
    (
        '[alerts]\ntz = "../../etc/passwd"\n',
        '[alerts] tz = "../../etc/passwd" is not a time zone: use an IANA name such as '
        '"UTC" or "Europe/Berlin", or "" for this machine\'s',
    ),
    (
        '[alerts]\nquiet_hours = "22-7"\n',
        '[alerts] quiet_hours = "22-7" is not a span of the day: write it as "22:00-07:00" '
        '(local time, start-end, 24-hour clock), or "" for none',
    ),
    (
        '[alerts]\nquiet_hours = "25:00-07:00"\n',
        '[alerts] quiet_hours = "25:00-07:00" is not a span of the day: write it as '
        '"22:00-07:00" (local time, start-end, 24-hour clock), or "" for none',
    ),
    (
        '[alerts]\nquiet_hours = "07:00-07:00"\n',
        '[alerts] quiet_hours = "07:00-07:00" is not a span of the day: write it as '
        '"22:00-07:00" (local time, start-end, 24-hour clock), or "" for none',
    ),
    (
        '[alerts]\nurls = ["ntfys://ntfy.sh/a", "slack hooks T0/B0/secret"]\n',
        "[alerts] urls entry 2 is not a URL: write one scheme://... URL per entry, without "
        'spaces, e.g. "ntfys://ntfy.sh/my-topic" (apprise\'s wiki lists the services)',
    ),
    (
        '[alerts]\nurls = "ntfys://ntfy.sh/a"\n',
        '[alerts] urls = "ntfys://ntfy.sh/a" is not a list of strings in quotes: put it in '
        'brackets, e.g. ["ntfys://ntfy.sh/a"]',
    ),
    (
        '[alerts]\ncommand = "notify \'unclosed"\n',
        "[alerts] command cannot be split into words (No closing quotation): fix its quoting",
    ),
    (
        "[alerts]\nbudget = 50\n",
        "[alerts] budget = 50 is not a table: write [alerts.budget] with its settings on the "
        "lines below",
    ),
    (
        "[alerts.budget]\ndaily_usd = 0\n",
        "[alerts.budget] daily_usd = 0 is out of range: use more than 0 and at most 1000000",
    ),
    (
        "[alerts.budget.claude]\nweekly_usd = -10\n",
        "[alerts.budget.claude] weekly_usd = -10 is out of range: use more than 0 and at most "
        "1000000",
    ),
    (
        "[alerts.budget.claude]\nweekly = 10\n",
        "[alerts.budget.claude] weekly is not a setting: use one of daily_usd, weekly_usd, "
        "monthly_usd",
    ),
    # -- [pricing], [activity] ------------------------------------------------------------
    (
        '[pricing.overrides."claude-x-4.5"]\ninput = -1\n',
        '[pricing.overrides."claude-x-4.5"] input = -1 is out of range: use 0-1000000',
    ),
    (
        '[pricing.overrides.m]\noutput = 1.0\n[pricing.overrides.n]\ninput = "3"\n',
        '[pricing.overrides.n] input = "3" is not a number: use 0-1000000',
    ),
    (
        "[pricing.overrides.m]\ninput = inf\n",
        "[pricing.overrides.m] input = inf is out of range: use 0-1000000",
    ),
    (
        "[pricing.overrides.m]\ninptu = 3\n",
        "[pricing.overrides.m] inptu is not a setting: use one of input, output, cache_read, "
        "cache_write, cache_write_1h, web_searches_kcount",
    ),
    ("[activity]\nkeep = 0\n", "[activity] keep = 0 is out of range: use 1-10000"),
    ("[activity]\nkeep = 10001\n", "[activity] keep = 10001 is out of range: use 1-10000"),
    # -- [machine] ------------------------------------------------------------------------
    ("[machine]\nname = 3\n", "[machine] name = 3 is not a string in quotes"),
    (
        '[machine]\nname = "  "\n',
        '[machine] name = "  " is blank: give a name, or remove the setting',
    ),
    (
        f'[machine]\nname = "{"x" * 65}"\n',
        "[machine] name is 65 characters long: use at most 64",
    ),
    (
        '[machine]\nname = "a,b"\n',
        '[machine] name = "a,b" holds a control character or a comma: use letters, digits, '
        "spaces and punctuation other than commas",
    ),
    ('[activity]\nkeep = "all"\n', '[activity] keep = "all" is not a whole number: use 1-10000'),
    # -- roots and endpoints --------------------------------------------------------------
    (
        '[claude]\nroots = "~/x"\n',
        '[claude] roots = "~/x" is not a list of strings in quotes: put it in brackets, '
        'e.g. ["~/x"]',
    ),
    (
        '[codex]\nroots = ["~/.codex", " "]\n',
        '[codex] roots entry 2 is empty: write a folder, e.g. "~/.codex", or remove it',
    ),
    ("[gemini]\nroots = [7]\n", "[gemini] roots entry 1 = 7 is not a string in quotes"),
    (
        '[claude]\nusage_url = "http://example.com/usage"\n',
        '[claude] usage_url = "http://example.com/usage" would send your sign-in token '
        "unencrypted or to an odd address; use an https:// URL (http:// only to 127.0.0.1 or "
        "localhost)",
    ),
    (
        '[gemini]\ncode_assist_endpoint = "http://[::1"\n',
        '[gemini] code_assist_endpoint = "http://[::1" would send your sign-in token '
        "unencrypted or to an odd address; use an https:// URL (http:// only to 127.0.0.1 or "
        "localhost)",
    ),
    # -- [bus] ----------------------------------------------------------------------------
    (
        '[bus]\nlisten = "0.0.0.0:5750"\n',
        "[bus] listen = \"0.0.0.0:5750\": '0.0.0.0:5750' does not start with tcp://; write it "
        'as "tcp://0.0.0.0:5750"',
    ),
    (
        '[bus]\nconnect = "tcp://hub:5750"\n',
        "[bus] connect is set but [bus] hub_key is not: run `otm keys init` on the hub and set "
        'hub_key = "<the public key it printed>"',
    ),
    (
        '[bus]\nconnect = "tcp://hub:5750"\nhub_key = "short"\n',
        "[bus] hub_key is not a public key (40 z85 characters): copy the key `otm keys init` "
        "(or `otm keys list`) printed on the hub",
    ),
    (
        '[bus]\nlisten = "tcp://0.0.0.0:5750"\nconnect = "tcp://hub:5750"\n',
        "[bus] listen and [bus] connect are both set: a hub sets listen, an agent sets connect "
        "and hub_key; remove the one this machine is not",
    ),
    # -- the file itself ------------------------------------------------------------------
    (
        "[api\nport = 1\n",
        "line 1, column 5: not valid TOML (Expected ']' at the end of a table declaration)",
    ),
    ("[api]\nport = 1\nport = 2\n", "line 3, column 9: not valid TOML (Cannot overwrite a value)"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_VALUES, ids=[t for t, _ in BAD_VALUES])
def test_bad_value_is_refused_naming_file_key_and_allowed_values(
    state: Path, text: str, expected: str
) -> None:
    """Each bad value gives exactly its message, after the file's path."""
    path = config_path(state)
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert f"{path}: {expected}" == str(caught.value)


def number_fields(kind: inspect.Type, where: str = "") -> list[tuple[str, inspect.Type]]:
    """Every whole-number and number field under ``kind``, by dotted name."""
    if isinstance(kind, inspect.UnionType):
        return [f for t in kind.types for f in number_fields(t, where)]
    if isinstance(kind, inspect.ListType):
        return number_fields(kind.item_type, where)
    if isinstance(kind, inspect.DictType):
        return number_fields(kind.value_type, where + ".*")
    if isinstance(kind, inspect.StructType):
        return [found for f in kind.fields for found in number_fields(f.type, f"{where}.{f.name}")]
    return [(where, kind)] if isinstance(kind, inspect.IntType | inspect.FloatType) else []


def test_every_number_setting_declares_both_ends_of_its_range() -> None:
    """No number in Config is unbounded: each has a lowest and a highest allowed value."""
    fields = number_fields(inspect.type_info(Config))
    unbounded = [
        name
        for name, kind in fields
        if isinstance(kind, inspect.IntType | inspect.FloatType)
        and ((kind.ge is None and kind.gt is None) or kind.le is None)
    ]
    assert ([], True) == (unbounded, len(fields) > 20)


def test_the_defaults_pass_every_check(tmp_path: Path) -> None:
    """Every default value is within its declared range and passes the checks between
    settings, as if it had been written in the file."""
    defaults = msgspec.convert(msgspec.to_builtins(Config()), type=Config)
    check_config(tmp_path / "config.toml", defaults)
    assert Config() == defaults
