"""How ``otm up`` tells a process it stopped from one that failed.

honcho reports every exit as ``<name> stopped (rc=<code>)``: after Ctrl-C that is one
``rc=-15`` per process, which reads like as many failures. Here an exit is judged by who
caused it: a process ``otm up`` (or the person's Ctrl-C) asked to stop that exits as asked is a
plain stop; one that had to be killed says so; any other exit is a failure, named as one.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field
from typing import Literal

STOP_CODES = frozenset(
    {0, -signal.SIGTERM, 128 + signal.SIGTERM, -signal.SIGINT, 128 + signal.SIGINT}
)
"""Exit codes of a process that stopped on SIGTERM or SIGINT: gracefully (0), by the signal
(-15, -2: ``Popen``'s "killed by signal"), or through a shell (143, 130)."""
KILL_CODES = frozenset({-signal.SIGKILL, 128 + signal.SIGKILL})

Outcome = Literal["stopped", "killed", "failed"]


def signal_name(number: int) -> str:
    """``SIGKILL`` for 9; ``signal 64`` for a number with no name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def failure_text(name: str, code: int) -> str:
    """A failed exit for people: what the exit status or the signal was."""
    if code < 0:
        return f"{name} failed: killed by {signal_name(-code)}"
    if code == 0:
        return f"{name} failed: it exited by itself (status 0)"
    return f"{name} failed: exit status {code}"


@dataclass
class Stops:
    """Who was asked to stop or killed, and how each process's exit reads."""

    asked: set[str] = field(default_factory=set)
    """Processes sent SIGTERM by ``otm up`` (after Ctrl-C, or because another one failed)."""
    killed: set[str] = field(default_factory=set)
    """Processes sent SIGKILL because they did not stop in time."""
    signalled: bool = False
    """The person stopped the stack (SIGINT or SIGTERM to ``otm up``)."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)

    def outcome(self, name: str, code: int) -> Outcome:
        """Record and return how ``name``'s exit with ``code`` reads."""
        asked = name in self.asked or self.signalled
        if name in self.killed and code in KILL_CODES:
            result: Outcome = "killed"
        elif asked and code in STOP_CODES:
            result = "stopped"
        else:
            result = "failed"
        self.outcomes[name], self.codes[name] = result, code
        return result

    def text(self, name: str, code: int, wait: float) -> str:
        """The line for ``name``'s exit (``wait``: seconds honcho gives before SIGKILL)."""
        outcome = self.outcome(name, code)
        if outcome == "stopped":
            return f"{name} stopped"
        if outcome == "killed":
            return f"{name} killed: it did not stop within {wait:g} s"
        return failure_text(name, code)

    @property
    def failed(self) -> list[str]:
        """The processes that failed, in the order they exited."""
        return [name for name, outcome in self.outcomes.items() if outcome == "failed"]

    def failures(self) -> list[str]:
        """One line per failed process, saying how it failed."""
        return [failure_text(name, self.codes[name]) for name in self.failed]

    def summary(self) -> str:
        """The last line of ``otm up``: how many stopped, and which failed."""
        ended = [n for n, o in self.outcomes.items() if o != "failed"]
        if not self.failed:
            return f"stack stopped: {len(ended)} process{'' if len(ended) == 1 else 'es'}"
        others = f"{len(ended)} other process{'' if len(ended) == 1 else 'es'} stopped"
        return f"stack stopped: {', '.join(self.failed)} failed; {others}"
