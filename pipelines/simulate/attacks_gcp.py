"""Rule-caught Google Cloud attack scenarios: IAM policy changes, keys and log sinks."""

from __future__ import annotations

from typing import Any

from pipelines.simulate import gcp
from pipelines.simulate.attack_base import ATTACKER_IPS, AttackContext, Injection
from pipelines.simulate.emit import Emit, gcp_sink
from pipelines.simulate.ids import hex_id, token
from pipelines.simulate.org import Project

ACTIVITY = gcp_sink("activity")
DATA_ACCESS = gcp_sink("data_access")


def _actor(ctx: AttackContext) -> tuple[Project, str, str, str]:
    """A project, a developer account used by the intruder, their IP and gcloud user agent."""
    project = ctx.rng.choice(ctx.org.projects)
    user = ctx.rng.choice(ctx.org.gcp_users)
    ua = gcp.GCLOUD_UA.format(cmd="projects.add-iam-policy-binding", inv=hex_id(ctx.rng, 8))
    return project, user, ctx.rng.choice(ATTACKER_IPS), ua


def _etag(ctx: AttackContext) -> str:
    return "BwY" + token(ctx.rng, 9) + "="


def gcp_public_function(ctx: AttackContext) -> Injection:
    project, user, ip, ua = _actor(ctx)
    fn = ctx.rng.choice([f for f in project.functions if f.generation == 1])
    t = ctx.when()
    policy: dict[str, Any] = {
        "bindings": [{"role": "roles/cloudfunctions.invoker", "members": ["allUsers"]}],
        "etag": _etag(ctx),
    }
    entry = gcp.entry(
        ctx.rng,
        t,
        project.id,
        "activity",
        gcp.function_resource(project.id, fn.region, fn.name),
        "cloudfunctions.googleapis.com",
        gcp.FUNCTIONS_V1 + "SetIamPolicy",
        fn.resource_name,
        user,
        ip,
        ua,
        "cloudfunctions.functions.setIamPolicy",
        request={
            "@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest",
            "resource": fn.resource_name,
            "policy": policy,
        },
        response={
            "@type": "type.googleapis.com/google.iam.v1.Policy",
            **policy,
            "etag": _etag(ctx),
        },
        service_data=gcp.policy_delta(("ADD", "roles/cloudfunctions.invoker", "allUsers")),
        location=fn.region,
    )
    return Injection(
        [Emit(t, ACTIVITY, entry)],
        "gcp",
        project.id,
        user,
        f"{user} granted allUsers roles/cloudfunctions.invoker on {fn.name}",
    )


def gcp_sink_deleted(ctx: AttackContext) -> Injection:
    project, user, ip, _ = _actor(ctx)
    sink = ctx.rng.choice(project.sinks)
    name = f"projects/{project.id}/sinks/{sink}"
    t = ctx.when()
    ua = gcp.GCLOUD_UA.format(cmd="logging.sinks.delete", inv=hex_id(ctx.rng, 8))
    entry = gcp.entry(
        ctx.rng,
        t,
        project.id,
        "activity",
        {
            "type": "logging_sink",
            "labels": {"destination": "", "name": sink, "project_id": project.id},
        },
        "logging.googleapis.com",
        "google.logging.v2.ConfigServiceV2.DeleteSink",
        name,
        user,
        ip,
        ua,
        "logging.sinks.delete",
        request={
            "@type": "type.googleapis.com/google.logging.v2.DeleteSinkRequest",
            "sinkName": name,
        },
        response={"@type": "type.googleapis.com/google.protobuf.Empty"},
    )
    return Injection(
        [Emit(t, ACTIVITY, entry)], "gcp", project.id, user, f"{user} deleted log sink {sink}"
    )


def gcp_sa_key(ctx: AttackContext) -> Injection:
    project, user, ip, _ = _actor(ctx)
    sa = project.deployer
    unique = "1" + "".join(ctx.rng.choices("0123456789", k=20))
    t = ctx.when()
    ua = gcp.GCLOUD_UA.format(cmd="iam.service-accounts.keys.create", inv=hex_id(ctx.rng, 8))
    key = hex_id(ctx.rng, 40)
    entry = gcp.entry(
        ctx.rng,
        t,
        project.id,
        "activity",
        {
            "type": "service_account",
            "labels": {"email_id": sa, "project_id": project.id, "unique_id": unique},
        },
        "iam.googleapis.com",
        "google.iam.admin.v1.CreateServiceAccountKey",
        f"projects/-/serviceAccounts/{unique}",
        user,
        ip,
        ua,
        "iam.serviceAccountKeys.create",
        request={
            "@type": "type.googleapis.com/google.iam.admin.v1.CreateServiceAccountKeyRequest",
            "name": f"projects/-/serviceAccounts/{sa}",
            "private_key_type": 2,
        },
        response={
            "@type": "type.googleapis.com/google.iam.admin.v1.ServiceAccountKey",
            "name": f"projects/{project.id}/serviceAccounts/{sa}/keys/{key}",
            "valid_after_time": {"seconds": t},
            "valid_before_time": {"seconds": 253402300799},
            "key_algorithm": 2,
            "private_key_type": 2,
            "key_origin": 2,
            "key_type": 1,
        },
    )
    return Injection(
        [Emit(t, ACTIVITY, entry)], "gcp", project.id, user, f"{user} created a key for {sa}"
    )


def gcp_owner_grant(ctx: AttackContext) -> Injection:
    project, user, ip, ua = _actor(ctx)
    outsider = f"user:{token(ctx.rng, 8).lower()}.ops@gmail.com"
    name = f"projects/{project.id}"
    resource = {"type": "project", "labels": {"project_id": project.id}}
    t = ctx.when()
    get = gcp.entry(
        ctx.rng,
        t,
        project.id,
        "data_access",
        resource,
        "cloudresourcemanager.googleapis.com",
        "GetIamPolicy",
        name,
        user,
        ip,
        ua,
        "resourcemanager.projects.getIamPolicy",
        request={
            "@type": "type.googleapis.com/google.iam.v1.GetIamPolicyRequest",
            "resource": name,
        },
    )
    bindings = [
        {"role": "roles/owner", "members": [f"user:{user}", outsider]},
        {"role": "roles/viewer", "members": ["group:engineering@acme.io"]},
    ]
    policy: dict[str, Any] = {"bindings": bindings, "etag": _etag(ctx)}
    set_ = gcp.entry(
        ctx.rng,
        t + 12,
        project.id,
        "activity",
        resource,
        "cloudresourcemanager.googleapis.com",
        "SetIamPolicy",
        name,
        user,
        ip,
        ua,
        "resourcemanager.projects.setIamPolicy",
        request={
            "@type": "type.googleapis.com/google.iam.v1.SetIamPolicyRequest",
            "resource": project.id,
            "policy": policy,
        },
        response={
            "@type": "type.googleapis.com/google.iam.v1.Policy",
            **policy,
            "etag": _etag(ctx),
        },
        service_data=gcp.policy_delta(("ADD", "roles/owner", outsider)),
    )
    return Injection(
        [Emit(t, DATA_ACCESS, get), Emit(t + 12, ACTIVITY, set_)],
        "gcp",
        project.id,
        user,
        f"{user} granted roles/owner on {project.id} to external {outsider}",
    )
