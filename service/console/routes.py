"""Serves the console page and its assets from a fixed list, each with the console's own CSP.

The page holds no data and needs no key: every alert it shows comes from ``/v1`` with the
analyst's API key, which the page keeps in ``sessionStorage``. The asset list is fixed so a
request path can never name a file outside it.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from service.api.errors import Problem

CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

ASSETS: dict[str, str] = {
    "console.css": "text/css; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "render.js": "text/javascript; charset=utf-8",
    "text.js": "text/javascript; charset=utf-8",
    "events.js": "text/javascript; charset=utf-8",
    "coverage.js": "text/javascript; charset=utf-8",
    "chart.js": "text/javascript; charset=utf-8",
    "main.js": "text/javascript; charset=utf-8",
}
"""Every file the page loads, with its media type (``nosniff`` makes the type binding)."""

router = APIRouter(prefix="/console", include_in_schema=False)


@cache
def _read(name: str) -> bytes:
    """Static files do not change while the server runs; read each once."""
    return (files("service.console") / "static" / name).read_bytes()


def _answer(body: bytes, media_type: str) -> Response:
    return Response(body, media_type=media_type, headers={"Content-Security-Policy": CONSOLE_CSP})


@router.get("")
def page() -> Response:
    return _answer(_read("index.html"), "text/html; charset=utf-8")


@router.get("/")
def slash() -> RedirectResponse:
    return RedirectResponse("/console", status_code=308)


@router.get("/static/{name}")
def asset(name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise Problem(404, "no such console asset")
    return _answer(_read(name), media_type)
