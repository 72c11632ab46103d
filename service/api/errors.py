"""Every error the API answers is RFC 9457 ``application/problem+json``, and never a trace.

Routes raise ``Problem`` (or let a store's lookup error through: it is mapped here); anything
unexpected becomes a bare 500 whose only detail is a reference the server log also carries.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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
