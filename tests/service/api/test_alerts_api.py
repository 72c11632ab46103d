"""GET/PATCH /v1/alerts: shape, filters, keyset paging, triage, summary, evidence events."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from detectors.alert import Deviation, Evidence
from pipelines.lake import EventLake
from service.alerts import routes as alert_routes
from service.alerts.queries import AlertFilter, list_alerts
from service.alerts.schemas import AlertPage
from tests.factories import BASE_TIME, HOSTILE, alert, event, events
from tests.service.api.conftest import assert_problem

CONTRACT_FIELDS = {
    "id", "dedup_key", "detector", "rule_id", "title", "severity", "score", "provider", "account",
    "principal", "resource", "first_seen", "last_seen", "count", "status", "tags", "evidence",
    "explanation", "runbook",
}  # fmt: skip


def test_list_answers_items_and_next_cursor_with_every_alert_field(api):
    api.save(alert())
    body = api.client.get("/v1/alerts", headers=api.headers("viewer")).json()
    assert set(body) == {"items", "next_cursor"}
    assert set(body["items"][0]) >= CONTRACT_FIELDS
    assert isinstance(body["items"][0]["evidence"]["event_ids"], list)
    assert body["next_cursor"] is None


def test_filters_narrow_the_list(api):
    api.save(
        alert(severity="low", rule_id="r_low"),
        alert(severity="critical", rule_id="r_crit", title="root used the console"),
        alert(severity="high", rule_id="r_high", detector="anomaly"),
    )
    h = api.headers("viewer")

    def ids(query: str) -> list[str]:
        return [
            a["rule_id"] for a in api.client.get(f"/v1/alerts?{query}", headers=h).json()["items"]
        ]

    assert sorted(ids("severity=high")) == ["r_crit", "r_high"]
    assert ids("detector=anomaly") == ["r_high"]
    assert ids("rule_id=r_low") == ["r_low"]
    assert ids("q=ROOT") == ["r_crit"]
    assert ids("q=%25") == []
    assert ids("status=resolved") == []


def test_each_request_binds_its_own_filter_values(api):
    """The list's statement is built once per set of filters: a second request with the same
    filters and other values (and another cursor) must not see the first one's."""
    api.save(
        *[
            alert(rule_id=rule, principal=who, first_seen=BASE_TIME + timedelta(hours=hour))
            for hour, (rule, who) in enumerate(
                [("r_a", "alice"), ("r_b", "bob"), ("r_a", "alice"), ("r_b", "bob")]
            )
        ]
    )
    h = api.headers("viewer")

    def principals(params: dict[str, str]) -> list[str]:
        listed = api.client.get("/v1/alerts", params=params, headers=h).json()
        return [a["principal"] for a in listed["items"]]

    for rule, who in (("r_a", "alice"), ("r_b", "bob"), ("r_a", "alice")):
        assert principals({"rule_id": rule}) == [who, who]
        assert principals({"q": who.upper()}) == [who, who]
    later = (BASE_TIME + timedelta(hours=2)).isoformat()
    assert principals({"since": later}) == ["bob", "alice"]
    assert principals({"until": later}) == ["bob", "alice"]
    for limit, rule, after in ((1, "r_b", ["bob"]), (3, "r_a", ["alice"]), (3, "r_b", [])):
        first = api.client.get("/v1/alerts", params={"limit": limit}, headers=h).json()
        assert principals({"rule_id": rule, "cursor": first["next_cursor"]}) == after


def test_newest_first_and_cursor_pages_are_stable_under_inserts(api):
    api.save(*[alert(first_seen=BASE_TIME + timedelta(minutes=i)) for i in range(7)])
    h = api.headers("viewer")
    first = api.client.get("/v1/alerts?limit=3", headers=h).json()
    seen = [a["last_seen"] for a in first["items"]]
    assert seen == sorted(seen, reverse=True)
    api.save(alert(first_seen=BASE_TIME + timedelta(days=1)))  # newer: lands before the cursor
    collected = [a["id"] for a in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.client.get("/v1/alerts", params={"limit": 3, "cursor": cursor}, headers=h).json()
        collected += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
    assert len(collected) == len(set(collected)) == 7


def test_foreign_cursor_is_422(api):
    response = api.client.get("/v1/alerts?cursor=bm90LWEtY3Vyc29y", headers=api.headers("viewer"))
    assert_problem(response, 422)


def test_patch_changes_status_and_writes_triage_history(api):
    a = alert()
    api.save(a)
    response = api.client.patch(
        f"/v1/alerts/{a.id}",
        json={"status": "acknowledged", "assignee": "kim", "note": "on it"},
        headers=api.headers("analyst"),
    )
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["assignee"]) == ("acknowledged", "kim")
    detail = api.client.get(f"/v1/alerts/{a.id}", headers=api.headers("viewer")).json()
    [entry] = detail["history"]
    assert entry["status_from"] == "open"
    assert entry["status_to"] == "acknowledged"
    assert entry["assignee_to"] == "kim"
    assert entry["note"] == "on it"
    assert entry["actor"].startswith("analyst-")


def test_patch_rejects_unknown_fields_and_statuses(api):
    a = alert()
    api.save(a)
    h = api.headers("analyst")
    assert_problem(api.client.patch(f"/v1/alerts/{a.id}", json={"status": "gone"}, headers=h), 422)
    assert_problem(api.client.patch(f"/v1/alerts/{a.id}", json={"count": 9}, headers=h), 422)
    assert_problem(api.client.patch(f"/v1/alerts/{a.id}", json={}, headers=h), 422)


def test_resolving_with_a_disposition_keeps_the_verdict_on_the_alert_and_in_history(api):
    a = alert()
    api.save(a)
    response = api.client.patch(
        f"/v1/alerts/{a.id}",
        json={"status": "resolved", "disposition": "true_positive"},
        headers=api.headers("analyst"),
    )
    assert response.status_code == 200
    assert response.json()["disposition"] == "true_positive"
    listed = api.client.get("/v1/alerts?status=resolved", headers=api.headers("viewer")).json()
    assert [item["disposition"] for item in listed["items"]] == ["true_positive"]
    detail = api.client.get(f"/v1/alerts/{a.id}", headers=api.headers("viewer")).json()
    assert [e["disposition"] for e in detail["history"]] == ["true_positive"]


def test_a_disposition_on_an_alert_not_being_resolved_is_422(api):
    a = alert()
    api.save(a)
    h = api.headers("analyst")
    for body in ({"disposition": "benign"}, {"status": "acknowledged", "disposition": "benign"}):
        assert_problem(api.client.patch(f"/v1/alerts/{a.id}", json=body, headers=h), 422)
    bad = {"status": "resolved", "disposition": "maybe"}
    assert_problem(api.client.patch(f"/v1/alerts/{a.id}", json=bad, headers=h), 422)
    assert api.client.get(f"/v1/alerts/{a.id}", headers=h).json()["disposition"] is None


def test_a_resolved_alert_takes_a_corrected_verdict_and_reopening_clears_it(api):
    a = alert()
    api.save(a)
    h = api.headers("analyst")
    url = f"/v1/alerts/{a.id}"
    api.client.patch(url, json={"status": "resolved", "disposition": "benign"}, headers=h)
    corrected = api.client.patch(url, json={"disposition": "false_positive"}, headers=h).json()
    assert corrected["disposition"] == "false_positive"
    reopened = api.client.patch(url, json={"status": "open"}, headers=h).json()
    assert (reopened["status"], reopened["disposition"]) == ("open", None)
    verdicts = [e["disposition"] for e in api.client.get(url, headers=h).json()["history"]]
    assert verdicts == ["benign", "false_positive", None]


def test_unknown_alert_is_404_problem(api):
    assert_problem(api.client.get("/v1/alerts/nope", headers=api.headers("viewer")), 404)
    assert_problem(
        api.client.patch("/v1/alerts/nope", json={"note": "x"}, headers=api.headers("analyst")), 404
    )


def test_summary_counts_by_severity_status_detector_and_day(api):
    api.save(
        alert(severity="high"), alert(severity="high"), alert(severity="low", detector="anomaly")
    )
    body = api.client.get("/v1/alerts/summary", headers=api.headers("viewer")).json()
    assert body["total"] == 3
    assert body["by_severity"] == {"high": 2, "low": 1}
    assert body["by_status"] == {"open": 3}
    assert body["by_detector"] == {"rule": 2, "anomaly": 1}
    assert body["by_day"] == {BASE_TIME.date().isoformat(): 3}


def test_hostile_strings_come_back_verbatim_as_data(api):
    a = alert(principal=HOSTILE, resource=HOSTILE, title=HOSTILE, tags=[HOSTILE])
    api.save(a)
    h = api.headers("viewer")
    got = api.client.get(f"/v1/alerts/{a.id}", headers=h).json()
    assert (got["principal"], got["resource"], got["title"], got["tags"]) == (HOSTILE,) * 3 + (
        [HOSTILE],
    )
    found = api.client.get("/v1/alerts", params={"principal": HOSTILE}, headers=h).json()["items"]
    assert [x["id"] for x in found] == [a.id]


def test_alert_events_come_back_normalized_and_raw_from_the_lake(api):
    rows = [event(raw={"eventName": "AddPermission20150331v2", "n": i}) for i in range(2)]
    EventLake(api.settings.lake_root).append(events(*rows))
    ids = [r["id"] for r in rows]
    a = alert(first_seen=rows[0]["time"], evidence=Evidence(event_ids=[*ids, "evt-not-there"]))
    api.save(a)
    body = api.client.get(f"/v1/alerts/{a.id}/events", headers=api.headers("viewer")).json()
    assert sorted(e["id"] for e in body["items"]) == sorted(ids)
    assert {e["raw"]["eventName"] for e in body["items"]} == {"AddPermission20150331v2"}
    assert body["missing"] == ["evt-not-there"]


def test_list_json_is_the_stored_alert_json(api):
    anomaly = alert(
        detector="anomaly",
        severity="high",
        first_seen=BASE_TIME + timedelta(microseconds=123_456),
        explanation=[Deviation(feature="calls", observed=42.0, baseline="p99 3")],
        evidence=Evidence(event_ids=["e1", "e2"], sample=[{"action": "AddPermission"}]),
        runbook="https://runbooks.example/x",
        tags=["T1098", "T1136"],
    )
    plain = alert(principal=None, resource=HOSTILE)
    api.save(anomaly, plain)
    api.client.patch(
        f"/v1/alerts/{plain.id}", json={"assignee": "kim"}, headers=api.headers("analyst")
    )
    h = api.headers("viewer")
    for params, flt, limit in (
        ({}, AlertFilter(), 50),
        ({"limit": 1}, AlertFilter(), 1),
        ({"severity": "high"}, AlertFilter(severity="high"), 50),
    ):
        listed = api.client.get("/v1/alerts", params=params, headers=h).json()
        with api.db.sessions() as session:
            page = list_alerts(session, flt, limit=limit)
        assert listed["items"] == [a.model_dump(mode="json") for a in page.items]
        assert listed["next_cursor"] == page.next_cursor
        assert AlertPage.model_validate(listed).items[0].id == page.items[0].id
    everything = {a["id"]: a for a in api.client.get("/v1/alerts", headers=h).json()["items"]}
    assert everything[anomaly.id]["explanation"][0]["detail"] is None
    assert everything[plain.id]["assignee"] == "kim"


def test_cursor_pages_walk_ties_on_last_seen_without_gaps(api):
    same = BASE_TIME + timedelta(hours=1)
    saved = [alert(first_seen=same, resource=f"tie-{i}") for i in range(9)]
    api.save(*saved, *[alert(first_seen=BASE_TIME + timedelta(minutes=i)) for i in range(4)])
    h = api.headers("viewer")
    collected: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.client.get("/v1/alerts", params=params, headers=h).json()
        collected += [a["id"] for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert collected[:9] == sorted((a.id for a in saved), reverse=True)
    assert len(collected) == len(set(collected)) == 13


def test_a_stored_nan_comes_back_as_json_null(api):
    if api.db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's json type refuses NaN when the alert is saved")
    a = alert(evidence=Evidence(event_ids=["e1"], sample=[{"bytes": float("nan"), "n": "NaN"}]))
    api.save(a)
    response = api.client.get("/v1/alerts", headers=api.headers("viewer"))
    assert response.status_code == 200
    assert response.json()["items"][0]["evidence"]["sample"] == [{"bytes": None, "n": "NaN"}]


def test_pages_are_read_on_the_event_loop_unless_a_sqlite_filter_may_scan(api, monkeypatch):
    """No thread hop where it costs more than the page, and none for PostgreSQL's round trip
    (psycopg async waits on the loop); a SQLite filter that may scan the table must not stall
    the loop, so it runs in a thread."""
    api.save(alert(rule_id="r", principal="p"))
    threads: list[str] = []

    def record(real):
        def recorded(*args, **kwargs):
            threads.append(threading.current_thread().name)
            return real(*args, **kwargs)

        return recorded

    for name in ("list_alert_json", "list_alert_json_async"):
        monkeypatch.setattr(alert_routes, name, record(getattr(alert_routes, name)))
    h = api.headers("viewer")
    walking = ["", "severity=high&status=open", "rule_id=r&since=2026-01-01T00:00:00Z&limit=1"]
    scanning = ["q=x", "principal=p&severity=low", "status=open&rule_id=r"]
    for query in walking + scanning:
        assert api.client.get(f"/v1/alerts?{query}", headers=h).status_code == 200
    in_thread = [name.startswith("AnyIO worker thread") for name in threads]
    sqlite = api.db.engine.dialect.name == "sqlite"
    assert in_thread == [False] * len(walking) + [sqlite] * len(scanning)
