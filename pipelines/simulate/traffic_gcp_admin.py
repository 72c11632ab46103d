"""What people do in Google Cloud besides reading functions, the same way every week.

bob resizes Cloud Run services with ``gcloud run services update`` (the revision keeps running
as the service's own account); eve reviews service accounts, their keys, the project's IAM
policy and log sinks; dmitri lists service accounts and enabled APIs; alice and carol browse the
buckets. Reads of IAM and service usage are Data Access (ADMIN_READ) entries.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from pipelines.simulate import gcp
from pipelines.simulate.emit import Emit, gcp_sink, is_weekend
from pipelines.simulate.ids import derive, hex_id
from pipelines.simulate.infra import GcpInfra, gcp_infra
from pipelines.simulate.org import Project
from pipelines.simulate.traffic_gcp_people import Visit, update_service

DATA_ACCESS = gcp_sink("data_access")
IAM = "google.iam.admin.v1."
SERVICE_USAGE = "google.api.serviceusage.v1.ServiceUsage."


def _ua(rng: random.Random, visit: Visit, cmd: str) -> str:
    return gcp.CONSOLE_UA if visit.console else gcp.GCLOUD_UA.format(cmd=cmd, inv=hex_id(rng, 8))


def _read(
    rng: random.Random,
    t: int,
    infra: GcpInfra,
    visit: Visit,
    resource: gcp.Entry,
    service: str,
    method: str,
    name: str,
    permission: str,
    cmd: str,
    request: gcp.Entry | None = None,
) -> Emit:
    project = infra.project
    return Emit(
        t,
        DATA_ACCESS,
        gcp.entry(
            rng,
            t,
            project.id,
            "data_access",
            resource,
            service,
            method,
            name,
            visit.user,
            visit.ip,
            _ua(rng, visit, cmd),
            permission,
            request=request,
        ),
    )


def _sa_resource(project: Project, email: str = "", uid: str = "") -> gcp.Entry:
    return {
        "type": "service_account",
        "labels": {"email_id": email, "project_id": project.id, "unique_id": uid},
    }


def list_service_accounts(rng: random.Random, t: int, infra: GcpInfra, visit: Visit) -> Emit:
    project = infra.project
    return _read(
        rng,
        t,
        infra,
        visit,
        _sa_resource(project),
        "iam.googleapis.com",
        IAM + "ListServiceAccounts",
        f"projects/{project.id}",
        "iam.serviceAccounts.list",
        "iam.service-accounts.list",
        {
            "@type": "type.googleapis.com/google.iam.admin.v1.ListServiceAccountsRequest",
            "name": f"projects/{project.id}",
        },
    )


def resize_service(rng: random.Random, t: int, infra: GcpInfra, visit: Visit) -> list[Emit]:
    """``gcloud run services update --memory/--cpu`` on a service, keeping its own account."""
    project = infra.project
    svc = rng.choice(project.services)
    memory = rng.choice(("512Mi", "1Gi", "2Gi"))
    changes: dict[str, object] = {
        "resources": {"limits": {"cpu": rng.choice(("1", "2")), "memory": memory}}
    }
    return [
        update_service(
            rng,
            t,
            project,
            svc,
            visit.user,
            visit.ip,
            v2=False,
            service_account=svc.sa,
            changes=changes,
        )
    ]


def review_accounts(rng: random.Random, t: int, infra: GcpInfra, visit: Visit) -> list[Emit]:
    """Service accounts and their keys, the project's IAM policy and its log sinks."""
    project = infra.project
    sa = rng.choice(project.functions).sa
    uid = infra.sa_ids[sa]
    out = [list_service_accounts(rng, t, infra, visit)]
    out.append(
        _read(
            rng,
            t + 20,
            infra,
            visit,
            _sa_resource(project, sa, uid),
            "iam.googleapis.com",
            IAM + "ListServiceAccountKeys",
            f"projects/{project.id}/serviceAccounts/{sa}",
            "iam.serviceAccountKeys.list",
            "iam.service-accounts.keys.list",
            {
                "@type": "type.googleapis.com/google.iam.admin.v1.ListServiceAccountKeysRequest",
                "name": f"projects/{project.id}/serviceAccounts/{sa}",
            },
        )
    )
    out.append(
        _read(
            rng,
            t + 45,
            infra,
            visit,
            {"type": "project", "labels": {"project_id": project.id}},
            "cloudresourcemanager.googleapis.com",
            "GetIamPolicy",
            f"projects/{project.id}",
            "resourcemanager.projects.getIamPolicy",
            "projects.get-iam-policy",
            {
                "@type": "type.googleapis.com/google.iam.v1.GetIamPolicyRequest",
                "resource": f"projects/{project.id}",
            },
        )
    )
    out.append(
        _read(
            rng,
            t + 70,
            infra,
            visit,
            {
                "type": "logging_sink",
                "labels": {"name": "", "destination": "", "project_id": project.id},
            },
            "logging.googleapis.com",
            "google.logging.v2.ConfigServiceV2.ListSinks",
            f"projects/{project.id}",
            "logging.sinks.list",
            "logging.sinks.list",
            {
                "@type": "type.googleapis.com/google.logging.v2.ListSinksRequest",
                "parent": f"projects/{project.id}",
            },
        )
    )
    return out


def review_apis(rng: random.Random, t: int, infra: GcpInfra, visit: Visit) -> list[Emit]:
    project = infra.project
    return [
        list_service_accounts(rng, t, infra, visit),
        _read(
            rng,
            t + 30,
            infra,
            visit,
            gcp.audited_resource(
                project.id, "serviceusage.googleapis.com", SERVICE_USAGE + "ListServices"
            ),
            "serviceusage.googleapis.com",
            SERVICE_USAGE + "ListServices",
            f"projects/{project.number}",
            "serviceusage.services.list",
            "services.list",
            {
                "@type": "type.googleapis.com/google.api.serviceusage.v1.ListServicesRequest",
                "parent": f"projects/{project.number}",
                "filter": "state:ENABLED",
            },
        ),
    ]


def browse_buckets(rng: random.Random, t: int, infra: GcpInfra, visit: Visit) -> list[Emit]:
    project = infra.project
    bucket = rng.choice(infra.buckets)
    resource = {
        "type": "gcs_bucket",
        "labels": {"bucket_name": bucket, "location": project.region, "project_id": project.id},
    }
    return [
        _read(
            rng,
            t,
            infra,
            visit,
            {
                "type": "gcs_bucket",
                "labels": {"bucket_name": "", "location": "global", "project_id": project.id},
            },
            "storage.googleapis.com",
            "storage.buckets.list",
            "projects/_/buckets",
            "storage.buckets.list",
            "storage.buckets.list",
        ),
        _read(
            rng,
            t + 15,
            infra,
            visit,
            resource,
            "storage.googleapis.com",
            "storage.objects.list",
            f"projects/_/buckets/{bucket}",
            "storage.objects.list",
            "storage.objects.list",
        ),
    ]


Habit = Callable[[random.Random, int, GcpInfra, Visit], list[Emit]]
HABITS: dict[str, tuple[Habit, float]] = {
    # person: (habit, chance on a day they work in the project)
    "bob@acme.io": (resize_service, 0.5),
    "eve@acme.io": (review_accounts, 0.7),
    "dmitri@acme.io": (review_apis, 0.5),
    "alice@acme.io": (browse_buckets, 0.4),
    "carol@acme.io": (browse_buckets, 0.5),
}


def routine_admin(seed: int, day_start: int, project: Project, visits: list[Visit]) -> list[Emit]:
    """The day's admin acts of the people who worked in ``project``."""
    infra = gcp_infra(seed, project)
    rng = derive(seed, "gcp-admin", project.id, day_start)
    damp = 0.3 if is_weekend(day_start) else 1.0
    out: list[Emit] = []
    for visit in visits:
        habit, chance = HABITS.get(visit.user, (browse_buckets, 0.0))
        if rng.random() < chance * damp:
            out += habit(rng, visit.t + rng.randint(120, 3 * 3600), infra, visit)
    return out
