"""Rule-caught attacks on Lambda itself: exposing, backdooring, crippling or abusing functions."""

from __future__ import annotations

from typing import Any

import orjson

from pipelines.simulate import aws
from pipelines.simulate.attack_base import AttackContext, Injection, stolen_user, target_function
from pipelines.simulate.ids import aws_time, hex_id, token
from pipelines.simulate.org import Function

LAMBDA = "lambda.amazonaws.com"
URL_ID = "abcdefghijklmnopqrstuvwxyz0123456789"


def _lambda_change(
    ctx: AttackContext, name: str, params_for: Any, response_for: Any, what: str
) -> Injection:
    user, ident, ip, ua = stolen_user(ctx)
    fn = target_function(ctx)
    t = ctx.when()
    emits = [
        ctx.call(
            t,
            ident,
            ctx.prod,
            LAMBDA,
            "GetFunction",
            ip,
            ua,
            {"functionName": fn.name},
            read_only=True,
        ),
        ctx.call(
            t + ctx.rng.randint(20, 120),
            ident,
            ctx.prod,
            LAMBDA,
            name,
            ip,
            ua,
            params_for(fn),
            response_for(fn, t),
        ),
    ]
    return Injection(emits, "aws", ctx.prod.id, user.arn, f"{user.name} {what} {fn.name}")


def public_lambda(ctx: AttackContext) -> Injection:
    sid = f"public-{token(ctx.rng, 6).lower()}"

    def statement(fn: Function, t: int) -> dict[str, Any]:
        body = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunction",
            "Resource": fn.arn,
        }
        return {"statement": orjson.dumps(body).decode()}

    return _lambda_change(
        ctx,
        "AddPermission",
        lambda fn: {
            "functionName": fn.name,
            "statementId": sid,
            "action": "lambda:InvokeFunction",
            "principal": "*",
        },
        statement,
        "granted lambda:InvokeFunction to * (no SourceArn/SourceAccount) on",
    )


def public_function_url(ctx: AttackContext) -> Injection:
    def url(fn: Function, t: int) -> dict[str, Any]:
        return {
            "functionUrl": f"https://{token(ctx.rng, 32, URL_ID)}.lambda-url.{fn.region}.on.aws/",
            "functionArn": fn.arn,
            "authType": "NONE",
            "creationTime": aws_time(t).replace("Z", ".000000Z"),
        }

    return _lambda_change(
        ctx,
        "CreateFunctionUrlConfig",
        lambda fn: {"functionName": fn.name, "authType": "NONE"},
        url,
        "created an unauthenticated (authType NONE) function URL for",
    )


def foreign_layer(ctx: AttackContext) -> Injection:
    foreign = "".join(ctx.rng.choices("0123456789", k=12))
    version = ctx.rng.randint(2, 9)
    layer = f"arn:aws:lambda:{ctx.prod.region}:{foreign}:layer:aws-sdk-telemetry:{version}"
    return _lambda_change(
        ctx,
        "UpdateFunctionConfiguration",
        lambda fn: {"functionName": fn.name, "layers": [layer]},
        lambda fn, t: aws.function_config(
            fn, ctx.rng, t, layers=[{"arn": layer, "codeSize": 51234}]
        ),
        f"attached layer {layer} from foreign account {foreign} to",
    )


def denial_of_wallet_config(ctx: AttackContext) -> Injection:
    return _lambda_change(
        ctx,
        "UpdateFunctionConfiguration",
        lambda fn: {"functionName": fn.name, "timeout": 900, "memorySize": 10240},
        lambda fn, t: aws.function_config(fn, ctx.rng, t, timeout=900, memorySize=10240),
        "set Timeout 900 and MemorySize 10240 on",
    )


def concurrency_zero(ctx: AttackContext) -> Injection:
    return _lambda_change(
        ctx,
        "PutFunctionConcurrency",
        lambda fn: {"functionName": fn.name, "reservedConcurrentExecutions": 0},
        lambda fn, t: {"reservedConcurrentExecutions": 0},
        "set reserved concurrency 0 (function disabled) on",
    )


def human_code_change(ctx: AttackContext) -> Injection:
    user = ctx.developer()
    ident = aws.iam_user(user)
    fn = target_function(ctx)
    t = ctx.when(9, 18)
    ua = aws.CLI_UA.format(cmd="lambda.update-function-code")
    emits = [
        ctx.call(
            t,
            ident,
            ctx.prod,
            LAMBDA,
            "GetFunction",
            user.home_ip,
            ua,
            {"functionName": fn.name},
            read_only=True,
        ),
        ctx.call(
            t + 40,
            ident,
            ctx.prod,
            LAMBDA,
            "UpdateFunctionCode",
            user.home_ip,
            ua,
            {"functionName": fn.name, "publish": True, "dryRun": False},
            aws.function_config(fn, ctx.rng, t + 40),
        ),
    ]
    return Injection(
        emits,
        "aws",
        ctx.prod.id,
        user.arn,
        f"IAM user {user.name} uploaded code to {fn.name} outside CI",
    )


def passrole_lambda_escalation(ctx: AttackContext) -> Injection:
    user, ident, ip, ua = stolen_user(ctx)
    acct = ctx.prod
    t = ctx.when()
    name = f"tmp-{token(ctx.rng, 6).lower()}"
    role = f"arn:aws:iam::{acct.id}:role/OrganizationAccountAccessRole"
    fn = Function(
        name,
        acct.id,
        acct.region,
        "python3.12",
        "OrganizationAccountAccessRole",
        (),
        (),
        0,
        "",
        0,
        ip,
    )
    emits = [
        ctx.call(t, ident, acct, "iam.amazonaws.com", "ListRoles", ip, ua, None, read_only=True),
        ctx.call(
            t + 30,
            ident,
            acct,
            LAMBDA,
            "CreateFunction",
            ip,
            ua,
            {
                "functionName": name,
                "runtime": "python3.12",
                "role": role,
                "handler": "lambda_function.lambda_handler",
                "code": {},
                "timeout": 60,
                "memorySize": 128,
                "publish": False,
                "packageType": "Zip",
            },
            aws.function_config(
                fn, ctx.rng, t + 30, role=role, handler="lambda_function.lambda_handler"
            ),
        ),
        ctx.call(
            t + 55,
            ident,
            acct,
            LAMBDA,
            "Invoke",
            ip,
            ua,
            {"functionName": name, "invocationType": "RequestResponse"},
            category="Data",
            version="1.08",
            resources=[{"accountId": acct.id, "type": "AWS::Lambda::Function", "ARN": fn.arn}],
        ),
        ctx.call(
            t + 80,
            ident,
            acct,
            LAMBDA,
            "CreateFunctionUrlConfig",
            ip,
            ua,
            {"functionName": name, "authType": "AWS_IAM"},
            {
                "functionUrl": f"https://{hex_id(ctx.rng, 32)}.lambda-url.{acct.region}.on.aws/",
                "functionArn": fn.arn,
                "authType": "AWS_IAM",
                "creationTime": aws_time(t + 80).replace("Z", ".000000Z"),
            },
        ),
    ]
    return Injection(
        emits,
        "aws",
        acct.id,
        user.arn,
        f"{user.name}'s key created {name} with {role}, invoked it and gave it a URL",
    )
