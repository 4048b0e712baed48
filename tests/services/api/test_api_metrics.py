"""``GET /metrics`` of the running stack (bus, store, api): formats, the guard, promtool."""

from __future__ import annotations

import subprocess
from collections.abc import Callable

import httpx
import pytest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from bus.messages import Message
from tests.services.api.api_support import Api, committed_usage

Commit = Callable[[list[Message]], list[int]]
OPENMETRICS = "application/openmetrics-text"
TEXT = "text/plain"

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(commit: Commit, start_api: Callable[[], Api]) -> Api:
    """The api of a running stack whose store committed ``committed_usage()``."""
    commit(committed_usage())
    return start_api()


def test_prometheus_accept_header_gets_openmetrics(api: Api) -> None:
    """An Accept header asking for OpenMetrics gets it, ending in ``# EOF``."""
    response = httpx.get(
        f"{api.url}/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert (200, OPENMETRICS, True) == (
        response.status_code,
        response.headers["content-type"].split(";")[0],
        response.text.endswith("# EOF\n"),
    )


def test_no_accept_header_gets_the_text_format(api: Api) -> None:
    """A plain client (curl) gets the classic text format."""
    response = httpx.get(f"{api.url}/metrics")
    assert (200, TEXT) == (response.status_code, response.headers["content-type"].split(";")[0])


def test_openmetrics_answer_parses_with_every_family(api: Api) -> None:
    """The OpenMetrics answer parses, and names the families the README lists."""
    response = httpx.get(f"{api.url}/metrics", headers={"Accept": "application/openmetrics-text"})
    names = {family.name for family in text_string_to_metric_families(response.text)}
    expected = {
        "otm_tokens",
        "otm_cost_usd",
        "otm_limit_used_ratio",
        "otm_limit_resets_at_seconds",
        "otm_limit_estimated",
        "otm_provider_state",
        "otm_head_seq",
        "otm_stream_lag_events",
        "otm_skipped_lines",
        "otm_alerts_sent",
        "otm_alerts_raised",
        "otm_process_up",
        "otm_database_readable",
    }
    assert set() == expected - names


def test_metrics_label_tokens_by_machine_name(api: Api) -> None:
    """``desk``'s batch 3 shows under ``machine="desk"``: 300 input tokens."""
    text = httpx.get(f"{api.url}/metrics").text
    line = (
        'otm_tokens_total{kind="input",machine="desk",model="claude-sonnet-4-5",'
        'provider="claude"} 300.0'
    )
    assert line in text.splitlines()


def test_a_foreign_origin_is_refused_on_metrics(api: Api) -> None:
    """``/metrics`` is behind the guard: a page elsewhere gets 403."""
    response = httpx.get(f"{api.url}/metrics", headers={"Origin": "http://evil.example"})
    assert 403 == response.status_code


def test_a_rebound_host_name_is_refused_on_metrics(api: Api) -> None:
    """A DNS name rebound to 127.0.0.1 (its Host header) gets 403 on ``/metrics`` too."""
    response = httpx.get(f"{api.url}/metrics", headers={"Host": "evil.example"})
    assert 403 == response.status_code


@pytest.mark.slow
def test_promtool_finds_no_problem_in_a_real_scrape(api: Api) -> None:
    """``promtool check metrics`` on the stack's scrape prints nothing and exits 0."""
    scrape = httpx.get(f"{api.url}/metrics").text
    checked = subprocess.run(
        ["promtool", "check", "metrics"], input=scrape, capture_output=True, text=True, timeout=30
    )
    assert (0, "", "") == (checked.returncode, checked.stdout, checked.stderr)
