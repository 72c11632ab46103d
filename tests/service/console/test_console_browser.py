"""The console in a real headless Chromium against a real server: hostile strings show as
text, the key stays in sessionStorage, a viewer's triage attempt shows the 403 problem."""

from __future__ import annotations

import asyncio
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from detectors.alert import Deviation, Evidence
from pipelines.lake import EventLake
from tests.factories import BASE_TIME, alert, event, events
from tests.service.api.conftest import Api
from tests.service.console.browser import CHROMIUM, Page, browser, serve

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)"),
]

HOSTILE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_UA = "<script>window.__pwned=2</script>"
ROWS = "document.querySelectorAll('#alert-rows tr').length"
INJECTED = "document.querySelectorAll('img, script:not([src]), iframe, object, embed').length"
FORBIDDEN = "403 Forbidden: this needs the analyst role"


def _click(page: Page, label: str) -> None:
    """Click the detail panel's button whose text starts with ``label``."""
    buttons = "[...document.querySelectorAll('#detail button')]"
    page.evaluate(f"{buttons}.find(b => b.textContent.startsWith({label!r})).click()")


def _select(page: Page, alert_id: str) -> None:
    page.evaluate(f"document.querySelector('tr[data-id=\"{alert_id}\"]').click()")
    page.wait_for("document.querySelector('#detail h2') !== null")


def _seed(api: Api) -> str:
    """A hostile alert with evidence in the lake, plus a few ordinary ones over a week."""
    raw = {"eventName": "AddPermission20150331v2", "userAgent": HOSTILE_UA, "note": HOSTILE}
    rows = [event(user_agent=HOSTILE_UA, raw=raw, resource=HOSTILE)]
    EventLake(api.settings.lake_root).append(events(*rows))
    bad = alert(
        title=HOSTILE,
        principal=HOSTILE,
        resource=HOSTILE,
        tags=["T1098", HOSTILE],
        severity="critical",
        first_seen=rows[0]["time"],
        evidence=Evidence(event_ids=[rows[0]["id"]]),
        explanation=[Deviation(feature="new_source_ip", observed=HOSTILE, baseline="192.0.2.0/24")],
        runbook="javascript:window.__pwned=3",
    )
    ordinary = [
        alert(severity=s, first_seen=BASE_TIME - timedelta(days=d))
        for d, s in enumerate(["high", "medium", "low", "info", "high", "medium"])
    ]
    api.save(bad, *ordinary)
    return bad.id


def _open_console(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/console")
    page.evaluate(f"document.getElementById('key-input').value = {key!r}")
    page.evaluate("document.querySelector('#key-form button[type=submit]').click()")
    page.wait_for(f"{ROWS} > 0")


def test_hostile_strings_render_as_literal_text_everywhere(api: Api) -> None:
    alert_id = _seed(api)
    key = api.new_key("analyst", name="kim")
    with serve(api.client.app) as base, browser() as page:
        _open_console(page, base, key)
        assert page.evaluate(ROWS) == 7
        page.wait_for("document.querySelectorAll('#chart rect').length > 0")
        assert HOSTILE in page.evaluate("document.getElementById('alert-rows').textContent")
        _select(page, alert_id)
        detail = page.evaluate("document.getElementById('detail').textContent")
        assert detail.count(HOSTILE) >= 5  # title, principal, resource, tag, explanation
        _click(page, "Load evidence")
        page.wait_for("document.querySelector('#detail .event pre') !== null")
        raw = page.evaluate("document.querySelector('#detail .event pre').textContent")
        assert HOSTILE_UA in raw
        assert '"eventName": "AddPermission20150331v2"' in raw  # pretty-printed
        assert page.evaluate(INJECTED) == 0
        assert page.evaluate("document.querySelectorAll('#detail a').length") == 0  # no javascript:
        assert page.evaluate("window.__pwned === undefined")
        assert page.evaluate("sessionStorage.getItem('functrail.apiKey')") == key
        assert page.evaluate("localStorage.length") == 0
        assert page.evaluate("document.cookie") == ""
        assert key not in page.evaluate("location.href")
        if shot := os.environ.get("FUNCTRAIL_CONSOLE_SCREENSHOT"):
            page.screenshot(Path(shot))


def test_analyst_acknowledges_and_a_viewer_sees_the_403_problem(api: Api) -> None:
    alert_id = _seed(api)
    analyst, viewer = api.new_key("analyst", name="kim"), api.new_key("viewer", name="vic")
    with serve(api.client.app) as base, browser() as page:
        for key, expect in ((viewer, FORBIDDEN), (analyst, "saved")):
            _open_console(page, base, key)
            _select(page, alert_id)
            _click(page, "Acknowledge")
            page.wait_for(f"document.getElementById('message').textContent.includes({expect!r})")
        message = page.evaluate("document.getElementById('message').textContent")
        assert message == "saved"
        page.wait_for("document.getElementById('detail').textContent.includes('acknowledged')")
    got = api.client.get(f"/v1/alerts/{alert_id}", headers=api.headers("viewer")).json()
    assert got["status"] == "acknowledged"
    assert got["history"][-1]["actor"] == "kim"


def test_filters_narrow_the_queue_and_load_more_follows_the_cursor(api: Api) -> None:
    many = [alert(severity="low", first_seen=BASE_TIME + timedelta(minutes=i)) for i in range(52)]
    old = alert(severity="critical", first_seen=BASE_TIME - timedelta(days=3))
    api.save(*many, old)
    with serve(api.client.app) as base, browser() as page:
        _open_console(page, base, api.new_key("viewer"))
        assert page.evaluate(ROWS) == 50
        page.evaluate("document.getElementById('more').click()")
        page.wait_for(f"{ROWS} === 53")
        assert page.evaluate("document.getElementById('more').hidden")
        form = "document.getElementById('filters')"
        counts = "document.getElementById('counts').textContent"
        page.evaluate(f"{form}.elements.severity.value = 'critical'")
        page.evaluate(f"{form}.querySelector('button').click()")
        page.wait_for(f"{ROWS} === 1")
        assert page.evaluate("document.querySelector('#alert-rows tr').dataset.id") == old.id
        page.wait_for(f"{counts}.startsWith('total 1')")
        page.evaluate(f"{form}.elements.severity.value = ''")
        page.evaluate(f"{form}.elements.since.value = {BASE_TIME.date().isoformat()!r}")
        page.evaluate(f"{form}.querySelector('button').click()")
        page.wait_for(f"{counts}.startsWith('total 52')")
        page.wait_for(f"{ROWS} === 50")
        assert not page.evaluate("document.getElementById('more').hidden")


def _slowed(app: ASGIApp, seconds: float, *markers: bytes) -> ASGIApp:
    """``app`` answering late any request whose path and query hold one of ``markers``."""

    async def slowed(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            target = scope["path"].encode() + b"?" + scope.get("query_string", b"")
            if any(marker in target for marker in markers):
                await asyncio.sleep(seconds)
        await app(scope, receive, send)

    return slowed


def test_a_slow_answer_for_older_filters_does_not_overwrite_the_newer_ones(api: Api) -> None:
    many = [alert(severity="low", first_seen=BASE_TIME + timedelta(minutes=i)) for i in range(52)]
    old = alert(severity="critical", first_seen=BASE_TIME - timedelta(days=3))
    api.save(*many, old)
    # The unfiltered chart's first summary and the next page of the unfiltered queue come
    # back 3 s late; the analyst filters to critical in the meantime.
    app = _slowed(api.client.app, 3.0, b"/summary?severity=info", b"cursor=")
    with serve(app) as base, browser() as page:
        _open_console(page, base, api.new_key("viewer"))
        page.evaluate("document.getElementById('more').click()")
        form = "document.getElementById('filters')"
        counts = "document.getElementById('counts').textContent"
        page.evaluate(f"{form}.elements.severity.value = 'critical'")
        page.evaluate(f"{form}.querySelector('button').click()")
        page.wait_for(f"{ROWS} === 1 && {counts}.startsWith('total 1')")
        time.sleep(4)  # the slow answers have arrived
        assert page.evaluate(ROWS) == 1
        assert page.evaluate(counts).startswith("total 1")


SUP_ROWS = "document.querySelectorAll('#sup-rows tr').length"


def test_analyst_lists_creates_and_deletes_suppressions_and_a_viewer_sees_a_note(
    api: Api,
) -> None:
    alert_id = _seed(api)
    made = api.client.post(
        "/v1/suppressions",
        json={"principal": HOSTILE, "reason": HOSTILE_UA},
        headers=api.headers("analyst"),
    )
    assert made.status_code == 201
    analyst, viewer = api.new_key("analyst", name="kim"), api.new_key("viewer", name="vic")
    with serve(api.client.app) as base, browser() as page:
        _open_console(page, base, analyst)
        page.wait_for(f"{SUP_ROWS} === 1")
        listed = page.evaluate("document.getElementById('sup-rows').textContent")
        assert HOSTILE in listed
        assert HOSTILE_UA in listed
        assert page.evaluate(INJECTED) == 0

        _select(page, alert_id)
        reason = "document.querySelector('#detail input[placeholder^=\"why\"]')"
        page.evaluate(f"{reason}.value = 'red team exercise'")
        _click(page, "Create suppression")
        page.wait_for(f"{SUP_ROWS} === 2")

        first = made.json()["id"]
        button = f"document.querySelector('#sup-rows tr[data-id=\"{first}\"] button')"
        page.evaluate(f"{button}.click()")
        assert page.evaluate(f"{button}.textContent") == "Confirm delete"
        assert page.evaluate(SUP_ROWS) == 2  # one click only arms the button
        page.evaluate(f"{button}.click()")
        page.wait_for(f"{SUP_ROWS} === 1")
        assert page.evaluate("window.__pwned === undefined")

        _open_console(page, base, viewer)
        page.wait_for("document.getElementById('sup-note').textContent.includes('analysts')")
        assert page.evaluate(SUP_ROWS) == 0
        assert page.evaluate("document.getElementById('message').hidden")
    left = api.client.get("/v1/suppressions", headers=api.headers("analyst")).json()["items"]
    assert [s["reason"] for s in left] == ["red team exercise"]
