"""The services that watch the account, as CloudTrail records their reads.

The AWS Config recorder (service-linked role ``AWSServiceRoleForConfig``, session
``AWSConfig-Describe``) describes each resource a few minutes after it changed and sweeps every
function, role and bucket each night; Security Hub's role runs its periodic checks twice a day.
Both read across many services from the service's own address: a daily sweep that is routine.
"""

from __future__ import annotations

import random
from collections.abc import Iterable

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit
from pipelines.simulate.ids import aws_key_id, aws_time, derive, token
from pipelines.simulate.infra import AwsInfra
from pipelines.simulate.org import Account

Record = aws.Record


def service_role(
    account: Account, role: str, role_id: str, session: str, service: str, key: str, created: str
) -> Record:
    """A service-linked role's session, as a service uses it to look at the account."""
    ident = aws.assumed_role(
        account.id, role, role_id, session, key, created, path=f"/aws-service-role/{service}/"
    )
    return aws.via_service(ident, service)


# What Config reads to record a resource, by the kind of resource that changed.
CONFIG_READS: dict[str, tuple[tuple[str, str], ...]] = {
    "role": (
        ("iam.amazonaws.com", "GetRole"),
        ("iam.amazonaws.com", "ListRolePolicies"),
        ("iam.amazonaws.com", "ListAttachedRolePolicies"),
    ),
    "policy": (("iam.amazonaws.com", "GetPolicy"), ("iam.amazonaws.com", "GetPolicyVersion")),
    "function": (("lambda.amazonaws.com", "GetFunction"), ("lambda.amazonaws.com", "GetPolicy")),
    "bucket": (
        ("s3.amazonaws.com", "GetBucketPolicy"),
        ("s3.amazonaws.com", "GetBucketEncryption"),
        ("s3.amazonaws.com", "GetBucketTagging"),
    ),
    "key": (("kms.amazonaws.com", "DescribeKey"), ("kms.amazonaws.com", "ListGrants")),
    "rule": (("events.amazonaws.com", "DescribeRule"),),
    "security_group": (("ec2.amazonaws.com", "DescribeSecurityGroups"),),
    "state_machine": (("states.amazonaws.com", "DescribeStateMachine"),),
    "log_group": (("logs.amazonaws.com", "DescribeLogGroups"),),
    "stage": (("apigateway.amazonaws.com", "GetStage"),),
    "repository": (("ecr.amazonaws.com", "DescribeRepositories"),),
}


def describe_params(source: str, name: str, target: str) -> Record | None:
    """The request a describe call names its target with, per service's CloudTrail shape."""
    if source == "iam.amazonaws.com":
        if name == "GetPolicyVersion":
            return {"policyArn": target, "versionId": "v1"}
        return {"policyArn": target} if name == "GetPolicy" else {"roleName": target}
    if source == "lambda.amazonaws.com":
        return {"functionName": target}
    if source == "s3.amazonaws.com":
        return {"bucketName": target, "Host": f"{target}.s3.amazonaws.com", s3_query(name): ""}
    if source == "kms.amazonaws.com":
        return {"keyId": target}
    if source == "events.amazonaws.com":
        return {"name": target}
    if source == "ec2.amazonaws.com":
        return {"securityGroupIdSet": {"items": [{"groupId": target}]}, "filterSet": {}}
    if source == "states.amazonaws.com":
        return {"stateMachineArn": target}
    if source == "logs.amazonaws.com":
        return {"logGroupNamePrefix": target}
    if source == "apigateway.amazonaws.com":
        return {"restApiId": target, "stageName": "prod"}
    if source == "ecr.amazonaws.com":
        return {"repositoryNames": [target]}
    return None


def s3_query(name: str) -> str:
    """The sub-resource query S3 logs as an empty parameter: ``GetBucketPolicy`` -> ``policy``."""
    return {
        "GetBucketPolicy": "policy",
        "GetBucketEncryption": "encryption",
        "GetBucketTagging": "tagging",
        "GetBucketVersioning": "versioning",
        "GetBucketPublicAccessBlock": "publicAccessBlock",
        "GetBucketAcl": "acl",
        "GetBucketLocation": "location",
    }.get(name, name.removeprefix("GetBucket").lower())


def s3_error(name: str, has_policy: bool) -> tuple[str, str] | None:
    """The error S3 answers a read of a sub-resource the bucket does not have."""
    if name == "GetBucketPolicy" and not has_policy:
        return ("NoSuchBucketPolicy", "The bucket policy does not exist")
    return None


def config_describes(
    rng: random.Random,
    t: int,
    infra: AwsInfra,
    changed: Iterable[tuple[str, str]],
) -> list[Emit]:
    """The Config recorder describing each changed (kind, target) a few minutes after the change."""
    account = infra.account
    key = aws_key_id(rng, "ASIA")
    ident = service_role(
        account,
        "AWSServiceRoleForConfig",
        infra.config_role_id,
        "AWSConfig-Describe",
        "config.amazonaws.com",
        key,
        aws_time(t),
    )
    out = []
    at = t + rng.randint(60, 600)
    for kind, target in changed:
        for source, name in CONFIG_READS[kind]:
            at += rng.randint(0, 3)
            out.append(_service_read(rng, at, ident, infra, source, name, target))
    return out


def _service_read(
    rng: random.Random,
    t: int,
    ident: Record,
    infra: AwsInfra,
    source: str,
    name: str,
    target: str,
) -> Emit:
    account = infra.account
    service = ident["invokedBy"]
    error = None
    extra = None
    if source == "s3.amazonaws.com":
        has_policy = any(
            b.name == target and b.purpose in ("uploads", "reports") for b in infra.buckets
        )
        error = s3_error(name, has_policy)
        extra = {
            "SignatureVersion": "SigV4",
            "CipherSuite": "TLS_AES_128_GCM_SHA256",
            "bytesTransferredIn": 0,
            "AuthenticationMethod": "AuthHeader",
            "x-amz-id-2": token(rng, 76) + "=",
            "bytesTransferredOut": 0 if error else rng.randint(200, 1500),
        }
    return aws.call(
        rng,
        t,
        ident,
        account.id,
        account.region,
        source,
        name,
        service,
        service,
        describe_params(source, name, target),
        None,
        read_only=True,
        error=error,
        extra=extra,
    )


def config_nightly_sweep(seed: int, day_start: int, infra: AwsInfra) -> list[Emit]:
    """Config's periodic recording: every function, role and bucket described once a night."""
    account = infra.account
    rng = derive(seed, "config-sweep", account.id, day_start)
    t = day_start + 2 * 3600 + rng.randrange(1800)
    changed: list[tuple[str, str]] = []
    for fn in account.functions:
        changed += [("function", fn.name), ("role", fn.role)]
    changed += [("bucket", b.name) for b in infra.buckets]
    changed += [("key", infra.key_arn()), ("security_group", infra.sg_lambda)]
    return config_describes(rng, t, infra, changed)


SECURITYHUB_CHECKS: tuple[tuple[str, str, Record | None], ...] = (
    ("cloudtrail.amazonaws.com", "DescribeTrails", {"includeShadowTrails": True}),
    ("cloudtrail.amazonaws.com", "GetTrailStatus", None),
    ("cloudtrail.amazonaws.com", "GetEventSelectors", None),
    ("iam.amazonaws.com", "GetAccountPasswordPolicy", None),
    ("iam.amazonaws.com", "GetAccountSummary", None),
    ("iam.amazonaws.com", "GenerateCredentialReport", None),
    ("iam.amazonaws.com", "GetCredentialReport", None),
    ("kms.amazonaws.com", "ListKeys", None),
    ("lambda.amazonaws.com", "ListFunctions", {"maxItems": 50}),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", {"securityGroupSet": {}, "filterSet": {}}),
    ("guardduty.amazonaws.com", "ListDetectors", None),
)


def securityhub_checks(seed: int, day_start: int, infra: AwsInfra) -> list[Emit]:
    """Security Hub's service-linked role running its periodic checks, twice a day."""
    account = infra.account
    rng = derive(seed, "securityhub", account.id, day_start)
    trail = f"arn:aws:cloudtrail:{account.region}:{account.id}:trail/org-trail"
    out = []
    for base in (5 * 3600, 17 * 3600):
        t = day_start + base + rng.randrange(1800)
        ident = service_role(
            account,
            "AWSServiceRoleForSecurityHub",
            infra.securityhub_role_id,
            "securityhub",
            "securityhub.amazonaws.com",
            aws_key_id(rng, "ASIA"),
            aws_time(t),
        )
        for source, name, params in SECURITYHUB_CHECKS:
            t += rng.randint(1, 20)
            if name in ("GetTrailStatus", "GetEventSelectors"):
                params = {"name": trail} if name == "GetTrailStatus" else {"trailName": trail}
            out.append(
                aws.call(
                    rng,
                    t,
                    ident,
                    account.id,
                    account.region,
                    source,
                    name,
                    "securityhub.amazonaws.com",
                    "securityhub.amazonaws.com",
                    params,
                    None,
                    read_only=name != "GenerateCredentialReport",
                )
            )
    return out
