"""DirectRoute answers exactly as FastAPI's own dependency solving does for the same endpoint."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, APIRouter

from service.alerts.schemas import AlertListQuery
from service.api.deps import Analyst, Session, State
from service.api.direct import DirectRoute
from tests.service.api.conftest import assert_problem


async def echo(state: State, key: Analyst, query: Annotated[AlertListQuery, Query()]) -> Any:
    return JSONResponse(
        {"key": key.name, "state": state is not None, "query": query.model_dump(mode="json")}
    )


def _add_twins(app: FastAPI) -> None:
    app.router.add_api_route("/v1/twin/direct", echo, route_class_override=DirectRoute)
    app.router.add_api_route("/v1/twin/fastapi", echo, route_class_override=APIRoute)


@pytest.mark.parametrize(
    "query",
    [
        "",
        "severity=high&status=open&limit=7&cursor=abc",
        "since=2026-03-01T00:00:00&until=2026-03-02T01:02:03.5%2B02:00",
        "severity=low&severity=critical",
        "unknown=1&limit=3",
        "limit=0&severity=urgent&since=yesterday",
        "limit=&cursor=" + "x" * 513,
        "q=" + "a" * 201,
    ],
)
@pytest.mark.parametrize("who", ["none", "basic", "empty", "wrong", "viewer", "analyst"])
def test_direct_route_answers_as_fastapi_would(api, query, who):
    _add_twins(api.client.app)
    headers = {
        "none": {},
        "basic": {"Authorization": "Basic dXNlcjpwYXNz"},
        "empty": {"Authorization": "Bearer "},
        "wrong": {"Authorization": "Bearer ft_nothing_here"},
        "viewer": api.headers("viewer"),
        "analyst": api.headers("analyst"),
    }[who]
    direct = api.client.get(f"/v1/twin/direct?{query}", headers=headers)
    solved = api.client.get(f"/v1/twin/fastapi?{query}", headers=headers)
    assert direct.status_code == solved.status_code
    assert direct.headers.get("www-authenticate") == solved.headers.get("www-authenticate")
    assert direct.headers["content-type"] == solved.headers["content-type"]
    body, expected = direct.json(), solved.json()
    if "instance" in expected:
        assert body.pop("instance") == "/v1/twin/direct"
        assert expected.pop("instance") == "/v1/twin/fastapi"
    assert body == expected


def test_direct_route_refuses_a_parameter_it_cannot_fill(api):
    async def needs_session(session: Session, key: Analyst) -> Any:
        return {}

    with pytest.raises(TypeError, match="cannot fill"):
        api.client.app.router.add_api_route(
            "/v1/twin/session", needs_session, route_class_override=DirectRoute
        )


def test_the_alert_list_is_served_without_the_router(api, monkeypatch):
    """DirectPaths hands GET /v1/alerts to its handler; other routes still go through routing."""

    async def no_routing(self, scope, receive, send):
        raise AssertionError("routed")

    monkeypatch.setattr(APIRouter, "__call__", no_routing)
    h = api.headers("viewer")
    assert api.client.get("/v1/alerts", headers=h).status_code == 200
    assert_problem(api.client.get("/v1/alerts?limit=0", headers=h), 422)
    assert_problem(api.client.get("/v1/alerts"), 401)
    assert_problem(api.client.get("/v1/alerts?cursor=not-ours", headers=h), 422)
    assert_problem(api.client.get("/v1/rules", headers=h), 500)  # routed, so refused here
