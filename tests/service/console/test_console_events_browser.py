"""The console's Events view and its at-a-glance queue, in a real headless Chromium: an alert
opens its principal's events of that hour, filters and "Load more" work, an event opens to its
record and raw record as text; titles show short principals, runbooks their numbered steps,
and nothing renders "null" or "undefined"."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.lake import EventLake
from tests.factories import ACCOUNT, BASE_TIME, alert, events, hour_event
from tests.service.api.conftest import Api
from tests.service.console.browser import CHROMIUM, Page, browser, serve

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)"),
]

ALICE = f"arn:aws:iam::{ACCOUNT}:user/ops/alice"
CI_SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/ci-deploy/gh-run-77"
BOB = f"arn:aws:iam::{ACCOUNT}:user/bob"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
ROWS = "document.querySelectorAll('#alert-rows tr').length"
EVENT_ROWS = "document.querySelectorAll('#event-rows tr:not(.event-open)').length"
INJECTED = "document.querySelectorAll('img, script:not([src]), iframe, object, embed').length"
RUNBOOK = """Who is this?
1. Who is the principal and where are the calls from (source IP, user agent)? Recon tools
   have telltale user agents.
2. Which calls SUCCEEDED from the same principal in the same window?
3. Contain: deactivate the access key.
"""


def _open_console(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/console")
    page.evaluate(f"document.getElementById('key-input').value = {key!r}")
    page.evaluate("document.querySelector('#key-form button[type=submit]').click()")
    page.wait_for(f"{ROWS} > 0")


def _select(page: Page, alert_id: str) -> None:
    page.evaluate(f"document.querySelector('tr[data-id=\"{alert_id}\"]').click()")
    page.wait_for("document.querySelector('#detail h2') !== null")


def _text(page: Page, selector: str) -> str:
    text: str = page.evaluate(f"document.querySelector({selector!r}).textContent")
    return text


def _event_ids(page: Page) -> list[str]:
    ids: list[str] = page.evaluate(
        "[...document.querySelectorAll('#event-rows tr[data-id]')].map(r => r.dataset.id)"
    )
    return ids


def test_an_alert_opens_its_principals_events_of_that_hour_and_filters_narrow_them(
    api: Api,
) -> None:
    at = BASE_TIME
    hostile_raw = {"eventName": "Invoke", "userAgent": HOSTILE}
    mine = [
        hour_event(principal=ALICE, time=at - timedelta(minutes=50), action="ListFunctions"),
        hour_event(principal=ALICE, time=at + timedelta(minutes=5), action="UpdateFunctionCode"),
        hour_event(
            principal=ALICE,
            time=at + timedelta(minutes=30),
            action="Invoke",
            user_agent=HOSTILE,
            resource=HOSTILE,
            raw=hostile_raw,
        ),
    ]
    outside = [
        hour_event(principal=ALICE, time=at + timedelta(hours=3)),  # after the hour
        hour_event(principal=BOB, time=at + timedelta(minutes=1)),  # someone else
    ]
    EventLake(api.settings.lake_root).append(events(*mine, *outside))
    made = alert(principal=ALICE, first_seen=at, resource="billing", runbook=RUNBOOK)
    api.save(made)
    with serve(api.client.app) as base, browser() as page:
        _open_console(page, base, api.new_key("viewer"))
        _select(page, made.id)
        page.evaluate(
            "[...document.querySelectorAll('#detail button')]"
            ".find(b => b.textContent.startsWith('Events of this principal')).click()"
        )
        page.wait_for(f"{EVENT_ROWS} === 3")
        shown = "getComputedStyle(document.querySelector('main[data-view=%s]')).display"
        assert page.evaluate(shown % "alerts") == "none"  # the attribute alone was not enough
        assert page.evaluate(shown % "events") != "none"
        newest_first = sorted(mine, key=lambda r: r["time"], reverse=True)
        assert _event_ids(page) == [r["id"] for r in newest_first]
        form = "document.getElementById('event-filters')"
        assert page.evaluate(f"{form}.elements.principal.value") == ALICE
        assert page.evaluate(f"{form}.elements.since.value") == "2026-03-02T09:00"  # UTC
        assert "user/alice" in _text(page, "#event-context")
        assert HOSTILE in _text(page, "#event-rows")  # user agent and resource, as text

        # one more filter: only the failing-free code change
        page.evaluate(f"{form}.elements.action.value = 'UpdateFunctionCode'")
        page.evaluate(f"{form}.querySelector('button[type=submit]').click()")
        page.wait_for(f"{EVENT_ROWS} === 1")
        assert _event_ids(page) == [mine[1]["id"]]

        # back to the hour, then open the hostile event's record and its raw record
        page.evaluate(f"{form}.elements.action.value = ''")
        page.evaluate(f"{form}.querySelector('button[type=submit]').click()")
        page.wait_for(f"{EVENT_ROWS} === 3")
        hostile_row = f'#event-rows tr[data-id="{mine[2]["id"]}"]'
        page.evaluate(f"document.querySelector({hostile_row!r}).click()")
        page.wait_for("document.querySelector('#event-rows tr.event-open') !== null")
        record = _text(page, "#event-rows tr.event-open")
        assert ALICE in record
        assert "user_agent" in record
        page.evaluate("document.querySelector('#event-rows tr.event-open button').click()")
        page.wait_for("document.querySelector('#event-rows tr.event-open pre') !== null")
        raw = _text(page, "#event-rows tr.event-open pre")
        assert '"userAgent": "<img src=x onerror=\\"window.__pwned=1\\">"' in raw
        assert page.evaluate(INJECTED) == 0
        assert page.evaluate("window.__pwned === undefined")
        if shot := os.environ.get("FUNCTRAIL_EVENTS_SCREENSHOT"):
            page.screenshot(Path(shot))


def test_events_page_by_cursor_and_a_bad_cidr_shows_the_apis_422(api: Api) -> None:
    many = [hour_event(time=BASE_TIME + timedelta(seconds=i)) for i in range(63)]
    EventLake(api.settings.lake_root).append(events(*many))
    api.save(alert())
    with serve(api.client.app) as base, browser() as page:
        _open_console(page, base, api.new_key("viewer"))
        page.evaluate("document.querySelector('#nav button[data-view=events]').click()")
        form = "document.getElementById('event-filters')"
        page.evaluate(f"{form}.elements.since.value = '2026-03-02T00:00:00'")
        page.evaluate(f"{form}.elements.until.value = '2026-03-03T00:00:00'")
        page.evaluate(f"{form}.querySelector('button[type=submit]').click()")
        page.wait_for(f"{EVENT_ROWS} === 50")
        assert not page.evaluate("document.getElementById('event-more').hidden")
        page.evaluate("document.getElementById('event-more').click()")
        page.wait_for(f"{EVENT_ROWS} === 63")
        assert page.evaluate("document.getElementById('event-more').hidden")
        expected = [r["id"] for r in sorted(many, key=lambda r: r["time"], reverse=True)]
        assert _event_ids(page) == expected

        page.evaluate(f"{form}.elements.source_ip.value = '10.0.0.0/33'")
        page.evaluate(f"{form}.querySelector('button[type=submit]').click()")
        page.wait_for("document.getElementById('message').textContent.includes('422')")
        assert "source_ip" in _text(page, "#message")


def test_queue_titles_lead_with_a_short_principal_and_runbooks_keep_their_steps(
    api: Api,
) -> None:
    plain = alert(
        principal=ALICE,
        title=f"{ALICE} was denied many different API calls within 10 minutes in {ACCOUNT}",
        resource=None,
        runbook=RUNBOOK,
        explanation=None,
    )
    session = alert(
        principal=CI_SESSION, title=f"{CI_SESSION} changed the code of function billing"
    )
    email = alert(
        provider="gcp",
        principal="deployer@shop-prod.iam.gserviceaccount.com",
        title="deployer@shop-prod.iam.gserviceaccount.com made Cloud Run service x public",
    )
    api.save(plain, session, email)
    with serve(api.client.app) as base, browser() as page:
        _open_console(page, base, api.new_key("viewer"))
        titles = page.evaluate(
            "Object.fromEntries([...document.querySelectorAll('#alert-rows tr')].map(r =>"
            " [r.dataset.id, [r.cells[1].textContent, r.cells[1].title, r.cells[3].textContent,"
            " r.cells[3].title]]))"
        )
        assert titles[plain.id] == [
            f"user/alice was denied many different API calls within 10 minutes in {ACCOUNT}",
            plain.title,
            "user/alice",
            ALICE,
        ]
        assert titles[session.id][0] == "role/ci-deploy changed the code of function billing"
        assert titles[session.id][2:] == ["role/ci-deploy", CI_SESSION]
        assert titles[email.id][0] == email.title
        assert "arn:aws" not in page.evaluate("document.getElementById('alert-rows').innerText")

        _select(page, plain.id)
        steps = page.evaluate(
            "[...document.querySelectorAll('#detail .runbook ol li')].map(li => li.textContent)"
        )
        assert steps == [
            "Who is the principal and where are the calls from (source IP, user agent)? Recon "
            "tools have telltale user agents.",
            "Which calls SUCCEEDED from the same principal in the same window?",
            "Contain: deactivate the access key.",
        ]
        assert _text(page, "#detail .runbook p") == "Who is this?"
        detail = _text(page, "#detail")
        assert ALICE in detail  # the full ARN in the detail
        assert page.evaluate("document.querySelector('#detail h2').title") == plain.title
        for word in ("null", "undefined", "NaN"):
            assert word not in detail
            assert word not in page.evaluate("document.body.innerText")
        # no resource: no "Events on this resource" button
        labels = page.evaluate(
            "[...document.querySelectorAll('#detail button.to-events')].map(b => b.textContent)"
        )
        assert labels == ["Events of this principal (±1 h)"]
