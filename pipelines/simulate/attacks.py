"""The one registry of attack scenarios (``--attack NAME``), and how an instance becomes a label.

Each scenario is a small function ``(AttackContext) -> Injection`` in ``attacks_aws``,
``attacks_gcp`` or ``attacks_anomaly``; this module names it, says whether a rule should catch it
(``rule``) or only an anomaly model (``anomaly``), and turns its records into a label line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from pipelines.simulate import attacks_anomaly as an
from pipelines.simulate import attacks_gcp as gc
from pipelines.simulate import attacks_identity as idn
from pipelines.simulate import attacks_lambda as lam
from pipelines.simulate.attack_base import AttackContext, Injection
from pipelines.simulate.emit import Emit
from pipelines.simulate.ids import aws_time, derive
from pipelines.simulate.org import Org

Kind = Literal["rule", "anomaly"]


@dataclass(frozen=True)
class Attack:
    """A registered scenario: whether a rule or an anomaly model should find it, and what it is."""

    kind: Kind
    description: str
    run: Callable[[AttackContext], Injection]


@dataclass(frozen=True)
class Label:
    """One injected attack instance, as a line of ``labels.jsonl``."""

    scenario: str
    provider: str
    account: str
    principal: str
    start: str
    end: str
    event_ids: list[str]
    kind: Kind
    description: str


ATTACKS: dict[str, Attack] = {
    "public-lambda": Attack(
        "rule", "AddPermission with principal * and no SourceArn/SourceAccount", lam.public_lambda
    ),
    "public-function-url": Attack(
        "rule", "CreateFunctionUrlConfig with authType NONE", lam.public_function_url
    ),
    "gcp-public-function": Attack(
        "rule",
        "Cloud Functions SetIamPolicy granting allUsers the invoker role",
        gc.gcp_public_function,
    ),
    "foreign-layer": Attack(
        "rule",
        "UpdateFunctionConfiguration adding a layer from a foreign account",
        lam.foreign_layer,
    ),
    "human-code-change": Attack(
        "rule", "UpdateFunctionCode by an IAM user instead of the CI role", lam.human_code_change
    ),
    "stop-logging": Attack(
        "rule", "CloudTrail StopLogging (and maybe DeleteTrail) by a stolen key", idn.stop_logging
    ),
    "gcp-sink-deleted": Attack("rule", "Logging DeleteSink", gc.gcp_sink_deleted),
    "secrets-harvest": Attack(
        "rule", "GetSecretValue on 30+ distinct secrets within minutes", idn.secrets_harvest
    ),
    "console-no-mfa": Attack(
        "rule", "ConsoleLogin without MFA by a user who always uses MFA", idn.console_no_mfa
    ),
    "root-login": Attack("rule", "root ConsoleLogin followed by API calls as root", idn.root_login),
    "login-bruteforce": Attack(
        "rule", "20+ failed ConsoleLogin then a success", idn.login_bruteforce
    ),
    "access-denied-burst": Attack(
        "rule", "40+ AccessDenied across many APIs from one principal", idn.access_denied_burst
    ),
    "denied-few-apis": Attack(
        "rule",
        "~30 AccessDenied over 6 APIs in minutes from a leaked user key",
        idn.denied_few_apis,
    ),
    "denied-resource-sweep": Attack(
        "rule",
        "a function role's stolen key refused GetFunction on 25+ functions in seconds",
        idn.denied_resource_sweep,
    ),
    "admin-policy-attached": Attack(
        "rule", "AttachUserPolicy/AttachRolePolicy AdministratorAccess", idn.admin_policy_attached
    ),
    "passrole-lambda-escalation": Attack(
        "rule",
        "CreateFunction passing a privileged role, then Invoke and a URL",
        lam.passrole_lambda_escalation,
    ),
    "gcp-sa-key": Attack("rule", "CreateServiceAccountKey by a user", gc.gcp_sa_key),
    "gcp-owner-grant": Attack(
        "rule",
        "project SetIamPolicy granting roles/owner to an external account",
        gc.gcp_owner_grant,
    ),
    "denial-of-wallet-config": Attack(
        "rule",
        "UpdateFunctionConfiguration to Timeout 900 and MemorySize 10240",
        lam.denial_of_wallet_config,
    ),
    "concurrency-zero": Attack(
        "rule", "PutFunctionConcurrency with ReservedConcurrentExecutions 0", lam.concurrency_zero
    ),
    "stolen-ci-keys": Attack(
        "anomaly", "CI role session from a new VPS IP and user agent at 03:00", an.stolen_ci_keys
    ),
    "dormant-user-secrets": Attack(
        "anomaly", "a user silent for all prior days reads secrets", an.dormant_user_secrets
    ),
    "invocation-flood": Attack(
        "anomaly", "one function invoked ~50x its usual rate for an hour", an.invocation_flood
    ),
    "recon-sweep": Attack(
        "anomaly", "List/Describe/Get calls sweeping 10+ services", an.recon_sweep
    ),
}


class UnknownAttack(ValueError):
    """An attack name not in ``ATTACKS``; the message lists the valid names."""

    def __init__(self, names: Sequence[str]) -> None:
        super().__init__(f"unknown attack {', '.join(names)}; valid: all, {', '.join(ATTACKS)}")
        self.names = list(names)


def resolve(names: Sequence[str]) -> list[str]:
    """Expand ``all`` and check the names, keeping registry order and dropping repeats."""
    wanted = set(names)
    if "all" in wanted:
        return list(ATTACKS)
    unknown = sorted(wanted - ATTACKS.keys())
    if unknown:
        raise UnknownAttack(unknown)
    return [n for n in ATTACKS if n in wanted]


def event_id(emit: Emit) -> str:
    """The id a normalizer gives this record: CloudTrail ``eventID`` or LogEntry ``insertId``."""
    rec = emit.record
    return str(rec["eventID"] if emit.sink[0] == "aws" else rec["insertId"])


def inject(
    org: Org, seed: int, names: Sequence[str], start: int, days: int, scale: float
) -> tuple[list[Emit], list[Label]]:
    """Run each named scenario once with its own seeded RNG; return its records and labels."""
    emits: list[Emit] = []
    labels: list[Label] = []
    for name in resolve(names):
        attack = ATTACKS[name]
        ctx = AttackContext(org, seed, derive(seed, "attack", name), start, days, scale)
        inj = attack.run(ctx)
        times = [e.t for e in inj.emits]
        labels.append(
            Label(
                name,
                inj.provider,
                inj.account,
                inj.principal,
                aws_time(min(times)),
                aws_time(max(times)),
                [event_id(e) for e in inj.emits],
                attack.kind,
                inj.description,
            )
        )
        emits.extend(inj.emits)
    labels.sort(key=lambda lb: (lb.start, lb.scenario))
    return emits, labels
