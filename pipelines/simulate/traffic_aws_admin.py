"""Routine admin by hand: what each person does besides reading, the same way every week.

People keep habits, so what they do is part of their baseline rather than news: alice tunes the
memory and timeout of the functions she owns in the console, bob looks after alarms and logs,
carol after buckets, keys and the reporting state machine, dmitri reviews IAM, eve triages
GuardDuty and Security Hub findings. Each developer's script rotates their second access key
(the one their local tools use) once a month on their own weekday. SSO sessions in staging now
and then change a function's environment, and the Lambda console's role picker is refused
``iam:ListRoles`` (the Developer permission set does not grant it): a trickle of AccessDenied a
person causes.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit, is_weekend
from pipelines.simulate.ids import aws_key_id, derive, hex_id, uuid4
from pipelines.simulate.infra import AwsInfra, aws_infra
from pipelines.simulate.org import OFFICE_IPS, Account, Function, User
from pipelines.simulate.traffic_aws_people import Session

Record = aws.Record
ROTATION_DAYS = 30
"""Developers rotate their second access key once per this many days."""


@dataclass
class Desk:
    """One person's admin session: who, from where, and the next call's time."""

    rng: random.Random
    session: Session
    account: Account
    infra: AwsInfra
    console: bool
    t: int
    out: list[Emit]

    def call(
        self,
        source: str,
        name: str,
        params: Record | None,
        response: Record | None = None,
        *,
        read_only: bool = False,
        error: tuple[str, str] | None = None,
    ) -> None:
        self.t += self.rng.randint(5, 90)
        ident = self.session.identity
        user = self.session.user
        if not self.console and user is not None:
            ident = aws.iam_user(user)
            cmd = source.split(".")[0] + "." + _kebab(name)
            ua = aws.CLI_UA.format(cmd=cmd)
        else:
            ua = aws.CONSOLE_UA
        emit = aws.call(
            self.rng,
            self.t,
            ident,
            self.account.id,
            self.account.region,
            source,
            name,
            self.session.ip,
            ua,
            params,
            response,
            read_only=read_only,
            error=error,
        )
        if self.console:
            emit.record["sessionCredentialFromConsole"] = "true"
        self.out.append(emit)


def _kebab(name: str) -> str:
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def owned_functions(seed: int, user: str, account: Account, n: int = 3) -> list[Function]:
    """The functions a person looks after: the same few every day."""
    return derive(seed, "owns", user, account.id).sample(list(account.functions), n)


# -- the habits --------------------------------------------------------------------------------


def tune_functions(desk: Desk, seed: int) -> None:
    """Memory and timeout of an owned function, read before and after (never the maximums)."""
    assert desk.session.user is not None
    for fn in desk.rng.sample(owned_functions(seed, desk.session.name, desk.account), 1):
        desk.call(
            "lambda.amazonaws.com",
            "GetFunctionConfiguration",
            {"functionName": fn.name},
            read_only=True,
        )
        memory = desk.rng.choice((256, 512, 768, 1024, 1536, 2048))
        timeout = desk.rng.choice((10, 15, 30, 60, 90, 120))
        desk.call(
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration",
            {"functionName": fn.name, "memorySize": memory, "timeout": timeout},
            aws.function_config(fn, desk.rng, desk.t, memorySize=memory, timeout=timeout),
        )
        desk.call(
            "lambda.amazonaws.com",
            "GetFunctionConfiguration",
            {"functionName": fn.name},
            read_only=True,
        )


def operations(desk: Desk, seed: int) -> None:
    """Logs Insights queries on owned functions, an error alarm, retention now and then."""
    acct = desk.account
    fn = desk.rng.choice(owned_functions(seed, desk.session.name, acct))
    group = f"/aws/lambda/{fn.name}"
    query = uuid4(desk.rng)
    desk.call(
        "logs.amazonaws.com",
        "DescribeLogStreams",
        {"logGroupName": group, "orderBy": "LastEventTime", "descending": True},
        read_only=True,
    )
    desk.call(
        "logs.amazonaws.com",
        "StartQuery",
        {
            "logGroupNames": [group],
            "startTime": desk.t - 3600,
            "endTime": desk.t,
            "queryString": "fields @timestamp, @message | filter @message like /ERROR/ "
            "| sort @timestamp desc | limit 50",
        },
        {"queryId": query},
        read_only=True,
    )
    desk.call("logs.amazonaws.com", "GetQueryResults", {"queryId": query}, read_only=True)
    if desk.rng.random() < 0.3:
        desk.call(
            "monitoring.amazonaws.com",
            "PutMetricAlarm",
            {
                "alarmName": f"{fn.name}-errors",
                "metricName": "Errors",
                "namespace": "AWS/Lambda",
                "statistic": "Sum",
                "dimensions": [{"name": "FunctionName", "value": fn.name}],
                "period": 300,
                "evaluationPeriods": 1,
                "threshold": 5.0,
                "comparisonOperator": "GreaterThanOrEqualToThreshold",
                "alarmActions": [f"arn:aws:sns:{acct.region}:{acct.id}:oncall"],
            },
        )
    if desk.rng.random() < 0.15:
        desk.call(
            "logs.amazonaws.com",
            "PutRetentionPolicy",
            {"logGroupName": group, "retentionInDays": desk.rng.choice((30, 90))},
        )


def data(desk: Desk, seed: int) -> None:
    """Buckets and the account key in the console; re-running the nightly report by hand."""
    infra = desk.infra
    bucket = desk.rng.choice(infra.buckets)
    desk.call("s3.amazonaws.com", "ListBuckets", {"Host": "s3.amazonaws.com"}, read_only=True)
    for name, query in (("GetBucketLocation", "location"), ("GetBucketVersioning", "versioning")):
        desk.call(
            "s3.amazonaws.com",
            name,
            {"bucketName": bucket.name, "Host": f"{bucket.name}.s3.amazonaws.com", query: ""},
            read_only=True,
        )
    desk.call("kms.amazonaws.com", "ListAliases", None, read_only=True)
    desk.call("kms.amazonaws.com", "DescribeKey", {"keyId": infra.key_arn()}, read_only=True)
    reports = [m for m in infra.state_machines if m == "nightly-reports"]
    if reports and desk.rng.random() < 0.35:
        arn = infra.state_machine_arn(reports[0])
        desk.call(
            "states.amazonaws.com",
            "ListExecutions",
            {"stateMachineArn": arn, "statusFilter": "FAILED"},
            read_only=True,
        )
        name = uuid4(desk.rng)
        desk.call(
            "states.amazonaws.com",
            "StartExecution",
            {"stateMachineArn": arn, "name": name, "input": "HIDDEN_DUE_TO_SECURITY_REASONS"},
            {
                "executionArn": arn.replace(":stateMachine:", ":execution:") + f":{name}",
                "startDate": aws.iam_date(desk.t),
            },
        )


def iam_review(desk: Desk, seed: int) -> None:
    """Who may do what: roles, their attached policies, last-accessed data."""
    fn = desk.rng.choice(desk.account.functions)
    desk.call("iam.amazonaws.com", "ListRoles", {"maxItems": 100}, read_only=True)
    desk.call("iam.amazonaws.com", "GetRole", {"roleName": fn.role}, read_only=True)
    desk.call(
        "iam.amazonaws.com", "ListAttachedRolePolicies", {"roleName": fn.role}, read_only=True
    )
    if desk.infra.policies:
        arn = desk.infra.policy_arn(desk.rng.choice(desk.infra.policies))
        desk.call("iam.amazonaws.com", "GetPolicy", {"policyArn": arn}, read_only=True)
    if desk.rng.random() < 0.4:
        job = uuid4(desk.rng)
        desk.call(
            "iam.amazonaws.com",
            "GenerateServiceLastAccessedDetails",
            {"arn": fn.role_arn},
            {"jobId": job},
        )
        desk.call(
            "iam.amazonaws.com", "GetServiceLastAccessedDetails", {"jobId": job}, read_only=True
        )


def security(desk: Desk, seed: int) -> None:
    """Triage: GuardDuty and Security Hub findings, Config compliance, CloudTrail lookups."""
    acct = desk.account
    detector = hex_id(derive(seed, "guardduty", acct.id), 32)
    desk.call("guardduty.amazonaws.com", "ListDetectors", None, read_only=True)
    desk.call(
        "guardduty.amazonaws.com",
        "ListFindings",
        {"detectorId": detector, "maxResults": 50},
        read_only=True,
    )
    desk.call(
        "securityhub.amazonaws.com",
        "GetFindings",
        {
            "maxResults": 100,
            "filters": {"WorkflowStatus": [{"Value": "NEW", "Comparison": "EQUALS"}]},
        },
        read_only=True,
    )
    desk.call(
        "config.amazonaws.com",
        "DescribeComplianceByConfigRule",
        {"complianceTypes": ["NON_COMPLIANT"]},
        read_only=True,
    )
    desk.call(
        "cloudtrail.amazonaws.com",
        "LookupEvents",
        {
            "lookupAttributes": [{"attributeKey": "ReadOnly", "attributeValue": "false"}],
            "maxResults": 50,
        },
        read_only=True,
    )
    if desk.rng.random() < 0.4:
        desk.call(
            "securityhub.amazonaws.com",
            "BatchUpdateFindings",
            {
                "findingIdentifiers": [
                    {
                        "id": f"arn:aws:securityhub:{acct.region}:{acct.id}:subscription/"
                        f"aws-foundational-security-best-practices/v/1.0.0/Lambda.2/finding/"
                        f"{uuid4(desk.rng)}",
                        "productArn": f"arn:aws:securityhub:{acct.region}::product/aws/securityhub",
                    }
                ],
                "workflow": {"status": "RESOLVED"},
                "note": {
                    "text": "Accepted: runtime upgrade planned",
                    "updatedBy": desk.session.name,
                },
            },
            {"processedFindings": [], "unprocessedFindings": []},
        )


Habit = Callable[[Desk, int], None]
HABITS: dict[str, tuple[Habit, float, bool]] = {
    # IAM user: (habit, chance on a day they sign in, works in the console)
    "alice": (tune_functions, 0.6, True),
    "bob": (operations, 0.6, False),
    "carol": (data, 0.5, True),
    "dmitri": (iam_review, 0.5, False),
    "eve.ng": (security, 0.7, True),
}


def second_key(seed: int, user: User, cycle: int) -> str:
    """The second access key a user holds during one rotation cycle."""
    return aws_key_id(derive(seed, "second-key", user.arn, cycle), "AKIA")


def rotation_day(seed: int, user: User, cycle: int) -> int:
    """The day (days since the epoch) the user rotates in ``cycle``: their own fixed day of the
    cycle, moved to the next weekday when it falls on a weekend."""
    day = cycle * ROTATION_DAYS + derive(seed, "rotation-day", user.arn).randrange(ROTATION_DAYS)
    while is_weekend(day * 86400):
        day += 1
    return day


def rotation_cycle(seed: int, user: User, day_start: int) -> int | None:
    """The cycle whose rotation falls on this day, if any."""
    day = day_start // 86400
    cycle = day // ROTATION_DAYS
    for c in (cycle, cycle - 1):  # a weekend shift can carry a rotation into the next cycle
        if rotation_day(seed, user, c) == day:
            return c
    return None


def rotate_key(
    rng: random.Random, seed: int, user: User, account: Account, cycle: int, t: int, out: list[Emit]
) -> None:
    """A developer's script replacing their second access key: create the new one with the old,
    then deactivate and delete the old one with the new (from the office, by the CLI)."""
    old, new = second_key(seed, user, cycle - 1), second_key(seed, user, cycle)
    ref = {"userName": user.name}
    steps: list[tuple[str, Record, Record | None, str]] = [
        ("ListAccessKeys", ref, None, old),
        (
            "CreateAccessKey",
            ref,
            {
                "accessKey": {
                    **ref,
                    "accessKeyId": new,
                    "status": "Active",
                    "createDate": aws.iam_date(t),
                }
            },
            old,
        ),
        ("UpdateAccessKey", {**ref, "accessKeyId": old, "status": "Inactive"}, None, new),
        ("DeleteAccessKey", {**ref, "accessKeyId": old}, None, new),
    ]
    for name, params, response, key in steps:
        t += rng.randint(2, 40)
        out.append(
            aws.call(
                rng,
                t,
                aws.iam_user(user, access_key=key),
                account.id,
                account.region,
                "iam.amazonaws.com",
                name,
                OFFICE_IPS[0],
                aws.CLI_UA.format(cmd="iam." + _kebab(name)),
                params,
                response,
                read_only=name == "ListAccessKeys",
            )
        )


def sso_staging_change(desk: Desk) -> None:
    """An SSO developer switching a staging function's log level (environment) in the console."""
    fn = desk.rng.choice(desk.account.functions)
    desk.call(
        "lambda.amazonaws.com",
        "GetFunctionConfiguration",
        {"functionName": fn.name},
        read_only=True,
    )
    desk.call(
        "lambda.amazonaws.com",
        "UpdateFunctionConfiguration",
        {"functionName": fn.name, "environment": {}},
        aws.function_config(fn, desk.rng, desk.t),
    )


def console_role_picker_denied(desk: Desk) -> None:
    """The Lambda console listing roles for its execution-role picker, refused."""
    arn = str(desk.session.identity["arn"])
    desk.call(
        "iam.amazonaws.com",
        "ListRoles",
        {"maxItems": 1000},
        read_only=True,
        error=(
            "AccessDenied",
            f"User: {arn} is not authorized to perform: iam:ListRoles on resource: "
            f"arn:aws:iam::{desk.account.id}:role/ because no identity-based policy allows the "
            "iam:ListRoles action",
        ),
    )


def routine_admin(
    seed: int, day_start: int, account: Account, sessions: list[Session]
) -> list[Emit]:
    """The day's admin acts of the people who signed in to ``account``."""
    infra = aws_infra(seed, account)
    rng = derive(seed, "admin", account.id, day_start)
    out: list[Emit] = []
    weekend = is_weekend(day_start)
    for session in sessions:
        start = session.t + rng.randint(300, 5 * 3600)
        if session.user is not None:
            habit, chance, console = HABITS.get(session.name, (iam_review, 0.0, True))
            if rng.random() < chance * (0.3 if weekend else 1.0):
                habit(Desk(rng, session, account, infra, console, start, out), seed)
            continue
        desk = Desk(rng, session, account, infra, True, start, out)
        if account.name == "staging" and rng.random() < 0.3:
            sso_staging_change(desk)
        if rng.random() < 0.15:
            console_role_picker_denied(desk)
    for user in account.users:
        cycle = None if user.dormant else rotation_cycle(seed, user, day_start)
        if cycle is not None:
            t = day_start + derive(seed, "rotation-time", user.arn).randint(8 * 3600, 11 * 3600)
            rotate_key(rng, seed, user, account, cycle, t, out)
    return out
