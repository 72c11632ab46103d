"""``DirectRoute``: a route that fills its endpoint's few parameters itself, for the hot list.

FastAPI 0.165 solves a route's dependencies and query models per request with per-field
introspection: ~0.4-0.6 ms of CPU per alert list request, more than the page's query. A
``DirectRoute`` endpoint is declared like any other (so the OpenAPI document is FastAPI's own,
from the same signature), and served by filling exactly the kinds of parameters it allows,
with the same functions the dependencies call:

- ``State``: the app's ``ApiState``;
- ``Viewer`` / ``Analyst`` / ``Admin``: ``current_key`` (401, 429, the audit's key) and the
  role check (403), in that order, before anything is validated (as FastAPI does);
- one query model, ``Annotated[Model, Query()]``: the query string validated at once (last
  value of a repeated name, unknown names ignored, as FastAPI does); errors are the same
  ``RequestValidationError`` (422 problem) with ``("query", field)`` locations.

Any other parameter kind refuses the route at start-up instead of being served wrong.

``DirectPaths`` then serves those routes from the middleware stack itself: a GET on a direct
route's path goes to its handler without Starlette's route matching (every route's pattern
tried in turn), per-request exception wrapping and FastAPI's exit stack, ~0.1 ms of a ~0.5 ms
request. Errors become responses through the app's own exception handlers, so every answer
is the one the routed call gives (``test_direct_route.py`` compares them).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette._utils import get_route_path
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from service.api.deps import AtLeast, bearer, current_key, get_state

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
ErrorHandler = Callable[[Request, Any], Response | Awaitable[Response]]


class DirectRoute(APIRoute):
    """An ``APIRoute`` whose endpoint takes only a state, a role key and one query model."""

    def get_route_handler(self) -> Handler:
        endpoint = self.endpoint
        state_name, key_name, role, query_name, model = _plan(self.dependant, self.path)

        async def handle(request: Request) -> Response:
            state = await get_state(request)
            args: dict[str, Any] = {}
            if key_name is not None and role is not None:
                key = await current_key(request, state, await bearer(request))
                args[key_name] = role.check(key)
            if state_name is not None:
                args[state_name] = state
            if query_name is not None and model is not None:
                try:
                    args[query_name] = model.model_validate(dict(request.query_params))
                except ValidationError as exc:
                    raise RequestValidationError(
                        [{**e, "loc": ("query", *e["loc"])} for e in exc.errors()]
                    ) from None
            response: Response = await endpoint(**args)
            return response

        return handle


class DirectPaths:
    """ASGI middleware: GET on the path of one of ``routes`` that is a ``DirectRoute``
    straight to its handler (``routes`` as included, with their full paths)."""

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = {
            route.path: (route, route.get_route_handler())
            for route in routes
            if isinstance(route, DirectRoute)
            and "GET" in (route.methods or ())
            and not route.param_convertors
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = None
        if scope["type"] == "http" and scope["method"] == "GET":
            direct = self.routes.get(get_route_path(scope))
        if direct is None:
            await self.app(scope, receive, send)
            return
        route, handle = direct
        scope.update(route=route, endpoint=route.endpoint, path_params={})
        request = Request(scope, receive, send)
        try:
            response = await handle(request)
        except Exception as exc:
            on_error = _error_handler(scope["app"], exc)
            if on_error is None:
                raise  # as from the router: the Guard's 500
            answer = on_error(request, exc)
            response = await answer if inspect.isawaitable(answer) else answer
        await response(scope, receive, send)


def _error_handler(app: FastAPI, exc: Exception) -> ErrorHandler | None:
    """The app's handler for ``exc``, looked up by class as Starlette's middleware does."""
    for cls in type(exc).__mro__:
        if cls in app.exception_handlers:
            handler: ErrorHandler = app.exception_handlers[cls]
            return handler
    return None


def _plan(
    dependant: Dependant, path: str
) -> tuple[str | None, str | None, AtLeast | None, str | None, type[BaseModel] | None]:
    """The endpoint's state, key and query model parameters; TypeError for anything else."""
    state_name = key_name = query_name = None
    role: AtLeast | None = None
    model: type[BaseModel] | None = None
    for sub in dependant.dependencies:
        if sub.call is get_state:
            state_name = sub.name
        elif isinstance(sub.call, AtLeast):
            key_name, role = sub.name, sub.call
        else:
            raise TypeError(f"{path}: DirectRoute cannot fill the dependency {sub.call!r}")
    for field in dependant.query_params:
        annotation = field.field_info.annotation
        if query_name is not None or not (
            isinstance(annotation, type) and issubclass(annotation, BaseModel)
        ):
            raise TypeError(f"{path}: DirectRoute takes one query model, not {field.name!r}")
        query_name, model = field.name, annotation
    others = (
        dependant.path_params,
        dependant.header_params,
        dependant.cookie_params,
        dependant.body_params,
    )
    if any(others) or dependant.request_param_name or dependant.response_param_name:
        raise TypeError(f"{path}: DirectRoute fills only State, a role key and a query model")
    return state_name, key_name, role, query_name, model
