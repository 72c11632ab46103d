"""Field names as users write them resolve to what the engine reads."""

from __future__ import annotations

import numpy as np
import pytest

from detectors.rules.context import BatchContext, field_kind, is_row_level
from detectors.rules.engine import match_rules
from detectors.rules.fields import GRANTED_PERMISSIONS, LOG_NAME, resolve
from tests.detectors.rules.rulekit import sigma
from tests.detectors.rules.sigma.kit import normalized
from tests.factories import cloudtrail_record, log_entry, request_log


@pytest.mark.parametrize(
    ("written", "reads"),
    [
        ("eventSource", ("eventSource",)),
        ("requestParameters.functionName", ("requestParameters.functionName",)),
        ("gcp.audit.method_name", ("protoPayload.methodName", GRANTED_PERMISSIONS)),
        ("gcp.audit.service_name", ("protoPayload.serviceName",)),
        (
            "gcp.audit.request_metadata.caller_supplied_user_agent",
            ("protoPayload.requestMetadata.callerSuppliedUserAgent",),
        ),
        ("gcp.audit.type", ("protoPayload.@type",)),
        ("data.protoPayload.methodName", ("protoPayload.methodName",)),
        ("data.protoPayload.logName", ("protoPayload.logName", LOG_NAME)),
        ("data.protoPayload.resource.type", ("protoPayload.resource.type", "resource.type")),
        ("logName", (LOG_NAME,)),
    ],
)
def test_resolve(written, reads):
    assert resolve(written) == reads


@pytest.mark.parametrize(
    ("written", "row_level"),
    [
        ("eventSource", False),
        ("eventName", False),
        ("protoPayload.methodName", False),
        ("gcp.audit.method_name", True),  # granted permissions are in the raw record
        ("userIdentity.type", True),
        ("principal_is_human", False),
    ],
)
def test_column_backed_fields_are_not_row_level(written, row_level):
    assert is_row_level(written) is row_level


def test_aliases_equal_the_raw_values_on_their_rows_and_are_null_elsewhere():
    records = [
        cloudtrail_record(eventName="CreateFunctionUrlConfig20211031", errorCode="AccessDenied"),
        log_entry(),
        request_log(),
    ]
    ctx = BatchContext(normalized(*records))
    rows = np.array([0, 1, 2])  # aws first, then the two Google Cloud entries in order
    assert ctx.first_values("eventSource", rows) == ["lambda.amazonaws.com", None, None]
    assert ctx.first_values("errorCode", rows) == ["AccessDenied", None, None]
    assert ctx.first_values("sourceIPAddress", rows) == ["192.0.2.10", None, None]
    method = "google.cloud.functions.v2.FunctionService.UpdateFunction"
    assert ctx.first_values("protoPayload.methodName", rows) == [None, method, None]
    assert ctx.first_values("insertId", rows)[0] is None
    # eventName reads the logged name and the name without its API version
    values = ctx.values("eventName", np.array([0]))
    assert values.text.to_pylist() == [
        "CreateFunctionUrlConfig20211031",
        "CreateFunctionUrlConfig",
    ]
    assert field_kind("eventName") == "alias"


@pytest.mark.parametrize(
    ("detection", "matched"),
    [
        ({"s": {"sourceIPAddress": "198.51.100.3"}, "condition": "s"}, []),
        ({"s": {"sourceIPAddress": "192.0.2.10"}, "condition": "s"}, [0]),
        ({"s": {"protoPayload.requestMetadata.callerIp": "192.0.2.10"}, "condition": "s"}, []),
        ({"s": {"protoPayload.requestMetadata.callerIp": "198.51.100.3"}, "condition": "s"}, [1]),
        ({"s": {"eventSource|endswith": ".com"}, "condition": "s"}, [0]),
    ],
)
def test_an_alias_matches_only_on_its_providers_rows(tmp_path, detection, matched):
    # both rows hold their caller's address in source_ip; each alias reads one provider's
    rule = sigma(tmp_path, detection, logsource={"product": "functrail"})
    batch = normalized(cloudtrail_record(), log_entry())
    _, found = match_rules(batch, [rule])
    assert np.flatnonzero(found[rule.meta.rule_id]).tolist() == matched
