"""One day of ordinary AWS traffic: invocations, secret reads, AWS services, CI and people.

Bulk streams (invocations, secret reads) copy a per-function template and set only the fields
that vary, which keeps generation near orjson's own speed; the control plane (services acting,
the platform pipeline, people's admin) is a few thousand records a day, built record by record.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pipelines.simulate import aws
from pipelines.simulate import traffic_aws_services as services
from pipelines.simulate import traffic_aws_watchers as watchers
from pipelines.simulate.emit import Emit, aws_sink, rhythm_times
from pipelines.simulate.ids import aws_key_id, aws_time, derive, derive_np
from pipelines.simulate.infra import S3_FUNCTIONS, aws_infra
from pipelines.simulate.org import Account, Function, Org
from pipelines.simulate.traffic_aws_admin import routine_admin
from pipelines.simulate.traffic_aws_people import Session, ci_deploys, developers
from pipelines.simulate.traffic_aws_terraform import infra_traffic


def invocations(seed: int, day_start: int, fn: Function, scale: float) -> list[Emit]:
    """API Gateway invoking ``fn``: Lambda data events with the daily rhythm."""
    times = rhythm_times(
        derive_np(seed, "invoke", fn.arn, day_start), day_start, fn.api_rate * scale, floor=0.05
    )
    rng = derive(seed, "invoke", fn.arn, day_start)
    return invoke_emits(
        rng,
        times,
        fn,
        "apigateway.amazonaws.com",
        f"arn:aws:execute-api:{fn.region}:{fn.account}:{fn.api_id}/prod/POST/{fn.name.split('-')[0]}",
    )


def invoke_emits(
    rng: random.Random, times: list[int], fn: Function, invoked_by: str, source_arn: str
) -> list[Emit]:
    """``Invoke`` data events of ``fn`` by an AWS service at ``times`` (also the flood attack's)."""
    template = aws.record(
        rng,
        0,
        aws.service(invoked_by),
        "lambda.amazonaws.com",
        "Invoke",
        fn.region,
        invoked_by,
        invoked_by,
        {"functionName": fn.arn, "sourceArn": source_arn},
        None,
        fn.account,
        read_only=False,
        extra={"functionVersion": f"{fn.arn}:$LATEST"},
        resources=[{"accountId": fn.account, "type": "AWS::Lambda::Function", "ARN": fn.arn}],
        category="Data",
        version="1.08",
    )
    sink = aws_sink(fn.account, fn.region)
    bits = rng.getrandbits
    out = []
    for t in times:
        h = f"{(bits(128) & aws.UUID_MASK) | aws.UUID_BITS:032x}"
        e = f"{(bits(128) & aws.UUID_MASK) | aws.UUID_BITS:032x}"
        out.append(
            Emit(
                t,
                sink,
                {
                    **template,
                    "eventTime": aws_time(t),
                    "requestID": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}",
                    "eventID": f"{e[:8]}-{e[8:12]}-{e[12:16]}-{e[16:20]}-{e[20:]}",
                },
            )
        )
    return out


def scheduled(seed: int, day_start: int, fn: Function) -> list[Emit]:
    """EventBridge invoking ``fn`` on its fixed schedule (not scaled: a schedule is a schedule)."""
    rng = derive(seed, "schedule", fn.arn, day_start)
    step = fn.schedule * 60
    offset = derive(seed, "schedule-offset", fn.arn).randrange(min(step, 3600))
    times = list(range(day_start + offset, day_start + 86400, step))
    return invoke_emits(
        rng,
        times,
        fn,
        "events.amazonaws.com",
        f"arn:aws:events:{fn.region}:{fn.account}:rule/{fn.name}-schedule",
    )


def secret_reads(
    seed: int, day_start: int, fn: Function, scale: float, *, denied: str | None = None
) -> list[Emit]:
    """The function's execution role reading its secrets and parameters on cold starts."""
    rng = derive(seed, "secrets", fn.arn, day_start)
    role_id = aws_key_id(derive(seed, "role-id", fn.arn), "AROA")
    times = rhythm_times(
        derive_np(seed, "secrets", fn.arn, day_start), day_start, 4.0 * scale, floor=0.3
    )
    sink = aws_sink(fn.account, fn.region)
    keys: dict[int, str] = {}
    out = []
    for t in times:
        hour = t // 3600
        if hour not in keys:  # execution-role credentials last a few hours; rotate hourly here
            keys[hour] = aws_key_id(rng, "ASIA")
        ident = aws.exec_role(fn, role_id, keys[hour], aws_time(hour * 3600))
        target = denied if denied and rng.random() < 0.35 else rng.choice(fn.secrets + fn.params)
        if target.startswith("/"):
            out.append(
                Emit(
                    t,
                    sink,
                    aws.record(
                        rng,
                        t,
                        ident,
                        "ssm.amazonaws.com",
                        "GetParameter",
                        fn.region,
                        fn.egress_ip,
                        aws.sdk_ua(fn, "ssm"),
                        {"name": target, "withDecryption": True},
                        None,
                        fn.account,
                        read_only=True,
                    ),
                )
            )
            continue
        error = None
        if target == denied:
            error = (
                "AccessDenied",
                f"User: {ident['arn']} is not authorized to perform: "
                f"secretsmanager:GetSecretValue on resource: {target} because no identity-based "
                "policy allows the secretsmanager:GetSecretValue action",
            )
        out.append(
            Emit(
                t,
                sink,
                aws.record(
                    rng,
                    t,
                    ident,
                    "secretsmanager.amazonaws.com",
                    "GetSecretValue",
                    fn.region,
                    fn.egress_ip,
                    aws.sdk_ua(fn, "secrets_manager"),
                    {"secretId": target},
                    None,
                    fn.account,
                    read_only=True,
                    error=error,
                ),
            )
        )
    return out


def service_events(seed: int, day_start: int, account: Account) -> list[Emit]:
    """AWS acting on its own: Secrets Manager rotating a secret each night (AwsServiceEvent)."""
    rng = derive(seed, "service", account.id, day_start)
    fn = rng.choice(account.functions)
    secret = fn.secrets[0]
    t = day_start + 3 * 3600 + rng.randrange(3600)
    out = []
    for dt, name in ((0, "RotationStarted"), (rng.randint(3, 40), "RotationSucceeded")):
        rec = aws.record(
            rng,
            t + dt,
            {"accountId": account.id, "invokedBy": "secretsmanager.amazonaws.com"},
            "secretsmanager.amazonaws.com",
            name,
            account.region,
            "secretsmanager.amazonaws.com",
            "secretsmanager.amazonaws.com",
            None,
            None,
            account.id,
            read_only=False,
            extra={"SecretId": secret},
            event_type="AwsServiceEvent",
            version="1.08",
        )
        out.append(Emit(t + dt, aws_sink(account.id, account.region), rec))
    return out


def account_day(
    seed: int, org: Org, account: Account, day_start: int, scale: float
) -> Iterator[Emit]:
    """All ordinary traffic of one AWS account in one UTC day."""
    infra = aws_infra(seed, account)
    for fn in account.functions:
        if fn.api_rate:
            yield from invocations(seed, day_start, fn, scale)
        if fn.schedule:
            yield from scheduled(seed, day_start, fn)
        denied = None
        if account.name == "staging" and fn is account.functions[0]:
            # A misconfigured function whose policy misses one secret: a steady AccessDenied.
            denied = account.functions[1].secrets[0]
        reads = secret_reads(seed, day_start, fn, scale, denied=denied)
        yield from reads
        yield from services.read_decrypts(seed, day_start, fn, infra, reads)
        creds = services.ExecutionCredentials(seed, day_start, fn)
        creds.adopt(reads)
        if fn.name in S3_FUNCTIONS:
            yield from services.s3_object_calls(seed, day_start, fn, infra, creds, scale)
        yield from creds.assume_role_events()
    yield from ci_deploys(seed, day_start, org, account)
    sessions: list[Session] = []
    yield from developers(seed, day_start, org, account, sessions)
    yield from routine_admin(seed, day_start, account, sessions)
    yield from infra_traffic(seed, day_start, org, account)
    yield from service_events(seed, day_start, account)
    yield from watchers.config_nightly_sweep(seed, day_start, infra)
    yield from watchers.securityhub_checks(seed, day_start, infra)


def aws_day(seed: int, org: Org, day_start: int, scale: float) -> Iterator[Emit]:
    """All ordinary AWS traffic of one UTC day."""
    for account in org.accounts:
        yield from account_day(seed, org, account, day_start, scale)
