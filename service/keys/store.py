"""API keys: ``ft_<prefix>_<secret>``, shown once, stored as HMAC-SHA256 under a server secret.

The prefix finds the row; the HMAC (keyed by a secret file in FUNCTRAIL_HOME, 0600, made on
first use) proves the rest. A stolen database alone therefore yields no usable key, and
HMAC keeps each request's check cheap where a slow KDF would cost ~100 ms per call.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, get_args

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from pipelines.events import PROVIDERS
from service.db import utcnow
from service.keys.models import ApiKeyRow
from service.query import Order, Page, paginate
from service.secretfile import read_or_create

Role = Literal["viewer", "analyst", "admin", "ingest"]
ROLES: tuple[str, ...] = get_args(Role)
READ_RANK = {"viewer": 0, "analyst": 1, "admin": 2}
"""viewer < analyst < admin; ``ingest`` is outside the ladder and may only post events."""

KEY_PREFIX = "ft_"
MAX_KEY_CHARS = 200
"""longer presented keys are refused unread (a real key is ~60 characters)"""
SECRET_FILE = "api-keys.secret"  # noqa: S105  (a file name, not a secret)
_PREFIX_CHARS = 12
_HEX = re.compile(f"[0-9a-f]{{{_PREFIX_CHARS}}}")
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""last_used is written at most this often per key (by the audit writer), not per request."""


class KeyNotFound(LookupError):
    """No key with that id or name."""


class DuplicateKeyName(ValueError):
    """A key of that name exists already."""


@dataclass(frozen=True)
class KeyIdentity:
    """Who is calling: what auth hands to routes and the audit log."""

    id: str
    name: str
    role: str
    scopes: tuple[str, ...] | None = None
    """an ingest key's ``provider`` / ``provider:account`` scopes (None: any)"""

    def admits(self, provider: str, account: str | None) -> bool:
        """Whether a record of ``provider`` and ``account`` is within this key's scopes."""
        if self.scopes is None:
            return True
        return provider in self.scopes or (
            account is not None and f"{provider}:{account}" in self.scopes
        )


MAX_SCOPE_CHARS = 256


def parse_scope(text: str) -> str:
    """``provider`` or ``provider:account`` as given; ValueError for anything else."""
    provider, sep, account = text.partition(":")
    if provider not in PROVIDERS:
        raise ValueError(f"scope {text!r}: the provider must be one of {', '.join(PROVIDERS)}")
    if sep and (
        not account or len(text) > MAX_SCOPE_CHARS or not account.isprintable() or " " in account
    ):
        raise ValueError(f"scope {text!r}: give provider:account, e.g. aws:123456789012")
    return text


@dataclass(frozen=True)
class CreatedKey:
    identity: KeyIdentity
    key: str
    """the key in clear: show it once, it is not stored"""


def server_secret(home: Path) -> bytes:
    """The HMAC secret, created 0600 on first use (whole, whichever process comes first)."""
    return read_or_create(home / SECRET_FILE, lambda: secrets.token_bytes(32))


def hash_key(secret: bytes, key: str) -> str:
    return hmac.new(secret, key.encode("utf-8"), hashlib.sha256).hexdigest()


def create_key(
    session: Session,
    *,
    name: str,
    role: str,
    secret: bytes,
    scopes: Sequence[str] | None = None,
) -> CreatedKey:
    """A new key (``scopes`` only for ingest keys); the clear text is in the result only."""
    if role not in ROLES:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if scopes and role != "ingest":
        raise ValueError("only ingest keys take scopes")
    kept = sorted({parse_scope(scope) for scope in scopes}) if scopes else None
    if not name.strip():
        raise ValueError("a key needs a name")
    if session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == name)) is not None:
        raise DuplicateKeyName(name)
    prefix = secrets.token_hex(_PREFIX_CHARS // 2)
    key = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKeyRow(
        id=str(uuid.uuid4()),
        name=name,
        role=role,
        prefix=prefix,
        hash=hash_key(secret, key),
        created_at=utcnow(),
        scopes=kept,
    )
    session.add(row)
    session.flush()
    return CreatedKey(identity_of(row), key)


def identity_of(row: ApiKeyRow) -> KeyIdentity:
    scopes = tuple(row.scopes) if row.scopes is not None else None
    return KeyIdentity(row.id, row.name, row.role, scopes)


def well_formed(presented: str) -> bool:
    """Looks like one of our keys; anything else is refused unread (and never hashed)."""
    return presented.startswith(KEY_PREFIX) and len(presented) <= MAX_KEY_CHARS


def public_prefix(presented: str) -> str | None:
    """``ft_<12 hex>`` of a presented key that has our shape (what the audit log keeps of a
    refused key); None for anything else, which is not worth keeping and may be hostile."""
    prefix = presented[: len(KEY_PREFIX) + _PREFIX_CHARS]
    if well_formed(presented) and _HEX.fullmatch(prefix[len(KEY_PREFIX) :]):
        return prefix
    return None


def authenticate(
    session: Session, presented: str, *, secret: bytes, digest: str | None = None
) -> KeyIdentity | None:
    """The identity of a valid, unrevoked key; None for anything else (no detail why).

    Reads only: the API records ``last_used_at`` with its batched audit rows (``touch_keys``).
    ``digest`` is ``hash_key(secret, presented)`` when the caller has it already.
    """
    if not well_formed(presented):
        return None
    prefix = presented[len(KEY_PREFIX) : len(KEY_PREFIX) + _PREFIX_CHARS]
    row = session.execute(
        select(
            ApiKeyRow.id, ApiKeyRow.name, ApiKeyRow.role, ApiKeyRow.hash, ApiKeyRow.scopes
        ).where(ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None))
    ).one_or_none()
    if row is None:
        return None
    if not hmac.compare_digest(row.hash, digest or hash_key(secret, presented)):
        return None
    scopes = tuple(row.scopes) if row.scopes is not None else None
    return KeyIdentity(row.id, row.name, row.role, scopes)


def touch_keys(session: Session, used: Mapping[str, datetime]) -> None:
    """Set ``last_used_at`` of each key id to its time (never backwards). Does not commit."""
    for key_id, at in used.items():
        session.execute(
            update(ApiKeyRow)
            .where(
                ApiKeyRow.id == key_id,
                or_(ApiKeyRow.last_used_at.is_(None), ApiKeyRow.last_used_at < at),
            )
            .values(last_used_at=at)
        )


def find_key(session: Session, id_or_name: str) -> ApiKeyRow:
    stmt = select(ApiKeyRow).where(or_(ApiKeyRow.id == id_or_name, ApiKeyRow.name == id_or_name))
    row = session.scalar(stmt)
    if row is None:
        raise KeyNotFound(id_or_name)
    return row


def revoke_key(session: Session, id_or_name: str) -> ApiKeyRow:
    """Revoke by id or name; revoking twice keeps the first time."""
    row = find_key(session, id_or_name)
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.flush()
    return row


def list_keys(session: Session, *, limit: int = 100, cursor: str | None = None) -> Page[ApiKeyRow]:
    order = [Order(ApiKeyRow.created_at), Order(ApiKeyRow.id)]
    return paginate(session, select(ApiKeyRow), order, limit=limit, cursor=cursor)
