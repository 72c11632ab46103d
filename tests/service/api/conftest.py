"""An app over a database of its own (SQLite; PostgreSQL as integration), plus key helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from detectors.alert import Alert
from pipelines.settings import Settings
from service.alerts.store import save_alerts
from service.api.app import create_app
from service.api.limits import ApiLimits
from service.api.state import ApiState
from service.db import Database
from service.keys.store import create_key, server_secret

_names = count(1)


@dataclass
class Api:
    client: TestClient
    db: Database
    settings: Settings
    keys: dict[str, str] = field(default_factory=dict)

    @property
    def state(self) -> ApiState:
        """The app's state: its key cache and audit writer (tests swap clocks and flush)."""
        state: ApiState = self.client.app.state.api  # type: ignore[attr-defined]
        return state

    def headers(self, role: str) -> dict[str, str]:
        """Bearer headers of a (cached) key with ``role``."""
        if role not in self.keys:
            self.keys[role] = self.new_key(role)
        return {"Authorization": f"Bearer {self.keys[role]}"}

    def new_key(self, role: str, name: str | None = None) -> str:
        with self.db.session() as session:
            created = create_key(
                session,
                name=name or f"{role}-{next(_names)}",
                role=role,
                secret=server_secret(self.settings.home),
            )
        return created.key

    def drain(self) -> int:
        """Move what was pushed into the lake now (the writer's next tick, without the wait)."""
        return self.state.drainer.drain_now()

    def save(self, *alerts: Alert) -> None:
        with self.db.session() as session:
            save_alerts(session, alerts)


def make_api(
    fresh_database: tuple[Database, Path], limits: ApiLimits | None = None, **settings_: Any
) -> Api:
    """An app over the database; ``settings_`` override Settings fields (``rules_dir``...)."""
    db, home = fresh_database
    settings = Settings(
        home=home,
        database_url="sqlite:///unused-the-app-is-handed-its-database",
        lake=str(home / "lake"),
        models=home / "models",
        # The factories' records are dated 2026-03-02: a window that still takes them in 2030.
        **({"retention_days": 36_500} | settings_),
    )
    limits = limits or ApiLimits(max_body_bytes=64 * 1024, rate_per_second=1000, burst=1000)
    app = create_app(settings, database=db, limits=limits)
    return Api(TestClient(app, raise_server_exceptions=False), db, settings)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    """An RFC 9457 problem with ``status``, and nothing that looks like a trace or SQL."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "instance"} <= set(body)
    assert body["status"] == status
    for leak in ("Traceback", 'File "', "SELECT ", "sqlalchemy", "psycopg", "sqlite3"):
        assert leak not in response.text
    return body
