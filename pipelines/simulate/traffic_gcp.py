"""One day of ordinary Google Cloud traffic: calls, secret access, CI deploys with the token
minting and builds around them, object and Pub/Sub traffic, people reading and their habits."""

from __future__ import annotations

import random
from collections.abc import Iterator

from pipelines.simulate import gcp
from pipelines.simulate.emit import Emit, gcp_sink, rhythm_times
from pipelines.simulate.ids import derive, derive_np
from pipelines.simulate.infra import gcp_infra
from pipelines.simulate.org import GcpFunction, Org, Project
from pipelines.simulate.traffic_gcp_admin import routine_admin
from pipelines.simulate.traffic_gcp_control import control_day
from pipelines.simulate.traffic_gcp_people import CiRun, Visit, ci_deploys, people

ACTIVITY = gcp_sink("activity")
DATA_ACCESS = gcp_sink("data_access")
ACCESS_REQUEST = "type.googleapis.com/google.cloud.secretmanager.v1.AccessSecretVersionRequest"
RUNTIMES = {1: "python311", 2: "python312"}


def _serverless_ip(rng: random.Random) -> str:
    return f"35.{rng.choice((187, 203, 228, 242))}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def calls(seed: int, day_start: int, project: Project, fn: GcpFunction, scale: float) -> list[Emit]:
    """Pub/Sub pushing to a gen-1 function through the CallFunction API (data access)."""
    rng = derive(seed, "gcp-call", fn.resource_name, day_start)
    times = rhythm_times(
        derive_np(seed, "gcp-call", fn.resource_name, day_start),
        day_start,
        fn.rate * scale,
        floor=0.1,
    )
    principal = f"service-{project.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
    resource = gcp.function_resource(project.id, fn.region, fn.name)
    return [
        Emit(
            t,
            DATA_ACCESS,
            gcp.entry(
                rng,
                t,
                project.id,
                "data_access",
                resource,
                "cloudfunctions.googleapis.com",
                gcp.FUNCTIONS_V1 + "CallFunction",
                fn.resource_name,
                principal,
                "private",
                GCP_PUBSUB_UA,
                "cloudfunctions.functions.call",
                request={
                    "@type": "type.googleapis.com/google.cloud.functions.v1.CallFunctionRequest",
                    "name": fn.resource_name,
                },
            ),
        )
        for t in times
    ]


GCP_PUBSUB_UA = "Google-Cloud-Pub/Sub-Push,gzip(gfe)"


def secret_access(
    seed: int,
    day_start: int,
    project: Project,
    fn: GcpFunction,
    scale: float,
    *,
    denied: str | None = None,
) -> list[Emit]:
    """The function's service account reading its secrets on cold starts (data access)."""
    rng = derive(seed, "gcp-secret", fn.resource_name, day_start)
    times = rhythm_times(
        derive_np(seed, "gcp-secret", fn.resource_name, day_start),
        day_start,
        3.0 * scale,
        floor=0.3,
    )
    resource = gcp.audited_resource(
        project.id, "secretmanager.googleapis.com", gcp.SECRETS + "AccessSecretVersion"
    )
    ua = gcp.CLIENT_UA if fn.generation == 1 else gcp.GO_CLIENT_UA
    out = []
    for t in times:
        secret = denied if denied and rng.random() < 0.3 else rng.choice(fn.secrets)
        name = f"projects/{project.number}/secrets/{secret}/versions/latest"
        status = gcp.denied("secretmanager.versions.access", name) if secret == denied else None
        out.append(
            Emit(
                t,
                DATA_ACCESS,
                gcp.entry(
                    rng,
                    t,
                    project.id,
                    "data_access",
                    resource,
                    "secretmanager.googleapis.com",
                    gcp.SECRETS + "AccessSecretVersion",
                    name,
                    fn.sa,
                    _serverless_ip(rng),
                    ua,
                    "secretmanager.versions.access",
                    request={
                        "@type": ACCESS_REQUEST,
                        "name": name,
                    },
                    status=status,
                    location=project.region,
                ),
            )
        )
    return out


def gcp_day(seed: int, org: Org, day_start: int, scale: float) -> Iterator[Emit]:
    """All ordinary Google Cloud traffic of one UTC day."""
    for project in org.projects:
        for i, fn in enumerate(project.functions):
            if fn.generation == 1:
                yield from calls(seed, day_start, project, fn, scale)
            denied = "billing-export-key" if project is org.projects[-1] and i == 0 else None
            yield from secret_access(seed, day_start, project, fn, scale, denied=denied)
        runs: list[CiRun] = []
        yield from ci_deploys(seed, day_start, org, project, runs)
        visits: list[Visit] = []
        yield from people(seed, day_start, org, project, visits)
        yield from control_day(seed, day_start, gcp_infra(seed, project), runs, scale)
        yield from routine_admin(seed, day_start, project, visits)
