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


def _inline(name: str, media_type: str = "text/html") -> File:
    """A file of the package's ``web/`` shown in the browser (not downloaded)."""
    return File(WEB / name, media_type=media_type, content_disposition_type="inline")


@get(list(PAGES), include_in_schema=False, sync_to_thread=False)
def page() -> File:
    """Every dashboard page is the same shell; ``app.js`` renders the view for its path."""
    return _inline("index.html")


@get("/provider/{provider:str}", include_in_schema=False, sync_to_thread=False)
def provider_page(provider: FromPath[str]) -> File:
    """One provider's page; 404 for a name that is not one."""
    if provider not in PROVIDERS:
        raise NotFoundException(f"no provider {provider!r}: use one of {', '.join(PROVIDERS)}")
    return _inline("index.html")


@get("/schema", include_in_schema=False, sync_to_thread=False)
def schema_page() -> File:
    """The OpenAPI document (``/schema/openapi.json``) rendered offline; Litestar's own CDN page
    is off (``services.api.app.OPENAPI``)."""
    return _inline("index.html")


@get("/widget", include_in_schema=False, sync_to_thread=False)
def widget() -> File:
    """The small always-on-top widget (360 x 274)."""
    return _inline("widget.html")


@get("/favicon.ico", include_in_schema=False, sync_to_thread=False)
def favicon() -> File:
    """The tab icon, so browsers do not log a failed request."""
    return _inline("favicon.svg", "image/svg+xml")


page_routes: list[ControllerRouterHandler] = [
    page,
    provider_page,
    schema_page,
    widget,
    favicon,
    create_static_files_router(path="/static", directories=[WEB], include_in_schema=False),
]
