"""Suppressions as plain functions over a Session, and the matching the alert store applies."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from detectors.alert import Alert
from service.db import utcnow
from service.query import Order, Page, paginate
from service.suppressions.models import SuppressionRow

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SuppressionNotFound(LookupError):
    """No suppression with that id."""


@dataclass(frozen=True)
class SuppressionSpec:
    """What a suppression matches; at least one criterion must be given."""

    reason: str
    rule_id: str | None = None
    principal: str | None = None
    resource: str | None = None
    source_cidr: str | None = None
    expires_at: datetime | None = None


def parse_cidr(value: str) -> IPNetwork:
    """A network from ``10.0.0.0/8`` or a single address; ValueError names the bad text."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        raise ValueError(f"source_cidr {value!r} is not an IP address or CIDR network") from None


def create_suppression(session: Session, spec: SuppressionSpec, *, creator: str) -> SuppressionRow:
    """Store a suppression; new alerts that match it are kept with status ``suppressed``."""
    if not any((spec.rule_id, spec.principal, spec.resource, spec.source_cidr)):
        raise ValueError("a suppression needs rule_id, principal, resource or source_cidr")
    cidr = str(parse_cidr(spec.source_cidr)) if spec.source_cidr else None
    row = SuppressionRow(
        id=str(uuid.uuid4()),
        rule_id=spec.rule_id,
        principal=spec.principal,
        resource=spec.resource,
        source_cidr=cidr,
        reason=spec.reason,
        created_by=creator,
        created_at=utcnow(),
        expires_at=spec.expires_at,
    )
    session.add(row)
    session.flush()
    return row


def get_suppression(session: Session, suppression_id: str) -> SuppressionRow:
    row = session.get(SuppressionRow, suppression_id)
    if row is None:
        raise SuppressionNotFound(suppression_id)
    return row


def delete_suppression(session: Session, suppression_id: str) -> None:
    session.delete(get_suppression(session, suppression_id))
    session.flush()


def list_suppressions(
    session: Session, *, active_only: bool = False, limit: int = 100, cursor: str | None = None
) -> Page[SuppressionRow]:
    """Newest first."""
    stmt = select(SuppressionRow)
    if active_only:
        stmt = stmt.where(
            or_(SuppressionRow.expires_at.is_(None), SuppressionRow.expires_at > utcnow())
        )
    order = [Order(SuppressionRow.created_at), Order(SuppressionRow.id)]
    return paginate(session, stmt, order, limit=limit, cursor=cursor)


@dataclass(frozen=True)
class ActiveSuppression:
    """A suppression ready to test alerts against (CIDR parsed once)."""

    id: str
    rule_id: str | None
    principal: str | None
    resource: str | None
    network: IPNetwork | None

    def matches(self, alert: Alert) -> bool:
        """Every criterion set must hold; the IP is read from the alert's evidence sample."""
        if self.rule_id is not None and alert.rule_id != self.rule_id:
            return False
        if self.principal is not None and alert.principal != self.principal:
            return False
        if self.resource is not None and alert.resource != self.resource:
            return False
        if self.network is not None:
            return any(_in(self.network, ip) for ip in _source_ips(alert))
        return True


def active_suppressions(session: Session, now: datetime | None = None) -> list[ActiveSuppression]:
    """The suppressions in force at ``now``."""
    now = now or utcnow()
    stmt = select(SuppressionRow).where(
        or_(SuppressionRow.expires_at.is_(None), SuppressionRow.expires_at > now)
    )
    return [
        ActiveSuppression(
            id=row.id,
            rule_id=row.rule_id,
            principal=row.principal,
            resource=row.resource,
            network=parse_cidr(row.source_cidr) if row.source_cidr else None,
        )
        for row in session.scalars(stmt)
    ]


def _source_ips(alert: Alert) -> Iterable[str]:
    for record in alert.evidence.sample:
        value = record.get("source_ip") if isinstance(record, dict) else None
        if isinstance(value, str):
            yield value


def _in(network: IPNetwork, text: str) -> bool:
    try:
        return ipaddress.ip_address(text.strip()) in network
    except ValueError:
        return False  # AWS puts service names ("lambda.amazonaws.com") where an IP would be
