"""Which machine this is: a random id made once and kept in the state folder, and a name.

Every usage record and heartbeat carries the id of the machine that read it, so one store can
hold the usage of several machines and tell them apart; the name is for people only.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from pathlib import Path

import msgspec

MACHINE_ID_FILE = "machine-id"
"""The file under the state folder that holds this machine's id."""
_ID = re.compile(r"^[0-9a-f]{32}$")


class Machine(msgspec.Struct, frozen=True):
    """One machine: a stable 128-bit hex ``id`` and the readable ``name`` reports show."""

    id: str
    name: str


def local_machine(state: Path, config_name: str | None = None) -> Machine:
    """This machine: its id from ``<state>/machine-id`` (made on first use) and its name,
    ``[machine] name`` when set, else the short host name."""
    return Machine(machine_id(state), config_name or short_host_name())


def short_host_name() -> str:
    """The host name up to its first dot (``laptop.example.org`` is ``laptop``)."""
    return socket.gethostname().split(".", 1)[0] or "localhost"


def machine_id(state: Path) -> str:
    """The id kept in ``<state>/machine-id``, made atomically on first use and never changed.

    The file is written whole under a temporary name and then linked into place, so a reader
    never sees half an id, and of two processes starting together the first link wins and
    both return its id.
    """
    path = state / MACHINE_ID_FILE
    found = _read(path)
    if found is not None:
        return found
    state.mkdir(parents=True, exist_ok=True)
    # os.urandom is what ``secrets.token_hex`` reads, without ``secrets``: it imports hashlib,
    # whose OpenSSL would cost every process of the stack ~3.7 MB for an id made once.
    draft = state / f".{MACHINE_ID_FILE}.{os.getpid()}.{os.urandom(4).hex()}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (os.urandom(16).hex() + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(draft, path)
    except FileExistsError:
        pass  # another process made it first: its id is the one
    except OSError:
        # A file system without hard links: a plain rename is still atomic, but could replace
        # an id made meanwhile, so only when there is still none.
        if not path.exists():
            os.replace(draft, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(draft)
    found = _read(path)
    if found is None:
        raise RuntimeError(f"{path} does not hold a machine id; remove it and start again")
    return found


def _read(path: Path) -> str | None:
    """The id in ``path``; None when there is no such file. A file that holds something else
    is an error: silently making a new id would split one machine's usage in two."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise RuntimeError(f"cannot read the machine id in {path}: {exc}") from None
    if not _ID.match(text):
        raise RuntimeError(f"{path} does not hold a machine id (32 hex digits)")
    return text
