"""The cloud resources around the functions: keys, buckets, networks, pipelines and topics.

Control-plane traffic needs names that stay the same all week (the KMS key a secret is
encrypted with, the bucket a function writes to, the state machine CI updates). They are
derived from the seed and the organization on their own RNG streams, so ``build_org`` and every
stream drawn before them keep their values.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.simulate.ids import aws_key_id, derive, hex_id, uuid4
from pipelines.simulate.org import Account, GcpFunction, Project

# Functions that read or write objects, and the bucket (by purpose) each one uses.
S3_FUNCTIONS: dict[str, tuple[str, str]] = {
    # name: (purpose of its bucket, what it does there: "read", "write" or "both")
    "image-resize": ("uploads", "both"),
    "thumbnailer": ("uploads", "both"),
    "s3-ingest": ("uploads", "read"),
    "pdf-render": ("reports", "write"),
    "report-nightly": ("reports", "write"),
    "audit-export": ("exports", "write"),
}
BUCKET_PURPOSES = ("uploads", "reports", "exports", "artifacts")
STATE_MACHINES = {
    "prod": ("order-fulfilment", "nightly-reports"),
    "staging": ("order-fulfilment",),
    "shared-services": ("image-pipeline",),
}
ECR_REPOS = ("pdf-render", "report-worker", "ocr-runtime")
GCS_FUNCTIONS: dict[str, str] = {
    # Cloud Functions that read (r) and write (w) objects in their project's buckets.
    "resize-upload": "rw",
    "ocr-extract": "r",
    "gcs-archiver": "rw",
    "bq-loader": "r",
}
TOPICS = ("orders", "invoices", "events", "archive-trigger")


@dataclass(frozen=True)
class Bucket:
    name: str
    region: str
    purpose: str

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.name}"


@dataclass(frozen=True)
class AwsInfra:
    """What an AWS account holds besides its functions, and the service roles acting in it."""

    account: Account
    kms_key_id: str
    secrets_key_id: str  # AWS managed aws/secretsmanager
    ssm_key_id: str  # AWS managed aws/ssm
    buckets: tuple[Bucket, ...]
    vpc_id: str
    sg_lambda: str
    sg_db: str
    state_machines: tuple[str, ...]
    policies: tuple[str, ...]  # customer managed policy names
    ecr_repos: tuple[str, ...]
    terraform_role_id: str
    config_role_id: str
    securityhub_role_id: str

    def key_arn(self, key_id: str | None = None) -> str:
        acct = self.account
        return f"arn:aws:kms:{acct.region}:{acct.id}:key/{key_id or self.kms_key_id}"

    def bucket(self, purpose: str) -> Bucket:
        return next(b for b in self.buckets if b.purpose == purpose)

    def state_machine_arn(self, name: str) -> str:
        acct = self.account
        return f"arn:aws:states:{acct.region}:{acct.id}:stateMachine:{name}"

    def policy_arn(self, name: str) -> str:
        return f"arn:aws:iam::{self.account.id}:policy/{name}"

    @property
    def terraform_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account.id}:role/terraform"


@dataclass(frozen=True)
class GcpInfra:
    """What a Google Cloud project holds besides its functions and services."""

    project: Project
    buckets: tuple[str, ...]  # uploads, exports
    topics: tuple[str, ...]
    sa_ids: dict[str, str]  # service account email -> numeric unique id
    pool: str  # workload identity pool provider resource name

    @property
    def builder(self) -> str:
        """The service account Cloud Build runs CI's builds as (not the default one)."""
        return f"cloud-builder@{self.project.id}.iam.gserviceaccount.com"

    def topic(self, name: str) -> str:
        return f"projects/{self.project.id}/topics/{name}"


def gcs_functions(project: Project) -> list[GcpFunction]:
    return [fn for fn in project.functions if fn.name in GCS_FUNCTIONS]


def _aws_infra(seed: int, account: Account) -> AwsInfra:
    rng = derive(seed, "infra", account.id)
    apps = sorted({fn.name.split("-")[0] for fn in account.functions})
    return AwsInfra(
        account=account,
        kms_key_id=uuid4(rng),
        secrets_key_id=uuid4(rng),
        ssm_key_id=uuid4(rng),
        buckets=tuple(
            Bucket(f"acme-{account.name}-{purpose}-{account.id[-4:]}", account.region, purpose)
            for purpose in BUCKET_PURPOSES
        ),
        vpc_id=f"vpc-{hex_id(rng, 17)}",
        sg_lambda=f"sg-{hex_id(rng, 17)}",
        sg_db=f"sg-{hex_id(rng, 17)}",
        state_machines=STATE_MACHINES.get(account.name, ()),
        policies=tuple(f"{app}-read-config" for app in rng.sample(apps, min(3, len(apps)))),
        ecr_repos=ECR_REPOS if account.name == "shared-services" else (),
        terraform_role_id=aws_key_id(rng, "AROA"),
        config_role_id=aws_key_id(rng, "AROA"),
        securityhub_role_id=aws_key_id(rng, "AROA"),
    )


def _gcp_infra(seed: int, project: Project) -> GcpInfra:
    rng = derive(seed, "gcp-infra", project.id)
    accounts = [project.deployer, *(fn.sa for fn in project.functions)]
    accounts += [svc.sa for svc in project.services]
    accounts.append(f"cloud-builder@{project.id}.iam.gserviceaccount.com")
    return GcpInfra(
        project=project,
        buckets=(f"{project.id}-uploads", f"{project.id}-exports"),
        topics=TOPICS,
        sa_ids={sa: "1" + "".join(rng.choices("0123456789", k=20)) for sa in accounts},
        pool=f"projects/{project.number}/locations/global/workloadIdentityPools/github"
        "/providers/github-actions",
    )


def aws_infra(seed: int, account: Account) -> AwsInfra:
    """The account's resources (cheap to rebuild: a few draws from its own stream)."""
    return _aws_infra(seed, account)


def gcp_infra(seed: int, project: Project) -> GcpInfra:
    return _gcp_infra(seed, project)
