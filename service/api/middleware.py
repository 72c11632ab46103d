"""The guard around every request: size limits, security headers, a last-resort 500,
metrics, and the audit row (queued for the batched ``AuditWriter``; while its queue is full,
``/v1`` calls are refused with 503). Pure ASGI, so it also sees what the exception handlers
do not."""

from __future__ import annotations

import logging
import time
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import internal_error_response, problem_response
from service.api.state import ApiState
from service.audit.store import AuditEntry

log = logging.getLogger("functrail.api")

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
    "x-frame-options": "DENY",
    "cross-origin-resource-policy": "same-origin",
}


class BodyTooLarge(Exception):
    """The request body went past the limit while it was being read."""


class Guard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api: ApiState = scope["app"].state.api
        scope.setdefault("state", {})
        started = time.perf_counter()
        answer: dict[str, Any] = {"status": 500, "sent": False}

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"], answer["sent"] = message["status"], True
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
            await send(message)

        limits = api.limits
        audited = scope["path"].startswith("/v1")
        try:
            declared = _content_length(scope)
            if audited and api.audit.full:
                audited = False  # not served, so not queued: the queue stays bounded
                api.metrics.audit_refused.inc()
                await problem_response(
                    None,
                    503,
                    "the audit log is behind; try again shortly",
                    instance=scope["path"],
                    headers={"Retry-After": "1"},
                )(scope, receive, send_secured)
            elif _has_nul(scope):
                await problem_response(
                    None,
                    422,
                    "NUL characters are not accepted in paths or queries",
                    kind="validation",
                    instance=repr(scope["path"])[1:-1],
                )(scope, receive, send_secured)
            elif len(scope.get("query_string", b"")) > limits.max_query_chars:
                await problem_response(None, 414, "query string too long", instance=scope["path"])(
                    scope, receive, send_secured
                )
            elif declared is not None and declared > limits.max_body_bytes:
                await _too_large(scope, receive, send_secured, limits.max_body_bytes)
            else:
                await self.app(scope, _limited(receive, limits.max_body_bytes), send_secured)
        except BodyTooLarge:
            if not answer["sent"]:
                await _too_large(scope, receive, send_secured, limits.max_body_bytes)
        except Exception as exc:
            if answer["sent"]:
                log.error("error after the response started on %s", scope["path"], exc_info=exc)
            else:
                await internal_error_response(scope["path"], exc)(scope, receive, send_secured)
        finally:
            _account(api, scope, answer["status"], time.perf_counter() - started, audited)


def _has_nul(scope: Scope) -> bool:
    """PostgreSQL text cannot hold NUL; no id, name or filter legitimately has one."""
    query = scope.get("query_string", b"").lower()
    return "\x00" in scope["path"] or b"%00" in query or b"\x00" in query


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _limited(receive: Receive, limit: int) -> Receive:
    seen = 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge
        return message

    return counted


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    detail = f"request body is larger than {limit} bytes"
    await problem_response(None, 413, detail, instance=scope["path"])(scope, receive, send)


def _account(api: ApiState, scope: Scope, status: int, seconds: float, audited: bool) -> None:
    route = scope.get("route")
    template = getattr(route, "path", None) or "<unmatched>"
    api.metrics.requests.labels(scope["method"], template, str(status)).inc()
    api.metrics.latency.labels(template).observe(seconds)
    if not audited:
        return
    state = scope.get("state", {})
    key = state.get("key")
    client = scope.get("client")
    api.audit.submit(
        AuditEntry(
            method=scope["method"],
            route=template if route is not None else scope["path"][:512],
            query=scope.get("query_string", b"").decode("latin-1"),
            status_code=status,
            client_ip=client[0] if client else None,
            key_id=getattr(key, "id", None),
            role=getattr(key, "role", None),
            key_prefix=state.get("key_prefix"),
        )
    )
