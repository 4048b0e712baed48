"""``otm top`` in a real terminal (tmux, 80 x 24) over the real stack."""

from __future__ import annotations

import json
import random
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from services.demo.corpus.claude import Manifest, append_live
from tests.e2e.corpus_support import expected_totals
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e

SCREENS = Path("/work/notes/screens")
"""Where each view's capture is kept for people to look at (when that folder can be made)."""


class Terminal:
    """A private tmux server with one 80 x 24 session running ``otm top``."""

    def __init__(self, stack: Stack) -> None:
        if shutil.which("tmux") is None:
            pytest.fail("tmux is missing: install Debian's tmux (.ci/run does)", pytrace=False)
        self.socket = f"otm-top-{uuid.uuid4().hex[:8]}"
        env = {**stack.env, "TERM": "xterm-256color", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        assignments = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        top = " ".join(shlex.quote(a) for a in [*stack.otm_argv(), "top"])
        script = (
            f"{top}; echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e echo"
            " | tr '\\n' ' '; echo; sleep 600"
        )
        self.tmux(
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            f"env -i {assignments} sh -c " + shlex.quote(script),
        )

    def tmux(self, *args: str) -> str:
        """Run one tmux command on the private server."""
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args], capture_output=True, text=True, timeout=10
        )
        assert 0 == done.returncode, done.stderr
        return done.stdout

    def screen(self) -> str:
        """What a person sees now."""
        return self.tmux("capture-pane", "-p")

    def wait_for(self, text: str, timeout: float) -> str:
        """The screen once it shows ``text``."""

        def shown() -> str:
            screen = self.screen()
            return screen if text in screen else ""

        return str(wait_until(shown, timeout, f"{text!r} on screen"))

    def keys(self, *keys: str) -> None:
        """Type ``keys``."""
        self.tmux("send-keys", *keys)

    def close(self) -> None:
        """Stop the private tmux server (and what runs in it)."""
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)


def keep(name: str, text: str) -> None:
    """Save a capture for people to look at."""
    try:
        SCREENS.mkdir(parents=True, exist_ok=True)
        (SCREENS / f"top-{name}.txt").write_text(text)
    except OSError:
        pass


@pytest.fixture
def running(stack: Stack, corpus: tuple[Path, Manifest]) -> Stack:
    """The whole stack, with the corpus ingested and Claude's windows from the statusline."""
    stack.start_with_claude_windows(expected_totals(corpus[1]))
    return stack


@pytest.fixture
def terminal(stack: Stack) -> Iterator[Terminal]:
    """``otm top`` in a fresh 80 x 24 tmux session of the stack's environment."""
    term = Terminal(stack)
    yield term
    term.close()


def today_cost(stack: Stack) -> str:
    """Today's dollars from `otm report daily --json`, as the screen prints them."""
    report = json.loads(stack.otm("report", "daily", "--json").stdout)
    today = datetime.now().astimezone().date().isoformat()
    costs = [row["totalCost"] for row in report["daily"] if row["date"] == today]
    return f"${costs[0] if costs else 0:,.2f}"


def shown_today(screen: str) -> str:
    """The total after "Today" on the screen."""
    found = re.search(r"Today (\$[\d,]+\.\d\d)", screen)
    return found.group(1) if found else ""


def test_top_shows_windows_and_today_cost_of_the_report(running: Stack, terminal: Terminal) -> None:
    """The running stack's Claude windows and today's cost, equal to `otm report daily`'s."""
    screen = terminal.wait_for("● live", 15)
    keep("all", screen)
    assert (today_cost(running), True, True) == (
        shown_today(screen),
        "24%" in screen or "23%" in screen,
        "local-official" in screen,
    )


def test_appended_line_shows_within_two_seconds(
    running: Stack, terminal: Terminal, corpus: tuple[Path, Manifest]
) -> None:
    """A response appended to a transcript changes today's cost on screen within 2 s."""
    before = shown_today(terminal.wait_for("● live", 15))
    append_live(corpus[0], random.Random(11))
    began = time.monotonic()
    wait_until(lambda: shown_today(terminal.screen()) != before, 5, "a new cost")
    took = time.monotonic() - began
    screen = terminal.screen()
    keep("after-append", screen)
    assert (today_cost(running), True) == (shown_today(screen), took < 2.0)


def test_countdown_ticks(running: Stack, terminal: Terminal) -> None:
    """The 5-hour countdown changes from one second to the next."""
    terminal.wait_for("● live", 15)

    def countdown() -> str:
        found = re.search(r"5-hour .*resets (\S+)", terminal.screen())
        return found.group(1) if found else ""

    first = countdown()
    time.sleep(1.2)
    assert (True, True) == (first != "", countdown() not in ("", first))


def test_two_switches_to_codex(running: Stack, terminal: Terminal) -> None:
    """Key 2 shows Codex's view."""
    terminal.wait_for("● live", 15)
    terminal.keys("2")
    screen = terminal.wait_for("top · Codex CLI", 5)
    keep("codex", screen)
    assert "Claude Code  today" not in screen


def test_q_quits_and_restores_the_terminal(running: Stack, terminal: Terminal) -> None:
    """q exits with 0 and leaves the terminal in canonical mode with echo."""
    terminal.wait_for("● live", 15)
    terminal.keys("1")
    keep("claude", terminal.wait_for("top · Claude Code", 5))
    terminal.keys("q")
    terminal.wait_for("EXIT=", 5)
    # stty's answer follows the exit code: wait until both modes are printed after it.
    flags = r"EXIT=(\d+)\s+(icanon|echo)\s+(icanon|echo)\s*$"
    screen = wait_until(lambda: re.search(flags, terminal.screen(), re.M), 5, "stty's modes")
    assert ("0", {"icanon", "echo"}) == (screen.group(1), {screen.group(2), screen.group(3)})


def test_without_the_stack_it_says_so(stack: Stack, terminal: Terminal) -> None:
    """With nothing running the screen says the stack is not running and how to start it."""
    screen = terminal.wait_for("the stack is not running — start it with: otm up", 10)
    keep("stack-down", screen)
    assert "● down" in screen


def test_resumes_when_the_store_comes_back(running: Stack, terminal: Terminal) -> None:
    """A stopped store is said within seconds; once it runs again the screen is live again."""
    terminal.wait_for("● live", 15)
    running.stop("store")
    down = terminal.wait_for("the stack is not running", 10)
    keep("store-stopped", down)
    running.start("store")
    screen = terminal.wait_for("● live", 15)
    assert (True, False) == ("5-hour" in down, "not running" in screen)


def test_no_terminal_prints_one_snapshot(running: Stack) -> None:
    """Piped, `otm top` prints one snapshot with today's cost and exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", "otm", "top"],
        env=running.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert (0, today_cost(running)) == (done.returncode, shown_today(done.stdout))
