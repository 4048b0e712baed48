"""Other local users read nothing: a second real user (``useradd``) runs ``curl`` and Python
with ``runuser`` against the real stack (bus, store, api) of this test's user.

It needs root (CI runs as root) to create the user; elsewhere it is skipped, saying so.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.api.owner import OTHER_USER
from tests.e2e.stack import Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="runuser and useradd: Linux"),
]

ROUTES = ("/", "/v1/status", "/v1/stream")
STATE_FILES = ("otm.db", "otm.db-wal", "otm.db-shm", "api-token", "logs", "run", "config.toml")
RUN_AS_OTHER_SECONDS = 20
OPEN_AS_OTHER = """
import json, os, sys
results = {}
for path in sys.argv[1:]:
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path, "rb").close()
        results[path] = "opened"
    except OSError as exc:
        results[path] = type(exc).__name__
print(json.dumps(results))
"""
CONNECT_AS_OTHER = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as exc:
    print(type(exc).__name__)
"""


@pytest.fixture(scope="module")
def other_user() -> Iterator[str]:
    """A second real user on this machine, removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("creating a second user needs root (CI runs the tests as root)")
    missing = [tool for tool in ("useradd", "userdel", "runuser", "curl") if not shutil.which(tool)]
    if missing:
        pytest.skip(f"{', '.join(missing)} missing: install Debian's passwd, util-linux and curl")
    name = f"otm-other-{os.getpid()}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture(scope="module")
def parent() -> Iterator[Path]:
    """A folder everyone may enter and list (0755), so only the state folder's own modes keep
    the other user out (the test's tmp folders are 0700 themselves)."""
    folder = Path(tempfile.mkdtemp(prefix="otm-other-user-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(other_user: str, parent: Path) -> Iterator[Stack]:
    """bus, store and api over a state folder an older version left open (0755, otm.db 0644)."""
    home = parent / "otm"
    home.mkdir()
    home.chmod(0o755)
    (home / "otm.db").touch()
    (home / "otm.db").chmod(0o644)
    (home / "config.toml").write_text("")
    (home / "config.toml").chmod(0o644)
    (parent / "claude").mkdir()
    running = Stack(home, parent / "claude")
    try:
        running.start("bus", "store", "api")
        yield running
    finally:
        running.stop_all()


def as_other(user: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as ``user`` (no shell, a plain PATH, from /)."""
    return subprocess.run(
        [shutil.which("runuser") or "runuser", "-u", user, "--", *argv],
        capture_output=True,
        text=True,
        timeout=RUN_AS_OTHER_SECONDS,
        env={"PATH": "/usr/bin:/bin"},
        cwd="/",
    )


def curl(*argv: str, user: str | None = None) -> tuple[int, str]:
    """``curl`` (as ``user``, else as this test's user): the status code and the body."""
    command = ["curl", "--noproxy", "*", "-s", "--max-time", "3", "-w", "\n%{http_code}", *argv]
    done = (
        as_other(user, *command)
        if user
        else subprocess.run(command, capture_output=True, text=True, timeout=20)
    )
    body, _, code = done.stdout.rpartition("\n")
    return int(code or 0), body


@pytest.mark.parametrize("route", ROUTES)
def test_another_user_is_refused_on_every_route(route: str, stack: Stack, other_user: str) -> None:
    """The other user's curl gets 403 and the one-line error, the stream included."""
    code, body = curl(stack.api_url + route, user=other_user)
    assert (403, {"error": OTHER_USER}) == (code, json.loads(body))


def test_another_user_with_the_token_is_still_refused(stack: Stack, other_user: str) -> None:
    """Even holding the token (it cannot read it), a connection the kernel says is another
    user's is refused."""
    token = (stack.home / "api-token").read_text().strip()
    code, _ = curl(
        "-H", f"Authorization: Bearer {token}", stack.api_url + "/v1/status", user=other_user
    )
    assert 403 == code


@pytest.mark.parametrize("route", ("/", "/v1/status"))
def test_the_owners_curl_needs_no_token(route: str, stack: Stack) -> None:
    """The owner's own curl, without any token, is answered."""
    assert 200 == curl(stack.api_url + route)[0]


def test_the_owners_stream_opens_without_a_token(stack: Stack) -> None:
    """The owner's curl gets the stream's 200 (cut by --max-time: it never ends by itself)."""
    code, _ = curl("-o", "/dev/null", stack.api_url + "/v1/stream")
    assert 200 == code


def test_the_other_user_can_list_the_parent_folder(
    stack: Stack, other_user: str, parent: Path
) -> None:
    """The other user gets as far as the state folder (so what stops them is its mode)."""
    done = as_other(other_user, "/usr/bin/python3", "-c", OPEN_AS_OTHER, str(parent))
    assert {str(parent): "opened"} == json.loads(done.stdout)


def test_the_other_user_cannot_open_the_state_folder_or_its_files(
    stack: Stack, other_user: str
) -> None:
    """Listing the state folder and opening the database, its -wal and -shm, the token, the
    logs and the sockets' folder all fail for the other user."""
    paths = [str(stack.home), *(str(stack.home / name) for name in STATE_FILES)]
    done = as_other(other_user, "/usr/bin/python3", "-c", OPEN_AS_OTHER, *paths)
    assert {p: "PermissionError" for p in paths} == json.loads(done.stdout)


def test_the_other_user_cannot_reach_the_bus(stack: Stack, other_user: str) -> None:
    """The bus's ipc socket lives in the private folder: connecting to it is refused."""
    socket_path = str(stack.home / "run" / "bus-out.sock")
    done = as_other(other_user, "/usr/bin/python3", "-c", CONNECT_AS_OTHER, socket_path)
    assert "PermissionError" == done.stdout.strip()


def test_the_old_open_state_folder_was_made_private_at_start(stack: Stack) -> None:
    """The 0755 folder and 0644 files left by an older version are 0700 and 0600 now."""
    modes = {
        name: oct(stat.S_IMODE((stack.home / name).stat().st_mode))
        for name in ("", "otm.db", "otm.db-wal", "otm.db-shm", "api-token", "config.toml", "run")
    }
    assert {
        "": "0o700",
        "otm.db": "0o600",
        "otm.db-wal": "0o600",
        "otm.db-shm": "0o600",
        "api-token": "0o600",
        "config.toml": "0o600",
        "run": "0o700",
    } == modes


def test_no_log_line_carries_the_token(stack: Stack) -> None:
    """The api's token appears in no process's log."""
    token = (stack.home / "api-token").read_text().strip()
    logs = {name: stack.log(name) for name in ("bus", "store", "api")}
    assert [] == [name for name, text in logs.items() if token in text]


def test_doctor_names_another_users_open_file_with_the_fix(stack: Stack, other_user: str) -> None:
    """A 0644 file of the other user in the state folder: `otm doctor` says so, with the fix
    (it is not ours to tighten)."""
    theirs = stack.home / "theirs.txt"
    theirs.write_text("")
    theirs.chmod(0o644)
    shutil.chown(theirs, other_user)
    try:
        done = stack.otm("doctor", "--json")
    finally:
        theirs.unlink()
    found = {f["path"]: f["fix"] for f in json.loads(done.stdout)["stateAccess"]}
    uid = pwd.getpwnam(other_user).pw_uid
    assert {str(theirs): f"as uid {uid} (or root): chmod 600 {theirs}"} == found
