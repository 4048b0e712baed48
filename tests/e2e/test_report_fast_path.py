"""``otm report``'s fast path (``otm.report_fast``) against the typer command, and the one-shot
catch-up's "nothing changed" skip against a catch-up that never skips, as real subprocesses."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.demo.corpus.claude import Manifest, append_live
from services.queries.catchup_snapshot import snapshot_path
from tests.e2e.corpus_support import make_corpus
from tests.e2e.stack import Stack
from tests.helpers import imported_modules

pytestmark = pytest.mark.e2e

HOST = socket.gethostname().split(".")[0]
"""The stack's machine: named after this host (no ``[machine] name`` in its config)."""
TYPER = "import sys; sys.argv[0] = 'otm'; from otm.cli import main; main()"
"""The typer command, without ``otm.entry``'s fast path."""
ENTRY = "import sys; sys.argv[0] = 'otm'; from otm.entry import main; sys.exit(main())"
"""The ``otm`` script (``otm.entry``), under the same program name as `TYPER`."""
CASES = [
    *[[kind, "--json"] for kind in ("daily", "weekly", "monthly", "session", "project", "blocks")],
    *[[kind] for kind in ("daily", "weekly", "monthly", "session", "project", "blocks")],
    *[[kind, "--csv"] for kind in ("daily", "session", "blocks")],
    ["daily", "--json", "--provider", "claude", "--since", "20260501", "--order", "desc"],
    ["monthly", "-p", "claude", "-z", "Europe/Paris", "-u", "2026-05-15"],
    ["weekly", "--json", "--start-of-week=monday", "--tz=UTC"],
    ["blocks", "--json", "--token-limit", "max", "-o", "desc"],
    ["project", "-s", "2026-05-01", "--provider=all"],
    ["daily", "--json", "--csv"],
    ["daily", "--provider", "nope"],
    ["session", "--tz", "Mars/Olympus_Mons"],
    ["daily", "--order", "sideways"],
    ["monthly", "--since", "May"],
    ["weekly", "--start-of-week", "friday"],
    ["blocks", "-t", "lots"],
    ["daily", "--help"],
    ["daily", "--bogus"],
    ["daily", "--tz"],
    ["daily", "extra"],
    ["hourly", "--json"],
    ["machines", "--json"],
    ["machines"],
    ["machines", "--csv", "-p", "claude"],
    ["daily", "--json", "--machine", HOST],
    ["session", "-m", HOST],
    ["daily", "--machine", "no-such-machine"],
]
"""Supported spellings, their errors, and command lines the fast path hands to typer."""
PREFIXED = "aide-claude-sonnet-4-5"
"""A model name no price list knows, priced as the known model inside it."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stack, Path]:
    """A corpus caught up once (so both ways read the same database), and its stack."""
    tmp = tmp_path_factory.mktemp("fast")
    corpus = tmp / "claude"
    make_corpus(corpus, size_mb=1)
    # A prefixed model, so both ways also print the report's "pricedAs" part.
    _copy_session(corpus, "prefixed", model=PREFIXED)
    stack = Stack(tmp / "home", corpus, {"COLUMNS": "200", "TZ": "UTC"})
    assert 0 == stack.otm("report", "daily", "--json").returncode
    return stack, corpus


def _run(stack: Stack, prefix: list[str], args: list[str]) -> tuple[int, str, str]:
    done = subprocess.run(
        [*prefix, "report", *args], env=stack.env, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout, done.stderr


@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_fast_path_prints_what_typer_prints(world: tuple[Stack, Path], args: list[str]) -> None:
    """The fast path's output, errors and exit status equal the typer command's, both on its
    first run and when it prints a kept answer again."""
    stack, _ = world
    typer = _run(stack, [sys.executable, "-c", TYPER], args)
    first = _run(stack, [sys.executable, "-c", ENTRY], args)
    again = _run(stack, [sys.executable, "-c", ENTRY], args)
    assert typer == first
    assert typer == again


def test_prefixed_model_is_named_in_json_and_under_the_table(world: tuple[Stack, Path]) -> None:
    """The report JSON's ``pricedAs`` and the table's line under it name the price used."""
    stack, _ = world
    _, report, _ = _run(stack, [sys.executable, "-c", ENTRY], ["daily", "--json"])
    _, table, _ = _run(stack, [sys.executable, "-c", ENTRY], ["daily"])
    expected = {PREFIXED: "claude-sonnet-4-5"}
    assert (expected, True) == (
        json.loads(report)["pricedAs"],
        f"{PREFIXED} priced as claude-sonnet-4-5\n" in table,
    )


def _old(root: Path) -> None:
    """Date every file under ``root`` a minute back, as logs nobody is writing are: only then
    may the snapshot skip (``catchup_snapshot.QUIET_SECONDS``). Changes must show anyway."""
    past = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (past, past))


def _totals(stack: Stack) -> dict[str, int]:
    result = stack.otm("report", "daily", "--json", "--provider", "claude", "--tz", "UTC")
    assert 0 == result.returncode, result.stderr
    return {k: v for k, v in json.loads(result.stdout)["totals"].items() if k.endswith("Tokens")}


class Pair:
    """One state folder whose reports may skip, and one whose snapshot is removed before each
    report (so it always catches up, as before the skip existed), over the same roots."""

    def __init__(self, tmp: Path, roots: str) -> None:
        self.skipping = Stack(tmp / "skipping", None, {"CLAUDE_CONFIG_DIR": roots})
        self.always = Stack(tmp / "always", None, {"CLAUDE_CONFIG_DIR": roots})

    def totals(self) -> tuple[dict[str, int], dict[str, int]]:
        """Both folders' totals."""
        Path(snapshot_path(str(self.always.home))).unlink(missing_ok=True)
        return _totals(self.skipping), _totals(self.always)

    def snapshot_written_at(self) -> int:
        """When the skipping folder's snapshot was last written (a catch-up writes it)."""
        return Path(snapshot_path(str(self.skipping.home))).stat().st_mtime_ns


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Pair, Path, Manifest]:
    """Two state folders over a corpus and a second root that does not exist yet."""
    corpus = tmp_path / "claude"
    manifest = make_corpus(corpus, size_mb=1)
    roots = f"{corpus},{tmp_path / 'later'}"
    both = Pair(tmp_path, roots)
    _old(corpus)
    first, always = both.totals()
    assert always == first
    return both, corpus, manifest


def test_nothing_changed_skips_the_catch_up(pair: tuple[Pair, Path, Manifest]) -> None:
    """With nothing changed the report reads nothing (its snapshot is not rewritten) and its
    totals stay those of a catch-up."""
    both, _, _ = pair
    written = both.snapshot_written_at()
    skipped, always = both.totals()
    assert written == both.snapshot_written_at()
    assert always == skipped


def test_appended_bytes_are_caught_up(pair: tuple[Pair, Path, Manifest]) -> None:
    """An exchange appended to a transcript (then dated back) is counted."""
    both, corpus, _ = pair
    before, _ = both.totals()
    append_live(corpus, random.Random(5))
    _old(corpus)
    skipped, always = both.totals()
    assert always == skipped
    assert before["outputTokens"] < skipped["outputTokens"]


def test_a_new_file_is_caught_up(pair: tuple[Pair, Path, Manifest]) -> None:
    """A transcript copied in as a new session of a new project is counted."""
    both, corpus, _ = pair
    before, _ = both.totals()
    projects = corpus / "projects"
    source = next(p for p in sorted(projects.rglob("*.jsonl")) if p.stat().st_size > 1000)
    target = projects / "-home-dev-new-project" / "5b0e4f3c-0000-4000-8000-000000000001.jsonl"
    target.parent.mkdir()
    target.write_bytes(source.read_bytes().replace(b'"msg_', b'"msg_new_'))
    _old(corpus)
    skipped, always = both.totals()
    assert always == skipped
    assert before != skipped


def test_a_rotated_and_a_truncated_file_are_caught_up(pair: tuple[Pair, Path, Manifest]) -> None:
    """A transcript replaced by a new file and another cut short are read as the catch-up that
    never skips reads them."""
    both, corpus, _ = pair
    files = sorted(p for p in (corpus / "projects").rglob("*.jsonl") if p.stat().st_size > 2000)
    rotated, truncated = files[0], files[1]
    content = rotated.read_bytes()
    rotated.rename(rotated.with_suffix(".old"))
    rotated.write_bytes(content.replace(b'"msg_', b'"msg_rot_'))
    with truncated.open("r+") as f:
        f.truncate(truncated.stat().st_size // 2)
    _old(corpus)
    skipped, always = both.totals()
    assert always == skipped


def test_a_new_root_is_caught_up(pair: tuple[Pair, Path, Manifest], tmp_path: Path) -> None:
    """A configured root that appears later, with transcripts in it, is counted."""
    both, corpus, _ = pair
    before, _ = both.totals()
    later = tmp_path / "later" / "projects"
    shutil.copytree(corpus / "projects", later / "copy")
    for path in later.rglob("*.jsonl"):
        path.write_bytes(path.read_bytes().replace(b'"msg_', b'"msg_later_'))
    _old(tmp_path / "later")
    skipped, always = both.totals()
    assert always == skipped
    assert before != skipped


def _copy_session(corpus: Path, name: str, model: str | None = None) -> None:
    """A transcript of the corpus copied in as a new session (ids made new), its model renamed
    to ``model`` if given."""
    projects = corpus / "projects"
    source = next(p for p in sorted(projects.rglob("*.jsonl")) if p.stat().st_size > 1000)
    body = source.read_bytes().replace(b'"msg_', f'"msg_{name}_'.encode())
    if model is not None:
        body = re.sub(rb'"model":"claude-[^"]*"', f'"model":"{model}"'.encode(), body)
    target = projects / f"-home-dev-{name}" / "5b0e4f3c-0000-4000-8000-000000000002.jsonl"
    target.parent.mkdir()
    target.write_bytes(body)


def _imports(stack: Stack, *args: str) -> set[str]:
    """The top-level packages ``otm <args>`` imported (it must succeed)."""
    code, modules = imported_modules(list(args), stack.env)
    assert 0 == code
    return {m.split(".")[0] for m in modules}


def test_new_records_of_priced_models_skip_genai_prices(pair: tuple[Pair, Path, Manifest]) -> None:
    """New data of models the store has a current price for is caught up without loading
    genai-prices (or structlog): the catch-up costs only the new bytes."""
    both, corpus, _ = pair
    before, _ = both.totals()
    _copy_session(corpus, "known")
    _old(corpus)
    imported = _imports(both.skipping, "report", "daily", "--json")
    skipped, always = both.totals()
    assert (set(), always) == (imported & {"genai_prices", "structlog"}, skipped)
    assert before["outputTokens"] < skipped["outputTokens"]


def test_a_new_model_is_still_priced(pair: tuple[Pair, Path, Manifest]) -> None:
    """A model the store has no price for yet is priced from genai-prices as it first appears."""
    both, corpus, _ = pair
    _copy_session(corpus, "newmodel", model="claude-3-7-sonnet-20250219")
    _old(corpus)
    result = both.skipping.otm("report", "daily", "--json", "--provider", "claude")
    breakdowns = [b for day in json.loads(result.stdout)["daily"] for b in day["modelBreakdowns"]]
    # ccusage names a fast-mode model with a "-fast" suffix.
    named = [b for b in breakdowns if b["modelName"].startswith("claude-3-7-sonnet-20250219")]
    costs = [b["cost"] for b in named]
    assert (True, True) == (bool(costs), all(c > 0 for c in costs))
