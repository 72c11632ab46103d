"""Rules read carried raw fields as columns, and match exactly what reading the raw gives."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.rules.context import BatchContext
from detectors.rules.engine import match_rules
from pipelines.events import events_from_arrow
from pipelines.normalize import carried, concat_tables, normalize_table_chunks
from pipelines.sources.base import Blob
from tests.detectors.rules.rulekit import sigma
from tests.factories import cloudtrail_file, cloudtrail_record, json_lines, log_entry

EVERY_EVENT = {"product": "functrail"}


def _role(arn: str, issuer_type: object = "Role") -> dict[str, object]:
    return {
        "type": "AssumedRole",
        "arn": arn,
        "sessionContext": {"sessionIssuer": {"type": issuer_type}},
    }


def _batch():
    root = cloudtrail_record(userIdentity={"type": "Root", "arn": "arn:aws:iam::1:root"})
    role = cloudtrail_record(userIdentity=_role("arn:aws:sts::1:assumed-role/app/s1"))
    mistyped = cloudtrail_record(userIdentity={"type": ["Root"], "arn": "arn:aws:iam::1:root"})
    odd_issuer = cloudtrail_record(userIdentity=_role("arn:aws:sts::1:assumed-role/x/y", 5))
    service = cloudtrail_record(
        userIdentity={"invokedBy": "events.amazonaws.com"}, eventType="AwsServiceEvent"
    )
    shouting = cloudtrail_record(userIdentity={"type": "ROOT"}, eventType={"not": "text"})
    gcp = log_entry(userIdentity={"type": "Root"}, eventType="AwsServiceEvent")
    blobs = [
        Blob("trail", cloudtrail_file(root, role, mistyped, odd_issuer, service, shouting)),
        Blob("sink", json_lines(gcp)),
    ]
    table, rejects, _ = concat_tables(normalize_table_chunks(blobs, carry=True))
    assert rejects == []
    events, raw_fields = carried.split(table)
    return events_from_arrow(events), raw_fields


DETECTIONS = [
    {"s": {"userIdentity.type": "root"}, "condition": "s"},
    {"s": {"userIdentity.type": "AssumedRole"}, "condition": "s"},
    {"s": {"userIdentity.arn|contains": "assumed-role"}, "condition": "s"},
    {"s": {"userIdentity.arn|re": ".+:assumed-role/.+"}, "condition": "s"},
    {"s": {"userIdentity.sessionContext.sessionIssuer.type": "Role"}, "condition": "s"},
    {"s": {"userIdentity.sessionContext.sessionIssuer.type": 5}, "condition": "s"},
    {"s": {"userIdentity.invokedBy|exists": False}, "condition": "s"},
    {"s": {"userIdentity.type": None}, "condition": "s"},
    {"s": {"eventType": "AwsServiceEvent"}, "condition": "s"},
    {"s": {"eventType|contains": "text"}, "condition": "s"},
    {"s": {"userIdentity.arn|fieldref": "userIdentity.type"}, "condition": "not s"},
    {
        "a": {"userIdentity.type": "AssumedRole"},
        "b": {"userIdentity.sessionContext.sessionIssuer.type": "Role"},
        "condition": "a and not b",
    },
]


@pytest.mark.parametrize("detection", DETECTIONS)
@pytest.mark.parametrize("logsource", [None, EVERY_EVENT])
def test_a_carried_field_matches_what_the_raw_record_says(tmp_path, detection, logsource):
    events, raw_fields = _batch()
    extra = {"logsource": logsource} if logsource else {}
    rule = sigma(tmp_path, detection, **extra)
    _, with_columns = match_rules(events, [rule], carried=raw_fields)
    _, from_raw = match_rules(events, [rule])
    rule_id = rule.meta.rule_id
    assert (
        np.flatnonzero(with_columns[rule_id]).tolist() == np.flatnonzero(from_raw[rule_id]).tolist()
    )


def test_only_rows_without_known_carried_values_read_the_raw_record(tmp_path, monkeypatch):
    events, raw_fields = _batch()
    read: list[int] = []
    original = BatchContext._raw_of

    def spy(self, rows):
        read.extend(rows)
        return original(self, rows)

    monkeypatch.setattr(BatchContext, "_raw_of", spy)
    detection = {"s": {"userIdentity.type": "Root"}, "condition": "s"}
    rule = sigma(tmp_path, detection, logsource=EVERY_EVENT)
    _, found = match_rules(events, [rule], carried=raw_fields)
    # Sigma compares case-insensitively and element-wise: ROOT, ["Root"] and the LogEntry's
    # own userIdentity match too, the last three read from their raw records
    assert np.flatnonzero(found[rule.meta.rule_id]).tolist() == [0, 2, 5, 6]
    known = raw_fields.column(carried.KNOWN).to_pylist()
    assert known == [True, True, False, False, True, False, False]
    assert set(read) <= {i for i, ok in enumerate(known) if not ok}
