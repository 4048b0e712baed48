"""Where this installation keeps things and which data it reads, resolved the same way by
every process so they all agree on the database, the sockets and the roots.

With no Claude Code data anywhere (no configured roots, no ``CLAUDE_CONFIG_DIR``, none of the
CLI's default folders), or with ``OTM_DEMO=1``, the stack runs in demo mode: it reads a
generated history under ``<state>/demo`` and keeps its numbers in ``demo.db``, so demo data
never mixes with real data.

The state folder holds prompts and spend, so it is its owner's alone (POSIX): every process sets
its umask to 0o077 as it loads the runtime, so whatever it writes there (databases, logs, the
spool, sockets, keys) is 0600 and every folder 0700; and at every start the folder and what is in
it (two levels down) lose any group and other bits, when they belong to this user. What belongs
to someone else is left as it is and reported by ``otm doctor``.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from bus.endpoints import Endpoints, endpoints, run_dir, state_dir, tcp_endpoints
from services.runtime.cli_roots import claude_roots, codex_roots, existing_roots, gemini_roots
from services.runtime.config import Config, ConfigError, load_config
from services.runtime.machine import Machine, local_machine


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
    listen: Endpoints | None = None
    """On a hub (``[bus] listen``): the tcp endpoints agents reach, served with CURVE."""

    @functools.cached_property
    def machine(self) -> Machine:
        """This machine (its id is made under the state folder on first use)."""
        return local_machine(self.state, self.config.machine.name or None)

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


PRIVATE_UMASK = 0o077
"""Nothing a process creates is readable, writable or enterable by group or others."""
OTHERS = 0o077
PRIVATE_DEPTH = 2
"""How far into the state folder the start-up check looks: the folder, what is in it, and what
is in its folders (``run/``, ``logs/``, ``spool/``, …); deeper ones sit behind a 0700 folder."""


@dataclass(frozen=True)
class Exposure:
    """A file or folder of the state folder that users other than its owner may use."""

    path: Path
    mode: int
    owner: int
    folder: bool
    shared: bool = False
    """A sticky folder (like /tmp): it is meant for everyone and is never tightened."""

    @property
    def ours(self) -> bool:
        """Whether this process's user owns it (and so may tighten it)."""
        return self.owner == os.geteuid()

    @property
    def reason(self) -> str:
        """What is wrong, for people."""
        kind = "folder" if self.folder else "file"
        whose = "" if self.ours else f", owned by uid {self.owner},"
        return f"{kind} {self.path}{whose} is open to other users (mode {self.mode:04o})"

    @property
    def fix(self) -> str:
        """The command that fixes it."""
        if self.shared:
            return "set OTM_HOME to a folder of its own (this one is shared by everyone)"
        command = f"chmod {'700' if self.folder else '600'} {self.path}"
        return command if self.ours else f"as uid {self.owner} (or root): {command}"


def exposures(state: Path) -> list[Exposure]:
    """Everything in the state folder (``PRIVATE_DEPTH`` levels down) that other users may
    read, write or enter; symbolic links are not followed."""
    if os.name != "posix":
        return []
    found: list[Exposure] = []
    level = [state]
    for depth in range(PRIVATE_DEPTH + 1):
        below: list[Path] = []
        for path in level:
            try:
                info = path.lstat()
            except OSError:
                continue
            folder = stat.S_ISDIR(info.st_mode)
            if info.st_mode & OTHERS and not stat.S_ISLNK(info.st_mode):
                shared = folder and bool(info.st_mode & stat.S_ISVTX)
                found.append(
                    Exposure(path, stat.S_IMODE(info.st_mode), info.st_uid, folder, shared)
                )
            if folder and depth < PRIVATE_DEPTH:
                below.extend(_entries(path))
        level = below
    return found


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError:
        return []


def make_private(state: Path) -> list[Exposure]:
    """Set this process's umask to ``PRIVATE_UMASK``, create the state folder (0700) and take
    group and other bits off what in it this user owns; what is left open (someone else's, or
    a shared folder) is returned."""
    if os.name != "posix":
        state.mkdir(parents=True, exist_ok=True)
        return []
    os.umask(PRIVATE_UMASK)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    left: list[Exposure] = []
    for exposure in exposures(state):
        if not exposure.ours or exposure.shared:
            left.append(exposure)
            continue
        try:
            os.chmod(exposure.path, exposure.mode & ~OTHERS)
        except OSError:
            left.append(exposure)
    return left


def load_runtime() -> Runtime:
    """Resolve state dir, config, endpoints and roots from the environment (making the state
    folder private first, see ``make_private``)."""
    state = state_dir()
    _make_state_dir(state)
    make_private(state)
    config = load_config(state / "config.toml")
    roots, codex, gemini = discovered_roots(config)
    explicit = bool(config.claude.roots or os.environ.get("CLAUDE_CONFIG_DIR"))
    found = existing_roots([*roots, *codex, *gemini])
    # A hub or an agent is never a demo by default: a hub may have no CLI of its own, and its
    # agents' records must not land in demo.db.
    several = bool(config.bus.listen or config.bus.connect)
    demo = os.environ.get("OTM_DEMO") == "1" or (not explicit and not found and not several)
    if demo:
        roots, codex, gemini = [demo_root(state) / "projects"], [], []
    return Runtime(
        state=state,
        config=config,
        endpoints=bus_endpoints(state, config),
        claude_roots=tuple(roots),
        demo=demo,
        codex_roots=tuple(codex),
        gemini_roots=tuple(gemini),
        listen=tcp_endpoints(config.bus.listen) if config.bus.listen else None,
    )


def bus_endpoints(state: Path, config: Config) -> Endpoints:
    """The local transport, or on an agent (``[bus] connect``) the hub's, with CURVE keys."""
    if not config.bus.connect:
        return endpoints(state)
    from bus.curve import BadKey, CurveClient, load_pair

    try:
        pair = load_pair(state)
    except BadKey as exc:
        raise ConfigError(str(exc)) from None
    if pair is None:
        raise ConfigError(
            f"[bus] connect is set but this machine has no keys in {state / 'keys'}: run "
            "`otm keys init`, then on the hub `otm keys add NAME <the key it printed>`"
        )
    return tcp_endpoints(
        config.bus.connect, CurveClient(pair.public, pair.secret, config.bus.hub_key)
    )


def _make_state_dir(state: Path) -> None:
    """Create the state folder, or say which setting names a folder that cannot be one."""
    try:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        env = os.environ.get("OTM_HOME")
        where = f"environment variable OTM_HOME={env}" if env else f"state folder {state}"
        problem = (
            "is a file, not a folder" if state.is_file() else f"cannot be created ({exc.strerror})"
        )
        raise ConfigError(f"{where} {problem}: point OTM_HOME at a folder you can write") from None
