"""One Terraform job's calls: who it works as, and ``terraform plan`` refreshing its workspace.

A plan reads every resource the workspace manages (describe calls; a bucket without a policy is
answered ``NoSuchBucketPolicy``, as S3 does). The changes an apply makes are in
``terraform_changes``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit
from pipelines.simulate.ids import token
from pipelines.simulate.infra import AwsInfra
from pipelines.simulate.org import Account, Function
from pipelines.simulate.traffic_aws_watchers import describe_params, s3_error

Record = aws.Record
TERRAFORM_UA = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.8.5 (+https://www.terraform.io) "
    "terraform-provider-aws/5.54.1 (+https://registry.terraform.io/providers/hashicorp/aws) "
    "aws-sdk-go-v2/1.27.2 ua/2.0 os/linux lang/go#1.22.4 md/GOOS#linux md/GOARCH#amd64 "
    "api/{api}#1.33.1"
)


@dataclass
class Run:
    """One Terraform job in one account: who it works as, from where, and what it touched."""

    rng: random.Random
    t: int
    ident: Record
    ip: str
    infra: AwsInfra
    workspace: list[Function]
    out: list[Emit] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def account(self) -> Account:
        return self.infra.account

    def call(
        self,
        source: str,
        name: str,
        params: Record | None,
        response: Record | None = None,
        *,
        read_only: bool = False,
        error: tuple[str, str] | None = None,
        step: tuple[int, int] = (1, 4),
    ) -> None:
        """The provider's next API call, a few seconds after the previous one."""
        self.t += self.rng.randint(*step)
        api = source.split(".")[0]
        ua = TERRAFORM_UA.format(api=api)
        extra = None
        if source == "s3.amazonaws.com":
            ua = f"[{ua}]"
            extra = _s3_extra(self.rng, 0 if error or not read_only else 600)
        self.out.append(
            aws.call(
                self.rng,
                self.t,
                self.ident,
                self.account.id,
                self.account.region,
                source,
                name,
                self.ip,
                ua,
                params,
                response,
                read_only=read_only,
                error=error,
                extra=extra,
            )
        )


def _s3_extra(rng: random.Random, out_bytes: int) -> Record:
    return {
        "SignatureVersion": "SigV4",
        "CipherSuite": "TLS_AES_128_GCM_SHA256",
        "bytesTransferredIn": 0,
        "AuthenticationMethod": "AuthHeader",
        "x-amz-id-2": token(rng, 76) + "=",
        "bytesTransferredOut": out_bytes,
    }


# -- plan: refresh what the workspace manages -------------------------------------------------

FUNCTION_READS = (
    ("lambda.amazonaws.com", "GetFunction"),
    ("lambda.amazonaws.com", "GetFunctionCodeSigningConfig"),
    ("lambda.amazonaws.com", "ListVersionsByFunction"),
    ("lambda.amazonaws.com", "GetPolicy"),
)
ROLE_READS = (
    ("iam.amazonaws.com", "GetRole"),
    ("iam.amazonaws.com", "ListRolePolicies"),
    ("iam.amazonaws.com", "GetRolePolicy"),
    ("iam.amazonaws.com", "ListAttachedRolePolicies"),
)
BUCKET_READS = (
    "GetBucketPolicy",
    "GetBucketEncryption",
    "GetBucketVersioning",
    "GetBucketPublicAccessBlock",
    "GetBucketTagging",
)


def plan(run: Run) -> None:
    """``terraform plan``: who am I, then a describe of every resource in the workspace."""
    run.call(
        "sts.amazonaws.com",
        "GetCallerIdentity",
        None,
        None,
        read_only=True,
    )
    for fn in run.workspace:
        for source, name in FUNCTION_READS:
            run.call(source, name, {"functionName": fn.name}, read_only=True)
        for source, name in ROLE_READS:
            params: Record = {"roleName": fn.role}
            if name == "GetRolePolicy":
                params["policyName"] = f"{fn.name}-access"
            run.call(source, name, params, read_only=True)
        run.call(
            "logs.amazonaws.com",
            "DescribeLogGroups",
            {"logGroupNamePrefix": f"/aws/lambda/{fn.name}"},
            read_only=True,
        )
        if fn.schedule:
            rule = f"{fn.name}-schedule"
            run.call("events.amazonaws.com", "DescribeRule", {"name": rule}, read_only=True)
            run.call("events.amazonaws.com", "ListTargetsByRule", {"rule": rule}, read_only=True)
        if fn.api_rate:
            run.call(
                "apigateway.amazonaws.com", "GetRestApi", {"restApiId": fn.api_id}, read_only=True
            )
            run.call(
                "apigateway.amazonaws.com",
                "GetStage",
                {"restApiId": fn.api_id, "stageName": "prod"},
                read_only=True,
            )
    key = run.infra.key_arn()
    for name in ("DescribeKey", "GetKeyPolicy", "GetKeyRotationStatus"):
        params = (
            {"keyId": key, "policyName": "default"} if name == "GetKeyPolicy" else {"keyId": key}
        )
        run.call("kms.amazonaws.com", name, params, read_only=True)
    bucket = run.rng.choice(run.infra.buckets)
    for name in BUCKET_READS:
        run.call(
            "s3.amazonaws.com",
            name,
            describe_params("s3.amazonaws.com", name, bucket.name),
            read_only=True,
            error=s3_error(name, bucket.purpose in ("uploads", "reports")),
        )
    run.call(
        "ec2.amazonaws.com",
        "DescribeSecurityGroups",
        {"securityGroupIdSet": {"items": [{"groupId": run.infra.sg_lambda}]}, "filterSet": {}},
        read_only=True,
    )
    app = run.workspace[0].name.split("-")[0]
    run.call(
        "ssm.amazonaws.com",
        "GetParameters",
        {"names": [f"/{app}/log-level", f"/{app}/feature-flags"], "withDecryption": False},
        read_only=True,
    )
    for policy in run.infra.policies[:1]:
        run.call(
            "iam.amazonaws.com",
            "GetPolicy",
            {"policyArn": run.infra.policy_arn(policy)},
            read_only=True,
        )
