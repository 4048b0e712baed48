"""Where this installation keeps things and which data it reads, resolved the same way by
every process so they all agree on the database, the sockets and the roots.

With no Claude Code data anywhere (no configured roots, no ``CLAUDE_CONFIG_DIR``, none of the
CLI's default folders), or with ``OTM_DEMO=1``, the stack runs in demo mode: it reads a
generated history under ``<state>/demo`` and keeps its numbers in ``demo.db``, so demo data
never mixes with real data.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from bus.endpoints import Endpoints, endpoints, run_dir, state_dir
from services.runtime.cli_roots import claude_roots, codex_roots, existing_roots, gemini_roots
from services.runtime.config import Config, ConfigError, load_config


@dataclass(frozen=True)
class Runtime:
    """Everything a process needs to find its peers and its data."""

    state: Path
    config: Config
    endpoints: Endpoints
    claude_roots: tuple[Path, ...]
    demo: bool
    codex_roots: tuple[Path, ...] = ()
    gemini_roots: tuple[Path, ...] = ()

    @property
    def roots(self) -> dict[str, tuple[Path, ...]]:
        """Every provider's roots, by provider."""
        return {"claude": self.claude_roots, "codex": self.codex_roots, "gemini": self.gemini_roots}

    @property
    def db_path(self) -> Path:
        """The SQLite event log and projections."""
        return self.state / ("demo.db" if self.demo else "otm.db")

    @property
    def run(self) -> Path:
        """The private directory for sockets and locks."""
        return run_dir(self.state)

    @property
    def demo_root(self) -> Path:
        """Where the demo's generated Claude Code history lives."""
        return demo_root(self.state)

    @property
    def notifier_db_path(self) -> Path:
        """The notifier's own database (its rules' memory, outbox and deliveries)."""
        return self.state / ("notifier-demo.db" if self.demo else "notifier.db")

    def lock_path(self, process: str) -> Path:
        """The lock file a single-instance process holds while it runs."""
        return self.run / f"{process}.lock"


def demo_root(state: Path) -> Path:
    """The demo's Claude config dir (it holds ``projects/``)."""
    return state / "demo" / "claude"


def discovered_roots(config: Config) -> tuple[list[Path], list[Path], list[Path]]:
    """Claude, Codex and Gemini roots from the config and the CLIs' own conventions."""
    return (
        list(claude_roots(config.claude.roots)),
        list(codex_roots(config.codex.roots)),
        list(gemini_roots(config.gemini.roots)),
    )


def without_demo(runtime: Runtime) -> Runtime:
    """The same runtime looking at the real roots (for diagnosing why none were found)."""
    if not runtime.demo:
        return runtime
    claude, codex, gemini = discovered_roots(runtime.config)
    return dataclasses.replace(
        runtime,
        demo=False,
        claude_roots=tuple(claude),
        codex_roots=tuple(codex),
        gemini_roots=tuple(gemini),
    )


def load_runtime() -> Runtime:
    """Resolve state dir, config, endpoints and roots from the environment."""
    state = state_dir()
    _make_state_dir(state)
    config = load_config(state / "config.toml")
    roots, codex, gemini = discovered_roots(config)
    explicit = bool(config.claude.roots or os.environ.get("CLAUDE_CONFIG_DIR"))
    found = existing_roots([*roots, *codex, *gemini])
    demo = os.environ.get("OTM_DEMO") == "1" or (not explicit and not found)
    if demo:
        roots, codex, gemini = [demo_root(state) / "projects"], [], []
    return Runtime(
        state=state,
        config=config,
        endpoints=endpoints(state),
        claude_roots=tuple(roots),
        demo=demo,
        codex_roots=tuple(codex),
        gemini_roots=tuple(gemini),
    )


def _make_state_dir(state: Path) -> None:
    """Create the state folder, or say which setting names a folder that cannot be one."""
    try:
        state.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        env = os.environ.get("OTM_HOME")
        where = f"environment variable OTM_HOME={env}" if env else f"state folder {state}"
        problem = (
            "is a file, not a folder" if state.is_file() else f"cannot be created ({exc.strerror})"
        )
        raise ConfigError(f"{where} {problem}: point OTM_HOME at a folder you can write") from None
