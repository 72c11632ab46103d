"""The simulated organization: accounts, projects, functions and the people and roles using them.

Built once per seed, so traffic and attacks agree on who exists: attacks reuse real function
names, roles and users, as an intruder inside a real organization would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from pipelines.simulate.ids import aws_key_id, derive, hex_id, token

FUNCTION_NAMES = (
    "billing-api",
    "orders-api",
    "checkout",
    "image-resize",
    "thumbnailer",
    "user-signup",
    "email-sender",
    "webhook-receiver",
    "search-indexer",
    "inventory-sync",
    "auth-authorizer",
    "pdf-render",
    "audit-export",
    "payments-callback",
    "notifications",
    "geo-lookup",
    "cart-service",
    "price-engine",
    "report-nightly",
    "cleanup-cron",
    "token-refresher",
    "s3-ingest",
    "feature-flags",
    "ledger-writer",
    "sms-gateway",
    "catalog-api",
)
RUNTIMES = ("python3.12", "python3.11", "nodejs20.x", "nodejs18.x", "java21", "provided.al2023")
SCHEDULES = (5, 15, 60, 1440)  # minutes between EventBridge Scheduler runs
DEVELOPERS = ("alice", "bob", "carol", "dmitri", "eve.ng")
GCP_FUNCTIONS = (
    "resize-upload",
    "pubsub-router",
    "invoice-mailer",
    "ocr-extract",
    "lead-scoring",
    "slack-notify",
    "gcs-archiver",
    "bq-loader",
)
GCP_SERVICES = ("storefront", "recommendations", "admin-portal", "graphql-gateway", "pricing")

# GitHub-hosted runners (Azure ranges), the office NAT and developers' home connections.
CI_NETS = ("20.57.", "4.175.", "52.176.", "13.64.", "20.169.", "172.183.")
OFFICE_IPS = ("198.51.100.24", "198.51.100.25")
HOME_NETS = ("84.150.", "91.64.", "176.198.", "217.82.")
AWS_SERVICE_NETS = ("3.121.", "18.184.", "52.57.", "35.159.")


@dataclass(frozen=True)
class Function:
    """A Lambda function with its execution role, secrets and how it is triggered."""

    name: str
    account: str
    region: str
    runtime: str
    role: str
    secrets: tuple[str, ...]
    params: tuple[str, ...]
    api_rate: float  # API Gateway invocations per hour at the daily peak; 0 = not behind an API
    api_id: str
    schedule: int  # minutes between scheduled runs; 0 = none
    egress_ip: str  # the address its SDK calls come from (a NAT gateway)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    @property
    def role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.role}"


@dataclass(frozen=True)
class User:
    """An IAM user: a developer with MFA, or a dormant service user nobody watches."""

    name: str
    account: str
    principal_id: str
    access_key: str
    mfa: bool
    home_ip: str
    dormant: bool = False

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.name}"


@dataclass(frozen=True)
class Account:
    """An AWS account with its functions; ``org_trail`` writes under the organization prefix."""

    name: str
    id: str
    region: str
    functions: tuple[Function, ...]
    users: tuple[User, ...]
    sso_role: str
    sso_role_id: str
    ci_role_id: str
    org_trail: bool


@dataclass(frozen=True)
class GcpFunction:
    """A Cloud Function (generation 1 or 2) and the service account it runs as."""

    name: str
    project: str
    region: str
    generation: int
    rate: float  # CallFunction audit entries per hour at peak (gen 1 only)
    secrets: tuple[str, ...]

    @property
    def sa(self) -> str:
        return f"{self.name}@{self.project}.iam.gserviceaccount.com"

    @property
    def resource_name(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/functions/{self.name}"


@dataclass(frozen=True)
class GcpService:
    """A Cloud Run service."""

    name: str
    project: str
    region: str

    @property
    def sa(self) -> str:
        """The service's own runtime service account (not the Compute Engine default)."""
        return f"{self.name}-run@{self.project}.iam.gserviceaccount.com"


@dataclass(frozen=True)
class Project:
    """A Google Cloud project with its functions, Cloud Run services and log sinks."""

    id: str
    number: str
    region: str
    functions: tuple[GcpFunction, ...]
    services: tuple[GcpService, ...]
    sinks: tuple[str, ...]

    @property
    def deployer(self) -> str:
        return f"github-deployer@{self.id}.iam.gserviceaccount.com"


@dataclass(frozen=True)
class Org:
    """Everything the traffic generators and the attacks draw names from."""

    org_id: str
    domain: str
    accounts: tuple[Account, ...]
    projects: tuple[Project, ...]
    gcp_users: tuple[str, ...]
    ci_ips: tuple[str, ...]
    repos: tuple[str, ...]
    extra: dict[str, str] = field(default_factory=dict)

    def account(self, name: str) -> Account:
        return next(a for a in self.accounts if a.name == name)


def _ip(rng: random.Random, nets: tuple[str, ...]) -> str:
    return f"{rng.choice(nets)}{rng.randint(1, 254)}.{rng.randint(1, 254)}"


def _functions(
    rng: random.Random, account: str, region: str, names: list[str]
) -> tuple[Function, ...]:
    nat = [_ip(rng, AWS_SERVICE_NETS) for _ in range(2)]
    out = []
    for i, name in enumerate(names):
        app = name.split("-")[0]
        secrets = tuple(
            f"arn:aws:secretsmanager:{region}:{account}:secret:{app}/{kind}-{token(rng, 6)}"
            for kind in rng.sample(
                ("db-credentials", "api-key", "signing-key", "oauth-client"), rng.randint(1, 2)
            )
        )
        params = tuple(
            f"/{app}/{p}"
            for p in rng.sample(("stripe-token", "smtp-password", "jwt-secret"), rng.randint(0, 1))
        )
        scheduled = i % 5 == 4
        out.append(
            Function(
                name=name,
                account=account,
                region=region,
                runtime=rng.choice(RUNTIMES),
                role=f"{name}-role",
                secrets=secrets,
                params=params,
                api_rate=0.0 if scheduled else round(rng.lognormvariate(3.8, 0.9), 1),
                api_id=token(rng, 10, "abcdefghijklmnopqrstuvwxyz0123456789"),
                schedule=rng.choice(SCHEDULES) if scheduled else 0,
                egress_ip=rng.choice(nat),
            )
        )
    return tuple(out)


def build_org(seed: int) -> Org:
    """The organization for ``seed``: three AWS accounts, two GCP projects, developers and CI."""
    rng = derive(seed, "org")
    names = list(FUNCTION_NAMES)
    rng.shuffle(names)
    split = {"prod": names[:12], "staging": names[12:20], "shared-services": names[20:26]}
    regions = {"prod": "eu-central-1", "staging": "eu-central-1", "shared-services": "eu-west-1"}
    accounts = []
    for name, fnames in split.items():
        acct = "".join(rng.choices("0123456789", k=12))
        region = regions[name]
        users: list[User] = []
        if name == "prod":
            users = [
                User(
                    dev,
                    acct,
                    aws_key_id(rng, "AIDA"),
                    aws_key_id(rng, "AKIA"),
                    True,
                    _ip(rng, HOME_NETS),
                )
                for dev in DEVELOPERS
            ]
            users.append(
                User(
                    "backup-sync",
                    acct,
                    aws_key_id(rng, "AIDA"),
                    aws_key_id(rng, "AKIA"),
                    False,
                    _ip(rng, HOME_NETS),
                    True,
                )
            )
        accounts.append(
            Account(
                name=name,
                id=acct,
                region=region,
                functions=_functions(rng, acct, region, fnames),
                users=tuple(users),
                sso_role=f"AWSReservedSSO_Developer_{hex_id(rng, 16)}",
                sso_role_id=aws_key_id(rng, "AROA"),
                ci_role_id=aws_key_id(rng, "AROA"),
                org_trail=name == "staging",
            )
        )
    projects = []
    gnames = list(GCP_FUNCTIONS)
    snames = list(GCP_SERVICES)
    for pid, fn_slice, svc_slice in (
        ("acme-prod", gnames[:5], snames[:3]),
        ("acme-data", gnames[5:], snames[3:]),
    ):
        project = f"{pid}-{token(rng, 6, '0123456789abcdef')}"
        region = "europe-west3" if pid == "acme-prod" else "us-central1"
        fns = tuple(
            GcpFunction(
                name=f,
                project=project,
                region=region,
                generation=1 if i % 2 == 0 else 2,
                rate=round(rng.lognormvariate(3.2, 0.7), 1),
                secrets=tuple(rng.sample(("db-password", "api-token", "hmac-key", "smtp-pass"), 2)),
            )
            for i, f in enumerate(fn_slice)
        )
        svcs = tuple(GcpService(s, project, region) for s in svc_slice)
        projects.append(
            Project(
                project,
                "".join(rng.choices("0123456789", k=12)),
                region,
                fns,
                svcs,
                ("audit-to-gcs", "siem-export"),
            )
        )
    return Org(
        org_id=f"o-{token(rng, 10, 'abcdefghijklmnopqrstuvwxyz0123456789')}",
        domain="acme.io",
        accounts=tuple(accounts),
        projects=tuple(projects),
        gcp_users=tuple(f"{d.split('.')[0]}@acme.io" for d in DEVELOPERS),
        ci_ips=tuple(_ip(rng, CI_NETS) for _ in range(40)),
        repos=("acme/payments", "acme/storefront", "acme/platform", "acme/media"),
    )
