"""Fixtures for the api tests: real bus, real store, real database, real api process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import httpx
import pytest

from bus.client import Publisher, Subscriber
from bus.forwarder import Forwarder
from bus.messages import Message, PriceCommitted, PriceObserved, UsageBatch, UsageCommitted
from services.runtime.installation import Runtime, load_runtime
from services.store.database import connect_writer
from services.store.writer import Store
from tests.services.api.api_support import (
    COMMIT_SECONDS,
    PROJECT_ROOT,
    SERVICE_SCRIPT,
    Api,
    Service,
    SseReader,
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private state dir (and an explicit, empty Claude dir so demo mode stays off)."""
    values = {
        "OTM_HOME": str(tmp_path / "home"),
        "CLAUDE_CONFIG_DIR": str(tmp_path / "claude"),
        "OTM_API_PORT": "0",  # the api announces the port it got in its ready line
        "OTM_BUS_TRANSPORT": "ipc",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("OTM_DEMO", raising=False)
    return dict(os.environ)


@pytest.fixture
def runtime(env: dict[str, str]) -> Runtime:
    """The runtime every process of the test resolves."""
    return load_runtime()


@pytest.fixture
def bus(runtime: Runtime) -> Iterator[Forwarder]:
    """A real forwarder on the test's ipc endpoints."""
    forwarder = Forwarder(runtime.endpoints, runtime.state)
    forwarder.start()
    yield forwarder
    forwarder.stop()


@pytest.fixture
def spawn(env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Service]]:
    """Start ``services.<name>.service.run`` in a subprocess; all are stopped at teardown."""
    started: list[Service] = []

    def start(name: str) -> Service:
        log = tmp_path / f"{name}-{len(started)}.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, "-c", SERVICE_SCRIPT.format(name=name)],
                env=env,
                cwd=PROJECT_ROOT,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        kind = Api if name == "api" else Service
        service = kind(name=name, proc=proc, log=log)
        started.append(service)
        service.wait_ready()
        return service

    yield start
    for service in reversed(started):
        service.stop()


@pytest.fixture
def store(bus: Forwarder, spawn: Callable[[str], Service]) -> Service:
    """The real store process, ready to commit and replay."""
    return spawn("store")


@pytest.fixture
def start_api(spawn: Callable[[str], Service]) -> Callable[[], Api]:
    """Start the api process (call it after writing whatever it should see at startup)."""

    def start() -> Api:
        api = spawn("api")
        assert isinstance(api, Api)
        return api

    return start


# -- writing data -----------------------------------------------------------------------------


@pytest.fixture
def write_direct(runtime: Runtime) -> Callable[[Iterable[Message]], None]:
    """Apply observations straight to the database, as the store would (no store running)."""

    def write(messages: Iterable[Message]) -> None:
        conn = connect_writer(str(runtime.db_path))
        try:
            Store(conn).apply(list(messages))
        finally:
            conn.close()

    return write


def _commit_key(message: Message) -> str | None:
    match message:
        case UsageBatch(batch_id=batch_id) | UsageCommitted(batch_id=batch_id):
            return f"usage:{batch_id}"
        case PriceObserved(model=model) | PriceCommitted(model=model):
            return f"price:{model}"
    return None


@pytest.fixture
def commit(runtime: Runtime, store: Service) -> Iterator[Callable[[list[Message]], list[int]]]:
    """Publish observations to the running store, re-sending until each is committed.

    Returns the seqs of the committed events, in the order of the observations given.
    """
    publisher = Publisher(runtime.endpoints)
    subscriber = Subscriber(("evt.",), runtime.endpoints)
    time.sleep(0.2)  # let both sockets join the forwarder; re-sends cover the rest

    def send(messages: list[Message]) -> list[int]:
        pending = {_commit_key(m): m for m in messages}
        seqs: dict[str | None, int] = {}
        deadline = time.monotonic() + COMMIT_SECONDS
        while pending and time.monotonic() < deadline:
            for message in pending.values():
                publisher.publish(message)
            round_end = time.monotonic() + 0.5
            while pending and time.monotonic() < round_end:
                got = subscriber.recv(timeout_ms=100)
                if got is None:
                    continue
                key = _commit_key(got[1])
                if key in pending:
                    del pending[key]
                    seqs[key] = int(getattr(got[1], "seq"))  # noqa: B009
        assert not pending, f"never committed: {sorted(map(str, pending))}"
        return [seqs[_commit_key(m)] for m in messages]

    yield send
    subscriber.close()
    publisher.close()


@pytest.fixture
def open_stream() -> Iterator[Callable[..., SseReader]]:
    """Open ``GET {url}/v1/stream`` with optional query and headers; closed at teardown."""
    client = httpx.Client(timeout=httpx.Timeout(15.0))
    responses: list[httpx.Response] = []

    def open_(
        url: str, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> SseReader:
        request = client.build_request("GET", f"{url}/v1/stream", params=params, headers=headers)
        response = client.send(request, stream=True)
        responses.append(response)
        response.raise_for_status()
        return SseReader(response)

    yield open_
    for response in responses:
        response.close()
    client.close()
