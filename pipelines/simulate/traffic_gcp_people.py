"""One day of people and CI in Google Cloud: deploys by Workload Identity, developers reading."""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipelines.simulate import gcp
from pipelines.simulate.emit import Emit, gcp_sink, is_weekend
from pipelines.simulate.ids import derive, hex_id
from pipelines.simulate.org import HOME_NETS, OFFICE_IPS, GcpFunction, GcpService, Org, Project

ACTIVITY = gcp_sink("activity")
DATA_ACCESS = gcp_sink("data_access")
RUNTIMES = {1: "python311", 2: "python312"}


def update_function(
    rng: random.Random,
    t: int,
    project: Project,
    fn: GcpFunction,
    principal: str,
    ip: str,
    ua: str,
    *,
    delegation: list[dict[str, object]] | None = None,
    changes: dict[str, object] | None = None,
    mask: str = "sourceArchiveUrl",
) -> Emit:
    """UpdateFunction with the v1 or v2 method and request shape that matches the generation."""
    resource = gcp.function_resource(project.id, fn.region, fn.name)
    if fn.generation == 1:
        method = gcp.FUNCTIONS_V1 + "UpdateFunction"
        body: dict[str, object] = {
            "name": fn.resource_name,
            "runtime": RUNTIMES[1],
            "entryPoint": "main",
            "sourceArchiveUrl": f"gs://gcf-sources-{project.number}-{fn.region}/{fn.name}-"
            f"{hex_id(rng, 8)}.zip",
            "httpsTrigger": {},
            "serviceAccountEmail": fn.sa,
        }
        request_type = "type.googleapis.com/google.cloud.functions.v1.UpdateFunctionRequest"
    else:
        method = gcp.FUNCTIONS_V2 + "UpdateFunction"
        body = {
            "name": fn.resource_name,
            "buildConfig": {
                "runtime": RUNTIMES[2],
                "entryPoint": "main",
                "source": {
                    "storageSource": {
                        "bucket": f"gcf-v2-sources-{project.number}-{fn.region}",
                        "object": f"{fn.name}/function-source.zip",
                    }
                },
            },
            "serviceConfig": {"serviceAccountEmail": fn.sa, "maxInstanceCount": 100},
        }
        request_type = "type.googleapis.com/google.cloud.functions.v2.UpdateFunctionRequest"
        mask = "buildConfig.source" if mask == "sourceArchiveUrl" else mask
    body.update(changes or {})
    return Emit(
        t,
        ACTIVITY,
        gcp.entry(
            rng,
            t,
            project.id,
            "activity",
            resource,
            "cloudfunctions.googleapis.com",
            method,
            fn.resource_name,
            principal,
            ip,
            ua,
            "cloudfunctions.functions.update",
            also_checked=[(f"projects/-/serviceAccounts/{fn.sa}", "iam.serviceAccounts.actAs")],
            request={"@type": request_type, "function": body, "updateMask": mask},
            response={
                "@type": "type.googleapis.com/google.longrunning.Operation",
                "name": f"projects/{project.id}/locations/{fn.region}/operations/operation-"
                + hex_id(rng, 13),
            },
            delegation=delegation,
            location=fn.region,
        ),
    )


def update_service(
    rng: random.Random,
    t: int,
    project: Project,
    svc: GcpService,
    principal: str,
    ip: str,
    *,
    v2: bool,
    delegation: list[dict[str, object]] | None = None,
    service_account: str | None = None,
    changes: dict[str, object] | None = None,
) -> Emit:
    """A Cloud Run deploy: v2 UpdateService (deploy action) or v1 ReplaceService (gcloud).

    ``service_account`` is the identity the revision runs as (deploying it checks ``actAs``);
    ``changes`` are set on the container (resources, env).
    """
    image = f"{svc.region}-docker.pkg.dev/{project.id}/apps/{svc.name}:{hex_id(rng, 7)}"
    resource = gcp.run_resource(project.id, svc.region, svc.name)
    container: dict[str, object] = {"image": image, **(changes or {})}
    if v2:
        name = f"projects/{project.id}/locations/{svc.region}/services/{svc.name}"
        method, ua = "google.cloud.run.v2.Services.UpdateService", gcp.CI_UA
        template: dict[str, object] = {"containers": [container]}
        if service_account:
            template["serviceAccount"] = service_account
        request: dict[str, object] = {
            "@type": "type.googleapis.com/google.cloud.run.v2.UpdateServiceRequest",
            "service": {"name": name, "template": template},
        }
        response: dict[str, object] = {
            "@type": "type.googleapis.com/google.longrunning.Operation",
            "name": name,
        }
    else:
        name = f"namespaces/{project.id}/services/{svc.name}"
        method, ua = (
            "google.cloud.run.v1.Services.ReplaceService",
            gcp.GCLOUD_UA.format(cmd="run.deploy", inv=hex_id(rng, 8)),
        )
        spec: dict[str, object] = {"containers": [container]}
        if service_account:
            spec["serviceAccountName"] = service_account
        request = {
            "@type": "type.googleapis.com/google.cloud.run.v1.ReplaceServiceRequest",
            "name": name,
            "service": {
                "apiVersion": "serving.knative.dev/v1",
                "kind": "Service",
                "metadata": {"name": svc.name, "namespace": project.number},
                "spec": {"template": {"spec": spec}},
            },
        }
        response = {
            "@type": "type.googleapis.com/google.cloud.run.v1.Service",
            "apiVersion": "serving.knative.dev/v1",
            "kind": "Service",
            "metadata": {"name": svc.name, "namespace": project.number},
        }
    return Emit(
        t,
        ACTIVITY,
        gcp.entry(
            rng,
            t,
            project.id,
            "activity",
            resource,
            "run.googleapis.com",
            method,
            name,
            principal,
            ip,
            ua,
            "run.services.update",
            also_checked=[
                (f"projects/-/serviceAccounts/{service_account}", "iam.serviceAccounts.actAs")
            ]
            if service_account
            else None,
            request=request,
            response=response,
            delegation=delegation,
            location=svc.region,
        ),
    )


@dataclass(frozen=True)
class CiRun:
    """One GitHub Actions deploy job: when it started, from where, for which repository, and
    what it deployed (a function or a Cloud Run service)."""

    t: int
    ip: str
    repo: str
    target: GcpFunction | GcpService


def ci_deploys(
    seed: int, day_start: int, org: Org, project: Project, runs: list[CiRun] | None = None
) -> list[Emit]:
    """GitHub Actions deploying through Workload Identity Federation on weekday working hours.

    Each job is appended to ``runs`` (the token exchange and builds around it are made there).
    """
    if is_weekend(day_start):
        return []
    rng = derive(seed, "gcp-ci", project.id, day_start)
    runs = [] if runs is None else runs
    out = []
    for _ in range(rng.randint(1, 4)):
        t = day_start + rng.randint(7 * 3600, 17 * 3600)
        ip = rng.choice(org.ci_ips)
        repo = rng.choice(org.repos)
        delegation = gcp.wif_delegation(project.number, repo)
        if rng.random() < 0.5:
            fn = rng.choice(project.functions)
            runs.append(CiRun(t, ip, repo, fn))
            out.append(read(rng, t, project, project.deployer, ip, gcp.CI_UA, fn=fn))
            out.append(
                update_function(
                    rng,
                    t + rng.randint(3, 20),
                    project,
                    fn,
                    project.deployer,
                    ip,
                    gcp.CI_UA,
                    delegation=delegation,
                )
            )
        else:
            svc = rng.choice(project.services)
            runs.append(CiRun(t, ip, repo, svc))
            out.append(
                update_service(
                    rng,
                    t,
                    project,
                    svc,
                    project.deployer,
                    ip,
                    v2=True,
                    delegation=delegation,
                    service_account=svc.sa,
                )
            )
    return out


def read(
    rng: random.Random,
    t: int,
    project: Project,
    principal: str,
    ip: str,
    ua: str,
    *,
    fn: GcpFunction | None = None,
    svc: GcpService | None = None,
) -> Emit:
    """An admin read (data access, ADMIN_READ): get or list functions or services."""
    if fn is not None:
        method = (gcp.FUNCTIONS_V1 if fn.generation == 1 else gcp.FUNCTIONS_V2) + "GetFunction"
        return Emit(
            t,
            DATA_ACCESS,
            gcp.entry(
                rng,
                t,
                project.id,
                "data_access",
                gcp.function_resource(project.id, fn.region, fn.name),
                "cloudfunctions.googleapis.com",
                method,
                fn.resource_name,
                principal,
                ip,
                ua,
                "cloudfunctions.functions.get",
                request={"name": fn.resource_name},
                location=fn.region,
            ),
        )
    if svc is not None:
        name = f"projects/{project.id}/locations/{svc.region}/services/{svc.name}"
        return Emit(
            t,
            DATA_ACCESS,
            gcp.entry(
                rng,
                t,
                project.id,
                "data_access",
                gcp.run_resource(project.id, svc.region, svc.name),
                "run.googleapis.com",
                "google.cloud.run.v2.Services.GetService",
                name,
                principal,
                ip,
                ua,
                "run.services.get",
                request={"name": name},
                location=svc.region,
            ),
        )
    parent = f"projects/{project.id}/locations/-"
    return Emit(
        t,
        DATA_ACCESS,
        gcp.entry(
            rng,
            t,
            project.id,
            "data_access",
            gcp.function_resource(project.id, "", ""),
            "cloudfunctions.googleapis.com",
            gcp.FUNCTIONS_V2 + "ListFunctions",
            parent,
            principal,
            ip,
            ua,
            "cloudfunctions.functions.list",
            request={"parent": parent},
        ),
    )


@dataclass(frozen=True)
class Visit:
    """A person working in a project on one day: from ``t``, at ``ip``, with this agent."""

    user: str
    t: int
    ip: str
    console: bool


def people(
    seed: int, day_start: int, org: Org, project: Project, visits: list[Visit] | None = None
) -> list[Emit]:
    """Developers looking at functions and services from the console or gcloud.

    Who came is appended to ``visits`` for their other habits.
    """
    rng = derive(seed, "gcp-people", project.id, day_start)
    weekend = is_weekend(day_start)
    visits = [] if visits is None else visits
    out = []
    for user in org.gcp_users:
        if rng.random() < (0.9 if weekend else 0.4):
            continue
        t = day_start + rng.randint(7 * 3600, 17 * 3600)
        ip = (
            rng.choice(OFFICE_IPS)
            if rng.random() < 0.7
            else f"{rng.choice(HOME_NETS)}{rng.randint(1, 254)}.7"
        )
        console = rng.random() < 0.5
        visits.append(Visit(user, t, ip, console))
        ua = (
            gcp.CONSOLE_UA
            if console
            else gcp.GCLOUD_UA.format(cmd="functions.describe", inv=hex_id(rng, 8))
        )
        for _ in range(rng.randint(2, 10)):
            dt = rng.randint(0, 3 * 3600)
            pick = rng.random()
            if pick < 0.5:
                out.append(
                    read(rng, t + dt, project, user, ip, ua, fn=rng.choice(project.functions))
                )
            elif pick < 0.8:
                out.append(
                    read(rng, t + dt, project, user, ip, ua, svc=rng.choice(project.services))
                )
            else:
                out.append(read(rng, t + dt, project, user, ip, ua))
    return out
