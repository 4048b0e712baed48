"""The apprise URL channel against a real HTTP server on 127.0.0.1 as its ``json://`` target."""

from __future__ import annotations

import base64
import logging
import time
from typing import Any

import pytest

from bus.messages import Alert, Severity
from services.notifier.channels.urls import UrlChannel
from tests.fake_endpoint import FakeEndpoint, Reply
from tests.helpers import alert as shared_alert

CANARY = "s3cret-canary"
TRACE = 1
"""Below apprise's own TRACE level: every record it could write."""


def alert(severity: Severity = "warning", **fields: Any) -> Alert:
    """The shared threshold alert, at ``severity``."""
    return shared_alert(severity=severity, **fields)


def target(endpoint: FakeEndpoint, path: str = "/hook", credentials: str = "") -> str:
    """The ``json://`` URL of ``endpoint``'s ``path``, with ``user:password@`` if given."""
    host = endpoint.url.removeprefix("http://")
    return f"json://{credentials}{host}{path}"


def test_the_json_target_receives_title_body_and_type(fake_endpoint: FakeEndpoint) -> None:
    """A warning is POSTed as apprise's JSON: title, message and type "warning"."""
    fake_endpoint.answer("/hook", Reply(200, {}))
    channel = UrlChannel(target(fake_endpoint), 1)

    delivery = channel.deliver(alert())

    assert (True, "sent") == (delivery.ok, delivery.answer)
    [received] = fake_endpoint.requests_for("/hook")
    payload = received.json()
    assert "Claude 5-hour window at 91 %" == payload["title"]
    assert "Past the 90 % line; resets in 1h (at 14:00)." == payload["message"]
    assert "warning" == payload["type"]


def test_severity_maps_to_apprise_notify_types(fake_endpoint: FakeEndpoint) -> None:
    """Info is "info", warning "warning", critical "failure"."""
    fake_endpoint.answer("/hook", Reply(200, {}))
    channel = UrlChannel(target(fake_endpoint), 1)

    for severity in ("info", "warning", "critical"):
        assert True is channel.deliver(alert(severity)).ok

    types = [r.json()["type"] for r in fake_endpoint.requests_for("/hook")]
    assert ["info", "warning", "failure"] == types


def test_the_name_is_scheme_and_position() -> None:
    """A channel is named by its URL's scheme and its place in [alerts] urls, never its URL."""
    assert "ntfy#2" == UrlChannel("ntfy://tk_secrettoken@ntfy.sh/otm-alerts", 2).name
    assert "json#1" == UrlChannel("JSON://127.0.0.1:9/hook", 1).name
    assert "url#3" == UrlChannel("not a url at all", 3).name


def test_a_server_answering_500_is_a_readable_failure(fake_endpoint: FakeEndpoint) -> None:
    """HTTP 500 from the target: ok False, an answer naming the error, retry True."""
    fake_endpoint.answer("/hook", Reply(500, {"error": "boom"}))
    channel = UrlChannel(target(fake_endpoint), 1)

    delivery = channel.deliver(alert())

    assert False is delivery.ok
    assert True is delivery.retry
    assert delivery.answer.startswith("not sent: "), delivery.answer
    assert "500" in delivery.answer
    assert "entry 1" in delivery.fix


def test_a_target_that_is_not_listening_is_a_readable_failure(fake_endpoint: FakeEndpoint) -> None:
    """Nothing on the port: ok False, a connection error, retry True."""
    url = target(fake_endpoint)
    fake_endpoint.stop()
    channel = UrlChannel(url, 1)

    delivery = channel.deliver(alert())

    assert (False, True) == (delivery.ok, delivery.retry)
    assert "connection error" in delivery.answer.lower(), delivery.answer


def test_a_slow_target_is_cut_off_at_the_time_out(fake_endpoint: FakeEndpoint) -> None:
    """A target that takes longer than the channel's time-out: ok False, within the time-out."""
    fake_endpoint.answer("/hook", Reply(200, {}, delay=5.0))
    channel = UrlChannel(target(fake_endpoint), 1, timeout_seconds=0.5)

    started = time.monotonic()
    delivery = channel.deliver(alert())
    elapsed = time.monotonic() - started

    assert (False, True) == (delivery.ok, delivery.retry)
    assert "no answer within 0.5 s" == delivery.answer
    assert elapsed < 2.0


@pytest.mark.parametrize(
    "url",
    ["nope://user:pass@example.com", "json://", "not a url", "slack://only-one-token"],
)
def test_an_unusable_url_is_not_retried(url: str) -> None:
    """A URL apprise cannot use: ok False, retry False, the fix names the entry."""
    delivery = UrlChannel(url, 4).deliver(alert())

    assert (False, False) == (delivery.ok, delivery.retry)
    assert delivery.answer.startswith("not a URL apprise can use"), delivery.answer
    assert "check [alerts] urls entry 4 in config.toml" == delivery.fix


def test_a_password_in_the_url_never_reaches_an_answer_a_name_or_a_log(
    fake_endpoint: FakeEndpoint,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The canary password is sent to the server, and appears nowhere else, even at TRACE."""
    fake_endpoint.queue("/hook", Reply(500, {"error": "boom"}), Reply(200, {}))
    caplog.set_level(TRACE)
    channels = [
        UrlChannel(target(fake_endpoint, credentials=f"user:{CANARY}@"), 1),
        UrlChannel(f"nope://user:{CANARY}@example.com/x", 2),
        UrlChannel(f"json://user:{CANARY}@", 3),
        UrlChannel(f"{CANARY}", 4),
    ]
    # After the channels are built (each sets apprise back to WARNING): every record it makes.
    for name in ("apprise", "urllib3"):
        caplog.set_level(TRACE, logger=name)

    deliveries = [channel.deliver(alert()) for channel in channels]
    deliveries.append(channels[0].deliver(alert()))

    assert [False, False, False, False, True] == [d.ok for d in deliveries]
    sent = [r.headers.get("Authorization", "") for r in fake_endpoint.requests_for("/hook")]
    basic = "Basic " + base64.b64encode(f"user:{CANARY}".encode()).decode()
    assert [basic, basic] == sent
    seen = [
        *(c.name for c in channels),
        *(c.private_url for c in channels),
        *(f"{d.answer} {d.fix}" for d in deliveries),
        caplog.text,
        *(r.getMessage() for r in caplog.records),
        *capsys.readouterr(),
    ]
    assert [] == [text for text in seen if CANARY in text]
    assert "json://user:****@" in channels[0].private_url


def test_apprise_is_held_at_warning() -> None:
    """Building a channel sets apprise's logger to WARNING: its DEBUG and TRACE print URLs."""
    logging.getLogger("apprise").setLevel(logging.DEBUG)

    UrlChannel("json://127.0.0.1:9/hook", 1)

    assert logging.WARNING == logging.getLogger("apprise").level
