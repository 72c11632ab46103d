"""The API's alert list: kept renderings are the built bytes, and never outlive a change."""

from __future__ import annotations

from datetime import timedelta

import orjson

from detectors.alert import Deviation, Evidence
from service.alerts.listing import RenderedAlerts, list_alert_json
from service.alerts.queries import AlertFilter
from service.alerts.store import save_alerts
from service.alerts.triage import triage
from tests.factories import BASE_TIME, HOSTILE, alert


def _pages(session, rendered: RenderedAlerts | None, limit: int = 2) -> list[bytes]:
    """Every page of the unfiltered list, following the cursors."""
    pages, cursor = [], None
    while True:
        body = list_alert_json(
            session.connection(), AlertFilter(), limit=limit, cursor=cursor, rendered=rendered
        )
        pages.append(body)
        cursor = orjson.loads(body)["next_cursor"]
        if cursor is None:
            return pages


def test_kept_pages_are_the_built_pages_byte_for_byte(session):
    save_alerts(
        session,
        [
            alert(
                resource=HOSTILE,
                first_seen=BASE_TIME + timedelta(microseconds=123_456),
                explanation=[Deviation(feature="calls", observed=42.0, baseline="p99 3")],
                evidence=Evidence(event_ids=["e1"], sample=[{"ua": HOSTILE}]),
            ),
            *(alert(first_seen=BASE_TIME + timedelta(minutes=i)) for i in range(4)),
        ],
    )
    rendered = RenderedAlerts()
    built = _pages(session, rendered)
    assert rendered.built_pages == len(built)
    assert rendered.kept_pages == 0
    kept = _pages(session, rendered)
    assert rendered.kept_pages == len(built)
    assert kept == built == _pages(session, None)


def test_a_triaged_alert_is_read_and_rendered_again(session):
    a = alert()
    save_alerts(session, [a])
    rendered = RenderedAlerts()
    _pages(session, rendered)
    triage(session, a.id, actor="kim", status="acknowledged", assignee="kim")
    [page] = _pages(session, rendered)
    [item] = orjson.loads(page)["items"]
    assert (item["status"], item["assignee"]) == ("acknowledged", "kim")
    assert rendered.built_pages == 2


def test_a_folded_alert_is_read_and_rendered_again_with_its_new_count(session):
    a = alert(evidence=Evidence(event_ids=["e1"]))
    save_alerts(session, [a])
    rendered = RenderedAlerts()
    _pages(session, rendered)
    later = a.model_copy(
        update={
            "last_seen": a.last_seen + timedelta(minutes=5),
            "evidence": Evidence(event_ids=["e2"]),
        }
    )
    save_alerts(session, [later])
    [page] = _pages(session, rendered)
    [item] = orjson.loads(page)["items"]
    assert item["count"] == 2
    assert item["evidence"]["event_ids"] == ["e1", "e2"]


def test_kept_renderings_are_bounded_and_the_pages_stay_right(session):
    save_alerts(session, [alert(first_seen=BASE_TIME + timedelta(minutes=i)) for i in range(9)])
    rendered = RenderedAlerts(max_alerts=4)
    first = _pages(session, rendered)
    assert len(rendered) <= 4
    assert _pages(session, rendered) == first == _pages(session, None)
