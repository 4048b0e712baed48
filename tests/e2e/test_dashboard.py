"""The web dashboard in a real headless chromium over the real stack."""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import urlopen

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, sync_playwright

from services.demo.corpus.claude import append_live
from tests.e2e.corpus_support import expected_totals, make_corpus
from tests.e2e.stack import Stack, wait_until

pytestmark = pytest.mark.e2e

PAGES = ("/", "/provider/claude", "/provider/codex", "/projects", "/alerts", "/status", "/widget")
SCREENS = Path("/work/notes/screens")


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole stack over a small corpus, with Claude's windows from the statusline."""
    root = tmp_path_factory.mktemp("dashboard")
    manifest = make_corpus(root / "claude", size_mb=1)
    stack = Stack(root / "home", root / "claude")
    try:
        stack.start_with_claude_windows(expected_totals(manifest))
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


class Watched:
    """A page with every request's host and every console error recorded."""

    def __init__(self, browser: Browser, **options: Any) -> None:
        self.page: Page = browser.new_page(**options)
        self.hosts: set[str] = set()
        self.errors: list[str] = []
        self.page.on("request", lambda r: self._request(r))
        self.page.on("console", lambda m: self._console(m))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

    def _request(self, request: Request) -> None:
        self.hosts.add(urlsplit(request.url).hostname or request.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} ({message.location.get('url')})")


@pytest.fixture
def watched(browser: Browser) -> Iterator[Watched]:
    """A fresh recorded page at 1280 x 900."""
    w = Watched(browser, viewport={"width": 1280, "height": 900})
    yield w
    w.page.close()


def api(stack: Stack, path: str) -> Any:
    """The API's JSON answer."""
    with urlopen(stack.api_url + path, timeout=10) as answer:
        return json.loads(answer.read())


def cents(value: float) -> str:
    """Dollars as the dashboard prints them."""
    return f"${value:,.2f}"


def today_cost(stack: Stack) -> str:
    """Today's Claude dollars from the API's daily report."""
    report = api(stack, "/v1/usage/daily?provider=claude")
    today = datetime.now().astimezone().date().isoformat()
    return cents(sum(row["totalCost"] for row in report["daily"] if row["date"] == today))


def models_table(page: Page) -> str:
    """The model table of a provider page (tokens by kind: every new record changes it)."""
    return page.locator('[data-section="Models"] tbody').inner_text()


def card_today(page: Page) -> str:
    """The today figure on the Claude card."""
    return page.locator('[data-provider="claude"] .today').inner_text()


@pytest.mark.parametrize("path", PAGES)
def test_page_loads_without_errors(running: Stack, watched: Watched, path: str) -> None:
    """Each page renders with no console error."""
    watched.page.goto(running.api_url + path)
    watched.page.wait_for_selector("main > :not(p.muted)")
    watched.page.wait_for_timeout(300)
    assert [] == watched.errors


@pytest.mark.parametrize("path", PAGES)
def test_page_stays_on_this_machine(running: Stack, watched: Watched, path: str) -> None:
    """No page asks anything of a host other than 127.0.0.1."""
    watched.page.goto(running.api_url + path)
    watched.page.wait_for_load_state("networkidle")
    assert {"127.0.0.1"} == watched.hosts


def test_schema_document_reachable(running: Stack, watched: Watched) -> None:
    """The OpenAPI document the /schema page renders is served as JSON."""
    assert "/v1/limits" in api(running, "/schema/openapi.json")["paths"]


def test_schema_page_lists_every_operation_with_its_parameters(
    running: Stack, watched: Watched
) -> None:
    """The /schema page has a section per operation of the OpenAPI document, without errors,
    and the usage report's lists its allowed kinds."""
    document = api(running, "/schema/openapi.json")
    expected = sorted(f"{m.upper()} {p}" for p, ops in document["paths"].items() for m in ops)
    watched.page.goto(running.api_url + "/schema")
    watched.page.wait_for_selector("section.panel")
    titles = watched.page.locator("section.panel > h2").all_inner_texts()
    usage = watched.page.locator('[data-section="GET /v1/usage/{kind}"]').inner_text()
    assert (expected, [], True) == (sorted(titles), watched.errors, "daily | weekly" in usage)


def test_status_page_shows_the_stack_from_the_api(running: Stack, watched: Watched) -> None:
    """The Status page's Stack row is /v1/status' stateDir and storeRunning and /healthz'
    headSeq (camelCase keys, as every answer)."""
    status = api(running, "/v1/status")
    watched.page.goto(running.api_url + "/status")
    row = watched.page.locator('[data-section="Stack"] tbody tr').first
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    expected = (status["stateDir"], "running", True)
    assert expected == (cells[0], cells[3], cells[2].replace(",", "").isdigit())


def test_today_equals_the_api(running: Stack, watched: Watched) -> None:
    """The overview's today figure is the API daily row's totalCost to the cent."""
    watched.page.goto(running.api_url + "/")
    expected = today_cost(running)
    wait_until(lambda: card_today(watched.page) == expected, 5, f"today {expected}")


def test_window_percent_equals_the_api(running: Stack, watched: Watched) -> None:
    """A window's % on the overview is /v1/limits' usedPercent."""
    watched.page.goto(running.api_url + "/")
    window = next(
        w
        for w in api(running, "/v1/limits?provider=claude")["limits"]
        if w["window"] == "five_hour"
    )
    shown = watched.page.locator('[data-provider="claude"] [data-window="five_hour"] .gauge-pct')
    assert f"{round(window['usedPercent'])} %" == shown.inner_text()


def test_appended_line_shows_without_reload(running: Stack, watched: Watched) -> None:
    """A transcript line appended while Claude's page is open shows within 2 s, no reload."""
    watched.page.goto(running.api_url + "/provider/claude")
    watched.page.wait_for_selector('[data-section="Models"] tbody', state="attached")
    before = models_table(watched.page)
    watched.page.evaluate("window.__same_document = true")
    append_live(Path(running.env["CLAUDE_CONFIG_DIR"]), random.Random(11))
    wait_until(lambda: models_table(watched.page) != before, 2, "the new tokens on the page")
    assert watched.page.evaluate("window.__same_document === true")


def test_recent_activity_is_the_apis(running: Stack, watched: Watched) -> None:
    """Claude's page lists /v1/activity's newest prompt first, as plain text."""

    def newest() -> tuple[int, str] | None:
        rows = api(running, "/v1/activity?provider=claude&limit=1")["activity"]
        return (rows[0]["tsMs"], rows[0]["text"]) if rows else None

    before = newest()
    append_live(Path(running.env["CLAUDE_CONFIG_DIR"]), random.Random(13))
    _, text = wait_until(lambda: (n := newest()) != before and n, 10, "the appended prompt")
    watched.page.goto(running.api_url + "/provider/claude")
    first = watched.page.locator(".activity li .text").first
    wait_until(lambda: first.inner_text() == text, 5, "the newest prompt on the page")


def test_countdown_ticks(running: Stack, watched: Watched) -> None:
    """A window's countdown changes by itself within 2 s (it ticks each second)."""
    watched.page.goto(running.api_url + "/")
    countdown = watched.page.locator('[data-provider="claude"] .countdown').first
    first = countdown.inner_text()
    wait_until(lambda: countdown.inner_text() != first, 2, "the countdown to tick")


def test_widget_fits_360(running: Stack, browser: Browser) -> None:
    """At 360 x 274 the widget needs no horizontal scrolling."""
    w = Watched(browser, viewport={"width": 360, "height": 274})
    w.page.goto(running.api_url + "/widget")
    w.page.wait_for_selector(".wcol")
    assert 360 >= w.page.evaluate("document.documentElement.scrollWidth")


def test_key_one_opens_claude(running: Stack, watched: Watched) -> None:
    """Key 1 opens Claude's page."""
    watched.page.goto(running.api_url + "/")
    watched.page.wait_for_selector(".card")
    watched.page.keyboard.press("1")
    watched.page.wait_for_url("**/provider/claude")
    assert "/provider/claude" == urlsplit(watched.page.url).path


def test_escape_returns_to_overview(running: Stack, watched: Watched) -> None:
    """Esc goes back to the overview."""
    watched.page.goto(running.api_url + "/projects")
    watched.page.wait_for_selector("table")
    watched.page.keyboard.press("Escape")
    watched.page.wait_for_url(running.api_url + "/")
    assert "/" == urlsplit(watched.page.url).path


def test_reconnects_after_api_restart(running: Stack, watched: Watched) -> None:
    """After the api restarts, the open page reconnects and shows a new event."""
    watched.page.goto(running.api_url + "/provider/claude")
    watched.page.wait_for_selector('[data-section="Models"] tbody', state="attached")
    running.stop("api")
    watched.page.wait_for_selector("#conn:not(.hidden)", timeout=5000)
    running.start("api")
    watched.page.wait_for_selector("#conn.hidden", state="attached", timeout=10000)
    before = models_table(watched.page)
    append_live(Path(running.env["CLAUDE_CONFIG_DIR"]), random.Random(12))
    wait_until(lambda: models_table(watched.page) != before, 5, "the new tokens after reconnect")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshots(running: Stack, browser: Browser, scheme: str) -> None:
    """No page overflows its width in light or dark (captures kept for people to look at)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)  # type: ignore[arg-type]
    overflowing = []
    for path in PAGES:
        if path == "/widget":
            page.set_viewport_size({"width": 360, "height": 274})
        page.goto(running.api_url + path)
        page.wait_for_selector("main > :not(p.muted)")
        page.wait_for_timeout(300)
        name = path.strip("/").replace("/", "-") or "overview"
        if SCREENS.parent.exists():
            SCREENS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENS / f"{name}-{scheme}.png"), full_page=path != "/widget")
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            overflowing.append(path)
    assert [] == overflowing
