"""Alerts end to end: rising windows reach every channel exactly once, whatever is killed.

Real processes (bus, store, collector, watcher, notifier), windows fed the way Claude Code feeds
them (``otm statusline`` input) or from the fake Claude usage endpoint, and real channels: a
desktop notification server on a private D-Bus session bus, a real HTTP server as the apprise
``json://`` target, and a real hook program as the ``command``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.stack import Stack, wait_until
from tests.fake_endpoint import FakeEndpoint, Reply
from tests.notification_server import NotificationServer

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PROCESSES = ("bus", "store", "collector", "watcher", "scheduler", "notifier")
CLAUDE_PATH = "/api/oauth/usage"
HOOK = """
import json, os, sys
alert = json.load(sys.stdin)
with open(sys.argv[1], "a") as out:
    out.write(json.dumps({"key": alert["key"], "env": os.environ["OTM_ALERT_KEY"]}) + "\\n")
"""
EXPECTED_RULES = [("threshold", 75.0), ("threshold", 90.0), ("threshold", 95.0), ("reset", 95.0)]


class Channels:
    """What every channel received: the hook's file, the json:// server, the desktop."""

    def __init__(self, hook_out: Path, web: FakeEndpoint, desktop: NotificationServer) -> None:
        self.hook_out = hook_out
        self.web = web
        self.desktop = desktop

    def hook_keys(self) -> list[str]:
        """Alert keys the hook program was run with, in order."""
        if not self.hook_out.exists():
            return []
        lines = [json.loads(line) for line in self.hook_out.read_text().splitlines()]
        assert all(line["key"] == line["env"] for line in lines)
        return [line["key"] for line in lines]

    def web_titles(self) -> list[str]:
        """Titles the json:// target received, in order."""
        return [r.json()["title"] for r in self.web.requests_for("/alerts")]

    def desktop_titles(self) -> list[str]:
        """Summaries of the desktop notifications shown, in order."""
        return [n.summary for n in self.desktop.notifications]


@pytest.fixture
def alert_stack(
    tmp_path: Path, notification_server: NotificationServer
) -> Iterator[tuple[Stack, Channels]]:
    """A stack reading an (empty) Claude config dir, with every alert channel configured."""
    claude = tmp_path / "claude"
    (claude / "projects").mkdir(parents=True)
    home = tmp_path / "home"
    home.mkdir()
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK)
    hook_out = tmp_path / "hook.jsonl"
    web = FakeEndpoint().start()
    web.answer("/alerts", Reply(status=200, body={"ok": True}))
    (home / "config.toml").write_text(
        "[alerts]\n"
        "pace = false\n"
        f"command = '{sys.executable} {hook} {hook_out}'\n"
        f'urls = ["{web.url.replace("http://", "json://")}/alerts"]\n'
        f'[claude]\nusage_url = "{web.url}{CLAUDE_PATH}"\n'
        "[limits]\npoll_seconds = 1.0\nmin_interval_seconds = 1.0\njitter = 0.0\n"
    )
    env = {"DBUS_SESSION_BUS_ADDRESS": notification_server.address}
    stack = Stack(home, claude, extra_env=env)
    yield stack, Channels(hook_out, web, notification_server)
    stack.stop_all()
    web.stop()


def plant_claude_credentials(claude: Path) -> None:
    """Claude Code's sign-in, so the collector asks the (fake) usage endpoint."""
    future_ms = int((time.time() + 30 * 86_400) * 1000)
    oauth = {
        "accessToken": "sk-ant-oat01-test-notifier",
        "refreshToken": "refresh-test",
        "expiresAt": future_ms,
        "scopes": ["user:inference", "user:profile"],
        "subscriptionType": "max",
    }
    (claude / ".credentials.json").write_text(json.dumps({"claudeAiOauth": oauth}))


Feed = Callable[[Stack, FakeEndpoint, float, float], None]


def endpoint(stack: Stack, web: FakeEndpoint, five_hour: float, resets_at: float) -> None:
    """Claude's usage endpoint answers with the 5-hour window at ``five_hour`` (the scheduler
    polls every second)."""
    iso = datetime.fromtimestamp(resets_at, UTC).isoformat()
    usage = {
        "five_hour": {"utilization": five_hour, "resets_at": iso},
        "seven_day": {"utilization": 10.0, "resets_at": iso},
    }
    web.answer(CLAUDE_PATH, Reply(200, usage))


def statusline_feed(stack: Stack, web: FakeEndpoint, five_hour: float, resets_at: float) -> None:
    """The same window through Claude Code's statusline input."""
    statusline(stack, five_hour, resets_at)


def statusline(stack: Stack, five_hour: float, resets_at: float) -> None:
    """Claude Code hands ``otm statusline`` its rate limits (the 5-hour window at ``five_hour``)."""
    payload = {
        "model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"},
        "rate_limits": {
            "five_hour": {"used_percentage": five_hour, "resets_at": int(resets_at)},
            "seven_day": {"used_percentage": 10, "resets_at": int(resets_at) + 3 * 86_400},
        },
    }
    done = stack.otm_stdin(["statusline"], json.dumps(payload).encode())
    assert 0 == done.returncode, done.stderr


def committed_alerts(stack: Stack) -> list[tuple[str, str, float]]:
    """(key, rule, band) of every committed alert, in seq order."""
    rows = stack.query("SELECT key, alert FROM alerts ORDER BY seq")
    import msgspec

    from bus.messages import Alert

    out = []
    for key, blob in rows:
        alert = msgspec.msgpack.decode(blob, type=Alert)
        out.append((key, alert.rule, alert.band or 0.0))
    return out


def delivered_everywhere(stack: Stack, channels: Channels, count: int) -> bool:
    """Whether ``count`` alerts are committed and each channel received that many."""
    return (
        len(committed_alerts(stack)) >= count
        and len(channels.hook_keys()) >= count
        and len(channels.web_titles()) >= count
        and len(channels.desktop_titles()) >= count
    )


def rise_and_reset(
    stack: Stack,
    channels: Channels,
    chaos: random.Random | None = None,
    feed: Feed = statusline_feed,
) -> int:
    """Windows at 40 -> 80 -> 92 -> 96 %, then a new window at 2 %; after each step, optionally
    kill -9 the notifier or the store (or both) and start them again. How many times the
    notifier was killed."""
    notifier_kills = 0
    resets = time.time() + 3 * 3600
    steps = [(40, resets, 0), (80, resets, 1), (92, resets, 2), (96, resets, 3)]
    steps.append((2, resets + 5 * 3600, 4))
    for used, resets_at, expected in steps:
        feed(stack, channels.web, used, resets_at)
        if chaos is not None and chaos.random() < 0.6:
            time.sleep(chaos.uniform(0, 0.4))  # mid-pipeline, before the step's delivery
            victims = chaos.choice([["notifier"], ["store"], ["notifier", "store"]])
            for name in victims:
                stack.kill(name)
            notifier_kills += "notifier" in victims
            stack.start(*victims)
        wait_until(
            lambda n=expected: delivered_everywhere(stack, channels, n),
            30,
            f"{expected} alerts delivered on every channel",
        )
    return notifier_kills


@pytest.mark.parametrize("feed", [statusline_feed, endpoint], ids=["statusline", "endpoint"])
def test_rising_window_alerts_once_per_band_on_every_channel(
    alert_stack: tuple[Stack, Channels], feed: Feed
) -> None:
    """75, 90, 95 and the reset: four alerts, each on the hook, the json:// target and the
    desktop exactly once, in order (windows from the statusline, or from the usage endpoint)."""
    stack, channels = alert_stack
    if feed is endpoint:
        # Signed in, and the endpoint answering (no windows yet) before the first poll.
        plant_claude_credentials(Path(stack.env["CLAUDE_CONFIG_DIR"]))
        channels.web.answer(CLAUDE_PATH, Reply(200, {}))
    stack.start(*PROCESSES)
    rise_and_reset(stack, channels, feed=feed)
    time.sleep(2)  # anything extra would show up by now
    alerts = committed_alerts(stack)
    assert EXPECTED_RULES == [(rule, band) for _key, rule, band in alerts]
    keys = [key for key, _rule, _band in alerts]
    assert keys == channels.hook_keys()
    titles = channels.web_titles()
    assert titles == channels.desktop_titles()
    assert [
        "Claude 5-hour window at 80 %",
        "Claude 5-hour window at 92 %",
        "Claude 5-hour window at 96 %",
        "Claude 5-hour window reset",
    ] == titles
    assert [1, 1, 2, 0] == [n.urgency for n in channels.desktop.notifications]
    assert {"OpenTokenMonitor"} == {n.app_name for n in channels.desktop.notifications}


def test_a_failed_delivery_is_tried_again_after_its_pause(
    alert_stack: tuple[Stack, Channels],
) -> None:
    """The json:// target answers 500 to the first attempt, then 200: the retry brings it the
    alert, once, while the channels that answered at once got it once."""
    stack, channels = alert_stack
    channels.web.answer("/alerts", Reply(status=500, body={"error": "down"}))
    stack.start(*PROCESSES)
    statusline(stack, 80.0, time.time() + 3600)
    wait_until(lambda: channels.web.requests_for("/alerts"), 30, "a first attempt")
    channels.web.answer("/alerts", Reply(status=200, body={"ok": True}))
    wait_until(lambda: len(channels.web.requests_for("/alerts")) >= 2, 30, "the retry")
    time.sleep(1)  # a third attempt would show up by now
    title = "Claude 5-hour window at 80 %"
    assert ([title] * 2, [title]) == (channels.web_titles(), channels.desktop_titles())


@pytest.mark.parametrize("seed", [3, 11])
def test_kill_9_of_notifier_and_store_loses_and_repeats_nothing(
    alert_stack: tuple[Stack, Channels], seed: int
) -> None:
    """The same run with kill -9 of the notifier and the store at random moments: the same
    four alerts committed, none twice, none missing; every channel got every alert, and got
    one twice only where a kill fell between its delivery and its record (README: at most one
    repeat per kill of the notifier)."""
    stack, channels = alert_stack
    stack.start(*PROCESSES)
    kills = rise_and_reset(stack, channels, random.Random(seed))
    time.sleep(3)
    assert EXPECTED_RULES == [(rule, band) for _key, rule, band in committed_alerts(stack)]
    keys = [key for key, _rule, _band in committed_alerts(stack)]
    titles = [
        "Claude 5-hour window at 80 %",
        "Claude 5-hour window at 92 %",
        "Claude 5-hour window at 96 %",
        "Claude 5-hour window reset",
    ]
    for got, wanted in (
        (channels.hook_keys(), keys),
        (channels.web_titles(), titles),
        (channels.desktop_titles(), titles),
    ):
        assert wanted == sorted(set(got), key=got.index)
        assert len(got) - len(wanted) <= kills


def test_rebuild_and_restart_fire_nothing_again(alert_stack: tuple[Stack, Channels]) -> None:
    """After `otm store rebuild` and a restart of every process, no alert is repeated."""
    stack, channels = alert_stack
    stack.start(*PROCESSES)
    rise_and_reset(stack, channels)
    stack.stop_all()
    done = stack.otm("store", "rebuild")
    assert 0 == done.returncode, done.stderr
    stack.start(*PROCESSES)
    statusline(stack, 3, time.time() + 8 * 3600)  # a fresh reading after the restart
    time.sleep(4)
    assert 4 == len(committed_alerts(stack)) == len(channels.hook_keys())
    assert 4 == len(channels.web_titles()) == len(channels.desktop_titles())


def test_alerts_reach_the_api_and_the_cli(alert_stack: tuple[Stack, Channels]) -> None:
    """`otm alerts --json` lists the four alerts with each channel's delivery state."""
    stack, channels = alert_stack
    stack.start(*PROCESSES)
    rise_and_reset(stack, channels)
    wait_until(lambda: _all_delivered(stack), 20, "deliveries recorded")
    report: dict[str, Any] = json.loads(stack.otm("alerts", "--json").stdout)
    assert ["reset", "threshold", "threshold", "threshold"] == [a["rule"] for a in report["alerts"]]
    states = {d["state"] for a in report["alerts"] for d in a["deliveries"]}
    assert {"delivered"} == states


def _all_delivered(stack: Stack) -> bool:
    report = json.loads(stack.otm("alerts", "--json").stdout or "{}")
    deliveries = [d for a in report.get("alerts", []) for d in a["deliveries"]]
    return len(deliveries) == 12 and all(d["state"] == "delivered" for d in deliveries)


def test_snooze_holds_every_channel_then_one_summary(alert_stack: tuple[Stack, Channels]) -> None:
    """While snoozed nothing is delivered; after `otm alerts snooze off` each channel gets one
    summary of the two held alerts."""
    stack, channels = alert_stack
    stack.start(*PROCESSES)
    assert 0 == stack.otm("alerts", "snooze", "1h").returncode
    resets = time.time() + 3 * 3600
    for count, used in enumerate((80, 92), start=1):
        statusline(stack, used, resets)
        wait_until(lambda n=count: len(committed_alerts(stack)) >= n, 20, "commit")
    time.sleep(1.5)
    held = (channels.hook_keys(), channels.web_titles(), channels.desktop_titles())
    assert 0 == stack.otm("alerts", "snooze", "off").returncode
    wait_until(lambda: channels.web_titles() and channels.desktop_titles(), 20, "summaries")
    time.sleep(1.5)
    assert ([], [], []) == held
    summary = "2 alerts while notifications were held"
    assert ([summary], [summary]) == (channels.web_titles(), channels.desktop_titles())
    assert 1 == len(channels.hook_keys())


def test_quiet_hours_hold_the_desktop_only(
    tmp_path: Path, alert_stack: tuple[Stack, Channels]
) -> None:
    """Inside quiet hours the hook and the json:// target get the alert, the desktop does not."""
    stack, channels = alert_stack
    now = datetime.now()
    start, end = now - timedelta(minutes=5), now + timedelta(minutes=60)
    config = stack.home / "config.toml"
    quiet = f'quiet_hours = "{start:%H:%M}-{end:%H:%M}"\n'
    config.write_text(config.read_text().replace("[alerts]\n", "[alerts]\n" + quiet))
    stack.start(*PROCESSES)
    statusline(stack, 80, time.time() + 3 * 3600)
    wait_until(lambda: channels.hook_keys() and channels.web_titles(), 20, "the other channels")
    time.sleep(1.5)
    assert [] == channels.desktop_titles()
    report = json.loads(stack.otm("alerts", "--json").stdout)
    states = {d["channel"]: d["state"] for d in report["alerts"][0]["deliveries"]}
    assert "held" == states["desktop"]


def test_alerts_test_reaches_every_channel_and_says_what_each_answered(
    alert_stack: tuple[Stack, Channels],
) -> None:
    """`otm alerts test --json` sends one test alert through the desktop, the URL and the
    command, and reports each answer; no stack needed."""
    stack, channels = alert_stack
    done = stack.otm("alerts", "test", "--json")
    assert 0 == done.returncode, done.stderr
    answers = json.loads(done.stdout)
    assert [("desktop", True), ("json#1", True), ("command", True)] == [
        (a["channel"], a["ok"]) for a in answers
    ]
    assert ["OpenTokenMonitor test alert"] == channels.web_titles() == channels.desktop_titles()
    assert 1 == len(channels.hook_keys())


def test_alerts_test_names_a_broken_channel_and_its_fix(
    alert_stack: tuple[Stack, Channels],
) -> None:
    """A command that does not exist: exit status 1, the channel, the answer and the fix."""
    stack, _channels = alert_stack
    config = stack.home / "config.toml"
    lines = [
        "command = '/nonexistent/hook'" if line.startswith("command =") else line
        for line in config.read_text().splitlines()
    ]
    config.write_text("\n".join(lines) + "\n")
    done = stack.otm("alerts", "test")
    assert 1 == done.returncode
    assert "command" in done.stdout and "fix:" in done.stdout and "[alerts] command" in done.stdout


def test_get_v1_alerts_is_otm_alerts_json(alert_stack: tuple[Stack, Channels]) -> None:
    """The API's /v1/alerts gives the same alerts as the CLI."""
    stack, channels = alert_stack
    stack.start(*PROCESSES, "api")
    statusline(stack, 96, time.time() + 3 * 3600)
    wait_until(lambda: delivered_everywhere(stack, channels, 1), 20, "one alert")
    body = httpx.get(f"{stack.api_url}/v1/alerts", timeout=10).json()
    cli = json.loads(stack.otm("alerts", "--json").stdout)
    assert [a["key"] for a in cli["alerts"]] == [a["key"] for a in body["alerts"]]
    assert ["critical"] == [a["severity"] for a in body["active"]]


def test_demo_mode_shows_a_few_alerts_labelled_demo(
    tmp_path: Path, notification_server: NotificationServer
) -> None:
    """With no CLI data, the demo's made-up 5-hour window gives its 75 % alert within seconds,
    on the desktop, labelled demo data."""
    stack = Stack(
        tmp_path / "home",
        None,
        extra_env={"DBUS_SESSION_BUS_ADDRESS": notification_server.address, "OTM_DEMO": "1"},
    )
    try:
        stack.start(*PROCESSES, "demo")
        shown = wait_until(lambda: notification_server.notifications, 90, "a demo alert")
        assert "Claude 5-hour window at" in shown[0].summary
        assert shown[0].summary.endswith("(demo data)")
        report = json.loads(stack.otm("alerts", "--json").stdout)
        assert {True} == {a["demo"] for a in report["alerts"]}
    finally:
        stack.stop_all()


def test_without_a_desktop_session_the_other_channels_go_on(
    alert_stack: tuple[Stack, Channels],
) -> None:
    """No D-Bus session bus (SSH, a container): said once with the fix, the hook and the json://
    target still get every alert, and the notifier keeps running."""
    stack, channels = alert_stack
    del stack.env["DBUS_SESSION_BUS_ADDRESS"]
    stack.start(*PROCESSES)
    resets = time.time() + 3 * 3600
    for count, used in enumerate((80, 92), start=1):
        statusline(stack, used, resets)
        wait_until(lambda n=count: len(channels.web_titles()) >= n, 20, f"{count} on json://")
    report = json.loads(stack.otm("alerts", "--json").stdout)
    desktop = [d for a in report["alerts"] for d in a["deliveries"] if d["channel"] == "desktop"]
    assert {"failed"} == {d["state"] for d in desktop}
    assert "[alerts] urls" in desktop[0]["fix"]
    said = [e for e in stack.log_entries("notifier") if e.get("event") == "channel_unusable"]
    assert (1, 2, True) == (len(said), len(channels.hook_keys()), stack.is_ready("notifier"))


def test_spend_limit_past_100_is_announced_as_exceeded(
    alert_stack: tuple[Stack, Channels],
) -> None:
    """A statusline spend_limit at 130 % reaches the desktop as "spend limit exceeded: 130 %"."""
    stack, channels = alert_stack
    stack.start(*PROCESSES)
    resets = int(time.time()) + 10 * 86_400
    payload = {
        "model": {"id": "claude-opus-4-1", "display_name": "Opus 4.1"},
        "rate_limits": {"spend_limit": {"used_percentage": 130, "resets_at": resets}},
    }
    done = stack.otm_stdin(["statusline"], json.dumps(payload).encode())
    assert 0 == done.returncode, done.stderr
    wait_until(lambda: channels.desktop_titles(), 30, "the spend alert on the desktop")
    assert ["Claude spend limit exceeded: 130 %"] == channels.desktop_titles()
