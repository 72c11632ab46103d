"""Google Cloud's control plane around the functions, as Cloud Audit Logs record it.

- each CI job's credentials: the GitHub OIDC token exchanged at STS for a federated token, then
  ``GenerateAccessToken`` for the deployer service account (Workload Identity Federation; both
  Data Access, ADMIN_READ, logged under a ``principalSubject`` and no email);
- Cloud Build: CI's image builds (run as a dedicated builder account) before a Cloud Run deploy,
  and the builds the Cloud Functions service agent starts for a 2nd gen function;
- the deploy action checking that the APIs it needs are enabled (``serviceusage`` reads);
- functions reading and writing objects (``storage.objects.get`` / ``create``, Data Access) and
  publishing to Pub/Sub topics, scaled with ``--scale``;
- Cloud Scheduler jobs publishing to topics on their schedule.
"""

from __future__ import annotations

import random

from pipelines.simulate import gcp
from pipelines.simulate.emit import Emit, gcp_sink, rhythm_times
from pipelines.simulate.ids import derive, derive_np, hex_id, token, uuid4
from pipelines.simulate.infra import GCS_FUNCTIONS, GcpInfra, gcs_functions
from pipelines.simulate.org import GcpFunction, GcpService, Project
from pipelines.simulate.traffic_gcp_people import CiRun

ACTIVITY = gcp_sink("activity")
DATA_ACCESS = gcp_sink("data_access")
STS = "google.identity.sts.v1.SecurityTokenService.ExchangeToken"
CREATE_BUILD = "google.devtools.cloudbuild.v1.CloudBuild.CreateBuild"
SERVICE_USAGE = "google.api.serviceusage.v1.ServiceUsage."
PUBLISH = "google.pubsub.v1.Publisher.Publish"
AUTH_UA = "google-github-actions:auth/2.1.3 google-api-nodejs-client/9.7.0 (gzip),gzip(gfe)"
STORAGE_UA = "gcloud-python/2.16.0 gl-python/3.11.9 grpc/1.62.2 gax/2.19.0 gccl/2.16.0,gzip(gfe)"
PUBSUB_UA = "grpc-python/1.62.2 grpc-c/39.0.0 (linux; chttp2),gzip(gfe)"
OBJECTS_PEAK_PER_HOUR = 2.0
PUBLISH_PEAK_PER_HOUR = 2.0
PUBLISHERS = {"pubsub-router": "events", "invoice-mailer": "invoices", "lead-scoring": "events"}
SCHEDULES = (("hourly-sync", 60, "events"), ("nightly-archive", 1440, "archive-trigger"))


def _serverless_ip(rng: random.Random) -> str:
    return f"35.{rng.choice((187, 203, 228, 242))}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def wif_subject(project: Project, repo: str) -> str:
    """The federated principal of a GitHub Actions job in the project's ``github`` pool."""
    return (
        f"principal://iam.googleapis.com/projects/{project.number}/locations/global/"
        f"workloadIdentityPools/github/subject/repo:{repo}:ref:refs/heads/main"
    )


def token_minting(rng: random.Random, run: CiRun, infra: GcpInfra) -> list[Emit]:
    """The job's OIDC token exchanged at STS, then an access token for the deployer account."""
    project = infra.project
    t = run.t - rng.randint(12, 40)
    subject = f"repo:{run.repo}:ref:refs/heads/main"
    exchange = gcp.entry(
        rng,
        t,
        project.id,
        "data_access",
        gcp.audited_resource(project.id, "sts.googleapis.com", STS),
        "sts.googleapis.com",
        STS,
        infra.pool,
        "",
        run.ip,
        AUTH_UA,
        None,
        subject=subject,
        request={
            "@type": "type.googleapis.com/google.identity.sts.v1.ExchangeTokenRequest",
            "audience": f"//iam.googleapis.com/{infra.pool}",
            "grantType": "urn:ietf:params:oauth:grant-type:token-exchange",
            "requestedTokenType": "urn:ietf:params:oauth:token-type:access_token",
            "subjectTokenType": "urn:ietf:params:oauth:token-type:jwt",
            "scope": "https://www.googleapis.com/auth/cloud-platform",
        },
        metadata={
            "@type": "type.googleapis.com/google.identity.sts.v1.ExchangeTokenMetadata",
            "mapped_principal": wif_subject(project, run.repo),
        },
    )
    deployer = project.deployer
    uid = infra.sa_ids[deployer]
    at = t + rng.randint(1, 4)
    mint = gcp.entry(
        rng,
        at,
        project.id,
        "data_access",
        {
            "type": "service_account",
            "labels": {"email_id": deployer, "project_id": project.id, "unique_id": uid},
        },
        "iamcredentials.googleapis.com",
        "GenerateAccessToken",
        f"projects/-/serviceAccounts/{uid}",
        "",
        run.ip,
        AUTH_UA,
        "iam.serviceAccounts.getAccessToken",
        subject=wif_subject(project, run.repo),
        request={
            "@type": "type.googleapis.com/google.iam.credentials.v1.GenerateAccessTokenRequest",
            "name": f"projects/-/serviceAccounts/{deployer}",
        },
        metadata={"identityDelegationChain": [f"projects/-/serviceAccounts/{deployer}"]},
    )
    return [Emit(t, DATA_ACCESS, exchange), Emit(at, DATA_ACCESS, mint)]


def service_checks(rng: random.Random, run: CiRun, infra: GcpInfra) -> list[Emit]:
    """The deploy action checking the APIs it needs are enabled (serviceusage GetService)."""
    project = infra.project
    api = (
        "run.googleapis.com"
        if isinstance(run.target, GcpService)
        else ("cloudfunctions.googleapis.com")
    )
    name = f"projects/{project.number}/services/{api}"
    t = run.t - rng.randint(3, 10)
    return [
        Emit(
            t,
            DATA_ACCESS,
            gcp.entry(
                rng,
                t,
                project.id,
                "data_access",
                gcp.audited_resource(
                    project.id, "serviceusage.googleapis.com", SERVICE_USAGE + "GetService"
                ),
                "serviceusage.googleapis.com",
                SERVICE_USAGE + "GetService",
                name,
                project.deployer,
                run.ip,
                gcp.CI_UA,
                "serviceusage.services.get",
                request={
                    "@type": "type.googleapis.com/google.api.serviceusage.v1.GetServiceRequest",
                    "name": name,
                },
                delegation=gcp.wif_delegation(project.number, run.repo),
            ),
        )
    ]


def build(
    rng: random.Random,
    t: int,
    infra: GcpInfra,
    principal: str,
    ip: str,
    ua: str,
    image: str,
    *,
    region: str,
    delegation: list[gcp.Entry] | None = None,
    run_as: str | None = None,
) -> Emit:
    """A Cloud Build ``CreateBuild``: a docker build of ``image`` running as ``run_as``."""
    project = infra.project
    build_id = uuid4(rng)
    body: gcp.Entry = {
        "steps": [{"name": "gcr.io/cloud-builders/docker", "args": ["build", "-t", image, "."]}],
        "images": [image],
        "options": {"logging": "CLOUD_LOGGING_ONLY"},
    }
    checked = None
    if run_as:
        body["serviceAccount"] = f"projects/{project.id}/serviceAccounts/{run_as}"
        checked = [(f"projects/-/serviceAccounts/{run_as}", "iam.serviceAccounts.actAs")]
    name = f"projects/{project.id}/locations/{region}/builds/{build_id}"
    return Emit(
        t,
        ACTIVITY,
        gcp.entry(
            rng,
            t,
            project.id,
            "activity",
            {
                "type": "build",
                "labels": {"build_id": build_id, "build_trigger_id": "", "project_id": project.id},
            },
            "cloudbuild.googleapis.com",
            CREATE_BUILD,
            name,
            principal,
            ip,
            ua,
            "cloudbuild.builds.create",
            also_checked=checked,
            request={
                "@type": "type.googleapis.com/google.devtools.cloudbuild.v1.CreateBuildRequest",
                "parent": f"projects/{project.id}/locations/{region}",
                "projectId": project.id,
                "build": body,
            },
            response={
                "@type": "type.googleapis.com/google.longrunning.Operation",
                "name": f"projects/{project.number}/locations/{region}/operations/"
                + token(rng, 44, "abcdefghijklmnopqrstuvwxyz0123456789"),
            },
            delegation=delegation,
            location=region,
        ),
    )


def ci_surroundings(seed: int, day_start: int, infra: GcpInfra, runs: list[CiRun]) -> list[Emit]:
    """What happens around each CI deploy job: credentials, API checks and builds."""
    project = infra.project
    rng = derive(seed, "gcp-ci-around", project.id, day_start)
    out: list[Emit] = []
    for run in runs:
        out += token_minting(rng, run, infra)
        out += service_checks(rng, run, infra)
        target = run.target
        if isinstance(target, GcpService):
            image = f"{target.region}-docker.pkg.dev/{project.id}/apps/{target.name}:" + hex_id(
                rng, 7
            )
            out.append(
                build(
                    rng,
                    run.t - rng.randint(120, 400),
                    infra,
                    project.deployer,
                    run.ip,
                    gcp.CI_UA,
                    image,
                    region=target.region,
                    delegation=gcp.wif_delegation(project.number, run.repo),
                    run_as=infra.builder,
                )
            )
        elif target.generation == 2:
            out.append(_function_build(rng, run.t + rng.randint(5, 30), infra, target))
    return out


def _function_build(rng: random.Random, t: int, infra: GcpInfra, fn: GcpFunction) -> Emit:
    """The build the Cloud Functions service agent starts for a 2nd gen function's new source."""
    project = infra.project
    agent = f"service-{project.number}@gcf-admin-robot.iam.gserviceaccount.com"
    # Artifact Registry's name for a function image: dashes doubled, the region's underscored.
    parts = (project.id.replace("-", "--"), fn.region.replace("-", "_"), fn.name.replace("-", "--"))
    image = f"{fn.region}-docker.pkg.dev/{project.id}/gcf-artifacts/{'__'.join(parts)}:version_1"
    return build(
        rng, t, infra, agent, "private", "Cloud Functions,gzip(gfe)", image, region=fn.region
    )


def object_calls(
    seed: int, day_start: int, infra: GcpInfra, fn: GcpFunction, scale: float
) -> list[Emit]:
    """A function's object reads and writes in its project's buckets (Data Access)."""
    rng = derive(seed, "gcs", fn.resource_name, day_start)
    times = rhythm_times(
        derive_np(seed, "gcs", fn.resource_name, day_start),
        day_start,
        OBJECTS_PEAK_PER_HOUR * scale,
        floor=0.1,
    )
    uploads, exports = infra.buckets
    modes = GCS_FUNCTIONS[fn.name]
    out = []
    for t in times:
        if "r" in modes:
            out.append(_object(rng, t, infra, fn, uploads, f"incoming/{uuid4(rng)}.png", False))
        if "w" in modes:
            at = t + rng.randint(1, 5)
            out.append(_object(rng, at, infra, fn, exports, f"out/{hex_id(rng, 16)}.json", True))
    return out


def _object(
    rng: random.Random,
    t: int,
    infra: GcpInfra,
    fn: GcpFunction,
    bucket: str,
    name: str,
    write: bool,
) -> Emit:
    project = infra.project
    method = "storage.objects.create" if write else "storage.objects.get"
    resource_name = f"projects/_/buckets/{bucket}/objects/{name}"
    return Emit(
        t,
        DATA_ACCESS,
        gcp.entry(
            rng,
            t,
            project.id,
            "data_access",
            {
                "type": "gcs_bucket",
                "labels": {"bucket_name": bucket, "location": fn.region, "project_id": project.id},
            },
            "storage.googleapis.com",
            method,
            resource_name,
            fn.sa,
            _serverless_ip(rng),
            STORAGE_UA,
            method,
            location=fn.region,
        ),
    )


def _publish(
    rng: random.Random, t: int, infra: GcpInfra, topic: str, principal: str, ua: str, ip: str
) -> Emit:
    project = infra.project
    name = infra.topic(topic)
    return Emit(
        t,
        DATA_ACCESS,
        gcp.entry(
            rng,
            t,
            project.id,
            "data_access",
            {"type": "pubsub_topic", "labels": {"project_id": project.id, "topic_id": topic}},
            "pubsub.googleapis.com",
            PUBLISH,
            name,
            principal,
            ip,
            ua,
            "pubsub.topics.publish",
            request={
                "@type": "type.googleapis.com/google.pubsub.v1.PublishRequest",
                "topic": name,
            },
        ),
    )


def publishes(seed: int, day_start: int, infra: GcpInfra, scale: float) -> list[Emit]:
    """Functions publishing events; Cloud Scheduler publishing on its jobs' schedules."""
    project = infra.project
    rng = derive(seed, "gcp-publish", project.id, day_start)
    out = []
    for fn in project.functions:
        topic = PUBLISHERS.get(fn.name)
        if topic is None:
            continue
        times = rhythm_times(
            derive_np(seed, "gcp-publish", fn.resource_name, day_start),
            day_start,
            PUBLISH_PEAK_PER_HOUR * scale,
            floor=0.1,
        )
        out += [
            _publish(rng, t, infra, topic, fn.sa, PUBSUB_UA, _serverless_ip(rng)) for t in times
        ]
    agent = f"service-{project.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
    for job, minutes, topic in SCHEDULES:
        offset = derive(seed, "scheduler-offset", project.id, job).randrange(min(minutes, 60) * 60)
        for t in range(day_start + offset, day_start + 86400, minutes * 60):
            out.append(_publish(rng, t, infra, topic, agent, "Google-Cloud-Scheduler", "private"))
    return out


def control_day(
    seed: int, day_start: int, infra: GcpInfra, runs: list[CiRun], scale: float
) -> list[Emit]:
    """The project's control-plane traffic of one day around the given CI jobs."""
    out = ci_surroundings(seed, day_start, infra, runs)
    for fn in gcs_functions(infra.project):
        out += object_calls(seed, day_start, infra, fn, scale)
    out += publishes(seed, day_start, infra, scale)
    return out
