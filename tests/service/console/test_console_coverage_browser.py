"""The console's Coverage view in a real headless Chromium: accounts silent and degraded first
with their reasons, healthy ones as ok, failing sources, hostile names as text, and an
account's events one click away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pipelines.lake import EventLake
from pipelines.source_health import record_attempt
from tests.detectors.coverage.conftest import gcp_fields, lambda_invokes, steady
from tests.factories import ACCOUNT, alert, events
from tests.service.api.conftest import Api
from tests.service.console.browser import CHROMIUM, Page, browser, serve

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)"),
]

HOSTILE = '<img src=x onerror="window.__pwned=1">'
ROWS = "document.querySelectorAll('#coverage-rows tr').length"
INJECTED = "document.querySelectorAll('img, script:not([src]), iframe, object, embed').length"
HOUR = timedelta(hours=1)


def _statuses(page: Page) -> list[list[str]]:
    rows: list[list[str]] = page.evaluate(
        "[...document.querySelectorAll('#coverage-rows tr')]"
        ".map(r => [r.children[0].textContent, r.children[2].textContent])"
    )
    return rows


def test_coverage_shows_silent_and_degraded_accounts_first_with_reasons(api: Api) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    begin = now - timedelta(days=15)
    EventLake(api.settings.lake_root).append(
        events(
            *steady(begin, now, 2),  # management events of ACCOUNT, as usual
            *steady(begin, now - 12 * HOUR, 2, **lambda_invokes()),  # its Lambda data: stopped
            *steady(begin, now - 10 * HOUR, 2, **gcp_fields("activity", project=HOSTILE)),
            *steady(begin, now, 2, **gcp_fields("activity", project="healthy-proj")),
        )
    )
    for _ in range(3):
        record_attempt(api.settings, "s3://trail/AWSLogs/", "ClientError: AccessDenied")
    api.save(alert())
    with serve(api.client.app) as base, browser() as page:
        page.goto(f"{base}/console")
        page.evaluate(f"document.getElementById('key-input').value = {api.new_key('viewer')!r}")
        page.evaluate("document.querySelector('#key-form button[type=submit]').click()")
        page.wait_for("document.querySelectorAll('#alert-rows tr').length > 0")
        page.evaluate("document.querySelector('#nav button[data-view=coverage]').click()")
        page.wait_for(f"{ROWS} === 3")
        shown = "getComputedStyle(document.querySelector('main[data-view=%s]')).display"
        assert page.evaluate(shown % "alerts") == "none"
        assert page.evaluate(shown % "coverage") != "none"
        assert _statuses(page) == [
            ["silent", HOSTILE],
            ["degraded", ACCOUNT],
            ["ok", "healthy-proj"],
        ]
        summary = page.evaluate("document.getElementById('coverage-summary').textContent")
        assert summary.startswith("3 account(s): 1 silent, 1 degraded, 1 ok")
        aws = f'#coverage-rows tr[data-account="{ACCOUNT}"]'
        reasons = page.evaluate(f"document.querySelector({aws!r}).children[7].textContent")
        assert "lambda_data: no Lambda data events for 1" in reasons  # 12-13 h: the clock runs
        assert "blind without data events: aws_s3_object_acl_public" in reasons
        types = page.evaluate(f"document.querySelector({aws!r}).children[6].textContent")
        assert "in 24 h (usually ~48/day)" in types
        assert "management: " in types
        sources = page.evaluate("document.getElementById('coverage-sources').textContent")
        assert "s3://trail/AWSLogs/: 3 failed pulls in a row" in sources
        assert "ClientError: AccessDenied" in sources
        body = page.evaluate("document.body.innerText")
        assert "null" not in body
        assert "undefined" not in body
        assert page.evaluate(INJECTED) == 0
        assert page.evaluate("window.__pwned") is None

        # an account's events: the Events view on it, the last 24 hours
        page.evaluate(f"document.querySelector({aws!r}).querySelector('button').click()")
        page.wait_for("document.querySelectorAll('#event-rows tr').length > 0")
        form = "document.getElementById('event-filters')"
        assert page.evaluate(f"{form}.elements.account.value") == ACCOUNT
        assert page.evaluate(shown % "events") != "none"
