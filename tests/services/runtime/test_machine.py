"""This machine's id (made once under the state folder, never changed) and its name."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from services.runtime.machine import MACHINE_ID_FILE, local_machine, machine_id


def test_machine_id_is_32_hex_digits_kept_in_the_state_folder(tmp_path: Path) -> None:
    """The first call makes a 128-bit hex id and writes it to ``<state>/machine-id``."""
    made = machine_id(tmp_path)
    assert (32, made) == (len(made), (tmp_path / MACHINE_ID_FILE).read_text().strip())


def test_machine_id_is_the_same_on_every_call(tmp_path: Path) -> None:
    """A second call returns the id the first one made."""
    first = machine_id(tmp_path)
    assert first == machine_id(tmp_path)


def test_machine_ids_of_two_state_folders_differ(tmp_path: Path) -> None:
    """Each state folder (each machine) gets its own random id."""
    assert machine_id(tmp_path / "a") != machine_id(tmp_path / "b")


def test_machine_id_file_is_private(tmp_path: Path) -> None:
    """The id file is readable by its owner only."""
    machine_id(tmp_path)
    assert 0o600 == (tmp_path / MACHINE_ID_FILE).stat().st_mode & 0o777


def test_machine_id_leaves_no_draft_behind(tmp_path: Path) -> None:
    """Making the id leaves only ``machine-id`` in the folder (the draft is removed)."""
    machine_id(tmp_path)
    assert [MACHINE_ID_FILE] == [p.name for p in tmp_path.iterdir()]


def test_machine_id_file_holding_something_else_is_an_error(tmp_path: Path) -> None:
    """A damaged id file is refused rather than replaced (a new id would split the usage)."""
    (tmp_path / MACHINE_ID_FILE).write_text("not an id\n")
    with pytest.raises(RuntimeError, match="does not hold a machine id"):
        machine_id(tmp_path)


def test_local_machine_is_named_after_the_short_host_name(tmp_path: Path) -> None:
    """Without ``[machine] name`` the name is the host name up to its first dot."""
    assert socket.gethostname().split(".")[0] == local_machine(tmp_path).name


def test_local_machine_takes_the_configured_name(tmp_path: Path) -> None:
    """``[machine] name`` names the machine; its id stays the one kept on disk."""
    machine = local_machine(tmp_path, "workstation")
    assert ("workstation", machine_id(tmp_path)) == (machine.name, machine.id)
