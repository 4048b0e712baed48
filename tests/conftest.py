"""Fixtures shared by every test: a private state directory, a running forwarder, a database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from bus.endpoints import Endpoints, endpoints
from bus.forwarder import Forwarder
from services.store.database import connect_writer
from tests.fake_endpoint import FakeEndpoint


@pytest.fixture
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$OTM_HOME`` set to this test's own directory, with the default (ipc) transport."""
    monkeypatch.setenv("OTM_HOME", str(tmp_path))
    for name in ("OTM_BUS_TRANSPORT", "OTM_BUS_PORT", "OTM_API_PORT", "OTM_DEMO"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def addresses(state: Path) -> Endpoints:
    """The endpoints of the state directory (nothing bound yet)."""
    return endpoints(state)


@pytest.fixture
def forwarder(state: Path, addresses: Endpoints) -> Iterator[Forwarder]:
    """A running forwarder on the state directory's endpoints, stopped afterwards."""
    running = Forwarder(addresses, state)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Where this test's database lives."""
    return tmp_path / "otm.db"


@pytest.fixture
def db(db_path: Path) -> Iterator[sqlite3.Connection]:
    """The store's writer connection on a fresh, migrated database, closed afterwards."""
    conn = connect_writer(str(db_path))
    yield conn
    conn.close()


@pytest.fixture
def fake_endpoint() -> Iterator[FakeEndpoint]:
    """A scriptable provider endpoint on 127.0.0.1, stopped afterwards."""
    with FakeEndpoint() as endpoint:
        yield endpoint
