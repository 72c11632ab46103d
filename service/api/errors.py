"""Every error the API answers is RFC 9457 ``application/problem+json``, and never a trace.

Routes raise ``Problem`` (or let a store's lookup error through: it is mapped here); anything
unexpected becomes a bare 500 whose only detail is a reference the server log also carries.
A PostgreSQL server that cannot be reached right now (a restart, a failover, a cut network)
is a 503 with Retry-After instead, logged as one line at most every few seconds per process:
a restart under load had logged a full trace for each of thousands of requests.
"""

from __future__ import annotations

import logging
import time
import uuid
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.alerts.queries import AlertNotFound
from service.keys.store import KeyNotFound
from service.query import BadCursor
from service.suppressions.store import SuppressionNotFound

PROBLEM_TYPE_BASE = "https://functrail.dev/problems/"
log = logging.getLogger("functrail.api")


class ProblemResponse(JSONResponse):
    media_type = "application/problem+json"


class Problem(Exception):
    """An error with an HTTP status and a detail meant for the caller."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        self.headers = headers or {}
        self.extra = extra or {}


def problem_body(
    status: int, detail: str, instance: str, kind: str | None = None
) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase
    slug = kind or phrase.lower().replace(" ", "-").replace("'", "")
    return {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }


def problem_response(
    request: Request | None,
    status: int,
    detail: str,
    *,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
    instance: str | None = None,
) -> ProblemResponse:
    where = instance if instance is not None else (request.url.path if request else "")
    body = problem_body(status, detail, where, kind) | (extra or {})
    return ProblemResponse(body, status_code=status, headers=headers)


def internal_error_response(instance: str, exc: BaseException) -> ProblemResponse:
    """The 500 answer: a reference id to find the trace in the server log, nothing more."""
    ref = uuid.uuid4().hex[:12]
    log.error("unhandled error ref=%s on %s", ref, instance, exc_info=exc)
    body = problem_body(500, f"internal error (reference {ref})", instance)
    return ProblemResponse(body, status_code=500)


UNAVAILABLE_LOG_SECONDS = 5.0
"""one "database unavailable" line per process at most this often, with the count since"""
_unavailable = {"logged_at": 0.0, "since": 0}


def database_unavailable(exc: BaseException) -> bool:
    """True when PostgreSQL could not be reached or was shutting down or starting up: no
    SQLSTATE (the client's own connection failure), class 08 (connection exception) or
    class 57 (operator intervention: shutdown, cannot connect now). A statement that ran
    past its timeout (57014) is not: asked again at once, it would time out again. Nor is an
    error in what was asked, or SQLite's disk I/O."""
    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(cause, psycopg.OperationalError):
        return False
    state = cause.sqlstate
    return state is None or (state[:2] in ("08", "57") and state != "57014")


def unavailable_response(instance: str, exc: BaseException) -> ProblemResponse:
    """The 503 answer to a request that met an unreachable database."""
    now = time.monotonic()
    _unavailable["since"] += 1
    if now - _unavailable["logged_at"] >= UNAVAILABLE_LOG_SECONDS:
        first = (str(getattr(exc, "orig", None) or exc).splitlines() or [""])[0][:300]
        log.warning(
            "database unavailable (%d requests answered 503 since the last line), on %s: %s",
            _unavailable["since"],
            instance,
            first,
        )
        _unavailable["logged_at"], _unavailable["since"] = now, 0
    body = problem_body(
        503, "the database is unavailable; retry shortly", instance, "database-unavailable"
    )
    return ProblemResponse(body, status_code=503, headers={"Retry-After": "1"})


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    async def on_problem(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, Problem)
        return problem_response(
            request, exc.status, exc.detail, kind=exc.kind, headers=exc.headers, extra=exc.extra
        )

    async def on_http(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        return problem_response(
            request, exc.status_code, detail, headers=dict(exc.headers) if exc.headers else None
        )

    async def on_validation(request: Request, exc: Exception) -> ProblemResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", ""))}
            for err in exc.errors()[:20]
        ]
        detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors)[:1000]
        return problem_response(
            request, 422, detail or "invalid request", kind="validation", extra={"errors": errors}
        )

    async def on_not_found(request: Request, exc: Exception) -> ProblemResponse:
        return problem_response(request, 404, "no such item", kind="not-found")

    async def on_bad_cursor(request: Request, exc: Exception) -> ProblemResponse:
        return problem_response(request, 422, str(exc), kind="bad-cursor")

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    for lookup in (AlertNotFound, KeyNotFound, SuppressionNotFound):
        app.add_exception_handler(lookup, on_not_found)
    app.add_exception_handler(BadCursor, on_bad_cursor)

    async def on_database(request: Request, exc: Exception) -> ProblemResponse:
        if database_unavailable(exc):
            return unavailable_response(request.url.path, exc)
        return internal_error_response(request.url.path, exc)

    app.add_exception_handler(psycopg.OperationalError, on_database)
    app.add_exception_handler(OperationalError, on_database)
