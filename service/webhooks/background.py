"""Run the dispatcher beside the API: started with the app's lifespan, stopped with it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from fastapi import FastAPI

from service.webhooks.dispatcher import Dispatcher, DispatcherConfig


def attach_dispatcher(app: FastAPI, config: DispatcherConfig | None = None) -> None:
    """Wrap the app's lifespan so a dispatcher thread runs while the app serves.

    Not part of ``create_app`` itself: API tests and embedded apps must not post to receivers.
    """
    state = app.state.api
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        dispatcher = Dispatcher(state.db.sessions, state.settings, config, name="serve")
        dispatcher.start()
        try:
            async with inner(application) as value:
                yield value
        finally:
            await anyio.to_thread.run_sync(dispatcher.stop)

    app.router.lifespan_context = lifespan
