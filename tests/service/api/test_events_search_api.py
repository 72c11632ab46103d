"""GET /v1/events: the lake searched over HTTP: roles, window, filters, paging, 422s, audit."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from pipelines.lake import EventLake
from service.audit.models import AuditRow
from tests.factories import BASE_TIME, HOSTILE, events, hour_event
from tests.service.api.conftest import Api, assert_problem

DAY = {"since": "2026-03-02T00:00:00Z", "until": "2026-03-03T00:00:00Z"}


def store(api: Api, *rows: dict[str, Any]) -> None:
    EventLake(api.settings.lake_root).append(events(*rows))


def search(api: Api, role: str = "viewer", **params: Any) -> Any:
    return api.client.get("/v1/events", params=params, headers=api.headers(role))


def test_viewers_search_and_ingest_keys_or_no_key_may_not(api):
    store(api, hour_event())
    assert search(api, **DAY).status_code == 200
    assert search(api, role="analyst", **DAY).status_code == 200
    assert_problem(search(api, role="ingest", **DAY), 403)
    assert_problem(api.client.get("/v1/events"), 401)


def test_items_are_event_model_records_and_raw_comes_only_when_asked(api):
    row = hour_event(raw={"eventName": "GetFunction20150331v2", "requestParameters": {"x": 1}})
    store(api, row)
    [item] = search(api, **DAY).json()["items"]
    assert "raw" not in item
    assert item["id"] == row["id"]
    assert item["time"] == row["time"].isoformat().replace("+00:00", "Z")
    assert item["principal"] == row["principal"]
    [with_raw] = search(api, include_raw="true", **DAY).json()["items"]
    assert with_raw["raw"] == {"eventName": "GetFunction20150331v2", "requestParameters": {"x": 1}}
    assert {k: v for k, v in with_raw.items() if k != "raw"} == item


def test_the_default_window_is_the_last_24_hours(api):
    now = datetime.now(UTC)
    recent = hour_event(time=now - timedelta(hours=2))
    old = hour_event(time=now - timedelta(hours=30))
    store(api, recent, old)
    assert [i["id"] for i in search(api).json()["items"]] == [recent["id"]]
    # since alone: the 24 hours after it
    since = (now - timedelta(hours=31)).isoformat()
    assert [i["id"] for i in search(api, since=since).json()["items"]] == [old["id"]]


def test_every_filter_narrows_and_pages_follow_next_cursor_newest_first(api):
    wanted = [
        hour_event(
            time=BASE_TIME + timedelta(seconds=i // 2),
            action="UpdateFunctionCode",
            outcome="failure",
            error_code="AccessDeniedException",
            source_ip="203.0.113.9",
            user_agent="Boto3/1.34",
            service="lambda.amazonaws.com",
            principal_type="role",
        )
        for i in range(7)
    ]
    ip = "203.0.113.9"
    noise = [
        hour_event(action="UpdateFunctionCode", outcome="success"),
        hour_event(action="UpdateFunctionCode", outcome="failure", source_ip="198.51.100.1"),
        hour_event(action="UpdateFunctionCode", outcome="failure", provider="gcp", source_ip=ip),
    ]
    store(api, *wanted, *noise)
    params = {
        **DAY,
        "provider": "aws",
        "account": wanted[0]["account"],
        "principal": wanted[0]["principal"],
        "principal_type": "role",
        "service": "lambda.amazonaws.com",
        "action": "UpdateFunctionCode",
        "raw_action": wanted[0]["raw_action"],
        "resource": wanted[0]["resource"],
        "outcome": "failure",
        "error_code": "AccessDeniedException",
        "source_ip": "203.0.113.0/24",
        "user_agent": "boto3",
        "limit": 3,
    }
    ids, cursor, pages = [], None, 0
    while True:
        body = search(api, **params, **({"cursor": cursor} if cursor else {})).json()
        ids += [item["id"] for item in body["items"]]
        pages += 1
        if not (cursor := body["next_cursor"]):
            break
    expected = sorted(wanted, key=lambda r: (r["time"], r["id"]), reverse=True)
    assert ids == [r["id"] for r in expected]
    assert pages == 3


def test_hostile_values_match_as_data_and_come_back_verbatim(api):
    row = hour_event(resource=HOSTILE, user_agent=HOSTILE, principal=HOSTILE, raw={"note": HOSTILE})
    store(api, row, hour_event())
    answer = search(api, resource=HOSTILE, principal=HOSTILE, include_raw="true", **DAY)
    [item] = answer.json()["items"]
    assert item["resource"] == item["user_agent"] == item["principal"] == HOSTILE
    assert item["raw"] == {"note": HOSTILE}
    assert answer.headers["content-type"] == "application/json"
    # a pattern is not interpreted: "%" and ".*" match nothing here
    assert search(api, user_agent=".*", **DAY).json()["items"] == []
    assert search(api, resource="%", **DAY).json()["items"] == []


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"source_ip": "10.0.0.0/33"}, "source_ip"),
        ({"source_ip": "not-an-ip"}, "source_ip"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-02-02T00:00:01Z"}, "since"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"since": "1969-12-31T23:59:59Z"}, "since"),
        ({"until": "2100-01-01T00:00:00Z"}, "until"),
        ({"until": "9999-12-31T23:59:59-12:00"}, "until"),
        ({"provider": "azure"}, "provider"),
        ({"outcome": "maybe"}, "outcome"),
        ({"limit": 501}, "limit"),
    ],
)
def test_bad_input_is_a_422_naming_the_parameter(api, params, parameter):
    body = assert_problem(search(api, **params), 422)
    assert body["errors"][0]["loc"] == ["query", parameter]


def _cursor(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        _cursor([1, "x"]),  # an alert-list shape
        _cursor(["ev1", 1.5, "id", "aws"]),
        _cursor(["ev1", -1, "id", "aws"]),
        _cursor(["ev1", 10**20, "id", "aws"]),
        _cursor(["ev1", True, "id", "aws"]),
        _cursor(["ev1", 1, "id", "../aws"]),
        _cursor(["ev1", 1, "x" * 2049, "aws"]),
        _cursor({"ev1": 1}),
    ],
)
def test_a_cursor_this_service_did_not_hand_out_is_a_422(api, cursor):
    store(api, hour_event())
    body = assert_problem(search(api, cursor=cursor, **DAY), 422)
    assert "cursor" in body["detail"]


def test_an_empty_lake_answers_an_empty_page(api):
    assert search(api, **DAY).json() == {"items": [], "next_cursor": None}


def test_searches_are_audited_with_their_query(api):
    search(api, action="Invoke", **DAY)
    assert api.state.audit.flush()
    with api.db.session() as session:
        [row] = session.scalars(select(AuditRow).where(AuditRow.route == "/v1/events"))
    assert (row.method, row.status_code, row.role) == ("GET", 200, "viewer")
    assert "action=Invoke" in row.query


def test_the_search_is_in_the_openapi_schema(api):
    operation = api.client.app.openapi()["paths"]["/v1/events"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names >= {"since", "until", "principal", "source_ip", "include_raw", "cursor"}


def test_pages_continue_past_an_event_whose_id_is_long_and_hostile(api):
    odd = hour_event(id=HOSTILE + "x" * 1900, time=BASE_TIME)
    store(api, odd, hour_event(time=BASE_TIME - timedelta(seconds=1)))
    first = search(api, limit=1, **DAY).json()
    assert [i["id"] for i in first["items"]] == [odd["id"]]
    second = search(api, limit=1, cursor=first["next_cursor"], **DAY)
    assert second.status_code == 200
    assert len(second.json()["items"]) == 1
