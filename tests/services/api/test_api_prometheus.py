"""A real Prometheus server scrapes the running stack's ``/metrics`` and answers with the
report's own numbers."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bench.stack import free_port
from bus.messages import Message
from tests.services.api.api_support import Api, committed_usage

Commit = Callable[[list[Message]], list[int]]
READY_SECONDS = 60.0
SCRAPED_SECONDS = 60.0
KINDS = {
    "input": "inputTokens",
    "output": "outputTokens",
    "cache_write": "cacheCreationTokens",
    "cache_read": "cacheReadTokens",
}
"""``otm_tokens_total``'s kinds and the report fields they are."""

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(180)]


def _wait(predicate: Callable[[], Any], seconds: float, what: str) -> Any:
    """Poll ``predicate`` until it returns something truthy (connection errors count as no)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except httpx.HTTPError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {seconds}s waiting for {what}")


@pytest.fixture
def prometheus(
    tmp_path: Path, commit: Commit, start_api: Callable[[], Api]
) -> Iterator[tuple[str, Api]]:
    """A Prometheus server (own config and data dir) scraping the stack's api every second;
    yields its base URL and the api."""
    commit(committed_usage())
    api = start_api()
    target = api.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: otm\n"
        f"    static_configs:\n      - targets: ['{target}']\n"
    )
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait(lambda: httpx.get(f"{url}/-/ready").status_code == 200, READY_SECONDS, "ready")
        yield url, api
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _query(url: str, promql: str) -> list[dict[str, Any]]:
    """The instant vector Prometheus answers for ``promql``."""
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}).json()
    assert "success" == answer["status"]
    return list(answer["data"]["result"])


def _scraped(url: str) -> list[dict[str, Any]]:
    """Tokens by kind for Claude once all four kinds were scraped, else nothing."""
    result = _query(url, 'sum by (kind) (otm_tokens_total{provider="claude"})')
    return result if len(result) == len(KINDS) else []


def test_prometheus_tokens_by_kind_equal_the_daily_report(
    prometheus: tuple[str, Api],
) -> None:
    """Prometheus's sum of ``otm_tokens_total`` by kind for Claude is the daily report's
    totals of each kind."""
    url, api = prometheus
    result = _wait(lambda: _scraped(url), SCRAPED_SECONDS, "a scrape of otm_tokens_total")
    totals = httpx.get(f"{api.url}/v1/usage/daily", params={"provider": "claude"}).json()
    expected = {kind: totals["totals"][field] for kind, field in KINDS.items()}
    assert expected == {r["metric"]["kind"]: int(float(r["value"][1])) for r in result}


def test_prometheus_dollars_equal_the_daily_report(prometheus: tuple[str, Api]) -> None:
    """Prometheus's sum of ``otm_cost_usd_total`` for Claude is the report's ``totalCost``."""
    url, api = prometheus
    promql = 'sum(otm_cost_usd_total{provider="claude"})'
    result = _wait(lambda: _query(url, promql), SCRAPED_SECONDS, "a scrape of otm_cost_usd")
    totals = httpx.get(f"{api.url}/v1/usage/daily", params={"provider": "claude"}).json()
    assert totals["totals"]["totalCost"] == pytest.approx(float(result[0]["value"][1]), rel=1e-9)


def test_prometheus_sees_the_target_up_with_the_apis_head_seq(prometheus: tuple[str, Api]) -> None:
    """The scrape target is healthy: ``up`` is 1 and the head seq is the api's own."""
    url, api = prometheus
    _wait(lambda: _query(url, "otm_head_seq"), SCRAPED_SECONDS, "a scrape of otm_head_seq")
    head = httpx.get(f"{api.url}/healthz").json()["headSeq"]
    got = (_query(url, 'up{job="otm"}')[0]["value"][1], _query(url, "otm_head_seq")[0]["value"][1])
    assert ("1", str(head)) == got
