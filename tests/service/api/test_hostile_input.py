"""Crafted cursors, extreme times and NUL text on every list endpoint and body: 422, never 500.

Before: a cursor holding ``[1, "x"]``, a zone-less time or ``1e308``, ``since`` at
``9999-12-31T23:59:59-12:00`` and such a suppression ``expires_at`` were 500s that logged a
trace with SQL and bound values (review finding L1). ``test_generated_hostile_queries`` lets
hypothesis look for any other value that reaches a 500.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import alert
from tests.service.api.conftest import Api, assert_problem


def crafted(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


LISTS = ["/v1/alerts", "/v1/suppressions", "/v1/webhooks", "/v1/jobs"]
CURSORS = [
    crafted([1, "x"]),
    crafted([{"t": "2026-03-02T10:00:00"}, "x"]),
    crafted([1e308, "x"]),
    crafted([{"t": "9999-12-31T23:59:59-12:00"}, "x"]),
    crafted([{"t": "0001-01-01T00:00:00+14:00"}, 1]),
    crafted(["x", 1]),
    crafted([{"t": "2026-03-02T10:00:00+00:00"}, "a\u0000"]),
]
EXTREME_TIMES = [
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "1969-12-31T23:59:59Z",
    "2100-01-01T00:00:00Z",
]


def _with_webhook(api: Api) -> str:
    body = {"url": "https://hooks.example.com/x"}
    created = api.client.post("/v1/webhooks", json=body, headers=api.headers("admin"))
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize("cursor", CURSORS)
def test_a_crafted_cursor_is_422_on_every_list(api, cursor):
    hook = _with_webhook(api)
    for path in [*LISTS, f"/v1/webhooks/{hook}/deliveries"]:
        response = api.client.get(path, params={"cursor": cursor}, headers=api.headers("admin"))
        assert_problem(response, 422)


@pytest.mark.parametrize("moment", EXTREME_TIMES)
@pytest.mark.parametrize("name", ["since", "until"])
def test_a_time_outside_1970_2100_is_422_on_the_alert_list_and_summary(api, moment, name):
    for path in ("/v1/alerts", "/v1/alerts/summary"):
        response = api.client.get(path, params={name: moment}, headers=api.headers("viewer"))
        assert_problem(response, 422)


@pytest.mark.parametrize("moment", EXTREME_TIMES)
def test_a_suppression_expiry_outside_1970_2100_is_422(api, moment):
    body = {"rule_id": "r", "reason": "pen test", "expires_at": moment}
    headers = api.headers("analyst")
    assert_problem(api.client.post("/v1/suppressions", json=body, headers=headers), 422)
    made = api.client.post(
        "/v1/suppressions", json={"rule_id": "r", "reason": "x"}, headers=headers
    ).json()
    patch = api.client.patch(
        f"/v1/suppressions/{made['id']}", json={"expires_at": moment}, headers=headers
    )
    assert_problem(patch, 422)


def test_a_zone_less_time_is_taken_as_utc(api):
    api.save(alert())
    response = api.client.get(
        "/v1/alerts", params={"since": "2026-03-01T00:00:00"}, headers=api.headers("viewer")
    )
    assert response.status_code == 200
    assert len(response.json()["items"]) == 1


def test_the_next_cursor_handed_out_still_pages(api):
    api.save(alert(), alert(), alert())
    first = api.client.get("/v1/alerts", params={"limit": 2}, headers=api.headers("viewer")).json()
    rest = api.client.get(
        "/v1/alerts",
        params={"limit": 2, "cursor": first["next_cursor"]},
        headers=api.headers("viewer"),
    ).json()
    assert len(first["items"]) == 2
    assert len(rest["items"]) == 1


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=6,
)
_TIMES = st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat())
_CURSOR_VALUES = (
    _JSON
    | st.fixed_dictionaries({"t": _TIMES | st.text(max_size=40)})
    | st.integers(min_value=-(1 << 70), max_value=1 << 70)
)
_QUIET: dict[str, Any] = {
    "deadline": None,
    "database": None,
    "suppress_health_check": list(HealthCheck),
}
_CURSORS = st.lists(_CURSOR_VALUES, max_size=3).map(crafted) | st.text(max_size=60)


@pytest.mark.slow
def test_generated_hostile_queries_never_get_a_server_error(api):
    """hypothesis over every list's ``cursor``, the alert times and a suppression's expiry."""
    hook = _with_webhook(api)
    api.save(alert())
    lists = [*LISTS, f"/v1/webhooks/{hook}/deliveries"]
    headers = api.headers("admin")

    @given(path=st.sampled_from(lists), cursor=_CURSORS)
    @settings(max_examples=300, **_QUIET)
    def cursors(path: str, cursor: str) -> None:
        response = api.client.get(path, params={"cursor": cursor}, headers=headers)
        assert response.status_code in (200, 422), response.text

    @given(
        path=st.sampled_from(["/v1/alerts", "/v1/alerts/summary"]),
        name=st.sampled_from(["since", "until"]),
        moment=_TIMES | st.text(max_size=40),
    )
    @settings(max_examples=300, **_QUIET)
    def times(path: str, name: str, moment: str) -> None:
        response = api.client.get(path, params={name: moment}, headers=headers)
        assert response.status_code in (200, 422), response.text

    @given(moment=_TIMES, reason=st.text(min_size=1, max_size=20))
    @settings(max_examples=150, **_QUIET)
    def expiries(moment: str, reason: str) -> None:
        body = {"rule_id": "r", "reason": reason, "expires_at": moment}
        response = api.client.post("/v1/suppressions", json=body, headers=headers)
        assert response.status_code in (201, 422), response.text

    cursors()
    times()
    expiries()


BODIES_WITH_NUL = [
    ("post", "/v1/webhooks", {"url": "https://hooks.example.com/a\u0000b"}),
    ("post", "/v1/webhooks", {"url": "https://hooks.example.com/x", "description": "a\u0000"}),
    ("post", "/v1/webhooks", {"url": "https://hooks.example.com/x", "accounts": ["1\u00002"]}),
    ("post", "/v1/suppressions", {"principal": "a\u0000", "reason": "x"}),
    ("post", "/v1/suppressions", {"rule_id": "r", "reason": "pen\u0000test"}),
]


@pytest.mark.parametrize(("method", "path", "body"), BODIES_WITH_NUL)
def test_nul_in_a_body_is_422_and_nothing_is_stored(api, method, path, body):
    headers = api.headers("admin")
    assert_problem(getattr(api.client, method)(path, json=body, headers=headers), 422)
    assert api.client.get(path, headers=headers).json()["items"] == []


def test_nul_in_a_triage_note_or_a_suppression_patch_is_422(api):
    api.save(one := alert())
    headers = api.headers("admin")
    note = api.client.patch(f"/v1/alerts/{one.id}", json={"note": "x\u0000"}, headers=headers)
    assert_problem(note, 422)
    made = api.client.post(
        "/v1/suppressions", json={"rule_id": "r", "reason": "x"}, headers=headers
    ).json()
    patch = api.client.patch(
        f"/v1/suppressions/{made['id']}", json={"reason": "y\u0000"}, headers=headers
    )
    assert_problem(patch, 422)
