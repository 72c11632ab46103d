"""The dispatcher: claims due deliveries, signs and posts each attempt, records what happened.

Runs inside ``functrail serve`` as a background thread (``start``/``stop``) or as its own
worker (``functrail webhooks dispatch``). Any number may run against one database: claims
are exclusive, and a dispatcher that dies leaves leases that expire and are claimed again,
so a restart loses nothing (a receiver may then see a delivery id twice, never a lost one).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.orm import Session, sessionmaker

from pipelines.settings import Settings
from service.webhooks import outbox, store
from service.webhooks.delivery import DEFAULT_TIMEOUT, AttemptResult, attempt_budget, post
from service.webhooks.formats import EVENTS, FORMATS, DeliveredAlert, RenderContext, encode_body
from service.webhooks.models import Delivery, Subscription
from service.webhooks.outbox import is_status_change
from service.webhooks.retry import RetryPolicy
from service.webhooks.secrets import SecretError
from service.webhooks.signing import signed_headers
from service.webhooks.ssrf import Resolver

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DispatcherConfig:
    """Knobs of one dispatcher; the defaults suit production, tests shrink the waits.

    ``lease`` must be at least one attempt's budget (connect + write + read timeouts), or a
    delivery could be claimed by another dispatcher while it is being sent. A lease of several
    budgets (the default is 120 s against 25 s) renews only every few attempts.
    """

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    lease: timedelta = timedelta(seconds=120)
    batch: int = 20
    idle_seconds: float = 1.0
    resolver: Resolver | None = None

    def __post_init__(self) -> None:
        budget = attempt_budget(self.timeout)
        if self.lease < budget:
            t = self.timeout
            raise ValueError(
                f"webhook lease of {self.lease.total_seconds():g} s is shorter than one "
                f"attempt's budget of {budget.total_seconds():g} s (connect {t.connect:g} + "
                f"write {t.write:g} + read {t.read:g} s): another dispatcher could claim a "
                "delivery while it is being sent and send it again. Use a lease of several "
                f"budgets, at least {budget.total_seconds():g} s"
            )

    @property
    def budget(self) -> timedelta:
        """One attempt's timeout budget (see ``attempt_budget``)."""
        return attempt_budget(self.timeout)


@dataclass
class _Lease:
    """This dispatcher's lease on one claimed batch, as it last set it."""

    token: str
    held: set[int]
    until: datetime

    def cover(self, session: Session, seq: int, *, budget: timedelta, lease: timedelta) -> bool:
        """Whether ``seq`` is still held for a whole attempt from now, renewing if need be.

        Renewed only when what is left of the lease would not cover one attempt's budget, so
        with a lease of several budgets most attempts cost no extra commit.
        """
        now = datetime.now(UTC)
        if self.until - now < budget:
            self.held = outbox.renew_leases(session, self.token, now=now, lease=lease)
            self.until = now + lease
        return seq in self.held


@dataclass(frozen=True, slots=True)
class _Request:
    """A rendered, signed attempt, ready to post."""

    url: str
    body: bytes
    headers: dict[str, str]


class Dispatcher:
    """Delivers the outbox; ``run_once`` is one pass, ``start`` runs passes until ``stop``."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        config: DispatcherConfig | None = None,
        name: str | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.config = config or DispatcherConfig()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=self.config.timeout, trust_env=False)

    def run_once(self) -> int:
        """Claim due deliveries and attempt each once; returns how many were attempted."""
        with self.sessions() as session:
            now = datetime.now(UTC)
            claimed = outbox.claim_due(
                session, now=now, lease=self.config.lease, limit=self.config.batch
            )
            if not claimed or claimed[0].lease_token is None:
                return 0
            lease = _Lease(
                claimed[0].lease_token, {d.seq for d in claimed}, now + self.config.lease
            )
            subs: dict[str, Subscription | None] = {}
            secrets_cache: dict[str, tuple[bytes, str | None] | SecretError] = {}
            for number, delivery in enumerate(claimed):
                if self._stop.is_set():
                    # stopping: hand the rest back now rather than leave them to the lease
                    rest = [d.seq for d in claimed[number:]]
                    outbox.release_claims(session, lease.token, rest)
                    break
                if delivery.subscription_id not in subs:
                    subs[delivery.subscription_id] = session.get(
                        Subscription, delivery.subscription_id
                    )
                sub = subs[delivery.subscription_id]
                prepared = self._prepare(sub, delivery, secrets_cache)
                if isinstance(prepared, AttemptResult):
                    result = prepared  # nothing to send; recording still needs the lease token
                elif lease.cover(
                    session, delivery.seq, budget=self.config.budget, lease=self.config.lease
                ):
                    result = post(
                        self._client,
                        prepared.url,
                        prepared.body,
                        prepared.headers,
                        allow_private=self.settings.webhook_allow_private,
                        resolver=self.config.resolver,
                    )
                else:
                    log.info("webhook delivery %s: lease lost before sending", delivery.id)
                    continue
                status = outbox.record_attempt(
                    session,
                    delivery,
                    result,
                    policy=self.config.policy,
                    now=datetime.now(UTC),
                    dispatcher=self.name,
                )
                log.info(
                    "webhook delivery %s attempt %d: %s",
                    delivery.id,
                    delivery.attempts + 1,
                    status or "lease lost",
                )
            return len(claimed)

    def _prepare(
        self,
        sub: Subscription | None,
        delivery: Delivery,
        cache: dict[str, tuple[bytes, str | None] | SecretError],
    ) -> _Request | AttemptResult:
        """Render and sign the attempt, or say why it cannot be sent.

        Done before the lease is checked, so a slow secret manager cannot eat into the time
        the lease must leave for the HTTP attempt itself.
        """
        if sub is None:
            return AttemptResult(ok=False, retryable=False, error="subscription deleted")
        if sub.id not in cache:
            try:
                secret = store.signing_secret(self.settings, sub).encode()
                cache[sub.id] = (secret, store.routing_key(self.settings, sub))
            except SecretError as exc:
                cache[sub.id] = exc
        keys = cache[sub.id]
        if isinstance(keys, SecretError):
            return AttemptResult(ok=False, retryable=True, error=str(keys))
        secret, routing = keys
        try:
            alert = DeliveredAlert.model_validate(delivery.alert)
            if delivery.event not in EVENTS:
                raise ValueError(f"unknown event {delivery.event!r}")
            ctx = RenderContext(
                event=delivery.event,
                delivery_id=delivery.id,
                routing_key=routing,
                status_change=is_status_change(delivery.change_key),
            )
            body = encode_body(FORMATS[sub.format].render(alert, ctx))
        except (ValueError, KeyError) as exc:
            return AttemptResult(ok=False, retryable=False, error=f"cannot render: {exc}"[:500])
        headers = signed_headers(secret, body, event=delivery.event, delivery_id=delivery.id)
        return _Request(sub.url, body, headers)

    def run(self) -> None:
        """Passes until ``stop``: straight on while there is work, resting when idle."""
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("webhook dispatcher pass failed; retrying")
                worked = 0
            if not worked:
                self._stop.wait(self.config.idle_seconds)

    def start(self) -> threading.Thread:
        """Run in a daemon thread (the ``functrail serve`` background task)."""
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="webhook-dispatcher", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self, timeout: float | None = 30.0) -> None:
        """Ask the loop to finish its current attempt and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._client.close()
