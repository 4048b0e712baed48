"""`otm tail` against a running stack: one readable line per event; `--json` the raw events."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

LINE = (
    '{"isSidechain":false,"cwd":"/home/u/p","sessionId":"s","version":"2.1.30",'
    '"message":{"model":"claude-sonnet-4-5-20250929","id":"MSG","type":"message",'
    '"role":"assistant","content":[],"usage":{"input_tokens":1200,"output_tokens":800,'
    '"cache_creation_input_tokens":2000,"cache_read_input_tokens":10000}},'
    '"requestId":"REQ","type":"assistant","uuid":"UUID","timestamp":"TS"}\n'
)


def _line(n: int, at: float) -> str:
    """A Claude Code assistant line, response ``n``, written at epoch ``at``."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(at))
    return (
        LINE.replace("MSG", f"msg_{n}")
        .replace("REQ", f"req_{n}")
        .replace("UUID", f"u{n}")
        .replace("TS", stamp)
    )


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[Stack, Path]]:
    """A stack that has read one response of a transcript, and the transcript."""
    root = tmp_path / "claude" / "projects" / "-home-u-p"
    root.mkdir(parents=True)
    transcript = root / "s.jsonl"
    transcript.write_text(_line(1, time.time() - 60))
    stack = Stack(tmp_path / "home", tmp_path / "claude")
    stack.start("bus", "store", "collector", "watcher")
    wait_until(lambda: stack.token_totals()[-1] == 1, 30, "the first response")
    # The collector commits a model's price after the usage that named it first.
    wait_until(
        lambda: stack.query("SELECT price FROM prices WHERE price IS NOT NULL"), 30, "a price"
    )
    yield stack, transcript
    stack.stop_all()


class Tail:
    """A running `otm tail`, its stdout read line by line as it comes."""

    def __init__(self, stack: Stack, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*stack.otm_argv(), "tail", *args],
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str) -> str:
        """The first line holding ``text``."""
        found = wait_until(lambda: next((x for x in self.lines if text in x), None), 30, text)
        return str(found)

    def stop(self) -> None:
        """Ctrl-C, as a person stops it."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        self.reader.join(5)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def _total_cost(stack: Stack) -> float:
    report = json.loads(stack.otm("report", "daily", "--json").stdout)
    return float(report["totals"]["totalCost"])


def test_an_appended_response_is_one_readable_line(running: tuple[Stack, Path]) -> None:
    """A response appended to a transcript prints time, provider, short model, tokens and the
    dollars the report adds for it."""
    stack, transcript = running
    before = _total_cost(stack)
    tail = Tail(stack, "--from", str(stack.head()))
    at = time.time()
    try:
        with transcript.open("a") as f:
            f.write(_line(2, at))
        line = tail.wait_for(" in ")
    finally:
        tail.stop()
    added = _total_cost(stack) - before
    assert [
        time.strftime("%H:%M:%S", time.localtime(int(at))),
        "claude",
        "sonnet-4-5",
        "in", "1.2k", "out", "800", "cache", "w", "2.0k", "r", "10.0k",
        f"${added:.4f}",
    ] == line.split()  # fmt: skip


def test_every_line_is_readable_not_json(running: tuple[Stack, Path]) -> None:
    """Replaying the whole log prints no JSON: prices, prompts and usage all as text lines."""
    stack, _transcript = running
    head = stack.head()
    tail = Tail(stack, "--from", "0")
    try:
        wait_until(lambda: len(tail.lines) >= head, 30, f"{head} lines")
    finally:
        tail.stop()
    assert ([], True) == (
        [x for x in tail.lines if x.lstrip().startswith("{")],
        any(" price " in x and "sonnet-4-5" in x for x in tail.lines),
    )


def test_json_prints_the_raw_events(running: tuple[Stack, Path]) -> None:
    """`--json` prints each committed event as the JSON line it always was."""
    stack, transcript = running
    tail = Tail(stack, "--json", "--from", str(stack.head()))
    try:
        with transcript.open("a") as f:
            f.write(_line(3, time.time()))
        line = tail.wait_for('"evt.usage.claude"')
    finally:
        tail.stop()
    event = json.loads(line)
    assert ("evt.usage.claude", ["claude:msg_3"], 1200) == (
        event["topic"],
        [r["key"] for r in event["event"]["records"]],
        event["event"]["records"][0]["input"],
    )


def test_heartbeats_are_readable_lines(running: tuple[Stack, Path]) -> None:
    """`otm tail sys.` prints a line per heartbeat: the process and its pid, live."""
    stack, _transcript = running
    tail = Tail(stack, "sys.")
    try:
        line = tail.wait_for("store ")
    finally:
        tail.stop()
    assert ("store", "alive", "pid") == tuple(line.split()[1:4])


def test_from_with_a_live_only_prefix_is_refused(running: tuple[Stack, Path]) -> None:
    """`--from` with a prefix that is not logged (sys.) is an error naming why, exit 2."""
    stack, _transcript = running
    done = stack.otm("tail", "sys.", "--from", "0")
    assert (2, "error: --from replays committed events") == (
        done.returncode,
        done.stderr.split(" (")[0].split(";")[0],
    )


def test_with_the_store_down_the_tail_starts_at_the_databases_head(
    running: tuple[Stack, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the store stopped, `otm tail` starts after the log's head as the database holds
    it, not at seq 0 (which would replay the whole history once the store is back)."""
    from otm.tail import start_seq
    from services.runtime.installation import load_runtime

    stack, _transcript = running
    head = stack.head()
    stack.stop("store")
    for name in ("OTM_HOME", "HOME", "CLAUDE_CONFIG_DIR"):
        monkeypatch.setenv(name, stack.env[name])
    assert (True, head) == (head > 0, start_seq(load_runtime()))
