"""When things go wrong under the real stack: a full disk (a real small tmpfs) and a damaged
database file (truncated, or random bytes over its middle pages).

The stack stays up and says what is wrong in ``otm status``, ``/v1/status`` and one log line
per change; nothing is lost or counted twice; ``otm store recover`` rebuilds the same totals
from the logs; and no process prints a traceback.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.demo.corpus.claude import Manifest, append_live
from tests.e2e.corpus_support import expected_totals, make_corpus, totals_with
from tests.e2e.stack import PROCESSES, Stack, wait_until
from tests.faults_support import (
    checkpoint,
    middle,
    page_size,
    scribble,
    small_disk,
    table_pages,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _events(stack: Stack, name: str, event: str) -> list[dict[str, Any]]:
    return [e for e in stack.log_entries(name) if e.get("event") == event]


def _no_tracebacks(stack: Stack) -> list[str]:
    """The log files that hold a traceback (none, we expect)."""
    return [p.name for p in sorted(stack.logs.glob("*.log")) if "Traceback" in p.read_text()]


def _status(stack: Stack) -> dict[str, Any]:
    answer = stack.otm("status", "--json")
    parsed: dict[str, Any] = json.loads(answer.stdout)
    return parsed


def _store_trouble(stack: Stack) -> list[str]:
    return [t["message"] for t in _status(stack)["trouble"] if t["process"] == "store"]


@pytest.mark.timeout(240)
def test_full_disk_keeps_the_stack_up_and_loses_nothing(
    tmp_path: Path, corpus: tuple[Path, Manifest]
) -> None:
    """On a full disk every process stays up, nothing is committed and status says so; when
    space returns the totals are exactly the corpus plus everything appended meanwhile."""
    root, manifest = corpus
    rng = random.Random(4)
    with small_disk(tmp_path / "home", "24m") as disk:
        stack = Stack(disk.path, root)
        stack.logs = tmp_path / "logs"  # the processes' logs stay off the full disk
        stack.logs.mkdir()
        try:
            stack.start()
            first = expected_totals(manifest)
            wait_until(lambda: stack.token_totals() == first, 60, "the first ingest")
            pids = {name: proc.pid for name, proc in stack.procs.items()}
            disk.fill()
            added = [r for _ in range(5) for r in append_live(root, rng)]
            message = f"disk full: {stack.db_path}, 0.0 MB free"
            wait_until(lambda: _store_trouble(stack) == [message], 30, "status saying so")
            dashboard = httpx.get(f"{stack.api_url}/v1/status", timeout=10).json()
            time.sleep(3)  # several retries, each rolled back
            assert first == stack.token_totals()
            disk.free()
            wanted = totals_with(first, added)
            wait_until(lambda: stack.token_totals() == wanted, 60, f"totals {wanted}")
            time.sleep(1.5)  # a late duplicate would show now
            assert wanted == stack.token_totals()
            assert pids == {name: proc.pid for name, proc in stack.procs.items()}
            assert {name: None for name in PROCESSES} == {
                name: stack.procs[name].poll() for name in PROCESSES
            }
            wait_until(lambda: _store_trouble(stack) == [], 10, "status clear again")
        finally:
            stack.stop_all()
    assert [message] == [t["message"] for t in dashboard["trouble"]]
    full = _events(stack, "store", "disk_full")
    assert [message] == [e["message"] for e in full]
    assert ["disk_full"] == [e["was"] for e in _events(stack, "store", "writing_again")]
    assert [] == _no_tracebacks(stack)


def _ingest_and_stop(stack: Stack, manifest: Manifest) -> dict[str, Any]:
    """Ingest the corpus with the stack, stop it, put everything in the database file itself;
    ``otm report daily --json`` as it was then."""
    stack.start("bus", "store", "collector")
    wait_until(lambda: stack.token_totals() == expected_totals(manifest), 60, "ingest")
    stack.stop_all()
    checkpoint(stack.db_path)
    report = stack.otm("report", "daily", "--json")
    assert (0, "") == (report.returncode, report.stderr)
    parsed: dict[str, Any] = json.loads(report.stdout)
    return parsed


def _one_line_error(answer: subprocess.CompletedProcess[str]) -> tuple[int, str]:
    return answer.returncode, answer.stderr


def _damaged(stack: Stack) -> str:
    return f"error: the database {stack.db_path} is damaged: run `otm store recover`\n"


def _replay_everything(stack: Stack) -> str:
    """``GET /v1/stream?after=0`` until the server ends it (it does, the store being unable to
    serve the backlog)."""
    with httpx.stream("GET", f"{stack.api_url}/v1/stream?after=0", timeout=15) as answer:
        return "".join(answer.iter_text())


def _recover_gives_the_same_numbers(
    stack: Stack, manifest: Manifest, before: dict[str, Any]
) -> subprocess.CompletedProcess[str]:
    recovered = stack.otm("store", "recover")
    assert (0, "") == (recovered.returncode, recovered.stderr)
    assert expected_totals(manifest) == stack.token_totals()
    report = stack.otm("report", "daily", "--json")
    assert (0, before) == (report.returncode, json.loads(report.stdout))
    return recovered


@pytest.mark.timeout(240)
def test_random_bytes_in_the_middle_are_found_at_start_and_recovered(
    tmp_path: Path, stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """Random bytes over middle pages: the store finds them at start and stays up, the api and
    every command name the file and `otm store recover`, which gives back the same totals."""
    manifest = corpus[1]
    before = _ingest_and_stop(stack, manifest)
    scribble(stack.db_path, middle(table_pages(stack.db_path, "events")))
    scribble(stack.db_path, table_pages(stack.db_path, "usage_by_slot"), seed=2)
    stack.start()
    message = f"the database {stack.db_path} is damaged: run `otm store recover`"
    usage = httpx.get(f"{stack.api_url}/v1/usage/daily", timeout=10)
    assert (503, {"error": message}) == (usage.status_code, usage.json())
    assert "store unavailable" in _replay_everything(stack)
    dashboard = httpx.get(f"{stack.api_url}/v1/status", timeout=10).json()
    assert [message] == [t["message"] for t in dashboard["trouble"]]
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("status"))
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("report", "daily"))
    refused = stack.otm("store", "recover")
    assert (1, "the store is running") == (refused.returncode, refused.stderr[7:27])
    assert {name: None for name in PROCESSES} == {n: stack.procs[n].poll() for n in PROCESSES}
    checked = _events(stack, "store", "integrity_checked")
    assert ["damaged"] == [e["result"] for e in checked]
    assert [message] == [e["message"] for e in _events(stack, "store", "database_damaged")]
    stack.stop_all()
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("report", "daily"))
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("store", "rebuild"))
    recovered = _recover_gives_the_same_numbers(stack, manifest, before)
    assert f"moved {stack.db_path} -> {stack.db_path}.damaged-" in recovered.stdout
    assert "recovered: " in recovered.stdout
    assert [] == _no_tracebacks(stack)


@pytest.mark.timeout(240)
def test_a_truncated_database_keeps_the_stack_up_and_is_recovered(
    stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """A file cut short under a running stack, the store restarted on it: the store and the
    api stay up and say so, every command names the fix, and recover restores the totals."""
    manifest = corpus[1]
    before = _ingest_and_stop(stack, manifest)
    stack.start()
    stack.stop("store")
    os.truncate(stack.db_path, 3 * page_size(stack.db_path))  # the projections are gone
    stack.start("store")
    message = f"the database {stack.db_path} is damaged: run `otm store recover`"
    usage = httpx.get(f"{stack.api_url}/v1/usage/daily", timeout=10)
    assert (503, {"error": message}) == (usage.status_code, usage.json())
    wait_until(lambda: _store_trouble(stack) == [message], 10, "status saying so")
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("status"))
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("report", "daily"))
    assert "store unavailable" in _replay_everything(stack)
    assert {name: None for name in PROCESSES} == {n: stack.procs[n].poll() for n in PROCESSES}
    assert ["damaged"] == [e["state"] for e in _events(stack, "store", "ready")]
    stack.stop_all()
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("report", "daily"))
    assert (1, _damaged(stack)) == _one_line_error(stack.otm("store", "rebuild"))
    _recover_gives_the_same_numbers(stack, manifest, before)
    assert [] == _no_tracebacks(stack)


@pytest.mark.timeout(240)
def test_damage_met_by_a_replay_keeps_the_store_up(tmp_path: Path) -> None:
    """Random bytes written under a running store go unnoticed until a replay reads them; the
    store then answers with the damage, says so once and stays up."""
    root = tmp_path / "claude"
    make_corpus(root, size_mb=60)  # a database larger than the store's page cache
    stack = Stack(tmp_path / "home", root)
    try:
        assert 0 == stack.otm("report", "daily", "--json").returncode  # catches up
        checkpoint(stack.db_path)
        stack.start("bus", "store", "api")
        scribble(stack.db_path, table_pages(stack.db_path, "events")[1:40])
        assert "store unavailable" in _replay_everything(stack)
        message = f"the database {stack.db_path} is damaged: run `otm store recover`"
        wait_until(lambda: _store_trouble(stack) == [message], 10, "status saying so")
        assert "store unavailable" in _replay_everything(stack)
        assert (None, None) == (stack.procs["store"].poll(), stack.procs["api"].poll())
        assert ["ok"] == [e["result"] for e in _events(stack, "store", "integrity_checked")]
        assert [message] == [e["message"] for e in _events(stack, "store", "database_damaged")]
    finally:
        stack.stop_all()
    assert [] == _no_tracebacks(stack)


@pytest.mark.timeout(240)
def test_a_lost_write_ahead_log_after_kill_nine_is_read_again_exactly(
    stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """kill -9 of the stack, then its ``-wal`` and ``-shm`` lost with the commits only they
    held: those records are read again from the cursors the database file kept, once."""
    root, manifest = corpus
    rng = random.Random(9)
    stack.start("bus", "store", "collector", "watcher")
    wait_until(lambda: stack.token_totals() == expected_totals(manifest), 60, "ingest")
    checkpoint(stack.db_path)
    lost = [r for _ in range(3) for r in append_live(root, rng)]
    wanted = totals_with(expected_totals(manifest), lost)
    wait_until(lambda: stack.token_totals() == wanted, 30, "the appends committed")
    for name in ("watcher", "collector", "store", "bus"):
        stack.kill(name)
    for suffix in ("-wal", "-shm"):
        stack.db_path.with_name(stack.db_path.name + suffix).unlink()
    assert expected_totals(manifest) == stack.token_totals()  # the appends are gone
    added = append_live(root, rng)
    stack.start("bus", "store", "collector", "watcher")
    wanted = totals_with(wanted, added)
    wait_until(lambda: stack.token_totals() == wanted, 60, f"totals {wanted}")
    time.sleep(1.0)  # a late duplicate would show now
    assert wanted == stack.token_totals()


@pytest.mark.timeout(120)
def test_a_report_on_a_full_disk_is_one_line_and_works_once_space_returns(
    tmp_path: Path, corpus: tuple[Path, Manifest]
) -> None:
    """Without the stack, ``otm report`` must commit what is new first: on a full disk that is
    one line naming the file, exit 1; with space back, the report has every record."""
    root, manifest = corpus
    with small_disk(tmp_path / "home", "24m") as disk:
        stack = Stack(disk.path, root)
        assert 0 == stack.otm("report", "daily", "--json").returncode
        added = append_live(root, random.Random(3))
        disk.fill()
        full = stack.otm("report", "daily")
        disk.free()
        again = stack.otm("report", "daily", "--json")
        totals = stack.token_totals()
    message = f"disk full: {stack.db_path}, 0.0 MB free; free some space and run the command again"
    assert (1, f"error: {message}\n") == (full.returncode, full.stderr)
    assert (0, "") == (again.returncode, again.stderr)
    assert totals_with(expected_totals(manifest), added) == totals


@pytest.mark.timeout(120)
def test_the_dashboard_status_page_shows_the_damage(
    stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """The Status page of the dashboard (in a real chromium) shows what the store says."""
    from playwright.sync_api import sync_playwright

    _ingest_and_stop(stack, corpus[1])
    scribble(stack.db_path, middle(table_pages(stack.db_path, "events")))
    stack.start("bus", "store", "api")
    message = f"store: the database {stack.db_path} is damaged: run `otm store recover`"
    wait_until(lambda: _store_trouble(stack), 10, "status saying so")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"))
        try:
            page = browser.new_page()
            page.goto(f"{stack.api_url}/status")
            shown = page.locator('section[data-section="Trouble"] p')
            shown.wait_for(timeout=10_000)
            text = shown.inner_text()
        finally:
            browser.close()
    assert message == text


@pytest.mark.timeout(180)
def test_a_stack_started_on_a_full_disk_waits_and_then_writes(
    tmp_path: Path, corpus: tuple[Path, Manifest]
) -> None:
    """A stack started when the disk is already full (too full for the database's ``-wal``
    and ``-shm``) comes up, says so, and writes as soon as space returns, missing nothing."""
    root, manifest = corpus
    names = ("bus", "store", "collector", "watcher")
    with small_disk(tmp_path / "home", "24m") as disk:
        stack = Stack(disk.path, root)
        stack.logs = tmp_path / "logs"
        stack.logs.mkdir()
        try:
            stack.start(*names)
            first = expected_totals(manifest)
            wait_until(lambda: stack.token_totals() == first, 60, "the first ingest")
            for name in ("watcher", "collector", "store", "bus"):
                stack.stop(name)
            assert not stack.db_path.with_name("otm.db-wal").exists()
            disk.fill()
            stack.start(*names)
            added = append_live(root, random.Random(6))
            message = f"disk full: {stack.db_path}, 0.0 MB free"
            wait_until(lambda: _store_trouble(stack) == [message], 30, "status saying so")
            disk.free()
            wanted = totals_with(first, added)
            wait_until(lambda: stack.token_totals() == wanted, 60, f"totals {wanted}")
            time.sleep(1.0)  # a late duplicate would show now
            assert wanted == stack.token_totals()
            assert {name: None for name in names} == {n: stack.procs[n].poll() for n in names}
        finally:
            stack.stop_all()
    assert ["disk_full"] == [e["state"] for e in _events(stack, "store", "ready")]
    assert [] == _no_tracebacks(stack)
