"""The watcher's pure parts (``_changed_logs``, ``_existing``, ``_refresh``) and one watch
(``_watch``) run in a thread against a real forwarder, without starting a process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bus.client import Publisher, Subscriber
from bus.endpoints import Endpoints
from bus.forwarder import Forwarder
from bus.messages import RefreshRequested
from services.runtime.installation import load_runtime
from services.runtime.lifecycle import Pulse, StopFlag
from services.watcher.service import (
    Change,
    WatcherService,
    _changed_logs,
    _existing,
    _plan,
    _refresh,
    _watch,
)
from tests.helpers import await_subscription, wait_until

CLAUDE = Path("/data/claude/projects")
CODEX = Path("/data/codex/sessions")
GEMINI = Path("/data/gemini/tmp")
PROVIDERS = {CLAUDE: "claude", CODEX: "codex", GEMINI: "gemini"}


# -- _changed_logs ----------------------------------------------------------------------------


def test_changes_are_grouped_by_the_provider_whose_root_holds_them() -> None:
    """Each changed log lands under the provider of the root it is in."""
    changes = {
        (Change.modified, f"{CLAUDE}/p/a.jsonl"),
        (Change.added, f"{CLAUDE}/p/subagents/b.jsonl"),
        (Change.modified, f"{CODEX}/2026/05/20/rollout-c.jsonl"),
        (Change.added, f"{GEMINI}/h/chats/session-d.json"),
    }
    expected = {
        "claude": {f"{CLAUDE}/p/a.jsonl", f"{CLAUDE}/p/subagents/b.jsonl"},
        "codex": {f"{CODEX}/2026/05/20/rollout-c.jsonl"},
        "gemini": {f"{GEMINI}/h/chats/session-d.json"},
    }
    assert expected == _changed_logs(changes, PROVIDERS)


def test_deleted_files_ask_for_nothing() -> None:
    """A deleted log is not a reason to read anything."""
    changes = {(Change.deleted, f"{CLAUDE}/p/a.jsonl"), (Change.added, f"{CLAUDE}/p/b.jsonl")}
    assert {"claude": {f"{CLAUDE}/p/b.jsonl"}} == _changed_logs(changes, PROVIDERS)


@pytest.mark.parametrize(
    "name", ["notes.txt", "a.jsonl.tmp", "a.meta", "settings.toml", "jsonl", ".jsonl.swp"]
)
def test_files_that_are_not_logs_are_ignored(name: str) -> None:
    """Only .jsonl and .json files count; editor and temporary files do not."""
    assert {} == _changed_logs({(Change.modified, f"{CLAUDE}/p/{name}")}, PROVIDERS)


def test_files_outside_every_root_are_ignored() -> None:
    """A change outside the roots (or the root folder's own name) requests nothing."""
    changes = {
        (Change.modified, "/elsewhere/a.jsonl"),
        (Change.modified, f"{CLAUDE}.jsonl"),
        (Change.modified, f"{CLAUDE.parent}/other.jsonl"),
    }
    assert {} == _changed_logs(changes, PROVIDERS)


def test_a_sibling_folder_sharing_the_roots_prefix_is_not_inside_it() -> None:
    """``/data/claude/projects-old/x.jsonl`` is not under ``/data/claude/projects``."""
    changes = {(Change.modified, f"{CLAUDE}-old/p/a.jsonl")}
    assert {} == _changed_logs(changes, PROVIDERS)


def test_a_file_under_nested_roots_is_requested_once() -> None:
    """When roots nest (a spool inside a root, say), the file goes to one provider only."""
    inner = CLAUDE / "p"
    changes = {(Change.modified, f"{inner}/a.jsonl")}
    for providers in ({inner: "gemini", CLAUDE: "claude"}, {CLAUDE: "claude", inner: "gemini"}):
        found = _changed_logs(changes, providers)
        assert [f"{inner}/a.jsonl"] == [path for paths in found.values() for path in paths]


def test_no_changes_ask_for_nothing() -> None:
    """An empty group (a wait that timed out) requests nothing."""
    assert {} == _changed_logs(set(), PROVIDERS)


# -- _existing --------------------------------------------------------------------------------


def test_existing_keeps_the_folders_that_exist_in_order(tmp_path: Path) -> None:
    """Missing roots and plain files are dropped; the order of the rest is kept."""
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "file").write_text("")
    roots = [tmp_path / "b", tmp_path / "missing", tmp_path / "file", tmp_path / "a"]
    assert [tmp_path / "b", tmp_path / "a"] == _existing(roots)


def test_existing_sees_a_root_created_later(tmp_path: Path) -> None:
    """The same list of roots gives a longer answer once a root is created."""
    roots = [tmp_path / "later"]
    before = _existing(roots)
    (tmp_path / "later").mkdir()
    assert ([], roots) == (before, _existing(roots))


# -- _refresh ---------------------------------------------------------------------------------


def test_refresh_names_the_provider_the_reason_and_the_paths() -> None:
    """A watcher request is a files refresh of one provider, not a live poll, stamped now."""
    before = time.time()
    request = _refresh("codex", ("/x/a.jsonl",))
    after = time.time()
    expected = ("codex", "files", ("/x/a.jsonl",), False)
    assert expected == (request.provider, request.reason, request.paths, request.live)
    assert before <= request.requested_at <= after


def test_refresh_without_paths_asks_for_every_root() -> None:
    """No paths means a full scan of the provider's roots."""
    assert () == _refresh("claude", ()).paths


# -- WatcherService's roots -------------------------------------------------------------------


def test_the_service_watches_every_providers_roots_and_the_spool(
    state: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each configured root maps to its provider, and the statusline spool to Claude."""
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(tmp_path / "claude"))
    monkeypatch.setenv("CODEX_HOME", str(tmp_path / "codex"))
    monkeypatch.setenv("GEMINI_CLI_HOME", str(tmp_path / "gemini"))
    runtime = load_runtime()
    expected = {
        tmp_path / "claude" / "projects": "claude",
        tmp_path / "codex" / "sessions": "codex",
        tmp_path / "codex" / "archived_sessions": "codex",
        tmp_path / "gemini" / ".gemini" / "tmp": "gemini",
        state / "spool": "claude",
    }
    assert expected == WatcherService(runtime).providers


# -- one watch, in a thread, over a real forwarder --------------------------------------------


@dataclass
class Watch:
    """``_watch`` running in a thread; ``requests`` collects what it published."""

    roots: dict[str, Path]
    providers: dict[Path, str]
    subscriber: Subscriber
    pulse: Pulse
    stop: StopFlag
    thread: threading.Thread
    requests: list[RefreshRequested] = field(default_factory=list)

    def collect(self, seconds: float = 0.05) -> list[RefreshRequested]:
        """Receive for up to ``seconds``; every request received so far."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            got = self.subscriber.recv(timeout_ms=max(1, int(left * 1000)))
            if got is not None and isinstance(got[1], RefreshRequested):
                self.requests.append(got[1])
        return self.requests

    def requested(self, check: Callable[[RefreshRequested], bool]) -> list[RefreshRequested]:
        """The requests so far that pass ``check`` (after a short receive)."""
        return [r for r in self.collect() if check(r)]


def _stop_flag() -> StopFlag:
    """A StopFlag made off the main thread, so it leaves pytest's signal handlers alone."""
    made: list[StopFlag] = []
    maker = threading.Thread(target=lambda: made.append(StopFlag()))
    maker.start()
    maker.join()
    return made[0]


@pytest.fixture
def watch(
    forwarder: Forwarder, addresses: Endpoints, tmp_path: Path
) -> Iterator[Callable[..., Watch]]:
    """Start ``_watch`` on an existing Claude and Codex root (Gemini's root missing)."""
    publisher = Publisher(addresses)
    subscriber = Subscriber(("cmd.refresh.",), addresses)
    started: list[Watch] = []

    def start(gemini: Path | None = None) -> Watch:
        roots = {name: tmp_path / name for name in ("claude", "codex", "gemini")}
        roots["gemini"] = gemini or roots["gemini"]
        roots["claude"].mkdir(exist_ok=True)
        roots["codex"].mkdir(exist_ok=True)
        providers = {path: name for name, path in roots.items()}
        await_subscription(
            lambda body: publisher.publish_raw("cmd.refresh.probe", body), subscriber
        )
        pulse = Pulse("watcher", publisher)
        stop = _stop_flag()
        watched = _existing(list(providers))
        thread = threading.Thread(
            target=_watch, args=(watched, providers, stop, publisher, pulse), daemon=True
        )
        running = Watch(roots, providers, subscriber, pulse, stop, thread)
        started.append(running)
        thread.start()
        return running

    yield start
    for running in started:
        running.stop.set()
        running.thread.join(5)
    subscriber.close()
    publisher.close()


def test_a_watch_starts_with_a_full_refresh_of_each_watched_provider(
    watch: Callable[[], Watch],
) -> None:
    """On start, every provider with an existing root gets a refresh of all its roots."""
    running = watch()
    wait_until(lambda: len(running.requested(lambda r: r.paths == ())) >= 2, 5, "two refreshes")
    first_two = [r for r in running.requests if r.paths == ()][:2]
    assert [("claude", "files"), ("codex", "files")] == [(r.provider, r.reason) for r in first_two]


def test_a_written_log_is_requested_by_path(watch: Callable[[], Watch]) -> None:
    """Writing a transcript gets a files refresh of its provider naming exactly that file."""
    running = watch()
    log = running.roots["claude"] / "project" / "session.jsonl"
    log.parent.mkdir()
    (running.roots["claude"] / "project" / "notes.txt").write_text("not a log\n")

    def named() -> list[RefreshRequested]:
        with log.open("a") as out:  # keep writing until the watch is set up and sees it
            out.write('{"type":"assistant"}\n')
        return running.requested(lambda r: r.paths != ())

    first = wait_until(named, 5, "a refresh naming the log")[0]
    assert ("claude", "files", (str(log),)) == (first.provider, first.reason, first.paths)
    counted = wait_until(lambda: running.pulse.counters["refreshes_requested"], 2, "the count")
    assert 1 <= counted


def test_changes_in_two_roots_are_requested_per_provider(watch: Callable[[], Watch]) -> None:
    """A Codex rollout goes to codex, a Claude transcript to claude, never mixed."""
    running = watch()
    claude_log = running.roots["claude"] / "a.jsonl"
    codex_log = running.roots["codex"] / "rollout-1.jsonl"

    def both() -> bool:
        for path in (claude_log, codex_log):
            with path.open("a") as out:
                out.write("{}\n")
        named = running.requested(lambda r: r.paths != ())
        return {r.provider for r in named} == {"claude", "codex"}

    wait_until(both, 5, "a refresh for each provider")
    named = running.requested(lambda r: r.paths != ())
    paths = {(r.provider, p) for r in named for p in r.paths}
    assert {("claude", str(claude_log)), ("codex", str(codex_log))} == paths


def test_the_full_refresh_is_said_again_a_second_later(watch: Callable[[], Watch]) -> None:
    """A subscriber still connecting at start-up gets the full refresh about 1 s later."""
    running = watch()
    wait_until(
        lambda: len(running.requested(lambda r: r.provider == "claude" and r.paths == ())) >= 2,
        5,
        "the repeated full refresh",
    )
    times = [r.requested_at for r in running.requests if r.provider == "claude" and not r.paths]
    assert 0.8 <= times[1] - times[0] <= 3.0


def test_a_stop_ends_the_watch_promptly(watch: Callable[[], Watch]) -> None:
    """Setting the stop flag ends ``_watch`` well within the 2 s a process has to exit."""
    running = watch()
    wait_until(lambda: running.requests or running.collect(), 5, "the watch to start")
    began = time.monotonic()
    running.stop.set()
    running.thread.join(2)
    assert (False, True) == (running.thread.is_alive(), time.monotonic() - began < 2)


def test_a_root_that_appears_ends_the_watch_for_a_restart(watch: Callable[[], Watch]) -> None:
    """Creating a missing root ends this watch (without a stop) so the set can be re-watched."""
    running = watch()
    wait_until(lambda: running.requests or running.collect(), 5, "the watch to start")
    time.sleep(0.3)
    alive_before = running.thread.is_alive()
    running.roots["gemini"].mkdir()
    running.thread.join(3)
    assert (True, False, False) == (alive_before, running.thread.is_alive(), running.stop.stopped)


def test_a_root_that_disappears_ends_the_watch_for_a_restart(watch: Callable[[], Watch]) -> None:
    """Removing a watched root also ends the watch, so the remaining roots are re-watched."""
    running = watch()
    wait_until(lambda: running.requests or running.collect(), 5, "the watch to start")
    running.roots["codex"].rmdir()
    running.thread.join(3)
    assert (False, False) == (running.thread.is_alive(), running.stop.stopped)


def test_deleting_a_log_requests_nothing(watch: Callable[[], Watch], tmp_path: Path) -> None:
    """A deleted transcript gets no refresh naming it; a later write still does."""
    gone = tmp_path / "claude" / "gone.jsonl"
    running = watch()
    gone.write_text("{}\n")
    _write_until_requested(running, gone)  # the watch is set up: it would see the deletion
    running.collect(0.3)  # let the last appends' requests arrive before the deletion
    seen_before = len(running.requests)
    gone.unlink()
    later = running.roots["codex"] / "later.jsonl"
    _write_until_requested(running, later)
    named = {p for r in running.requests[seen_before:] for p in r.paths}
    assert (False, True) == (str(gone) in named, str(later) in named)


def _write_until_requested(running: Watch, log: Path) -> None:
    """Append to ``log`` until a refresh naming it arrives."""

    def requested() -> bool:
        with log.open("a") as out:
            out.write("{}\n")
        return any(str(log) in r.paths for r in running.collect())

    wait_until(requested, 5, f"a refresh naming {log.name}")


# -- _plan and roots that appear later --------------------------------------------------------


def test_plan_watches_existing_roots_recursively(tmp_path: Path) -> None:
    """An existing root is watched with everything below it."""
    (tmp_path / "root").mkdir()
    assert [(tmp_path / "root", True)] == _plan([tmp_path / "root"])


def test_plan_watches_the_nearest_existing_parent_of_a_missing_root(tmp_path: Path) -> None:
    """A missing root two levels down is awaited on the folder that exists, on its own."""
    assert [(tmp_path, False)] == _plan([tmp_path / "a" / "b" / "root"])


def test_plan_lists_a_shared_parent_once(tmp_path: Path) -> None:
    """Two missing roots under one existing folder watch it once."""
    assert [(tmp_path, False)] == _plan([tmp_path / "x", tmp_path / "y"])


def test_a_parent_that_appears_moves_the_wait_down_to_it(
    watch: Callable[..., Watch], tmp_path: Path
) -> None:
    """A missing root's parent made later ends the watch, so the wait moves down a level."""
    running = watch(gemini=tmp_path / "home" / ".gemini" / "tmp")
    wait_until(lambda: running.requests or running.collect(), 5, "the watch to start")
    time.sleep(0.3)
    still_watching = running.thread.is_alive()
    (tmp_path / "home").mkdir()
    running.thread.join(3)
    ended = not running.thread.is_alive()
    assert (True, True, [(tmp_path / "home", False)]) == (
        still_watching,
        ended,
        _plan([running.roots["gemini"]]),
    )


def test_a_root_whose_parents_appear_later_is_read_when_written(
    watch: Callable[..., Watch], tmp_path: Path
) -> None:
    """Once a late root and its parents exist, the next watch asks for a log written in it."""
    gemini = tmp_path / "home" / ".gemini" / "tmp"
    running = watch(gemini=gemini)
    wait_until(lambda: running.requests or running.collect(), 5, "the watch to start")
    gemini.mkdir(parents=True)
    running.thread.join(3)
    again = watch(gemini=gemini)
    log = gemini / "session" / "chats" / "session-1.json"
    log.parent.mkdir(parents=True)
    _write_until_requested(again, log)
    assert any(r.provider == "gemini" and str(log) in r.paths for r in again.requests)
