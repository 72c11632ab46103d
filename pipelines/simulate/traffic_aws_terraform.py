"""The platform pipeline: Terraform run by GitHub Actions, and container images pushed to ECR.

Every night a scheduled workflow of the ``acme/platform`` repository plans every workspace
(drift detection); on weekdays it plans (pull requests) and applies (merges) one application's
workspace at a time. The job signs in to the shared-services ``ci-deploy`` role
by OIDC and assumes the target account's ``terraform`` role (a cross-account ``AssumeRole``
inside the organization, logged in both accounts with one ``sharedEventID``). An apply makes
one to three changes (``terraform_changes``); AWS Config describes what changed a few minutes
later. Image builds push to the shared-services registry as ``ci-deploy``.
"""

from __future__ import annotations

import random

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit, is_weekend
from pipelines.simulate.ids import aws_key_id, aws_time, derive, hex_id, uuid4
from pipelines.simulate.infra import AwsInfra, aws_infra
from pipelines.simulate.org import Account, Function, Org
from pipelines.simulate.terraform_changes import CHANGES
from pipelines.simulate.terraform_run import TERRAFORM_UA, Record, Run, plan
from pipelines.simulate.traffic_aws_people import ci_identity, web_identity_assume
from pipelines.simulate.traffic_aws_watchers import config_describes

PLATFORM_REPO = "acme/platform"
DOCKER_UA = (
    "docker/26.1.3 go/go1.21.10 git-commit/8e96db1 kernel/6.5.0-1021-azure os/linux "
    "arch/amd64 UpstreamClient(Docker-Client/26.1.3 \\(linux\\))"
)
MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"


def _assume_terraform(
    rng: random.Random,
    t: int,
    source: Account,
    target: AwsInfra,
    caller: Record,
    ip: str,
    session: str,
    key: str,
) -> list[Emit]:
    """The CI session assuming the target's ``terraform`` role; a cross-account call is logged
    in both accounts with one ``sharedEventID``."""
    account = target.account
    response = {
        "credentials": {
            "accessKeyId": key,
            "sessionToken": "IQoJb3JpZ2luX2VjEXAMPLE",
            "expiration": aws.iam_date(t + 3600),
        },
        "assumedRoleUser": {
            "assumedRoleId": f"{target.terraform_role_id}:{session}",
            "arn": f"arn:aws:sts::{account.id}:assumed-role/terraform/{session}",
        },
    }
    params = {
        "roleArn": target.terraform_role_arn,
        "roleSessionName": session,
        "durationSeconds": 3600,
    }
    resources = [
        {"accountId": account.id, "type": "AWS::IAM::Role", "ARN": target.terraform_role_arn}
    ]
    shared = uuid4(rng)
    recipients = [account.id] if account.id == source.id else [account.id, source.id]
    out = []
    for recipient in recipients:
        emit = aws.call(
            rng,
            t,
            caller,
            recipient,
            account.region,
            "sts.amazonaws.com",
            "AssumeRole",
            ip,
            TERRAFORM_UA.format(api="sts"),
            params,
            response,
            read_only=True,
            resources=resources,
        )
        if len(recipients) > 1:
            emit.record["sharedEventID"] = shared
        out.append(emit)
    return out


def _session(
    rng: random.Random, t: int, org: Org, target: AwsInfra, workspace: list[Function]
) -> Run:
    """A platform job signed in: OIDC into shared-services ``ci-deploy``, then the target
    account's ``terraform`` role; the sign-in records are the run's first."""
    hub = org.account("shared-services")
    account = target.account
    session = f"GitHubActions-{rng.randint(8_000_000_000, 9_999_999_999)}"
    ip = rng.choice(org.ci_ips)
    hub_key = aws_key_id(rng, "ASIA")
    signin = [web_identity_assume(rng, t, hub, PLATFORM_REPO, ip, session, hub_key)]
    caller = ci_identity(hub, session, hub_key, aws_time(t))
    key = aws_key_id(rng, "ASIA")
    t += rng.randint(5, 20)
    signin += _assume_terraform(rng, t, hub, target, caller, ip, session, key)
    ident = aws.assumed_role(
        account.id, "terraform", target.terraform_role_id, session, key, aws_time(t)
    )
    return Run(rng, t, ident, ip, target, workspace, out=signin)


def terraform_runs(seed: int, day_start: int, org: Org, account: Account) -> list[Emit]:
    """The nightly drift check of every workspace (a scheduled plan, weekends too), and on
    weekdays plans (pull requests) and applies (merges) of one application's workspace."""
    rng = derive(seed, "terraform", account.id, day_start)
    target = aws_infra(seed, account)
    drift = _session(rng, day_start + rng.randint(3600, 3600 + 2400), org, target,
                     list(account.functions))  # fmt: skip
    plan(drift)
    out = drift.out
    if is_weekend(day_start):
        return out
    apps = sorted({fn.name.split("-")[0] for fn in account.functions})
    for _ in range(rng.randint(1, 3)):
        app = rng.choice(apps)
        workspace = [fn for fn in account.functions if fn.name.split("-")[0] == app]
        run = _session(rng, day_start + rng.randint(8 * 3600, 17 * 3600), org, target, workspace)
        plan(run)
        if rng.random() < 0.55:  # merged: apply after the plan
            run.t += rng.randint(30, 120)
            for change in rng.sample(CHANGES, rng.randint(1, 3)):
                change(run)
            run.out += config_describes(rng, run.t, target, run.changed)
        out += run.out
    return out


def image_pushes(seed: int, day_start: int, org: Org, account: Account) -> list[Emit]:
    """CI building container images and pushing them to the shared-services registry."""
    infra = aws_infra(seed, account)
    if is_weekend(day_start) or not infra.ecr_repos:
        return []
    rng = derive(seed, "ecr", account.id, day_start)
    out: list[Emit] = []
    for _ in range(rng.randint(1, 3)):
        t = day_start + rng.randint(8 * 3600, 17 * 3600)
        session = f"GitHubActions-{rng.randint(8_000_000_000, 9_999_999_999)}"
        ip = rng.choice(org.ci_ips)
        key = aws_key_id(rng, "ASIA")
        out.append(web_identity_assume(rng, t, account, "acme/media", ip, session, key))
        ident = ci_identity(account, session, key, aws_time(t))
        repo = rng.choice(infra.ecr_repos)
        run = Run(rng, t + rng.randint(20, 60), ident, ip, infra, list(account.functions))
        run.call("ecr.amazonaws.com", "GetAuthorizationToken", None, None, read_only=True)
        ref = {"repositoryName": repo, "registryId": account.id}
        layers = [f"sha256:{hex_id(rng, 64)}" for _ in range(rng.randint(2, 5))]
        run.call(
            "ecr.amazonaws.com",
            "BatchCheckLayerAvailability",
            {**ref, "layerDigests": layers},
            read_only=True,
        )
        for digest in layers:
            upload = uuid4(rng)
            run.call(
                "ecr.amazonaws.com",
                "InitiateLayerUpload",
                ref,
                {"uploadId": upload, "partSize": 10485760},
                step=(1, 3),
            )
            run.call(
                "ecr.amazonaws.com",
                "CompleteLayerUpload",
                {**ref, "uploadId": upload, "layerDigests": [digest]},
                {**ref, "uploadId": upload, "layerDigest": digest},
                step=(2, 30),
            )
        tag = hex_id(rng, 7)
        digest = f"sha256:{hex_id(rng, 64)}"
        run.call(
            "ecr.amazonaws.com",
            "PutImage",
            {
                **ref,
                "imageTag": tag,
                "imageManifestMediaType": MANIFEST_V2,
            },
            {
                "image": {
                    **ref,
                    "imageId": {"imageDigest": digest, "imageTag": tag},
                    "imageManifestMediaType": MANIFEST_V2,
                }
            },
        )
        for e in run.out:
            e.record["userAgent"] = DOCKER_UA
        out += run.out
    return out


def infra_traffic(seed: int, day_start: int, org: Org, account: Account) -> list[Emit]:
    """The platform pipeline's work in one account and one day."""
    return [
        *terraform_runs(seed, day_start, org, account),
        *image_pushes(seed, day_start, org, account),
    ]
