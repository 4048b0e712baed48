"""``ConfigError``, and how its messages write settings and values: ``[api] port``,
``[alerts] thresholds entry 2``, ``"text"``, ``[75, 90]``, as they are written in the file."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ConfigError(Exception):
    """The config file or an ``OTM_*`` variable is wrong; the message names the file (or the
    variable), the key and the values it takes."""


def number(value: float) -> str:
    """``1`` for 1.0, ``0.1`` for 0.1: as a person would write it."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def toml_value(value: object) -> str:
    """``value`` as it would be written in the file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return number(value) if value == value and abs(value) != float("inf") else str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def toml_key(key: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted."""
    return key if _BARE_KEY.match(key) else json.dumps(key, ensure_ascii=False)


def table_name(keys: Sequence[str]) -> str:
    """``["alerts", "budget"]`` -> ``[alerts.budget]``."""
    return "[" + ".".join(toml_key(k) for k in keys) + "]"


def setting_name(keys: Sequence[str], entry: int | None = None) -> str:
    """``[api] port``, ``[alerts] thresholds entry 2``; a top-level key is written alone."""
    *tables, key = keys
    name = f"{table_name(tables)} {toml_key(key)}" if tables else toml_key(key)
    return name if entry is None else f"{name} entry {entry}"
