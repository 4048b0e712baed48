"""The dashboard's pages and assets, served from the package."""

from __future__ import annotations

import re

from litestar import Litestar
from litestar.testing import TestClient

from services.api.pages import WEB, page_routes


def client() -> TestClient[Litestar]:
    """The page routes alone (Litestar's OpenAPI routes off)."""
    return TestClient(Litestar(route_handlers=page_routes, openapi_config=None))


def test_overview_is_html() -> None:
    """/ answers the dashboard's HTML."""
    with client() as c:
        r = c.get("/")
    assert ("text/html", 200) == (r.headers["content-type"].split(";")[0], r.status_code)


def test_provider_page_is_html() -> None:
    """/provider/claude answers HTML."""
    with client() as c:
        assert 200 == c.get("/provider/claude").status_code


def test_unknown_provider_page_is_404() -> None:
    """/provider/nobody answers 404."""
    with client() as c:
        assert 404 == c.get("/provider/nobody").status_code


def test_widget_is_html() -> None:
    """/widget answers its own HTML."""
    with client() as c:
        r = c.get("/widget")
    assert 'data-view="widget"' in r.text


def test_script_is_javascript() -> None:
    """app.js is served as JavaScript (module scripts need it)."""
    with client() as c:
        r = c.get("/static/app.js")
    assert "javascript" in r.headers["content-type"]


def test_favicon_is_served() -> None:
    """/favicon.ico answers an SVG icon."""
    with client() as c:
        r = c.get("/favicon.ico")
    assert "image/svg+xml" == r.headers["content-type"].split(";")[0]


def test_every_referenced_asset_exists() -> None:
    """Every /static/ asset the HTML names is in the package."""
    names = {m for f in WEB.glob("*.html") for m in re.findall(r"/static/([\w.-]+)", f.read_text())}
    assert set() == {n for n in names if not (WEB / n).is_file()}


def test_no_foreign_urls() -> None:
    """No file in web/ names an http(s) URL of another host."""
    found = {
        (f.name, m)
        for f in WEB.rglob("*")
        if f.is_file()
        for m in re.findall(r"https?://[^\s\"'<>]+", f.read_text())
        if not m.startswith("http://www.w3.org/2000/svg")
    }
    assert set() == found


def test_html_has_no_inline_script_or_style() -> None:
    """The HTML has no inline script, <style> or style attribute (CSP)."""
    bad = [
        f.name
        for f in WEB.glob("*.html")
        if re.search(r"<script(?![^>]*\bsrc=)|<style|\sstyle=", f.read_text())
    ]
    assert [] == bad


def test_schema_page_is_html() -> None:
    """/schema answers the dashboard's page that renders the OpenAPI document."""
    with client() as c:
        r = c.get("/schema")
    assert ("text/html", 200) == (r.headers["content-type"].split(";")[0], r.status_code)
