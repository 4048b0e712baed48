"""``GET /metrics``: the store's figures for Prometheus (``services.queries.metrics``).

The answer's format follows the ``Accept`` header as prometheus_client's own exposition does:
OpenMetrics when the scraper asks for ``application/openmetrics-text`` (Prometheus does), else
the classic text format. The route sits behind the same guard as every route
(``services.api.guard``): a Prometheus on this machine scrapes it as the api's own user, or
sends the api token (``authorization: {credentials_file: ...}`` in its scrape config).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from services.api.errors import error_responses
from services.queries.metrics import StoreCollector
from services.runtime.installation import Runtime


def metrics_registry(runtime: Runtime, stream_seq: Callable[[], int]) -> CollectorRegistry:
    """A registry of the store's collector only: no process or platform metrics of the api
    itself, which would describe the api process rather than the usage."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(runtime, stream_seq))
    return registry


def metrics_route(runtime: Runtime, stream_seq: Callable[[], int]) -> HTTPRouteHandler:
    """The ``/metrics`` handler over a registry of its own."""
    registry = metrics_registry(runtime, stream_seq)

    @get("/metrics", sync_to_thread=True, responses=error_responses(), include_in_schema=False)
    def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        """Prometheus metrics: tokens, dollars, limit windows, provider states, pipeline
        health; OpenMetrics when the Accept header asks for it."""
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(
            encoder(registry), media_type=content_type, headers={"Cache-Control": "no-store"}
        )

    return metrics
