"""What a Terraform apply changes: what a careful team does, one to three changes a run.

Scoped role policies and trust within the account, managed policies that are not admin, a new
version of a customer managed policy, tags, a bucket policy that denies plain HTTP and lets one
role read (not public), default KMS encryption and public access blocked, a KMS grant for a
function's role, an EventBridge rule invoking the account's own function (with its scoped
invoke permission), an API Gateway deployment, a state machine update, log retention of 30 days
or more, security group rules between the account's own groups, reserved concurrency, a
parameter. Each records what it touched for AWS Config to describe.
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.simulate import aws, policies
from pipelines.simulate.ids import aws_key_id, hex_id, token, uuid4
from pipelines.simulate.terraform_run import Record, Run

MANAGED_POLICIES = (
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXRayDaemonWriteAccess",
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    "arn:aws:iam::aws:policy/CloudWatchLambdaInsightsExecutionRolePolicy",
)


def new_role(run: Run) -> None:
    """A role for a new scheduler or state machine that may invoke one function."""
    fn = run.rng.choice(run.workspace)
    purpose, service = run.rng.choice(
        (("scheduler", "scheduler.amazonaws.com"), ("sfn", "states.amazonaws.com"))
    )
    role = f"{fn.name}-{purpose}-{hex_id(run.rng, 4)}"
    trust = policies.service_trust(service)
    role_id = aws_key_id(run.rng, "AROA")
    arn = f"arn:aws:iam::{run.account.id}:role/{role}"
    run.call(
        "iam.amazonaws.com",
        "CreateRole",
        {
            "roleName": role,
            "assumeRolePolicyDocument": policies.compact(trust),
            "description": f"Lets {purpose} invoke {fn.name}",
            "tags": [
                {"key": "app", "value": fn.name.split("-")[0]},
                {"key": "managed-by", "value": "terraform"},
            ],
        },
        {
            "role": {
                "path": "/",
                "roleName": role,
                "roleId": role_id,
                "arn": arn,
                "createDate": aws.iam_date(run.t),
                "assumeRolePolicyDocument": policies.url_encoded(trust),
                "tags": [
                    {"key": "app", "value": fn.name.split("-")[0]},
                    {"key": "managed-by", "value": "terraform"},
                ],
            }
        },
    )
    run.call(
        "iam.amazonaws.com",
        "PutRolePolicy",
        {
            "roleName": role,
            "policyName": "invoke",
            "policyDocument": policies.compact(policies.invoke_function(fn)),
        },
    )
    run.changed.append(("role", role))


def role_policy(run: Run) -> None:
    fn = run.rng.choice(run.workspace)
    run.call(
        "iam.amazonaws.com",
        "PutRolePolicy",
        {
            "roleName": fn.role,
            "policyName": f"{fn.name}-access",
            "policyDocument": policies.compact(policies.function_access(fn, run.infra)),
        },
    )
    run.changed.append(("role", fn.role))


def attach_managed(run: Run) -> None:
    fn = run.rng.choice(run.workspace)
    choices = [*MANAGED_POLICIES, *(run.infra.policy_arn(p) for p in run.infra.policies)]
    run.call(
        "iam.amazonaws.com",
        "AttachRolePolicy",
        {"roleName": fn.role, "policyArn": run.rng.choice(choices)},
    )
    run.changed.append(("role", fn.role))


def trust_update(run: Run) -> None:
    """The execution role also trusts the account's own CI role (integration tests run as it)."""
    fn = run.rng.choice(run.workspace)
    trust = policies.in_account_trust("lambda.amazonaws.com", run.account.id, "ci-deploy")
    run.call(
        "iam.amazonaws.com",
        "UpdateAssumeRolePolicy",
        {"roleName": fn.role, "policyDocument": policies.compact(trust)},
    )
    run.changed.append(("role", fn.role))


def policy_version(run: Run) -> None:
    """A new default version of a customer managed policy; the oldest dropped at the limit."""
    name = run.rng.choice(run.infra.policies)
    arn = run.infra.policy_arn(name)
    version = run.rng.randint(2, 9)
    run.call("iam.amazonaws.com", "ListPolicyVersions", {"policyArn": arn}, read_only=True)
    if version >= 5:
        run.call(
            "iam.amazonaws.com",
            "DeletePolicyVersion",
            {"policyArn": arn, "versionId": f"v{version - 4}"},
        )
    run.call(
        "iam.amazonaws.com",
        "CreatePolicyVersion",
        {
            "policyArn": arn,
            "policyDocument": policies.compact(
                policies.read_config(name.removesuffix("-read-config"), run.infra)
            ),
            "setAsDefault": True,
        },
        {
            "policyVersion": {
                "versionId": f"v{version + 1}",
                "isDefaultVersion": True,
                "createDate": aws.iam_date(run.t),
            }
        },
    )
    run.changed.append(("policy", arn))


def tags(run: Run) -> None:
    fn = run.rng.choice(run.workspace)
    owner = run.rng.choice(("payments", "storefront", "platform", "media"))
    run.call(
        "lambda.amazonaws.com",
        "TagResource",
        {
            "resource": fn.arn,
            "tags": {"team": owner, "cost-center": f"cc-{run.rng.randint(100, 999)}"},
        },
    )
    run.call(
        "iam.amazonaws.com",
        "TagRole",
        {"roleName": fn.role, "tags": [{"key": "team", "value": owner}]},
    )
    run.changed.append(("function", fn.name))


def bucket_settings(run: Run) -> None:
    """A bucket policy (TLS only, one reader), default KMS encryption, public access blocked."""
    bucket = run.infra.bucket(run.rng.choice(("uploads", "reports")))
    reader = run.rng.choice(run.workspace).role_arn
    host = f"{bucket.name}.s3.{bucket.region}.amazonaws.com"
    steps: list[tuple[str, Record]] = [
        (
            "PutBucketPolicy",
            {
                "bucketPolicy": policies.bucket_policy(bucket, reader),
                "bucketName": bucket.name,
                "Host": host,
                "policy": "",
            },
        ),
        (
            "PutBucketEncryption",
            {
                "bucketName": bucket.name,
                "Host": host,
                "ServerSideEncryptionConfiguration": {
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "Rule": {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": "aws:kms",
                            "KMSMasterKeyID": run.infra.key_arn(),
                        },
                        "BucketKeyEnabled": True,
                    },
                },
                "encryption": "",
            },
        ),
        (
            "PutBucketPublicAccessBlock",
            {
                "publicAccessBlock": "",
                "bucketName": bucket.name,
                "Host": host,
                "PublicAccessBlockConfiguration": {
                    "xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                    "RestrictPublicBuckets": True,
                    "BlockPublicPolicy": True,
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                },
            },
        ),
    ]
    for name, params in run.rng.sample(steps, run.rng.randint(1, 3)):
        run.call("s3.amazonaws.com", name, params)
    run.changed.append(("bucket", bucket.name))


def kms_grant(run: Run) -> None:
    """A grant letting a function's role use the account key (Terraform ``aws_kms_grant``)."""
    fn = run.rng.choice(run.workspace)
    key = run.infra.key_arn()
    run.call(
        "kms.amazonaws.com",
        "CreateGrant",
        {
            "keyId": key,
            "granteePrincipal": fn.role_arn,
            "operations": ["Decrypt", "GenerateDataKey"],
            "name": f"{fn.name}-data",
            "constraints": {"encryptionContextSubset": {"app": fn.name.split("-")[0]}},
        },
        {"grantId": hex_id(run.rng, 64), "keyId": key},
    )
    run.changed.append(("key", key))


def schedule(run: Run) -> None:
    """An EventBridge rule invoking one of the account's functions, and its invoke permission."""
    fn = run.rng.choice(run.workspace)
    rule = f"{fn.name}-warmup"
    rule_arn = f"arn:aws:events:{fn.region}:{fn.account}:rule/{rule}"
    minutes = run.rng.choice((5, 10, 15, 30))
    run.call(
        "events.amazonaws.com",
        "PutRule",
        {
            "name": rule,
            "scheduleExpression": f"rate({minutes} minutes)",
            "state": "ENABLED",
            "description": f"Keeps {fn.name} warm",
            "eventBusName": "default",
        },
        {"ruleArn": rule_arn},
    )
    run.call(
        "events.amazonaws.com",
        "PutTargets",
        {"rule": rule, "eventBusName": "default", "targets": [{"id": "lambda", "arn": fn.arn}]},
        {"failedEntryCount": 0, "failedEntries": []},
    )
    run.call(
        "lambda.amazonaws.com",
        "AddPermission",
        {
            "functionName": fn.name,
            "statementId": "AllowExecutionFromEventBridgeWarmup",
            "action": "lambda:InvokeFunction",
            "principal": "events.amazonaws.com",
            "sourceArn": rule_arn,
        },
        {
            "statement": '{"Sid":"AllowExecutionFromEventBridgeWarmup","Effect":"Allow",'
            '"Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction",'
            f'"Resource":"{fn.arn}","Condition":{{"ArnLike":{{"AWS:SourceArn":"{rule_arn}"}}}}}}'
        },
    )
    run.changed += [("rule", rule), ("function", fn.name)]


def api_deployment(run: Run) -> None:
    apis = [fn for fn in run.workspace if fn.api_rate]
    if not apis:
        return retention(run)
    fn = run.rng.choice(apis)
    deployment = token(run.rng, 6, "abcdefghijklmnopqrstuvwxyz0123456789")
    run.call(
        "apigateway.amazonaws.com",
        "CreateDeployment",
        {
            "restApiId": fn.api_id,
            "createDeploymentInput": {"stageName": "prod", "description": "terraform apply"},
            "template": False,
        },
        {
            "id": deployment,
            "description": "terraform apply",
            "createdDate": aws.iam_date(run.t),
            "self": {"restApiId": fn.api_id, "deploymentId": deployment},
        },
    )
    run.changed.append(("stage", fn.api_id))
    return None


def state_machine(run: Run) -> None:
    if not run.infra.state_machines:
        return role_policy(run)
    name = run.rng.choice(run.infra.state_machines)
    arn = run.infra.state_machine_arn(name)
    role = f"arn:aws:iam::{run.account.id}:role/{name}-sfn"
    run.call(
        "states.amazonaws.com",
        "UpdateStateMachine",
        {
            "stateMachineArn": arn,
            "definition": "HIDDEN_DUE_TO_SECURITY_REASONS",
            "roleArn": role,
            "loggingConfiguration": {
                "level": "ERROR",
                "includeExecutionData": False,
                "destinations": [
                    {
                        "cloudWatchLogsLogGroup": {
                            "logGroupArn": f"arn:aws:logs:{run.account.region}:{run.account.id}"
                            f":log-group:/aws/vendedlogs/states/{name}:*"
                        }
                    }
                ],
            },
        },
        {"updateDate": aws.iam_date(run.t), "revisionId": uuid4(run.rng)},
    )
    run.changed.append(("state_machine", arn))
    return None


def retention(run: Run) -> None:
    fn = run.rng.choice(run.workspace)
    group = f"/aws/lambda/{fn.name}"
    run.call(
        "logs.amazonaws.com",
        "PutRetentionPolicy",
        {"logGroupName": group, "retentionInDays": run.rng.choice((30, 90, 180, 365))},
    )
    run.changed.append(("log_group", group))


def security_group(run: Run) -> None:
    """The database group admits the functions' group (a rule between the account's groups)."""
    infra = run.infra
    port = run.rng.choice((5432, 6379, 3306))
    by_group = run.rng.random() < 0.6
    permission: Record = {
        "ipProtocol": "tcp",
        "fromPort": port,
        "toPort": port,
        "groups": {"items": [{"groupId": infra.sg_lambda, "description": "functions"}]}
        if by_group
        else {},
        "ipRanges": {}
        if by_group
        else {"items": [{"cidrIp": "10.20.0.0/16", "description": "private subnets"}]},
        "ipv6Ranges": {},
        "prefixListIds": {},
    }
    name = run.rng.choice(("AuthorizeSecurityGroupIngress",) * 3 + ("RevokeSecurityGroupIngress",))
    response: Record = {"requestId": uuid4(run.rng), "_return": True}
    if name.startswith("Authorize"):
        response["securityGroupRuleSet"] = {
            "items": [
                {
                    "groupOwnerId": infra.account.id,
                    "groupId": infra.sg_db,
                    "securityGroupRuleId": f"sgr-{hex_id(run.rng, 17)}",
                    "isEgress": False,
                    "ipProtocol": "tcp",
                    "fromPort": port,
                    "toPort": port,
                }
            ]
        }
    run.call(
        "ec2.amazonaws.com",
        name,
        {"groupId": infra.sg_db, "ipPermissions": {"items": [permission]}},
        response,
    )
    run.changed.append(("security_group", infra.sg_db))


def concurrency(run: Run) -> None:
    fn = run.rng.choice(run.workspace)
    reserved = run.rng.choice((5, 10, 20, 50, 100))
    run.call(
        "lambda.amazonaws.com",
        "PutFunctionConcurrency",
        {"functionName": fn.name, "reservedConcurrentExecutions": reserved},
        {"reservedConcurrentExecutions": reserved},
    )
    run.changed.append(("function", fn.name))


def parameter(run: Run) -> None:
    app = run.workspace[0].name.split("-")[0]
    run.call(
        "ssm.amazonaws.com",
        "PutParameter",
        {"name": f"/{app}/feature-flags", "type": "String", "overwrite": True, "tier": "Standard"},
        {"version": run.rng.randint(2, 60), "tier": "Standard"},
    )


CHANGES: tuple[Callable[[Run], None], ...] = (
    new_role,
    role_policy,
    attach_managed,
    trust_update,
    policy_version,
    tags,
    bucket_settings,
    kms_grant,
    schedule,
    api_deployment,
    state_machine,
    retention,
    security_group,
    concurrency,
    parameter,
)
