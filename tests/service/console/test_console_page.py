"""The console page and its assets: served with the console CSP, right types, no data, no key."""

from __future__ import annotations

from html.parser import HTMLParser
from importlib.resources import files

import pytest

from service.console.routes import ASSETS, CONSOLE_CSP
from tests.factories import alert
from tests.service.api.conftest import assert_problem

STATIC = files("service.console") / "static"


class _Tags(HTMLParser):
    """Collects every start tag with its attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def test_page_is_html_with_the_console_csp(api):
    response = api.client.get("/console")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONSOLE_CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_console_csp_forbids_inline_code_framing_and_foreign_hosts():
    directives = dict(part.strip().split(" ", 1) for part in CONSOLE_CSP.split(";"))
    assert directives["default-src"] == "'none'"
    for name in ("script-src", "style-src", "connect-src"):
        assert directives[name] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'none'"


@pytest.mark.parametrize(("name", "media_type"), sorted(ASSETS.items()))
def test_every_asset_is_served_with_its_type_and_the_console_csp(api, name, media_type):
    response = api.client.get(f"/console/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["content-security-policy"] == CONSOLE_CSP
    assert response.content == (STATIC / name).read_bytes()


@pytest.mark.parametrize(
    "name", ["routes.py", "__init__.py", "index.html", "..%2Froutes.py", "main.js%00", "MAIN.JS"]
)
def test_names_outside_the_asset_list_are_404_problems(api, name):
    response = api.client.get(f"/console/static/{name}")
    assert response.status_code in (404, 422)
    assert_problem(response, response.status_code)
    assert b"import" not in response.content


def test_trailing_slash_redirects_to_the_page(api):
    response = api.client.get("/console/", follow_redirects=False)
    assert response.status_code == 308
    assert response.headers["location"] == "/console"


def test_page_loads_only_listed_assets_and_has_no_inline_script_or_style(api):
    tags = _tags(api.client.get("/console").text)
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts, "the page loads its script"
    for attrs in scripts:
        src = attrs.get("src") or ""
        assert src.startswith("/console/static/")
        assert src.rsplit("/", 1)[1] in ASSETS
        assert attrs.get("type") == "module"
    sheets = [attrs["href"] for tag, attrs in tags if tag == "link"]
    assert sheets == ["/console/static/console.css"]
    assert "style" not in {tag for tag, _ in tags}
    for tag, attrs in tags:
        assert "style" not in attrs, f"inline style on <{tag}>"
        assert not [a for a in attrs if a.startswith("on")], f"inline handler on <{tag}>"


def test_page_and_assets_need_no_key_and_carry_no_alert_data(api):
    secret = "only-in-the-store-7f3a"
    api.save(alert(title=secret, principal=secret, resource=secret))
    bodies = [api.client.get("/console").text]
    bodies += [api.client.get(f"/console/static/{name}").text for name in ASSETS]
    assert all(secret not in body for body in bodies)
    assert_problem(api.client.get("/v1/alerts"), 401)
    assert_problem(api.client.get("/v1/alerts/summary"), 401)


def test_console_is_not_part_of_the_api_schema_and_the_api_keeps_its_csp(api):
    assert not [path for path in api.client.app.openapi()["paths"] if "console" in path]
    response = api.client.get("/v1/alerts", headers=api.headers("viewer"))
    api_csp = "default-src 'none'; frame-ancestors 'none'"
    assert response.headers["content-security-policy"] == api_csp
