"""A hub and an agent as two stacks of real processes with their own state folders, joined
over tcp with CURVE keys made by ``otm keys``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from bench.stack import free_port_run
from tests.e2e.stack import Stack

HUB_PROCESSES = ("bus", "store")
AGENT_PROCESSES = ("collector", "watcher")


def write_config(home: Path, text: str) -> None:
    """Write ``<home>/config.toml``."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(text)


def public_key(stack: Stack) -> str:
    """``otm keys init`` in that stack's state folder; the public key it printed."""
    done = stack.otm("keys", "init")
    assert 0 == done.returncode, done.stdout + done.stderr
    return done.stdout.splitlines()[0].strip()


def hub_and_agent(
    tmp: Path, claude_dir: Path, agent_port: int | None = None
) -> tuple[Stack, Stack, int]:
    """A hub (listening on a free base port) and an agent admitted by it, reading
    ``claude_dir``; the agent connects to ``agent_port`` (a proxy's) if given."""
    base = free_port_run(3)
    hub = Stack(tmp / "hub", None)
    write_config(hub.home, f'[bus]\nlisten = "tcp://127.0.0.1:{base}"\n')
    hub_key = public_key(hub)
    agent = Stack(tmp / "agent", claude_dir)
    target = agent_port or base
    write_config(
        agent.home,
        f'[bus]\nconnect = "tcp://127.0.0.1:{target}"\nhub_key = "{hub_key}"\n',
    )
    added = hub.otm("keys", "add", "agent", public_key(agent))
    assert 0 == added.returncode, added.stdout + added.stderr
    return hub, agent, base


def start_proxy(listen: int, target: int, log: Path) -> subprocess.Popen[bytes]:
    """The tcp proxy process (``tests/e2e/tcp_proxy.py``) for the three ports from ``listen``."""
    script = Path(__file__).with_name("tcp_proxy.py")
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, str(script), str(listen), str(target)], stdout=out, stderr=out
        )
