"""One day of people and CI in AWS: GitHub Actions deploying, developers signing in and reading."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit, aws_sink, is_weekend
from pipelines.simulate.ids import aws_key_id, aws_time, derive, uuid4
from pipelines.simulate.org import OFFICE_IPS, Account, Function, Org, User

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


def ci_deploys(seed: int, day_start: int, org: Org, account: Account) -> list[Emit]:
    """GitHub Actions assuming ``ci-deploy`` by OIDC and shipping code in weekday working hours."""
    if is_weekend(day_start):
        return []
    rng = derive(seed, "ci", account.id, day_start)
    out = []
    for _ in range(rng.randint(1, 5)):
        t = day_start + rng.randint(7 * 3600, 17 * 3600)
        run = str(rng.randint(8_000_000_000, 9_999_999_999))
        session = f"GitHubActions-{run}"
        repo = rng.choice(org.repos)
        ip = rng.choice(org.ci_ips)
        key = aws_key_id(rng, "ASIA")
        out.append(web_identity_assume(rng, t, account, repo, ip, session, key))
        ident = ci_identity(account, session, key, aws_time(t))
        for fn in rng.sample(account.functions, rng.randint(1, 3)):
            out.extend(
                deploy_calls(
                    rng, t + rng.randint(20, 90), ident, fn, ip, config=rng.random() < 0.25
                )
            )
    return out


def github_provider(account: Account) -> str:
    return f"arn:aws:iam::{account.id}:oidc-provider/token.actions.githubusercontent.com"


def web_identity_assume(
    rng: random.Random, t: int, account: Account, repo: str, ip: str, session: str, key: str
) -> Emit:
    """A GitHub Actions job exchanging its OIDC token for a ``ci-deploy`` session."""
    provider = github_provider(account)
    subject = f"repo:{repo}:ref:refs/heads/main"
    role_arn = f"arn:aws:iam::{account.id}:role/ci-deploy"
    return Emit(
        t,
        aws_sink(account.id, account.region),
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
            resources=[{"accountId": account.id, "type": "AWS::IAM::Role", "ARN": role_arn}],
        ),
    )


def ci_identity(account: Account, session: str, key: str, created: str) -> dict[str, object]:
    """The ``ci-deploy`` session a GitHub Actions job works as."""
    return aws.assumed_role(
        account.id,
        "ci-deploy",
        account.ci_role_id,
        session,
        key,
        created,
        web_provider=github_provider(account),
    )


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


@dataclass(frozen=True)
class Session:
    """A person at work in one account on one day: signed in at ``t`` from ``ip`` as
    ``identity`` (an IAM user's console session, or an SSO permission-set session)."""

    name: str
    t: int
    ip: str
    identity: dict[str, object]
    user: User | None = None


def developers(
    seed: int, day_start: int, org: Org, account: Account, sessions: list[Session] | None = None
) -> list[Emit]:
    """People: IAM users signing in to the console with MFA and reading, SSO sessions reading.

    Who worked, when and from where is appended to ``sessions`` for their other habits.
    """
    rng = derive(seed, "devs", account.id, day_start)
    sessions = [] if sessions is None else sessions
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
        console = aws.iam_user(user, console=True, access_key=console_key, created=aws_time(t))
        sessions.append(Session(user.name, t, ip, console, user))
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
        sessions.append(Session(session, t, ip, ident))
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
