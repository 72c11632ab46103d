"""Closing the loop from the console, in a real headless Chromium against a real server: the
analyst resolves an alert with a verdict and a PagerDuty-format receiver on 127.0.0.1 gets the
``resolve`` for the alert's dedup key; shadow alerts show only when asked, with their badge."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.alerts.store import save_alerts
from service.webhooks.dispatcher import Dispatcher
from tests.factories import alert
from tests.service.api.conftest import Api, make_api
from tests.service.console.browser import CHROMIUM, browser, serve
from tests.service.console.test_console_browser import ROWS, _click, _open_console, _select
from tests.service.webhooks.receivers import Receiver, receiver
from tests.service.webhooks.test_dispatcher import CONFIG, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)"),
]


@pytest.fixture
def hook_api(fresh_database) -> Iterator[Api]:
    """The app with receivers on 127.0.0.1 allowed (the test's PagerDuty stand-in)."""
    made = make_api(fresh_database, webhook_allow_private=True)
    with made.client:
        yield made


def test_resolving_with_a_verdict_in_the_console_resolves_the_pagerduty_incident(
    hook_api: Api,
) -> None:
    api = hook_api
    target = alert(severity="critical")
    api.save(target)
    analyst = api.new_key("analyst", name="kim")
    with receiver() as pagerduty:
        made = api.client.post(
            "/v1/webhooks",
            json={"url": pagerduty.url, "format": "pagerduty", "routing_key": "R" * 32},
            headers=api.headers("admin"),
        )
        assert made.status_code == 201, made.text
        pagerduty.secret = made.json()["secret"]
        dispatcher = Dispatcher(api.db.sessions, api.settings, CONFIG, name="console-test")
        dispatcher.start()
        try:
            with serve(api.client.app) as base, browser() as page:
                _open_console(page, base, analyst)
                _select(page, target.id)
                page.evaluate(
                    "document.querySelector('#detail select[name=disposition]').value"
                    " = 'false_positive'"
                )
                _click(page, "Resolve")
                page.wait_for("document.getElementById('message').textContent === 'saved'")
                page.wait_for(
                    "document.getElementById('detail').textContent.includes('false positive')"
                )
                wait_for(lambda: _actions(pagerduty) == ["resolve"], timeout=20)
                if shot := os.environ.get("FUNCTRAIL_VERDICT_SCREENSHOT"):
                    page.screenshot(Path(shot))
        finally:
            dispatcher.stop()
    resolves = [c for c in pagerduty.calls if c.body.get("event_action") == "resolve"]
    assert [(c.event, c.verified) for c in resolves] == [("alert.updated", True)]
    assert resolves[0].body == {
        "routing_key": "R" * 32,
        "event_action": "resolve",
        "dedup_key": target.dedup_key,
    }
    got = api.client.get(f"/v1/alerts/{target.id}", headers=api.headers("viewer")).json()
    assert (got["status"], got["disposition"]) == ("resolved", "false_positive")
    assert got["history"][-1]["actor"] == "kim"


def _actions(pagerduty: Receiver) -> list[str]:
    return [str(c.body.get("event_action")) for c in pagerduty.calls]


def test_shadow_alerts_show_with_a_badge_only_when_included(hook_api: Api) -> None:
    api = hook_api
    live, shadow = alert(rule_id="aws_root_account_usage"), alert()
    with api.db.session() as session:
        save_alerts(session, [live, shadow], shadow=lambda a: a.id == shadow.id)
    with serve(api.client.app) as base, browser() as page:
        _open_console(page, base, api.new_key("viewer"))
        assert page.evaluate(ROWS) == 1
        assert page.evaluate("document.querySelectorAll('#alert-rows .badge.shadow').length") == 0
        form = "document.getElementById('filters')"
        page.evaluate(f"{form}.elements.include_shadow.checked = true")
        page.evaluate(f"{form}.querySelector('button').click()")
        page.wait_for(f"{ROWS} === 2")
        page.wait_for("document.getElementById('counts').textContent.startsWith('total 2')")
        badge = f"document.querySelector('tr[data-id=\"{shadow.id}\"] .badge.shadow')"
        assert page.evaluate(f"{badge}.textContent") == "shadow"
        _select(page, shadow.id)
        assert "shadow: stored and counted, never delivered" in page.evaluate(
            "document.getElementById('detail').textContent"
        )
