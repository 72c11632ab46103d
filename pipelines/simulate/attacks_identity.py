"""Rule-caught AWS identity and logging attacks: sign-ins, stolen keys, IAM and CloudTrail."""

from __future__ import annotations

from pipelines.simulate import aws
from pipelines.simulate.attack_base import AttackContext, Injection, stolen_user, target_function
from pipelines.simulate.emit import Emit, aws_sink
from pipelines.simulate.ids import aws_key_id, aws_time, token

LAMBDA = "lambda.amazonaws.com"


def stop_logging(ctx: AttackContext) -> Injection:
    user, ident, ip, ua = stolen_user(ctx)
    trail = f"arn:aws:cloudtrail:{ctx.prod.region}:{ctx.prod.id}:trail/management-events"
    t = ctx.when()
    src = "cloudtrail.amazonaws.com"
    emits = [
        ctx.call(
            t,
            ident,
            ctx.prod,
            src,
            "DescribeTrails",
            ip,
            ua,
            {"trailNameList": [], "includeShadowTrails": True},
            read_only=True,
        ),
        ctx.call(t + 30, ident, ctx.prod, src, "StopLogging", ip, ua, {"name": trail}),
    ]
    if ctx.rng.random() < 0.5:
        emits.append(ctx.call(t + 95, ident, ctx.prod, src, "DeleteTrail", ip, ua, {"name": trail}))
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        user.arn,
        f"{user.name}'s stolen key stopped CloudTrail logging of {trail}",
    )


def secrets_harvest(ctx: AttackContext) -> Injection:
    user, ident, ip, ua = stolen_user(ctx)
    region, acct = ctx.prod.region, ctx.prod.id
    secrets = [s for fn in ctx.prod.functions for s in fn.secrets]
    for app in (
        "rds",
        "redshift",
        "stripe",
        "sendgrid",
        "datadog",
        "github",
        "slack",
        "okta",
        "pagerduty",
        "twilio",
        "snowflake",
        "elastic",
        "sentry",
        "jira",
        "npm",
        "docker",
        "vault",
        "ldap",
        "backup",
        "kafka",
    ):
        secrets.append(
            f"arn:aws:secretsmanager:{region}:{acct}:secret:prod/{app}/credentials-"
            + token(ctx.rng, 6)
        )
    secrets = sorted(set(secrets))[:45]
    t = ctx.when()
    emits = [
        ctx.call(
            t,
            ident,
            ctx.prod,
            "secretsmanager.amazonaws.com",
            "ListSecrets",
            ip,
            ua,
            {"maxResults": 100},
            read_only=True,
        )
    ]
    for i, secret in enumerate(secrets):
        emits.append(
            ctx.call(
                t + 10 + i * ctx.rng.randint(2, 6),
                ident,
                ctx.prod,
                "secretsmanager.amazonaws.com",
                "GetSecretValue",
                ip,
                ua,
                {"secretId": secret},
                read_only=True,
            )
        )
    return Injection(
        emits,
        "aws",
        acct,
        user.arn,
        f"{user.name}'s key read {len(secrets)} distinct secrets in minutes",
    )


def console_no_mfa(ctx: AttackContext) -> Injection:
    user = ctx.developer()
    ip, _ = ctx.attacker()
    t = ctx.when()
    emits = [
        Emit(
            t,
            aws_sink(ctx.prod.id, "us-east-1"),
            aws.console_login(
                ctx.rng, t, aws.login_identity(user), ctx.prod.id, ip, success=True, mfa=False
            ),
        )
    ]
    ident = aws.iam_user(
        user, console=True, access_key=ctx.session_key(), mfa=False, created=aws_time(t)
    )
    for i, name in enumerate(("ListFunctions", "GetFunction")):
        rec = ctx.call(
            t + 60 + i * 30,
            ident,
            ctx.prod,
            LAMBDA,
            name,
            ip,
            aws.CONSOLE_UA,
            {"functionName": target_function(ctx).name}
            if name == "GetFunction"
            else {"maxItems": 50},
            read_only=True,
        )
        rec.record["sessionCredentialFromConsole"] = "true"
        emits.append(rec)
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        user.arn,
        f"{user.name} (always MFA) signed in without MFA from {ip}",
    )


def root_login(ctx: AttackContext) -> Injection:
    acct = ctx.rng.choice(ctx.org.accounts)
    ip, _ = ctx.attacker()
    t = ctx.when()
    emits = [
        Emit(
            t,
            aws_sink(acct.id, "us-east-1"),
            aws.console_login(ctx.rng, t, aws.root(acct.id), acct.id, ip, success=True, mfa=False),
        )
    ]
    ident = aws.root(acct.id, access_key=ctx.session_key(), created=aws_time(t))
    for i, name in enumerate(("GetAccountSummary", "ListUsers", "ListAccessKeys")):
        call = ctx.call(
            t + 45 + 20 * i,
            ident,
            acct,
            "iam.amazonaws.com",
            name,
            ip,
            aws.CONSOLE_UA,
            None,
            read_only=True,
        )
        call.record["sessionCredentialFromConsole"] = "true"
        emits.append(call)
    return Injection(
        emits,
        "aws",
        acct.id,
        f"arn:aws:iam::{acct.id}:root",
        f"root signed in to {acct.name} and used the API",
    )


def login_bruteforce(ctx: AttackContext) -> Injection:
    user = ctx.developer()
    ip, _ = ctx.attacker()
    t = ctx.when()
    sink = aws_sink(ctx.prod.id, "us-east-1")
    emits = []
    for _ in range(ctx.rng.randint(22, 35)):
        t += ctx.rng.randint(3, 25)
        emits.append(
            Emit(
                t,
                sink,
                aws.console_login(
                    ctx.rng, t, aws.login_identity(user), ctx.prod.id, ip, success=False, mfa=False
                ),
            )
        )
    t += 40
    emits.append(
        Emit(
            t,
            sink,
            aws.console_login(
                ctx.rng, t, aws.login_identity(user), ctx.prod.id, ip, success=True, mfa=True
            ),
        )
    )
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        user.arn,
        f"{len(emits) - 1} failed console logins for {user.name} then success",
    )


DENIED_APIS = (
    ("iam.amazonaws.com", "ListUsers", "AccessDenied"),
    ("iam.amazonaws.com", "ListRoles", "AccessDenied"),
    ("iam.amazonaws.com", "ListPolicies", "AccessDenied"),
    ("iam.amazonaws.com", "GetAccountAuthorizationDetails", "AccessDenied"),
    ("s3.amazonaws.com", "ListBuckets", "AccessDenied"),
    ("ec2.amazonaws.com", "DescribeInstances", "Client.UnauthorizedOperation"),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", "Client.UnauthorizedOperation"),
    ("ec2.amazonaws.com", "DescribeVpcs", "Client.UnauthorizedOperation"),
    ("lambda.amazonaws.com", "ListFunctions", "AccessDeniedException"),
    ("kms.amazonaws.com", "ListKeys", "AccessDeniedException"),
    ("secretsmanager.amazonaws.com", "ListSecrets", "AccessDenied"),
    ("dynamodb.amazonaws.com", "ListTables", "AccessDenied"),
    ("rds.amazonaws.com", "DescribeDBInstances", "AccessDenied"),
    ("sns.amazonaws.com", "ListTopics", "AuthorizationError"),
    ("sqs.amazonaws.com", "ListQueues", "AccessDenied"),
    ("organizations.amazonaws.com", "DescribeOrganization", "AccessDeniedException"),
    ("cloudformation.amazonaws.com", "DescribeStacks", "AccessDenied"),
    ("ecr.amazonaws.com", "DescribeRepositories", "AccessDeniedException"),
    ("logs.amazonaws.com", "DescribeLogGroups", "AccessDeniedException"),
    ("ssm.amazonaws.com", "DescribeParameters", "AccessDeniedException"),
)


def access_denied_burst(ctx: AttackContext) -> Injection:
    user, ident, ip, ua = stolen_user(ctx)
    t = ctx.when()
    emits = [
        ctx.call(
            t,
            ident,
            ctx.prod,
            "sts.amazonaws.com",
            "GetCallerIdentity",
            ip,
            ua,
            None,
            {"userId": user.principal_id, "account": ctx.prod.id, "arn": user.arn},
            read_only=True,
        )
    ]
    for _ in range(ctx.rng.randint(42, 60)):
        t += ctx.rng.randint(1, 6)
        source, name, code = ctx.rng.choice(DENIED_APIS)
        action = f"{source.split('.')[0]}:{name}"
        message = (
            f"User: {user.arn} is not authorized to perform: {action} because no "
            "identity-based policy "
            f"allows the {action} action"
        )
        emits.append(
            ctx.call(
                t,
                ident,
                ctx.prod,
                source,
                name,
                ip,
                ua,
                None,
                read_only=True,
                error=(code, message),
            )
        )
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        user.arn,
        f"{len(emits) - 1} AccessDenied across services from {ip}",
    )


def admin_policy_attached(ctx: AttackContext) -> Injection:
    user, ident, ip, ua = stolen_user(ctx)
    t = ctx.when()
    policy = "arn:aws:iam::aws:policy/AdministratorAccess"
    iam = "iam.amazonaws.com"
    if ctx.rng.random() < 0.5:
        victim = f"svc-{token(ctx.rng, 5).lower()}"
        emits = [
            ctx.call(
                t,
                ident,
                ctx.prod,
                iam,
                "CreateUser",
                ip,
                ua,
                {"userName": victim},
                {
                    "user": {
                        "path": "/",
                        "userName": victim,
                        "userId": aws_key_id(ctx.rng, "AIDA"),
                        "arn": f"arn:aws:iam::{ctx.prod.id}:user/{victim}",
                        "createDate": aws_time(t),
                    }
                },
            ),
            ctx.call(
                t + 8,
                ident,
                ctx.prod,
                iam,
                "AttachUserPolicy",
                ip,
                ua,
                {"userName": victim, "policyArn": policy},
            ),
            ctx.call(
                t + 15,
                ident,
                ctx.prod,
                iam,
                "CreateAccessKey",
                ip,
                ua,
                {"userName": victim},
                {
                    "accessKey": {
                        "userName": victim,
                        "accessKeyId": aws_key_id(ctx.rng, "AKIA"),
                        "status": "Active",
                        "createDate": aws_time(t + 15),
                    }
                },
            ),
        ]
        what = f"new user {victim}"
    else:
        role = target_function(ctx).role
        emits = [
            ctx.call(
                t,
                ident,
                ctx.prod,
                iam,
                "AttachRolePolicy",
                ip,
                ua,
                {"roleName": role, "policyArn": policy},
            )
        ]
        what = f"role {role}"
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        user.arn,
        f"{user.name}'s key attached AdministratorAccess to {what}",
    )


DENIED_FEW_APIS = (
    ("secretsmanager.amazonaws.com", "GetSecretValue", "AccessDeniedException", "secretId"),
    ("lambda.amazonaws.com", "GetFunction20150331v2", "AccessDeniedException", "functionName"),
    ("ssm.amazonaws.com", "GetParameter", "AccessDeniedException", "name"),
    ("s3.amazonaws.com", "GetBucketPolicy", "AccessDenied", "bucketName"),
    ("iam.amazonaws.com", "GetRole", "AccessDenied", "roleName"),
    ("kms.amazonaws.com", "Decrypt", "AccessDeniedException", None),
)
"""What a leaked developer key keeps trying when it is after secrets and code."""


def denied_few_apis(ctx: AttackContext) -> Injection:
    """A leaked developer key refused ~30 times over the same six APIs within minutes: too few
    APIs for a recon sweep, too many refusals for a typo."""
    user, ident, ip, ua = stolen_user(ctx)
    names = [fn.name for fn in ctx.prod.functions]
    t = ctx.when()
    emits = []
    for n in range(ctx.rng.randint(28, 36)):
        t += ctx.rng.randint(5, 14)
        source, name, code, key = DENIED_FEW_APIS[n % len(DENIED_FEW_APIS)]
        action = f"{source.split('.')[0]}:{name.rstrip('0123456789v')}"
        message = f"User: {user.arn} is not authorized to perform: {action}"
        params = {key: f"prod/{ctx.rng.choice(names)}"} if key else None
        emits.append(
            ctx.call(
                t,
                ident,
                ctx.prod,
                source,
                name,
                ip,
                ua,
                params,
                read_only=True,
                error=(code, message),
            )
        )
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        user.arn,
        f"{len(emits)} AccessDenied over {len(DENIED_FEW_APIS)} APIs from {ip}",
    )


def denied_resource_sweep(ctx: AttackContext) -> Injection:
    """A function's execution-role credentials, lifted from its environment, used from outside
    to walk function names with GetFunction: refused on 25+ functions within seconds."""
    fn = target_function(ctx)
    ip, ua = ctx.attacker()
    t = ctx.when()
    ident = aws.exec_role(fn, aws_key_id(ctx.rng, "AROA"), ctx.session_key(), aws_time(t - 600))
    guesses = ["api", "auth", "billing", "checkout", "admin", "backup", "export", "payments"]
    stages = ["prod", "staging", "dev", "internal"]
    names = sorted({f"{g}-{s}" for g in guesses for s in stages})
    ctx.rng.shuffle(names)
    emits = []
    for name in names[: ctx.rng.randint(26, 32)]:
        t += ctx.rng.choice((0, 0, 1))
        message = (
            f"User: {ident['arn']} is not authorized to perform: lambda:GetFunction on resource: "
            f"arn:aws:lambda:{fn.region}:{fn.account}:function:{name}"
        )
        emits.append(
            ctx.call(
                t,
                ident,
                ctx.prod,
                "lambda.amazonaws.com",
                "GetFunction20150331v2",
                ip,
                ua,
                {"functionName": name},
                read_only=True,
                error=("AccessDeniedException", message),
            )
        )
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        fn.role_arn,
        f"{fn.name}'s role refused GetFunction on {len(emits)} functions from {ip}",
    )
