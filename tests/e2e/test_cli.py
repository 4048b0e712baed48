"""The `otm` user commands against real processes and real files."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bus.messages import MESSAGE_TYPES
from services.demo.corpus.claude import Manifest, append_live
from tests.e2e.corpus_support import expected_totals
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e


def _report_totals(stack: Stack) -> dict[str, int]:
    result = stack.otm("report", "daily", "--json", "--tz", "UTC", "--provider", "claude")
    assert 0 == result.returncode, result.stderr
    totals = json.loads(result.stdout)["totals"]
    return {k: v for k, v in totals.items() if k.endswith("Tokens")}


def _manifest_totals(manifest: Manifest) -> dict[str, int]:
    inp, out, c5, c1, cr, _ = expected_totals(manifest)
    return {
        "inputTokens": inp,
        "outputTokens": out,
        "cacheCreationTokens": c5 + c1,
        "cacheReadTokens": cr,
        "totalTokens": inp + out + c5 + c1 + cr,
    }


def test_report_without_the_stack_catches_up_first(
    stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """With nothing running, `otm report daily --json` ingests in-process and counts it all."""
    assert _manifest_totals(corpus[1]) == _report_totals(stack)


def test_report_without_the_stack_is_incremental(
    stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """A second report reads only what was appended since the first."""
    _report_totals(stack)
    head = stack.head()
    added = append_live(corpus[0], random.Random(9))
    totals = _report_totals(stack)
    assert _manifest_totals(corpus[1])["outputTokens"] + added[0].output == totals["outputTokens"]
    assert head + 2 >= stack.head()  # one usage event (plus at most one new price)


def test_streaming_copy_in_a_later_refresh_counts_once_at_final_size(tmp_path: Path) -> None:
    """A response whose second, larger line lands after a refresh replaces the first copy."""
    root = tmp_path / "claude" / "projects" / "-home-u-p"
    root.mkdir(parents=True)
    stack = Stack(tmp_path / "home", tmp_path / "claude")
    line = (
        '{"isSidechain":false,"cwd":"/home/u/p","sessionId":"s","version":"2.1.30",'
        '"message":{"model":"claude-sonnet-4-5-20250929","id":"msg_1","type":"message",'
        '"role":"assistant","content":[],"usage":{"input_tokens":3,"output_tokens":OUT}},'
        '"requestId":"req_1","type":"assistant","uuid":"u","timestamp":"2026-05-16T09:12:34.567Z"}'
    )
    transcript = root / "s.jsonl"
    transcript.write_text(line.replace("OUT", "9") + "\n")
    assert 9 == _report_totals(stack)["outputTokens"]
    with transcript.open("a") as f:
        f.write(line.replace("OUT", "159") + "\n")
    assert 159 == _report_totals(stack)["outputTokens"]


def test_unpriced_model_is_reported_not_zeroed(tmp_path: Path) -> None:
    """A model genai-prices does not know is listed as unpriced in the report and in status."""
    root = tmp_path / "claude" / "projects" / "-home-u-p"
    root.mkdir(parents=True)
    (root / "s.jsonl").write_text(
        '{"isSidechain":false,"cwd":"/home/u/p","sessionId":"s","version":"2.1.30",'
        '"message":{"model":"claude-imaginary-9","id":"msg_1","type":"message",'
        '"role":"assistant","content":[],"usage":{"input_tokens":1000,"output_tokens":10}},'
        '"requestId":"req_1","type":"assistant","uuid":"u","timestamp":"2026-05-16T09:12:34.567Z"}\n'
    )
    stack = Stack(tmp_path / "home", tmp_path / "claude")
    report = json.loads(stack.otm("report", "daily", "--json", "--provider", "claude").stdout)
    assert [{"model": "claude-imaginary-9", "tokens": 1010}] == report["unpriced"]
    status = json.loads(stack.otm("status", "--json").stdout)
    assert ["claude-imaginary-9"] == status["unpricedModels"]
    human = stack.otm("report", "daily").stdout
    assert "unpriced" in human


def test_price_override_from_config_is_used(tmp_path: Path) -> None:
    """`[pricing.overrides."<model>"]` in config.toml prices a model genai-prices lacks."""
    root = tmp_path / "claude" / "projects" / "-home-u-p"
    root.mkdir(parents=True)
    (root / "s.jsonl").write_text(
        '{"isSidechain":false,"cwd":"/home/u/p","sessionId":"s","version":"2.1.30",'
        '"message":{"model":"claude-imaginary-9","id":"msg_1","type":"message",'
        '"role":"assistant","content":[],"usage":{"input_tokens":1000000,"output_tokens":0}},'
        '"requestId":"req_1","type":"assistant","uuid":"u","timestamp":"2026-05-16T09:12:34.567Z"}\n'
    )
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(
        '[pricing.overrides."claude-imaginary-9"]\ninput = 2.5\noutput = 10.0\n'
    )
    stack = Stack(home, tmp_path / "claude")
    report = json.loads(stack.otm("report", "daily", "--json").stdout)
    assert 2.5 == report["totals"]["totalCost"]
    assert "unpriced" not in report


def test_bad_config_names_the_file_and_key(tmp_path: Path) -> None:
    """A wrong setting stops the command with a message naming the file and the key."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[scheduler]\nrefresh_seconds = "often"\n')
    result = Stack(home, tmp_path / "claude").otm("report", "daily")
    assert 2 == result.returncode
    assert "config.toml" in result.stderr
    assert "[scheduler] refresh_seconds" in result.stderr


def test_status_counts_skipped_input(stack: Stack, corpus: tuple[Path, Manifest]) -> None:
    """Malformed and wrongly-typed lines of the corpus show up, counted, in `otm status`."""
    stack.otm("report", "daily", "--json")
    status = json.loads(stack.otm("status", "--json").stdout)
    bad = corpus[1].bad_lines
    assert bad["malformed_json"] == status["skipped"].get("malformed_json", 0)
    assert bad["invalid_utf8"] == status["skipped"].get("invalid_utf8", 0)
    # ccusage drops `"id":null`-style and microsecond-timestamp lines; so do we, but visibly.
    rejected = bad["wrong_shape"] + bad["null_key"] + bad["microsecond_ts"]
    assert rejected == status["skipped"].get("wrong_shape", 0)


def test_status_lists_running_processes(stack: Stack) -> None:
    """`otm status` shows every running process as up, and the head seq."""
    stack.start("bus", "store", "collector", "watcher", "scheduler")

    def all_up() -> bool:
        status = json.loads(stack.otm("status", "--json").stdout)
        alive = {p["process"] for p in status["processes"] if p["alive"]}
        return {"bus", "store", "collector", "watcher", "scheduler"} <= alive

    wait_until(all_up, 15, "every process reported alive")


def test_tail_replays_from_a_seq_then_follows(stack: Stack, corpus: tuple[Path, Manifest]) -> None:
    """`otm tail --json --from N` prints events N+1.. as JSON lines, then new ones live."""
    stack.start("bus", "store", "collector", "watcher")
    wait_until(lambda: stack.token_totals() == expected_totals(corpus[1]), 30, "ingest")
    head = stack.head()
    proc = subprocess.Popen(
        [sys.executable, "-m", "otm", "tail", "evt.", "--json", "--from", "0"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        seqs = [json.loads(proc.stdout.readline())["seq"] for _ in range(head)]
        assert list(range(1, head + 1)) == seqs
        added = append_live(corpus[0], random.Random(3))
        live = [json.loads(proc.stdout.readline())]
        while live[-1]["topic"] != "evt.usage.claude":  # prices may commit in between
            live.append(json.loads(proc.stdout.readline()))
        assert list(range(head + 1, head + 1 + len(live))) == [e["seq"] for e in live]
        keys = [r["key"] for r in live[-1]["event"]["records"]]
        assert [f"claude:{added[0].message_id}"] == keys
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_schema_covers_every_message_type(stack: Stack) -> None:
    """`otm schema` prints a JSON Schema with a definition for every message type."""
    schema = json.loads(stack.otm("schema").stdout)
    names = {t.__name__ for t in MESSAGE_TYPES.values()}
    assert names <= set(schema["$defs"])


def test_second_bus_refuses_to_start(stack: Stack) -> None:
    """A second `otm bus` on the same state dir exits with an error instead of taking over."""
    stack.start("bus")
    result = stack.otm("bus", timeout=10)
    assert 2 == result.returncode
    assert "already running" in result.stderr


def test_rebuild_refuses_while_the_store_runs(stack: Stack) -> None:
    """`otm store rebuild` needs the only write access and says so."""
    stack.start("bus", "store")
    result = stack.otm("store", "rebuild")
    assert 2 == result.returncode
    assert "stop the stack" in result.stderr


def test_rebuild_gives_the_same_report(stack: Stack) -> None:
    """`otm store rebuild` reproduces the projections: the report is unchanged."""
    before = stack.otm("report", "daily", "--json").stdout
    assert 0 == stack.otm("store", "rebuild").returncode
    assert before == stack.otm("report", "daily", "--json").stdout


@pytest.mark.slow
def test_replaced_truncated_and_deleted_files_do_not_change_totals(
    stack: Stack, corpus: tuple[Path, Manifest]
) -> None:
    """A file replaced by a copy, truncated and re-grown, or deleted is never counted twice."""
    stack.start("bus", "store", "collector", "watcher", "scheduler")
    expected = expected_totals(corpus[1])
    wait_until(lambda: stack.token_totals() == expected, 30, "ingest")
    files = sorted((corpus[0] / "projects").rglob("*.jsonl"))
    replaced, truncated, deleted = files[0], files[1], files[2]
    shutil.copy(replaced, replaced.with_suffix(".tmp"))
    os.replace(replaced.with_suffix(".tmp"), replaced)  # new inode, same content
    content = truncated.read_bytes()
    truncated.write_bytes(b"")  # truncated in place...
    time.sleep(0.5)
    truncated.write_bytes(content)  # ...and written again
    deleted.unlink()
    time.sleep(2.0)
    assert expected == stack.token_totals()


def test_scheduler_heals_a_missed_file_event(tmp_path: Path, corpus: tuple[Path, Manifest]) -> None:
    """With no watcher running, the scheduler's periodic refresh still picks up an append."""
    home = tmp_path / "home2"
    home.mkdir()
    (home / "config.toml").write_text("[scheduler]\nrefresh_seconds = 1\n")
    stack = Stack(home, corpus[0])
    try:
        stack.start("bus", "store", "collector", "scheduler")
        wait_until(lambda: stack.token_totals() == expected_totals(corpus[1]), 30, "ingest")
        added = append_live(corpus[0], random.Random(4))
        target = expected_totals(corpus[1])[1] + added[0].output
        wait_until(lambda: stack.token_totals()[1] == target, 10, "the scheduled refresh")
    finally:
        stack.stop_all()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_otm_up_runs_the_demo_when_there_is_no_claude_data(tmp_path: Path) -> None:
    """`otm up` on a machine without Claude Code data serves a growing demo history."""
    home = tmp_path / "user"
    home.mkdir()
    stack = Stack(tmp_path / "state", None, {"HOME": str(home), "XDG_CONFIG_HOME": ""})
    scripts = Path(sys.executable).parent
    proc = subprocess.Popen(
        [str(scripts / "otm"), "up"],
        env=stack.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        url = f"{stack.api_url}/v1/usage/daily?tz=UTC"

        def demo_total() -> float:
            try:
                body = httpx.get(url, timeout=2).json()
            except (httpx.HTTPError, ValueError):
                return 0
            return float(body.get("totals", {}).get("totalTokens", 0))

        first = wait_until(demo_total, 60, "demo numbers from the API")
        # An exchange is followed by a pause of up to a minute (services.demo.service).
        wait_until(lambda: demo_total() > first, 75, "the demo to keep growing")

        def demo_windows() -> list[str]:
            try:
                found = httpx.get(f"{stack.api_url}/v1/limits", timeout=2).json()["limits"]
            except (httpx.HTTPError, ValueError, KeyError):
                return []
            return sorted(w["window"] for w in found if w["source"] == "estimated")

        assert ["five_hour", "seven_day"] == wait_until(demo_windows, 30, "demo limits")
        assert (tmp_path / "state" / "demo.db").exists()
        assert not (tmp_path / "state" / "otm.db").exists()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)


def test_limits_show_codex_official_windows(tmp_path: Path) -> None:
    """`otm limits --json` gives the latest primary and secondary windows Codex logged."""
    from services.demo.corpus.codex import generate

    manifest = generate(tmp_path / "codex", size_mb=1, seed=3)
    stack = Stack(tmp_path / "home", None, {"CODEX_HOME": str(tmp_path / "codex")})
    result = stack.otm("limits", "--json", "--provider", "codex")
    assert 0 == result.returncode, result.stderr
    got = {
        w["window"]: (w["observedUsedPercent"], w["resetsAt"], w["source"])
        for w in json.loads(result.stdout)["limits"]
    }
    expected = {
        limit.window: (limit.used_percent, limit.resets_at, "local-official")
        for limit in manifest.limits
    }
    assert expected == got


def test_status_lists_every_providers_roots(tmp_path: Path) -> None:
    """`otm status` shows the roots of Claude Code, Codex CLI and Gemini CLI with file counts."""
    from services.demo.corpus.codex import generate

    manifest = generate(tmp_path / "codex", size_mb=0.5, seed=2)
    stack = Stack(
        tmp_path / "home",
        tmp_path / "claude",
        {"CODEX_HOME": str(tmp_path / "codex"), "GEMINI_CLI_HOME": str(tmp_path / "g")},
    )
    roots = json.loads(stack.otm("status", "--json").stdout)["roots"]
    codex_files = sum(r["files"] for r in roots if r["provider"] == "codex")
    assert {"claude", "codex", "gemini"} == {r["provider"] for r in roots}
    # The generator's archived twin of a live session is shadowed (sessions/ wins): not listed.
    assert manifest.files - 1 == codex_files


def test_prefixed_model_is_priced_as_the_known_model_inside_it(tmp_path: Path) -> None:
    """``acme-claude-sonnet-4-5`` costs what ``claude-sonnet-4-5`` costs; status says so."""
    root = tmp_path / "claude" / "projects" / "-home-u-p"
    root.mkdir(parents=True)
    line = (
        '{"isSidechain":false,"cwd":"/home/u/p","sessionId":"s","version":"2.1.30",'
        '"message":{"model":"MODEL","id":"ID","type":"message",'
        '"role":"assistant","content":[],"usage":{"input_tokens":1000,"output_tokens":10}},'
        '"requestId":"ID","type":"assistant","uuid":"u","timestamp":"2026-05-16T09:12:34.567Z"}\n'
    )
    (root / "s.jsonl").write_text(
        line.replace("MODEL", "acme-claude-sonnet-4-5").replace("ID", "msg_1")
        + line.replace("MODEL", "claude-sonnet-4-5").replace("ID", "msg_2")
    )
    stack = Stack(tmp_path / "home", tmp_path / "claude")
    report = json.loads(stack.otm("report", "daily", "--json", "--provider", "claude").stdout)
    costs = {b["modelName"]: b["cost"] for b in report["daily"][0]["modelBreakdowns"]}
    status = json.loads(stack.otm("status", "--json").stdout)
    assert (costs["claude-sonnet-4-5"], [], {"acme-claude-sonnet-4-5": "claude-sonnet-4-5"}) == (
        costs["acme-claude-sonnet-4-5"],
        report.get("unpriced", []),
        status["pricedAs"],
    )
