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

from detectors.alert import Alert
from pipelines.settings import Settings
from service.webhooks import outbox, store
from service.webhooks.delivery import DEFAULT_TIMEOUT, AttemptResult, post
from service.webhooks.formats import EVENTS, FORMATS, RenderContext, encode_body
from service.webhooks.models import Delivery, Subscription
from service.webhooks.retry import RetryPolicy
from service.webhooks.secrets import SecretError
from service.webhooks.signing import signed_headers
from service.webhooks.ssrf import Resolver

log = logging.getLogger(__name__)


@dataclass
class DispatcherConfig:
    """Knobs of one dispatcher; the defaults suit production, tests shrink the waits."""

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    lease: timedelta = timedelta(seconds=120)
    """Renewed when half is gone: half must exceed one attempt (connect + write + read)."""
    batch: int = 20
    idle_seconds: float = 1.0
    resolver: Resolver | None = None


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
            held = {d.seq for d in claimed}
            renewed = now
            subs: dict[str, Subscription | None] = {}
            secrets_cache: dict[str, tuple[bytes, str | None] | SecretError] = {}
            for delivery in claimed:
                if self._stop.is_set():
                    break  # unattempted claims expire and are picked up again
                current = datetime.now(UTC)
                if current - renewed > self.config.lease / 2 and delivery.lease_token:
                    lease = self.config.lease
                    held = outbox.renew_leases(
                        session, delivery.lease_token, now=current, lease=lease
                    )
                    renewed = current
                if delivery.seq not in held:
                    log.info("webhook delivery %s: lease lost before sending", delivery.id)
                    continue
                if delivery.subscription_id not in subs:
                    subs[delivery.subscription_id] = session.get(
                        Subscription, delivery.subscription_id
                    )
                sub = subs[delivery.subscription_id]
                result = self._attempt(sub, delivery, secrets_cache)
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

    def _attempt(
        self,
        sub: Subscription | None,
        delivery: Delivery,
        cache: dict[str, tuple[bytes, str | None] | SecretError],
    ) -> AttemptResult:
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
            alert = Alert.model_validate(delivery.alert)
            if delivery.event not in EVENTS:
                raise ValueError(f"unknown event {delivery.event!r}")
            ctx = RenderContext(event=delivery.event, delivery_id=delivery.id, routing_key=routing)
            body = encode_body(FORMATS[sub.format].render(alert, ctx))
        except (ValueError, KeyError) as exc:
            return AttemptResult(ok=False, retryable=False, error=f"cannot render: {exc}"[:500])
        headers = signed_headers(secret, body, event=delivery.event, delivery_id=delivery.id)
        return post(
            self._client,
            sub.url,
            body,
            headers,
            allow_private=self.settings.webhook_allow_private,
            resolver=self.config.resolver,
        )

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
