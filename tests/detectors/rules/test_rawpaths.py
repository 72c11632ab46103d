"""Path-only decoding gives the same leaves as walking the fully parsed record."""

from __future__ import annotations

import orjson
import pytest

from detectors.rules.rawpaths import PathDecoder, walk
from tests.factories import cloudtrail_record, log_entry

PATHS = [
    "userIdentity.type",
    "userIdentity.sessionContext.sessionIssuer.type",
    "requestParameters",
    "requestParameters.layers",
    "protoPayload.authorizationInfo.permission",
    "protoPayload.@type",
    "responseElements.ConsoleLogin",
    "missing.path",
]


@pytest.mark.parametrize(
    "record",
    [
        cloudtrail_record(),
        cloudtrail_record(
            userIdentity={
                "type": "AssumedRole",
                "arn": "arn:aws:sts::210987654321:assumed-role/deploy/ci",
                "sessionContext": {"sessionIssuer": {"type": "Role", "userName": "deploy"}},
            },
            requestParameters={"functionName": "f", "layers": ["arn:a", "arn:b"]},
        ),
        cloudtrail_record(requestParameters="logged as a string", responseElements=None),
        cloudtrail_record(userIdentity=None, requestParameters=[{"layers": "x"}, {"a": 1}]),
        cloudtrail_record(userIdentity={"type": None, "sessionContext": "text"}),
        cloudtrail_record(requestParameters={"layers": [["arn:a"], "arn:b"]}),
        log_entry(),
        {
            **log_entry(),
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "authorizationInfo": [
                    {"permission": "iam.serviceAccounts.create", "granted": True},
                    {"permission": "iam.serviceAccounts.actAs", "granted": False},
                ],
            },
        },
    ],
)
def test_decoded_paths_walk_like_the_parsed_record(record):
    raw = orjson.dumps(record)
    decoder = PathDecoder(PATHS)
    decoded = decoder.decode(raw)
    parsed = orjson.loads(raw)
    assert decoded is not None
    for path in PATHS:
        assert walk(decoded, path.split(".")) == walk(parsed, path.split(".")), path
        assert decoder.leaves(decoded, path) == walk(parsed, path.split(".")), path


def test_a_record_that_does_not_fit_the_paths_is_left_to_the_full_parse():
    # a list of strings where the path expects objects to walk into
    raw = orjson.dumps(cloudtrail_record(userIdentity=["a", "b"]))
    assert PathDecoder(["userIdentity.type"]).decode(raw) is None
    assert walk(orjson.loads(raw), ["userIdentity", "type"]) == []
    assert PathDecoder(["userIdentity.type"]).decode(b"{not json") is None


def test_nested_lists_on_the_way_fan_out():
    record = {"a": [[{"b": "x"}, {"b": "y"}], [{"b": "z"}]], "c": [{"d": ["p", "q"]}]}
    assert walk(record, ["a", "b"]) == ["x", "y", "z"]
    assert walk(record, ["c", "d"]) == ["p", "q"]
