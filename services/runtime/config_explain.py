"""Config mistakes in words: msgspec's ``Expected `int` <= 65535 - at `$.api.port``` becomes
``config.toml: [api] port = 70000 is out of range: use 1-65535``.

The allowed values are read from the schema's own declarations (``msgspec.inspect``), so the
message cannot drift from what is checked. Imported only when there is a mistake to explain:
``msgspec.inspect`` costs ~10 ms, which every quick command would otherwise pay.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import msgspec
from msgspec import inspect

from services.runtime.config_errors import number, setting_name, table_name, toml_value

_TOKEN = re.compile(r"\.(\w+)|\[(\d+)\]|\[\.\.\.\]")
_UNKNOWN = re.compile(r"^Object contains unknown field `([^`]*)`")


@dataclass
class Spot:
    """Where a msgspec error points: the TOML tables and key, the value there and its type."""

    keys: list[str]
    entry: int | None
    value: object
    type: inspect.Type


def explain(path: Path, document: dict[str, object], root: type, exc: Exception) -> str:
    """The person's message for msgspec's ``ValidationError`` ``exc`` on ``document``."""
    text = str(exc)
    message, _, at = text.partition(" - at `")
    spot = _locate(document, inspect.type_info(root), at.rstrip("`") or "$")
    if spot is None:
        return f"{path}: {text}. Fix or remove that setting (see README, 'Configuration')."
    unknown = _UNKNOWN.match(message)
    if unknown is not None:
        return f"{path}: {_unknown_key(spot, unknown.group(1))}"
    return f"{path}: {_wrong_value(spot)}"


def _locate(document: object, root: inspect.Type, at: str) -> Spot | None:
    """Follow a msgspec path (``$.alerts.thresholds[1]``, ``$.pricing.overrides[...].input``)
    through the document and the schema together."""
    spot = Spot([], None, document, root)
    for match in _TOKEN.finditer(at.removeprefix("$")):
        name, index = match.group(1), match.group(2)
        kind = _unwrap(spot.type)
        if name is not None and isinstance(kind, inspect.StructType):
            field = next((f for f in kind.fields if f.encode_name == name), None)
            if field is None or not isinstance(spot.value, dict):
                return None
            spot = Spot([*spot.keys, name], None, spot.value.get(name), field.type)
        elif index is not None and isinstance(kind, inspect.ListType):
            if not isinstance(spot.value, list):
                return None
            spot = Spot(spot.keys, int(index) + 1, spot.value[int(index)], kind.item_type)
        elif isinstance(kind, inspect.DictType) and isinstance(spot.value, dict):
            key = _failing_key(spot.value, kind.value_type)
            if key is None:
                return None
            spot = Spot([*spot.keys, key], None, spot.value[key], kind.value_type)
        else:
            return None
    return spot


def _failing_key(table: dict[str, object], value_type: inspect.Type) -> str | None:
    """msgspec writes ``[...]`` for a dict's key: find the entry that does not convert."""
    if not isinstance(value_type, inspect.StructType):
        return None
    for key, value in table.items():
        try:
            msgspec.convert(value, type=value_type.cls)
        except msgspec.ValidationError:
            return key
    return None


def _unwrap(kind: inspect.Type) -> inspect.Type:
    """``T | None`` is ``T``: TOML has no null, so None only means "not set"."""
    if isinstance(kind, inspect.UnionType):
        others = [t for t in kind.types if not isinstance(t, inspect.NoneType)]
        if len(others) == 1:
            return others[0]
    return kind


def _unknown_key(spot: Spot, key: str) -> str:
    kind = _unwrap(spot.type)
    allowed = [f.encode_name for f in kind.fields] if isinstance(kind, inspect.StructType) else []
    if not spot.keys:
        return f"[{key}] is not a section: use {_one_of(allowed)}"
    return f"{table_name(spot.keys)} {key} is not a setting: use {_one_of(allowed)}"


def _one_of(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else "one of " + ", ".join(names)


def _wrong_value(spot: Spot) -> str:
    kind = _unwrap(spot.type)
    where = setting_name(spot.keys, spot.entry)
    shown = toml_value(spot.value)
    span = value_range(kind)
    if _fits(kind, spot.value):
        return f"{where} = {shown} is out of range: use {span}"
    return f"{where} = {shown} is not {_kind_name(kind)}{_advice(spot, kind, span)}"


def _advice(spot: Spot, kind: inspect.Type, span: str) -> str:
    """How to write the value instead, after a wrong type."""
    if isinstance(kind, inspect.ListType):
        example = spot.value if isinstance(spot.value, str | int | float) else "..."
        each = f" (each {span})" if span else ""
        return f": put it in brackets, e.g. [{toml_value(example)}]{each}"
    if isinstance(kind, inspect.StructType | inspect.DictType):
        return f": write {table_name(spot.keys)} with its settings on the lines below"
    return f": use {span}" if span else ""


def _fits(kind: inspect.Type, value: object) -> bool:
    """Whether ``value`` has the right type for ``kind`` (so only its range is wrong)."""
    if isinstance(kind, inspect.IntType):
        return type(value) is int
    if isinstance(kind, inspect.FloatType):
        return type(value) in (int, float)
    return False


_KIND_NAMES: dict[type, tuple[str, str]] = {
    inspect.IntType: ("a whole number", "whole numbers"),
    inspect.FloatType: ("a number", "numbers"),
    inspect.BoolType: ("true or false", "true or false values"),
    inspect.StrType: ("a string in quotes", "strings in quotes"),
    inspect.StructType: ("a table", "tables"),
    inspect.DictType: ("a table", "tables"),
}
"""What a person calls each type of value: one, and a list of them."""


def _kind_name(kind: inspect.Type) -> str:
    if isinstance(kind, inspect.ListType):
        _one, many = _KIND_NAMES.get(type(_unwrap(kind.item_type)), ("", "values"))
        return f"a list of {many}"
    return _KIND_NAMES.get(type(kind), ("the right type", ""))[0]


def value_range(kind: inspect.Type) -> str:
    """The range a number field declares (``1-65535``, ``more than 0 and at most 100``)."""
    if isinstance(kind, inspect.ListType):
        return value_range(kind.item_type)
    if not isinstance(kind, inspect.IntType | inspect.FloatType):
        return ""
    if kind.ge is not None and kind.le is not None:
        return f"{number(kind.ge)}-{number(kind.le)}"
    if kind.gt is not None and kind.le is not None:
        return f"more than {number(kind.gt)} and at most {number(kind.le)}"
    if kind.ge is not None:
        return f"{number(kind.ge)} or more"
    return ""
