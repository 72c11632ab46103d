"""People's routine admin: the same few acts by the same people, so they are their baseline."""

from __future__ import annotations

from collections import defaultdict

from pipelines.simulate.emit import is_weekend
from pipelines.simulate.ids import epoch
from pipelines.simulate.org import build_org
from pipelines.simulate.traffic_aws_admin import (
    ROTATION_DAYS,
    owned_functions,
    rotation_cycle,
    routine_admin,
)
from tests.pipelines.simulate.conftest import START, cloudtrail_records

ROTATION = {"ListAccessKeys", "CreateAccessKey", "UpdateAccessKey", "DeleteAccessKey"}
WRITES_BY_HABIT = {
    "alice": {"UpdateFunctionConfiguration20150331v2"},
    "bob": {"PutMetricAlarm", "PutRetentionPolicy"},
    "carol": {"StartExecution"},
    "dmitri": {"GenerateServiceLastAccessedDetails"},
    "eve.ng": {"BatchUpdateFindings"},
}


def _attack_ids(sim) -> set[str]:
    return {i for label in sim.labels for i in label.event_ids}


def test_each_developer_only_makes_the_changes_of_their_habit(sim):
    attacks = _attack_ids(sim)
    writes: dict[str, set[str]] = defaultdict(set)
    for r in cloudtrail_records(sim):
        ident = r["userIdentity"]
        person = ident.get("type") == "IAMUser" and r["eventName"] != "ConsoleLogin"
        if person and not r["readOnly"] and r["eventID"] not in attacks:
            writes[ident["userName"]].add(r["eventName"])
    assert writes  # people do change things
    for user, names in writes.items():
        assert names - ROTATION <= WRITES_BY_HABIT[user], user


def test_function_tuning_stays_on_owned_functions_and_below_the_limits(sim):
    prod = build_org(11).account("prod")
    owned = {fn.name for fn in owned_functions(11, "alice", prod)}
    attacks = _attack_ids(sim)
    tuned = [
        r
        for r in cloudtrail_records(sim)
        if r["eventName"] == "UpdateFunctionConfiguration20150331v2"
        and r["userIdentity"].get("userName") == "alice"
        and r["eventID"] not in attacks
    ]
    assert tuned
    for r in tuned:
        params = r["requestParameters"]
        assert params["functionName"] in owned
        assert params["memorySize"] < 10240
        assert params["timeout"] < 900
        assert r["sessionCredentialFromConsole"] == "true"


def test_monthly_rotation_creates_the_users_own_key_and_retires_the_previous_one():
    prod = build_org(11).account("prod")
    user = next(u for u in prod.users if u.name == "dmitri")
    first = epoch(START) // 86400
    days = range(first, first + 3 * ROTATION_DAYS)
    due = [d for d in days if rotation_cycle(11, user, d * 86400) is not None]
    assert len(due) == 3  # once per cycle
    assert not any(is_weekend(d * 86400) for d in due)
    created, retired = [], []
    for day in due[:2]:
        emits = routine_admin(11, day * 86400, prod, [])
        mine = [e.record for e in emits if e.record["userIdentity"]["userName"] == user.name]
        by_name = {r["eventName"]: r for r in mine}
        assert by_name.keys() == ROTATION
        create = by_name["CreateAccessKey"]
        assert create["requestParameters"]["userName"] == user.name
        assert create["userIdentity"]["userName"] == user.name
        new = create["responseElements"]["accessKey"]["accessKeyId"]
        old = by_name["DeleteAccessKey"]["requestParameters"]["accessKeyId"]
        assert by_name["UpdateAccessKey"]["requestParameters"] == {
            "userName": user.name,
            "accessKeyId": old,
            "status": "Inactive",
        }
        assert create["userIdentity"]["accessKeyId"] == old  # made with the old key
        assert by_name["DeleteAccessKey"]["userIdentity"]["accessKeyId"] == new
        created.append(new)
        retired.append(old)
    assert retired[1] == created[0]  # next month's rotation retires this month's key


def test_sso_sessions_change_only_staging_and_are_refused_only_the_role_picker(sim):
    org = build_org(11)
    staging = org.account("staging").id
    attacks = _attack_ids(sim)
    sso = [
        r
        for r in cloudtrail_records(sim)
        if "AWSReservedSSO" in r["userIdentity"].get("arn", "") and r["eventID"] not in attacks
    ]
    changes = [r for r in sso if not r["readOnly"]]
    assert changes
    assert {r["recipientAccountId"] for r in changes} == {staging}
    denied = [r for r in sso if "errorCode" in r]
    assert denied
    assert {(r["eventName"], r["errorCode"]) for r in denied} == {("ListRoles", "AccessDenied")}
