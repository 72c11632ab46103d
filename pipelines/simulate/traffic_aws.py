"""One day of ordinary AWS traffic: invocations, secret reads, CI deploys, developers, AWS itself.

Bulk streams (invocations, secret reads) copy a per-function template and set only the fields
that vary, which keeps generation near orjson's own speed; people and CI are few and built
record by record.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit, aws_sink, is_weekend, rhythm_times
from pipelines.simulate.ids import aws_key_id, aws_time, derive, derive_np, uuid4
from pipelines.simulate.org import OFFICE_IPS, Account, Function, Org

DEV_READS = (
    ("lambda.amazonaws.com", "ListFunctions", None),
    ("lambda.amazonaws.com", "GetFunction", "functionName"),
    ("lambda.amazonaws.com", "GetFunctionConfiguration", "functionName"),
    ("lambda.amazonaws.com", "ListVersionsByFunction", "functionName"),
    ("lambda.amazonaws.com", "ListAliases", "functionName"),
    ("lambda.amazonaws.com", "GetPolicy", "functionName"),
    ("lambda.amazonaws.com", "ListEventSourceMappings", "functionName"),
    ("logs.amazonaws.com", "DescribeLogGroups", None),
    ("cloudwatch.amazonaws.com", "DescribeAlarms", None),
)


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


def ci_deploys(seed: int, day_start: int, org: Org, account: Account) -> list[Emit]:
    """GitHub Actions assuming ``ci-deploy`` by OIDC and shipping code in weekday working hours."""
    if is_weekend(day_start):
        return []
    rng = derive(seed, "ci", account.id, day_start)
    sink = aws_sink(account.id, account.region)
    provider = f"arn:aws:iam::{account.id}:oidc-provider/token.actions.githubusercontent.com"
    out = []
    for _ in range(rng.randint(1, 5)):
        t = day_start + rng.randint(7 * 3600, 17 * 3600)
        run = str(rng.randint(8_000_000_000, 9_999_999_999))
        session = f"GitHubActions-{run}"
        repo = rng.choice(org.repos)
        ip = rng.choice(org.ci_ips)
        key = aws_key_id(rng, "ASIA")
        subject = f"repo:{repo}:ref:refs/heads/main"
        role_arn = f"arn:aws:iam::{account.id}:role/ci-deploy"
        out.append(
            Emit(
                t,
                sink,
                aws.record(
                    rng,
                    t,
                    {
                        "type": "WebIdentityUser",
                        "principalId": f"{provider}:sts.amazonaws.com:{subject}",
                        "userName": subject,
                        "identityProvider": provider,
                    },
                    "sts.amazonaws.com",
                    "AssumeRoleWithWebIdentity",
                    account.region,
                    ip,
                    aws.CI_STS_UA,
                    {"roleArn": role_arn, "roleSessionName": session, "durationSeconds": 3600},
                    {
                        "credentials": {
                            "accessKeyId": key,
                            "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
                            "expiration": aws_time(t + 3600),
                        },
                        "subjectFromWebIdentityToken": subject,
                        "assumedRoleUser": {
                            "assumedRoleId": f"{account.ci_role_id}:{session}",
                            "arn": f"arn:aws:sts::{account.id}:assumed-role/ci-deploy/{session}",
                        },
                        "provider": provider,
                        "audience": "sts.amazonaws.com",
                    },
                    account.id,
                    read_only=True,
                    extra={"identityProviderConnectionVerificationMethod": "IAMTrustStore"},
                    resources=[
                        {"accountId": account.id, "type": "AWS::IAM::Role", "ARN": role_arn}
                    ],
                ),
            )
        )
        ident = aws.assumed_role(
            account.id,
            "ci-deploy",
            account.ci_role_id,
            session,
            key,
            aws_time(t),
            web_provider=provider,
        )
        for fn in rng.sample(account.functions, rng.randint(1, 3)):
            out.extend(
                deploy_calls(
                    rng, t + rng.randint(20, 90), ident, fn, ip, config=rng.random() < 0.25
                )
            )
    return out


def deploy_calls(
    rng: random.Random,
    t: int,
    ident: dict[str, object],
    fn: Function,
    ip: str,
    *,
    config: bool = False,
) -> list[Emit]:
    """What a deploy script does to a function: read, update code, wait, publish, move the alias."""
    sink = aws_sink(fn.account, fn.region)

    def call(
        dt: int, name: str, params: dict[str, object], response: dict[str, object] | None, ro: bool
    ) -> Emit:
        cmd = "lambda." + "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")
        return Emit(
            t + dt,
            sink,
            aws.record(
                rng,
                t + dt,
                ident,
                "lambda.amazonaws.com",
                name,
                fn.region,
                ip,
                aws.CI_UA.format(cmd=cmd),
                params,
                response,
                fn.account,
                read_only=ro,
            ),
        )

    version = str(rng.randint(2, 400))
    calls = [
        call(0, "GetFunction", {"functionName": fn.name}, None, True),
        call(
            4,
            "UpdateFunctionCode",
            {"functionName": fn.name, "publish": False, "dryRun": False},
            aws.function_config(fn, rng, t + 4),
            False,
        ),
        call(19, "GetFunctionConfiguration", {"functionName": fn.name}, None, True),
    ]
    if config:
        calls.append(
            call(
                24,
                "UpdateFunctionConfiguration",
                {"functionName": fn.name, "environment": {}, "description": f"build {version}"},
                aws.function_config(fn, rng, t + 24, description=f"build {version}"),
                False,
            )
        )
    calls += [
        call(
            31,
            "PublishVersion",
            {"functionName": fn.name, "description": f"build {version}"},
            aws.function_config(fn, rng, t + 31, version=version),
            False,
        ),
        call(
            33,
            "UpdateAlias",
            {"functionName": fn.name, "name": "live", "functionVersion": version},
            {
                "aliasArn": f"{fn.arn}:live",
                "name": "live",
                "functionVersion": version,
                "description": "",
                "revisionId": uuid4(rng),
            },
            False,
        ),
    ]
    return calls


def developers(seed: int, day_start: int, org: Org, account: Account) -> list[Emit]:
    """People: IAM users signing in to the console with MFA and reading, SSO sessions reading."""
    rng = derive(seed, "devs", account.id, day_start)
    out: list[Emit] = []
    weekend = is_weekend(day_start)
    for user in account.users:
        if user.dormant or rng.random() < (0.85 if weekend else 0.25):
            continue
        t = day_start + rng.randint(6 * 3600 + 1800, 10 * 3600)
        ip = OFFICE_IPS[0] if rng.random() < 0.6 else user.home_ip
        out.append(
            Emit(
                t,
                aws_sink(account.id, "us-east-1"),
                aws.console_login(
                    rng, t, aws.login_identity(user), account.id, ip, success=True, mfa=user.mfa
                ),
            )
        )
        console_key = aws_key_id(rng, "ASIA")
        for _ in range(rng.randint(3, 25)):
            dt = rng.randint(30, 8 * 3600)
            from_console = rng.random() < 0.6
            ident = aws.iam_user(
                user,
                console=from_console,
                access_key=console_key if from_console else None,
                created=aws_time(t),
            )
            ua = aws.CONSOLE_UA if from_console else aws.CLI_UA.format(cmd="lambda.list-functions")
            out.append(
                read_call(
                    rng,
                    t + dt,
                    ident,
                    account,
                    ip,
                    ua,
                    rng.choice(account.functions).name,
                    console=from_console,
                )
            )
    for name in org.gcp_users[: 2 if weekend else 4]:
        if rng.random() < 0.5:
            continue
        session = name
        t = day_start + rng.randint(7 * 3600, 16 * 3600)
        ident = aws.sso_role(account, session, aws_key_id(rng, "ASIA"), aws_time(t))
        ip = OFFICE_IPS[1]
        for _ in range(rng.randint(2, 12)):
            out.append(
                read_call(
                    rng,
                    t + rng.randint(0, 2 * 3600),
                    ident,
                    account,
                    ip,
                    aws.CONSOLE_UA,
                    rng.choice(account.functions).name,
                    console=True,
                )
            )
    return out


def read_call(
    rng: random.Random,
    t: int,
    ident: dict[str, object],
    account: Account,
    ip: str,
    ua: str,
    function: str,
    *,
    console: bool,
) -> Emit:
    """One read-only call a person makes while looking around."""
    source, name, param = rng.choice(DEV_READS)
    params: dict[str, object] | None = (
        {param: function}
        if param
        else ({"maxItems": 50} if source == "lambda.amazonaws.com" else None)
    )
    rec = aws.record(
        rng,
        t,
        ident,
        source,
        name,
        account.region,
        ip,
        ua,
        params,
        None,
        account.id,
        read_only=True,
    )
    if console:
        rec["sessionCredentialFromConsole"] = "true"
    return Emit(t, aws_sink(account.id, account.region), rec)


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
    for fn in account.functions:
        if fn.api_rate:
            yield from invocations(seed, day_start, fn, scale)
        if fn.schedule:
            yield from scheduled(seed, day_start, fn)
        denied = None
        if account.name == "staging" and fn is account.functions[0]:
            # A misconfigured function whose policy misses one secret: a steady AccessDenied.
            denied = account.functions[1].secrets[0]
        yield from secret_reads(seed, day_start, fn, scale, denied=denied)
    yield from ci_deploys(seed, day_start, org, account)
    yield from developers(seed, day_start, org, account)
    yield from service_events(seed, day_start, account)


def aws_day(seed: int, org: Org, day_start: int, scale: float) -> Iterator[Emit]:
    """All ordinary AWS traffic of one UTC day."""
    for account in org.accounts:
        yield from account_day(seed, org, account, day_start, scale)
