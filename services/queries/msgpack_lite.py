"""A tiny msgpack reader for the few store blobs the statusline and the reports need.

Importing msgspec costs ~15 ms, a third of the statusline's 50 ms budget; the blobs they
read (a ``ModelPrice``, a ``LimitWindow``, a ``LiveStatus``) are maps of strings and numbers,
which this reads in microseconds. Anything it cannot read falls back to msgspec itself, and the
tests hold it equal to msgspec on every shape the store writes.
"""

from __future__ import annotations

import struct


def decode_struct(blob: bytes, kind: str) -> dict[str, object] | None:
    """A msgpack-encoded ``ModelPrice`` (``kind="price"``), ``LimitWindow`` (``"window"``) or
    ``LiveStatus`` (``"status"``) as a dict of its fields; ``None`` if it is not one.

    The store writes these with ``msgspec.msgpack``; the small reader here covers everything a
    struct of strings and numbers encodes to. Anything else falls back to msgspec itself.
    """
    try:
        value = unpack(blob)
    except (ValueError, IndexError, struct.error, UnicodeDecodeError):
        return _decode_with_msgspec(blob, kind)
    return value if isinstance(value, dict) else None


def _decode_with_msgspec(blob: bytes, kind: str) -> dict[str, object] | None:
    import msgspec

    from bus.messages import LimitWindow, LiveStatus, ModelPrice

    target = {"price": ModelPrice, "window": LimitWindow, "status": LiveStatus}[kind]
    try:
        decoded = msgspec.msgpack.decode(blob, type=target)
    except msgspec.DecodeError:
        return None
    return {name: getattr(decoded, name) for name in decoded.__struct_fields__}


_FIXED = {
    0xCA: (">f", 4),
    0xCB: (">d", 8),
    0xCC: (">B", 1),
    0xCD: (">H", 2),
    0xCE: (">I", 4),
    0xCF: (">Q", 8),
    0xD0: (">b", 1),
    0xD1: (">h", 2),
    0xD2: (">i", 4),
    0xD3: (">q", 8),
}
"""Numbers: the format and size after the type byte."""
_LENGTHS = {
    0xD9: (">B", 1, "str"),
    0xDA: (">H", 2, "str"),
    0xDB: (">I", 4, "str"),
    0xDC: (">H", 2, "array"),
    0xDD: (">I", 4, "array"),
    0xDE: (">H", 2, "map"),
    0xDF: (">I", 4, "map"),
}
"""Strings, arrays and maps with an explicit length."""


def unpack(blob: bytes) -> object:
    """One msgpack value made of nil, booleans, numbers, strings, arrays and maps;
    ``ValueError`` for anything else (binary, extensions) or trailing bytes."""
    value, end = _unpack_at(blob, 0, 0)
    if end != len(blob):
        raise ValueError("trailing bytes after the msgpack value")
    return value


def _unpack_at(data: bytes, i: int, depth: int) -> tuple[object, int]:
    if depth > 32:
        raise ValueError("msgpack nested too deep")
    kind = data[i]
    i += 1
    if kind <= 0x7F:
        return kind, i
    if kind >= 0xE0:
        return kind - 0x100, i
    if 0xA0 <= kind <= 0xBF:
        return _text(data, i, kind & 0x1F)
    if 0x80 <= kind <= 0x8F:
        return _map(data, i, kind & 0x0F, depth)
    if 0x90 <= kind <= 0x9F:
        return _array(data, i, kind & 0x0F, depth)
    if kind == 0xC0:
        return None, i
    if kind in (0xC2, 0xC3):
        return kind == 0xC3, i
    if kind in _FIXED:
        fmt, size = _FIXED[kind]
        return struct.unpack_from(fmt, data, i)[0], i + size
    if kind in _LENGTHS:
        fmt, size, shape = _LENGTHS[kind]
        (length,) = struct.unpack_from(fmt, data, i)
        i += size
        if shape == "str":
            return _text(data, i, length)
        if shape == "array":
            return _array(data, i, length, depth)
        return _map(data, i, length, depth)
    raise ValueError(f"msgpack type 0x{kind:02x} is not read here")


def _text(data: bytes, i: int, length: int) -> tuple[str, int]:
    end = i + length
    if end > len(data):
        raise ValueError("truncated msgpack string")
    return data[i:end].decode("utf-8"), end


def _array(data: bytes, i: int, length: int, depth: int) -> tuple[list[object], int]:
    items = []
    for _ in range(length):
        item, i = _unpack_at(data, i, depth + 1)
        items.append(item)
    return items, i


def _map(data: bytes, i: int, length: int, depth: int) -> tuple[dict[str, object], int]:
    out: dict[str, object] = {}
    for _ in range(length):
        key, i = _unpack_at(data, i, depth + 1)
        if not isinstance(key, str):
            raise ValueError("msgpack map key is not a string")
        out[key], i = _unpack_at(data, i, depth + 1)
    return out, i
