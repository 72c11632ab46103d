"""Dependencies as ``Annotated`` aliases, so route signatures read like sentences.

``Viewer``/``Analyst``/``Admin`` admit that role and those above it; ``Ingest`` admits only
ingest keys, which in turn are refused everywhere else.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session as OrmSession
from starlette.concurrency import run_in_threadpool

from service.api.errors import Problem
from service.api.ratelimit import retry_after
from service.api.state import ApiState
from service.keys.store import (
    READ_RANK,
    KeyIdentity,
    authenticate,
    hash_key,
    public_prefix,
    well_formed,
)

bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer ft_...`")


async def get_state(request: Request) -> ApiState:
    state: ApiState = request.app.state.api
    return state


State = Annotated[ApiState, Depends(get_state)]


def get_session(state: State) -> Iterator[OrmSession]:
    """A session per request; routes that write commit explicitly, anything else rolls back."""
    with state.db.sessions() as session:
        yield session


Session = Annotated[OrmSession, Depends(get_session)]


async def current_key(
    request: Request,
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> KeyIdentity:
    """The caller's key, checked and rate-limited; 401 without a valid one, 429 when too fast.

    Async with a cache in front of the store: a key checked in the last few seconds costs one
    HMAC and no database trip or thread hop (``KeyCache``: revocation takes up to its TTL; a
    key in use is checked again in the background before then).
    """
    challenge = {"WWW-Authenticate": 'Bearer realm="functrail"'}
    if credentials is None:
        raise Problem(
            401, "an API key is required: Authorization: Bearer ft_...", headers=challenge
        )
    presented = credentials.credentials
    request.state.key_prefix = public_prefix(presented)  # audited, also when refused
    identity = None
    if well_formed(presented):
        digest = hash_key(state.key_secret, presented)
        identity = await state.keys.identify(
            digest, lambda: run_in_threadpool(_lookup, state, presented, digest)
        )
    if identity is None:
        raise Problem(401, "the API key is not valid (unknown or revoked)", headers=challenge)
    request.state.key = identity
    wait = state.limiter.take(identity.id)
    if wait:
        raise Problem(
            429, "too many requests for this key", headers={"Retry-After": retry_after(wait)}
        )
    return identity


def _lookup(state: ApiState, presented: str, digest: str) -> KeyIdentity | None:
    with state.db.sessions() as session:
        return authenticate(session, presented, secret=state.key_secret, digest=digest)


CurrentKey = Annotated[KeyIdentity, Depends(current_key)]


class AtLeast:
    """The dependency admitting keys of ``minimum`` role or above (403 otherwise)."""

    def __init__(self, minimum: str) -> None:
        self.minimum = minimum

    async def __call__(self, key: CurrentKey) -> KeyIdentity:
        return self.check(key)

    def check(self, key: KeyIdentity) -> KeyIdentity:
        if READ_RANK.get(key.role, -1) < READ_RANK[self.minimum]:
            raise Problem(
                403, f"this needs the {self.minimum} role or above (key role: {key.role})"
            )
        return key


async def _ingest_only(key: CurrentKey) -> KeyIdentity:
    if key.role != "ingest":
        raise Problem(403, f"only ingest keys may post events (key role: {key.role})")
    return key


Viewer = Annotated[KeyIdentity, Depends(AtLeast("viewer"))]
Analyst = Annotated[KeyIdentity, Depends(AtLeast("analyst"))]
Admin = Annotated[KeyIdentity, Depends(AtLeast("admin"))]
Ingest = Annotated[KeyIdentity, Depends(_ingest_only)]
