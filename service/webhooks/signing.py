"""The delivery signature of DESIGN.md: ``sha256=<hex HMAC of "timestamp.body">``.

Signing the timestamp with the body lets receivers reject replays of an old, valid request.
"""

from __future__ import annotations

import hashlib
import hmac
import time

EVENT_HEADER = "X-Functrail-Event"
DELIVERY_HEADER = "X-Functrail-Delivery"
TIMESTAMP_HEADER = "X-Functrail-Timestamp"
SIGNATURE_HEADER = "X-Functrail-Signature"

DEFAULT_TOLERANCE_SECONDS = 300
"""How old a timestamp a receiver should still accept (the docs' receiver uses the same)."""


def signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """The header value for one attempt: ``sha256=`` and the hex HMAC of ``timestamp.body``."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signed_headers(
    secret: bytes, body: bytes, *, event: str, delivery_id: str, timestamp: int | None = None
) -> dict[str, str]:
    """All functrail headers of one attempt; a fresh timestamp (and signature) per attempt."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "User-Agent": "functrail-webhooks/1",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(ts),
        SIGNATURE_HEADER: signature(secret, ts, body),
    }


def verify(
    secret: bytes,
    body: bytes,
    timestamp: str | None,
    header: str | None,
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: constant-time compare, and refuse timestamps outside the tolerance."""
    if not timestamp or not header or not timestamp.isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), header)
