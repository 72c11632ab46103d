from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from service.webhooks.formats import FORMATS, RenderContext, encode_body
from service.webhooks.formats.pagerduty import pagerduty_dedup_key
from service.webhooks.formats.slack import escape_mrkdwn
from tests.factories import alert

HOSTILE = "<!channel> <https://evil.example|click> & @here `x` *bold*"


def ctx(event="alert.created", routing_key=None):
    return RenderContext(event=event, delivery_id="d-1", routing_key=routing_key)


def all_mrkdwn_texts(body):
    for block in body["blocks"]:
        if block.get("text", {}).get("type") == "mrkdwn":
            yield block["text"]["text"]
        for f in block.get("fields", []) + block.get("elements", []):
            yield f["text"]


def test_slack_escapes_mentions_and_links_in_attacker_fields():
    body = FORMATS["slack"].render(
        alert(resource=HOSTILE, principal=HOSTILE, tags=[HOSTILE], runbook=HOSTILE), ctx()
    )
    texts = [body["text"], *all_mrkdwn_texts(body)]
    joined = "\n".join(texts)
    assert "<!channel>" not in joined
    assert "<https://evil.example|click>" not in joined
    assert "&lt;!channel&gt;" in joined
    assert "@here" not in joined
    assert "& @" not in joined  # bare ampersand escaped
    assert all("<" not in t and ">" not in t for t in texts)
    assert body["unfurl_links"] is False


def test_slack_header_is_plain_text_and_bounded():
    body = FORMATS["slack"].render(alert(title="x" * 500 + "\n<!here>"), ctx())
    header = body["blocks"][0]
    assert header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= 150


def test_escape_mrkdwn_flattens_control_characters():
    assert escape_mrkdwn("a\nb\u2028c") == "a b c"


def test_pagerduty_event_is_events_v2_trigger_with_alert_dedup_key():
    a = alert(severity="critical")
    body = FORMATS["pagerduty"].render(a, ctx(routing_key="R" * 32))
    assert body["routing_key"] == "R" * 32
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == a.dedup_key
    payload = body["payload"]
    assert {"summary", "source", "severity"} <= payload.keys()
    assert payload["severity"] in {"critical", "error", "warning", "info"}
    assert len(payload["summary"]) <= 1024


def test_pagerduty_resolved_alert_resolves_incident():
    a = alert(status="resolved")
    body = FORMATS["pagerduty"].render(a, ctx(event="alert.updated"))
    assert body == {"routing_key": "", "event_action": "resolve", "dedup_key": a.dedup_key}


def test_pagerduty_long_dedup_key_is_shortened_stably():
    key = "rule|x|" + "y" * 400
    assert len(pagerduty_dedup_key(key)) <= 255
    assert pagerduty_dedup_key(key) == pagerduty_dedup_key(key)


@pytest.mark.parametrize(("event", "activity"), [("alert.created", 1), ("alert.updated", 2)])
def test_ocsf_detection_finding_has_required_attributes(event, activity):
    a = alert(severity="medium", tags=["T1098", "T1562.008", "exposure"])
    body = FORMATS["ocsf"].render(a, ctx(event=event))
    assert body["class_uid"] == 2004
    assert body["category_uid"] == 2
    assert body["activity_id"] == activity
    assert body["type_uid"] == 200400 + activity
    assert body["severity_id"] == 3
    assert isinstance(body["time"], int)
    assert body["metadata"]["version"].startswith("1.")
    assert body["metadata"]["product"]["name"] == "functrail"
    assert body["finding_info"]["uid"] == a.id
    assert body["finding_info"]["title"] == a.title
    assert [x["technique"]["uid"] for x in body["finding_info"]["attacks"]] == [
        "T1098",
        "T1562.008",
    ]
    assert body["cloud"]["provider"] == "AWS"


def test_every_format_renders_json_serializable_body_for_hostile_alert():
    a = alert(title="\x00\ud800" + HOSTILE, resource="\u202e" * 10, principal=None, account=None)
    for name, fmt in FORMATS.items():
        data = encode_body(fmt.render(a, ctx(event="test")))
        assert isinstance(orjson.loads(data), dict), name


def test_generic_body_is_the_alert_contract():
    a = alert()
    body = FORMATS["generic"].render(a, ctx())
    assert body["event"] == "alert.created"
    assert body["alert"]["dedup_key"] == a.dedup_key
    assert datetime.fromisoformat(body["alert"]["first_seen"]) == a.first_seen
