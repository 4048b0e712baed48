"""The web dashboard: its HTML pages and static assets, served from the package's ``web/``."""

from __future__ import annotations

from pathlib import Path

from litestar import get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import File
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from bus.messages import PROVIDERS

WEB = Path(__file__).parent / "web"
PAGES = ("/", "/projects", "/alerts", "/status")


@get(list(PAGES), include_in_schema=False, sync_to_thread=False)
def page() -> File:
    """Every dashboard page is the same shell; ``app.js`` renders the view for its path."""
    return File(WEB / "index.html", media_type="text/html", content_disposition_type="inline")


@get("/provider/{provider:str}", include_in_schema=False, sync_to_thread=False)
def provider_page(provider: FromPath[str]) -> File:
    """One provider's page; 404 for a name that is not one."""
    if provider not in PROVIDERS:
        raise NotFoundException(f"no provider {provider!r}: use one of {', '.join(PROVIDERS)}")
    return File(WEB / "index.html", media_type="text/html", content_disposition_type="inline")


@get("/schema", include_in_schema=False, sync_to_thread=False)
def schema_page() -> File:
    """The OpenAPI document rendered offline. Not in ``page_routes`` while Litestar's OpenAPI
    router owns ``/schema`` itself: with ``OpenAPIConfig(path="/schema/openapi.json",
    render_plugins=[JsonRenderPlugin(path="/")])`` add it there."""
    return File(WEB / "index.html", media_type="text/html", content_disposition_type="inline")


@get("/widget", include_in_schema=False, sync_to_thread=False)
def widget() -> File:
    """The small always-on-top widget (360 x 274)."""
    return File(
        WEB / "widget.html",
        media_type="text/html",
        content_disposition_type="inline",
    )


@get("/favicon.ico", include_in_schema=False, sync_to_thread=False)
def favicon() -> File:
    """The tab icon, so browsers do not log a failed request."""
    return File(WEB / "favicon.svg", media_type="image/svg+xml", content_disposition_type="inline")


page_routes: list[ControllerRouterHandler] = [
    page,
    provider_page,
    widget,
    favicon,
    create_static_files_router(path="/static", directories=[WEB], include_in_schema=False),
]
