"""CURVE keys and the hub's gate, on real sockets."""

from __future__ import annotations

import errno
import stat
import time
from pathlib import Path

import pytest
import zmq

from bus.curve import BadKey, CurveClient, admit, admitted, init_pair, load_pair, serve_curve
from bus.gate import BAD_HANDSHAKE, NO_KEY, UNKNOWN_KEY, Gate, refusal
from tests.e2e.stack import wait_until


def test_secret_key_file_is_owner_only(tmp_path: Path) -> None:
    """`keys init` writes the secret key with mode 0600."""
    init_pair(tmp_path)
    mode = stat.S_IMODE((tmp_path / "keys" / "machine.key_secret").stat().st_mode)
    assert 0o600 == mode


def test_init_keeps_an_existing_pair(tmp_path: Path) -> None:
    """A second init returns the same pair and says it made nothing."""
    first, _ = init_pair(tmp_path)
    assert (first, False) == init_pair(tmp_path)


def test_pair_repr_hides_the_secret(tmp_path: Path) -> None:
    """The pair's repr (what a log or traceback shows) carries no secret."""
    pair, _ = init_pair(tmp_path)
    assert pair.secret not in repr(pair)


def test_load_pair_rejects_mismatched_halves(tmp_path: Path) -> None:
    """A public key that is not the secret's half is refused with a fix."""
    init_pair(tmp_path)
    other = zmq.curve_keypair()[0].decode()
    (tmp_path / "keys" / "machine.key").write_text(other)
    with pytest.raises(BadKey, match="otm keys init"):
        load_pair(tmp_path)


def test_admit_rejects_a_non_key(tmp_path: Path) -> None:
    """`keys add` with something that is not a z85 key is refused."""
    with pytest.raises(BadKey, match="not a public key"):
        admit(tmp_path, "laptop", "xyz")


def test_admit_replaces_a_name(tmp_path: Path) -> None:
    """Admitting a known name again keeps only its new key."""
    first, second = (zmq.curve_keypair()[0].decode() for _ in range(2))
    admit(tmp_path, "laptop", first, now=1.0)
    admit(tmp_path, "laptop", second, now=2.0)
    assert [second] == [a.key for a in admitted(tmp_path)]


def _asks(address: str, keys: CurveClient | None, server: zmq.Socket[bytes]) -> bool:
    """Whether a REQ with ``keys`` (None: plain) gets its echo back from ``server``."""
    client: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.REQ)
    client.setsockopt(zmq.LINGER, 0)
    if keys is not None:
        keys.apply(client)
    client.connect(address)
    client.send(b"ping")
    if server.poll(1000):
        server.send(server.recv())
    answered = bool(client.poll(500))
    client.close(0)
    return answered


def _knock_until_counted(gate: Gate, address: str, server: zmq.Socket[bytes]) -> None:
    """Plain peers knock at ``address`` until the gate counts one as ``no_key``.

    One knock is normally enough; knocking again covers a monitor thread that is slow to read.
    """
    deadline = time.monotonic() + 10
    while gate.refused[NO_KEY] == 0:
        assert time.monotonic() < deadline, (
            f"no plain peer was ever counted as no_key: {dict(gate.refused)}"
        )
        assert not _asks(address, None, server)
        seen_by = time.monotonic() + 1
        while gate.refused[NO_KEY] == 0 and time.monotonic() < seen_by:
            time.sleep(0.02)


@pytest.fixture
def served(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A REP socket bound on ipc plain, then on tcp as a CURVE server behind a gate."""
    hub = tmp_path / "hub"
    pair, _ = init_pair(hub)
    # A context of its own: the ZAP endpoint is bound once per context, and the last test's
    # authenticator may still be closing.
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    gate = Gate(hub, context)
    gate.start()
    server: zmq.Socket[bytes] = context.socket(zmq.REP)
    server.setsockopt(zmq.LINGER, 0)
    server.bind(f"ipc://{tmp_path}/plain.sock")
    serve_curve(server, pair)
    gate.watch(server)
    server.bind("tcp://127.0.0.1:0")
    tcp = server.getsockopt(zmq.LAST_ENDPOINT).decode()
    yield hub, pair, gate, server, tcp, f"ipc://{tmp_path}/plain.sock"
    server.close(0)
    gate.stop()
    context.term()


def test_ipc_bound_before_curve_stays_plain(served) -> None:  # type: ignore[no-untyped-def]
    """libzmq takes options per bind: the ipc bind made first still answers a plain peer."""
    _hub, _pair, _gate, server, _tcp, ipc = served
    assert _asks(ipc, None, server)


def test_admitted_agent_is_answered(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """An agent whose key was admitted gets through the CURVE bind."""
    hub, pair, _gate, server, tcp, _ipc = served
    agent, _ = init_pair(tmp_path / "agent")
    admit(hub, "laptop", agent.public)
    assert _asks(tcp, CurveClient(agent.public, agent.secret, pair.public), server)


def test_unknown_key_is_refused_and_counted(served) -> None:  # type: ignore[no-untyped-def]
    """A CURVE peer whose key was never admitted gets no answer and one more refusal."""
    _hub, pair, gate, server, tcp, _ipc = served
    public, secret = (k.decode() for k in zmq.curve_keypair())
    assert not _asks(tcp, CurveClient(public, secret, pair.public), server)
    wait_until(lambda: gate.refused[UNKNOWN_KEY] > 0, 5, "an unknown-key refusal")


def test_plain_peer_on_tcp_is_refused_and_counted(served) -> None:  # type: ignore[no-untyped-def]
    """A peer with no key at all gets no answer on tcp and is counted as no_key."""
    _hub, _pair, gate, server, tcp, _ipc = served
    _knock_until_counted(gate, tcp, server)
    assert 0 == gate.refused[UNKNOWN_KEY]


def test_a_socket_watched_later_is_counted_too(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The monitor thread blocks until woken: a second CURVE socket watched after it started
    still has its plain peers counted."""
    _hub, pair, gate, _server, _tcp, _ipc = served
    second: zmq.Socket[bytes] = gate.context.socket(zmq.REP)
    second.setsockopt(zmq.LINGER, 0)
    serve_curve(second, pair)
    gate.watch(second)
    second.bind("tcp://127.0.0.1:0")
    try:
        _knock_until_counted(gate, second.getsockopt(zmq.LAST_ENDPOINT).decode(), second)
    finally:
        second.close(0)


def test_stop_ends_the_blocked_monitor_thread(tmp_path: Path) -> None:
    """Stop wakes the monitor thread, which is blocked with no timeout, and it ends."""
    init_pair(tmp_path)
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    gate = Gate(tmp_path, context)
    gate.start()
    sock: zmq.Socket[bytes] = context.socket(zmq.REP)
    gate.watch(sock)
    thread = gate._thread
    sock.close(0)
    gate.stop()
    context.term()
    assert thread is not None and not thread.is_alive()


def test_mechanism_mismatch_is_a_missing_key() -> None:
    """A handshake failed on the mechanism (the server noticed first) counts as no_key."""
    assert NO_KEY == refusal(
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
    )


def test_peer_hanging_up_at_the_greeting_is_a_missing_key() -> None:
    """A broken pipe mid-handshake (the plain peer noticed first and left) counts as no_key."""
    assert NO_KEY == refusal(zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL, errno.EPIPE)


def test_cryptographic_failure_is_a_bad_handshake() -> None:
    """A CURVE peer whose handshake fails on the cryptography is not counted as keyless."""
    assert BAD_HANDSHAKE == refusal(
        zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL, zmq.PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC
    )
