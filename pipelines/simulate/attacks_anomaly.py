"""Anomaly scenarios: ordinary calls in an unusual context that no single-event rule catches."""

from __future__ import annotations

from typing import Any

from pipelines.simulate import aws
from pipelines.simulate.attack_base import AttackContext, Injection
from pipelines.simulate.emit import HOURLY, WEEKEND, is_weekend
from pipelines.simulate.ids import aws_time
from pipelines.simulate.traffic_aws import invoke_emits

SWEEP: tuple[tuple[str, str, dict[str, Any] | None], ...] = (
    ("lambda.amazonaws.com", "ListFunctions", {"maxItems": 50}),
    ("iam.amazonaws.com", "ListRoles", None),
    ("iam.amazonaws.com", "ListUsers", None),
    ("iam.amazonaws.com", "ListPolicies", {"scope": "Local", "onlyAttached": False}),
    ("s3.amazonaws.com", "ListBuckets", None),
    ("ec2.amazonaws.com", "DescribeInstances", {"instancesSet": {}}),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", {"securityGroupSet": {}}),
    ("ec2.amazonaws.com", "DescribeVpcs", {"vpcSet": {}}),
    ("rds.amazonaws.com", "DescribeDBInstances", None),
    ("dynamodb.amazonaws.com", "ListTables", None),
    ("secretsmanager.amazonaws.com", "ListSecrets", None),
    ("kms.amazonaws.com", "ListKeys", None),
    ("kms.amazonaws.com", "ListAliases", None),
    ("sns.amazonaws.com", "ListTopics", None),
    ("sqs.amazonaws.com", "ListQueues", None),
    ("logs.amazonaws.com", "DescribeLogGroups", None),
    ("ecr.amazonaws.com", "DescribeRepositories", None),
    ("cloudformation.amazonaws.com", "DescribeStacks", None),
    ("apigateway.amazonaws.com", "GetRestApis", None),
    ("events.amazonaws.com", "ListRules", None),
    ("states.amazonaws.com", "ListStateMachines", None),
)


def stolen_ci_keys(ctx: AttackContext) -> Injection:
    """The CI role's session keys replayed at 03:00 from a VPS: a read sweep, one code update."""
    acct = ctx.prod
    ip, ua = ctx.attacker()
    t = ctx.when(3, 4)
    session = f"GitHubActions-{ctx.rng.randint(8_000_000_000, 9_999_999_999)}"
    provider = f"arn:aws:iam::{acct.id}:oidc-provider/token.actions.githubusercontent.com"
    ident = aws.assumed_role(
        acct.id,
        "ci-deploy",
        acct.ci_role_id,
        session,
        ctx.session_key(),
        aws_time(t - 1800),
        web_provider=provider,
    )
    emits = [
        ctx.call(
            t,
            ident,
            acct,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            ip,
            ua,
            None,
            {
                "userId": f"{acct.ci_role_id}:{session}",
                "account": acct.id,
                "arn": f"arn:aws:sts::{acct.id}:assumed-role/ci-deploy/{session}",
            },
            read_only=True,
        )
    ]
    for source, name, params in ctx.rng.sample(SWEEP, 9):
        t += ctx.rng.randint(2, 20)
        emits.append(ctx.call(t, ident, acct, source, name, ip, ua, params, read_only=True))
    fn = ctx.rng.choice(acct.functions)
    for name in ("GetFunction", "UpdateFunctionCode"):
        t += ctx.rng.randint(10, 60)
        request: dict[str, Any] = (
            {"functionName": fn.name}
            if name == "GetFunction"
            else {"functionName": fn.name, "publish": False, "dryRun": False}
        )
        resp = None if name == "GetFunction" else aws.function_config(fn, ctx.rng, t)
        emits.append(
            ctx.call(
                t,
                ident,
                acct,
                "lambda.amazonaws.com",
                name,
                ip,
                ua,
                request,
                resp,
                read_only=name == "GetFunction",
            )
        )
    return Injection(
        emits,
        "aws",
        acct.id,
        f"arn:aws:iam::{acct.id}:role/ci-deploy",
        f"ci-deploy session {session} used at 03:00 from {ip} ({ua.split('/')[0]}), "
        f"updated {fn.name}",
    )


def dormant_user_secrets(ctx: AttackContext) -> Injection:
    """An IAM user with no activity at all until now reads a handful of secrets it never read."""
    acct = ctx.prod
    user = next(u for u in acct.users if u.dormant)
    ident = aws.iam_user(user)
    ip, ua = ctx.attacker()
    t = ctx.when()
    emits = [
        ctx.call(
            t,
            ident,
            acct,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            ip,
            ua,
            None,
            {"userId": user.principal_id, "account": acct.id, "arn": user.arn},
            read_only=True,
        )
    ]
    secrets = sorted({s for fn in acct.functions for s in fn.secrets})
    for secret in ctx.rng.sample(secrets, min(len(secrets), ctx.rng.randint(4, 8))):
        t += ctx.rng.randint(20, 240)
        emits.append(
            ctx.call(
                t,
                ident,
                acct,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                ip,
                ua,
                {"secretId": secret},
                read_only=True,
            )
        )
    return Injection(
        emits, "aws", acct.id, user.arn, f"dormant user {user.name} read {len(emits) - 1} secrets"
    )


def invocation_flood(ctx: AttackContext) -> Injection:
    """One API-backed function invoked ~50x its usual rate for an hour (denial of wallet)."""
    acct = ctx.prod
    fn = max((f for f in acct.functions if f.api_rate), key=lambda f: f.api_rate)
    t0 = ctx.when(10, 16)
    hour = (t0 % 86400) // 3600
    usual = (
        fn.api_rate * HOURLY[hour] * (WEEKEND if is_weekend(t0 - t0 % 86400) else 1.0) * ctx.scale
    )
    start = t0 - t0 % 3600
    count = max(200, int(50 * usual))
    times = sorted(start + ctx.rng.randrange(3600) for _ in range(count))
    emits = invoke_emits(
        ctx.rng,
        times,
        fn,
        "apigateway.amazonaws.com",
        f"arn:aws:execute-api:{fn.region}:{fn.account}:{fn.api_id}/prod/POST/{fn.name.split('-')[0]}",
    )
    return Injection(
        emits,
        "aws",
        acct.id,
        "apigateway.amazonaws.com",
        f"{fn.name} invoked {count} times in one hour (usual ~{usual:.0f}/h)",
    )


def recon_sweep(ctx: AttackContext) -> Injection:
    """A developer SSO session listing and describing across a dozen services, all allowed."""
    acct = ctx.rng.choice([a for a in ctx.org.accounts if a.name != "prod"])
    session = ctx.rng.choice(ctx.org.gcp_users)
    ip, _ = ctx.attacker()
    t = ctx.when(19, 23)
    ident = aws.sso_role(acct, session, ctx.session_key(), aws_time(t))
    emits = []
    calls = list(SWEEP) * 3
    ctx.rng.shuffle(calls)
    for source, name, params in calls[: ctx.rng.randint(45, 60)]:
        t += ctx.rng.randint(1, 8)
        emits.append(
            ctx.call(
                t,
                ident,
                acct,
                source,
                name,
                ip,
                aws.CLI_UA.format(cmd="configure"),
                params,
                read_only=True,
            )
        )
    services = len({e.record["eventSource"] for e in emits})
    role = (
        f"arn:aws:iam::{acct.id}:role/aws-reserved/sso.amazonaws.com/{acct.region}/{acct.sso_role}"
    )
    return Injection(
        emits, "aws", acct.id, role, f"{session}'s SSO session swept {services} services in minutes"
    )
