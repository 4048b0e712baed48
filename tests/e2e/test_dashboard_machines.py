"""The dashboard's machines: a panel of every machine and a filter, in a real headless chromium
over the real stack, with a second machine's usage arriving over the bus as its collector
would send it."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from urllib.request import urlopen

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bus.client import Publisher
from bus.endpoints import endpoints
from bus.messages import FileCursor, UsageBatch, UsageRecord
from services.collector.tracker import batch_id
from tests.e2e.corpus_support import expected_totals, make_corpus
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e

DESK = "d" * 32


def _desk_batch() -> UsageBatch:
    """One batch of the machine ``desk``: three Claude Sonnet responses of today."""
    source = "/home/u/.claude/projects/-home-u-proj/desk.jsonl"
    now = int(time.time() * 1000)
    records = tuple(
        UsageRecord(
            key=f"claude:desk:{i}",
            provider="claude",
            ts_ms=now - i * 60_000,
            model="claude-sonnet-4-5-20250929",
            project="-home-u-proj",
            session="desk-s1",
            input=1000,
            output=2000,
        )
        for i in range(3)
    )
    after = FileCursor(path=source, dev=1, ino=9, offset=900, head_len=64, head_sha1="ab" * 20)
    return UsageBatch(
        batch_id=batch_id(source, None, after),
        provider="claude",
        source=source,
        before=None,
        after=after,
        records=records,
        machine=DESK,
        machine_name="desk",
    )


def api(stack: Stack, path: str) -> object:
    """The API's JSON answer."""
    with urlopen(stack.api_url + path, timeout=10) as answer:
        return json.loads(answer.read())


def _machines(stack: Stack) -> list[dict[str, object]]:
    machines = api(stack, "/v1/machines")
    assert isinstance(machines, dict)
    found: list[dict[str, object]] = machines["machines"]
    return found


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The stack over a small corpus, plus the usage of a second machine, ``desk``."""
    root = tmp_path_factory.mktemp("machines")
    manifest = make_corpus(root / "claude", size_mb=1)
    stack = Stack(root / "home", root / "claude")
    try:
        stack.start()
        wait_until(lambda: stack.token_totals() == expected_totals(manifest), 30, "ingest")
        publisher = Publisher(endpoints(stack.home))
        try:

            def desk_seen() -> bool:
                publisher.publish(_desk_batch())  # re-sent until committed, as a collector does
                return len(_machines(stack)) == 2

            wait_until(desk_seen, 20, "the desk's usage")
        finally:
            publisher.close()
        yield stack
    finally:
        stack.stop_all()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless chromium (Debian's) for the module."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page at 1280 x 900."""
    p = browser.new_page(viewport={"width": 1280, "height": 900})
    yield p
    p.close()


def _panel_names(page: Page) -> list[str]:
    rows = page.locator('[data-section="Machines"] tbody tr')
    rows.first.wait_for()
    return [r.split("\t")[0] for r in rows.all_inner_texts()]


def test_overview_lists_every_machine(running: Stack, page: Page) -> None:
    """The overview's Machines panel has a row for each machine /v1/machines lists."""
    expected = sorted(
        f"{m['name']} (this one)" if m["local"] else str(m["name"]) for m in _machines(running)
    )
    page.goto(running.api_url + "/")
    assert expected == sorted(_panel_names(page))


def test_picking_a_machine_shows_only_its_dollars(running: Stack, page: Page) -> None:
    """Choosing ``desk`` in the header's picker shows the desk's 30 days of Claude dollars."""
    report = api(running, f"/v1/usage/daily?provider=claude&machine={DESK}")
    assert isinstance(report, dict)
    expected = f"${report['totals']['totalCost']:,.2f}"
    page.goto(running.api_url + "/")
    page.locator("#machine option").nth(2).wait_for(state="attached")
    page.select_option("#machine", DESK)
    page.wait_for_url(f"**machine={DESK}")
    month = page.locator('[data-provider="claude"] .month')
    wait_until(lambda: month.inner_text() == expected, 5, f"30 days {expected}")


def test_a_filtered_page_keeps_its_machine_in_the_links(running: Stack, page: Page) -> None:
    """On a filtered page the navigation links carry the machine on."""
    page.goto(running.api_url + f"/?machine={DESK}")
    link = page.locator('nav a[href^="/provider/claude"]')
    wait_until(lambda: DESK in (link.get_attribute("href") or ""), 5, "the link's machine")


def test_the_status_page_lists_the_machines(running: Stack, page: Page) -> None:
    """The Status page's Machines section names the desk."""
    page.goto(running.api_url + "/status")
    assert "desk" in _panel_names(page)


def test_the_machines_panel_is_free_of_console_errors(running: Stack, page: Page) -> None:
    """The overview with a filter renders with no console error."""
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(running.api_url + f"/?machine={DESK}")
    page.wait_for_selector('[data-section="Machines"] tbody tr')
    assert [] == errors
