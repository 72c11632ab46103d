"""One HTTP attempt at a checked, pinned address, classified for the retry policy.

Redirects are never followed: a receiver that answers 3xx fails permanently (its Location
is reported, checked by the SSRF guard, never fetched). The response body is read up to a
limit, so a hostile receiver cannot make the dispatcher buffer gigabytes or hang forever.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from service.webhooks.ssrf import BlockedDestination, Resolver, check_url

MAX_RESPONSE_BYTES = 16 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(connect=5.0, read=10.0, write=10.0, pool=5.0)


def attempt_budget(timeout: httpx.Timeout) -> timedelta:
    """How long one attempt can take on the wire: connect + write + read timeouts.

    The dispatcher holds a lease at least this long before it sends, so no other dispatcher
    can claim a delivery while it is in flight. The pool timeout is left out because a
    dispatcher's client sends one request at a time and never waits for a connection.
    """
    phases = {"connect": timeout.connect, "write": timeout.write, "read": timeout.read}
    unbounded = [name for name, seconds in phases.items() if seconds is None]
    if unbounded:
        raise ValueError(
            f"webhook timeouts must all be set, {' and '.join(unbounded)} is not: an attempt "
            "without a bound can outlast any lease and be sent again by another dispatcher"
        )
    return timedelta(seconds=sum(s for s in phases.values() if s is not None))


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one POST came to; ``retryable`` and ``retry_after`` drive the backoff."""

    ok: bool
    retryable: bool
    status_code: int | None = None
    error: str | None = None
    retry_after: float | None = None
    duration_ms: int = 0
    response_excerpt: str = ""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), if valid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _read_limited(response: httpx.Response, limit: int) -> bytes:
    data = bytearray()
    for chunk in response.iter_bytes():
        data.extend(chunk)
        if len(data) >= limit:
            break
    return bytes(data[:limit])


def post(
    client: httpx.Client,
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    max_response_bytes: int = MAX_RESPONSE_BYTES,
) -> AttemptResult:
    """POST ``body`` to ``url`` once, connecting only to the address the guard checked."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = (
            check_url(url, allow_private=allow_private, resolver=resolver)
            if resolver
            else check_url(url, allow_private=allow_private)
        )
    except BlockedDestination as exc:
        return AttemptResult(ok=False, retryable=False, error=str(exc), duration_ms=elapsed())
    except OSError as exc:
        return AttemptResult(ok=False, retryable=True, error=f"DNS: {exc}", duration_ms=elapsed())
    request = client.build_request(
        "POST",
        target.pinned_url,
        content=body,
        headers={**headers, "Host": target.host_header},
        extensions={"sni_hostname": target.host} if target.scheme == "https" else {},
    )
    try:
        response = client.send(request, stream=True, follow_redirects=False)
        try:
            excerpt = _read_limited(response, max_response_bytes).decode("utf-8", "replace")
        finally:
            response.close()
    except httpx.TransportError as exc:
        name = type(exc).__name__
        return AttemptResult(
            ok=False, retryable=True, error=f"{name}: {exc}"[:500], duration_ms=elapsed()
        )
    status = response.status_code
    excerpt = excerpt[:500]
    if 200 <= status < 300:
        return AttemptResult(True, False, status, duration_ms=elapsed(), response_excerpt=excerpt)
    if 300 <= status < 400:
        return AttemptResult(
            False, False, status, _redirect_error(response, allow_private), None, elapsed(), excerpt
        )
    if status == 429 or status >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return AttemptResult(False, True, status, f"HTTP {status}", wait, elapsed(), excerpt)
    return AttemptResult(False, False, status, f"HTTP {status}", None, elapsed(), excerpt)


def _redirect_error(response: httpx.Response, allow_private: bool) -> str:
    location = response.headers.get("Location", "")[:300]
    verdict = "redirects are not followed"
    try:
        absolute = str(response.request.url.join(location)) if location else ""
        if absolute:
            # Only a syntax/literal-address check: the Location is never fetched or resolved.
            check_url(absolute, allow_private=allow_private, resolver=_no_dns)
    except BlockedDestination as exc:
        verdict = f"redirect refused: {exc}"
    except (OSError, httpx.InvalidURL):
        pass
    return f"HTTP {response.status_code} to {location!r}: {verdict}"


def _no_dns(*_args: object, **_kwargs: object) -> list[tuple[object, ...]]:
    raise OSError("not resolved")


def utcnow() -> datetime:
    """The dispatcher's clock, timezone-aware."""
    return datetime.now(UTC)
