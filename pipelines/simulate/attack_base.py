"""What an attack scenario receives (the organization, a seeded RNG, the time range) and returns."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from pipelines.simulate import aws
from pipelines.simulate.emit import Emit, aws_sink
from pipelines.simulate.ids import aws_key_id
from pipelines.simulate.org import Account, Function, Org, User

# Rented VPS and anonymizing exits: nothing the organization ever connects from.
ATTACKER_IPS = (
    "45.137.21.9",
    "185.220.101.47",
    "146.190.33.2",
    "5.188.62.11",
    "193.142.146.35",
    "89.248.165.74",
)
ATTACKER_UAS = (
    "Boto3/1.26.137 Python/3.8.10 Linux/5.4.0-150-generic Botocore/1.29.137",
    "aws-cli/1.27.0 Python/3.9.16 Linux/6.1.0-kali9-amd64 botocore/1.29.0",
    "aws-sdk-go/1.44.327 (go1.20.7; linux; amd64)",
    "python-requests/2.31.0",
)


@dataclass
class AttackContext:
    """The organization and a seeded RNG for one attack; ``when`` picks its start time."""

    org: Org
    seed: int
    rng: random.Random
    start: int  # epoch seconds of the first simulated day
    days: int
    scale: float

    def when(self, first_hour: int = 0, last_hour: int = 24) -> int:
        """A time in ``[first_hour, last_hour)`` UTC, after the first three days if days >= 5."""
        first_day = 3 if self.days >= 5 else 0
        day = self.rng.randrange(first_day, self.days)
        hour = self.rng.randrange(first_hour, last_hour)
        return self.start + day * 86400 + hour * 3600 + self.rng.randrange(3000)

    @property
    def prod(self) -> Account:
        return self.org.account("prod")

    def developer(self) -> User:
        return self.rng.choice([u for u in self.prod.users if not u.dormant])

    def attacker(self) -> tuple[str, str]:
        """An attacker's (source IP, user agent)."""
        return self.rng.choice(ATTACKER_IPS), self.rng.choice(ATTACKER_UAS)

    def session_key(self) -> str:
        return aws_key_id(self.rng, "ASIA")

    def call(
        self,
        t: int,
        ident: dict[str, Any],
        account: Account,
        source: str,
        name: str,
        ip: str,
        ua: str,
        params: dict[str, Any] | None,
        response: dict[str, Any] | None = None,
        *,
        read_only: bool = False,
        error: tuple[str, str] | None = None,
        **kw: Any,
    ) -> Emit:
        """One CloudTrail API call; global services (IAM, sign-in) are logged in us-east-1."""
        region = "us-east-1" if source in aws.GLOBAL_SOURCES else account.region
        rec = aws.record(
            self.rng,
            t,
            ident,
            source,
            name,
            region,
            ip,
            ua,
            params,
            response,
            account.id,
            read_only=read_only,
            error=error,
            **kw,
        )
        return Emit(t, aws_sink(account.id, region), rec)


@dataclass
class Injection:
    """The records of one attack instance and who it concerns, for the labels file."""

    emits: list[Emit]
    provider: str
    account: str
    principal: str
    description: str


def stolen_user(ctx: AttackContext) -> tuple[User, dict[str, Any], str, str]:
    """A developer whose access key leaked, used from the attacker's machine."""
    user = ctx.developer()
    ip, ua = ctx.attacker()
    return user, aws.iam_user(user), ip, ua


def target_function(ctx: AttackContext, account: Account | None = None) -> Function:
    """One of the account's real functions (prod by default): attackers go where the code runs."""
    return ctx.rng.choice((account or ctx.prod).functions)
