"""Whether each source's last pulls worked: consecutive failures, the last error, the last
success. ``ingest_sources`` (``functrail ingest``, the score job, a watcher) records every
attempt; coverage reads it to say "this source keeps failing". One small JSON file per source
URI under ``<home>/sources/``, replaced atomically (as checkpoints are).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from pipelines.atomic import write_atomic
from pipelines.checkpoints import checkpoint_name
from pipelines.settings import Settings

MAX_ERROR_CHARS = 1000


@dataclass(frozen=True)
class SourceHealth:
    """One source's record: ``failures`` counts the failed attempts since the last success."""

    uri: str
    failures: int = 0
    last_error: str | None = None
    last_failure: str | None = None
    last_success: str | None = None
    failing_since: str | None = None
    """The first failure after the last success (ISO 8601 Z)."""


def health_dir(settings: Settings) -> Path:
    return settings.home / "sources"


def record_attempt(
    settings: Settings, uri: str, error: str | None, *, now: datetime | None = None
) -> SourceHealth:
    """Note one pull of ``uri``: a failure (``error``) or a success; returns the new record."""
    folder = health_dir(settings)
    have = _read(folder / checkpoint_name(uri)) or SourceHealth(uri)
    moment = (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    if error is None:
        new = SourceHealth(uri, 0, have.last_error, have.last_failure, moment)
    else:
        since = have.failing_since if have.failures else moment
        new = SourceHealth(
            uri, have.failures + 1, error[:MAX_ERROR_CHARS], moment, have.last_success, since
        )
    _write(folder, folder / checkpoint_name(uri), new)
    return new


def source_health(settings: Settings) -> list[SourceHealth]:
    """Every source's record, by URI."""
    folder = health_dir(settings)
    if not folder.is_dir():
        return []
    found = (_read(path) for path in folder.glob("*.json"))
    return sorted((h for h in found if h is not None), key=lambda h: h.uri)


def _read(path: Path) -> SourceHealth | None:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None  # a lost or torn record only forgets a count; the next attempt rewrites it
    if not isinstance(data, dict) or not isinstance(data.get("uri"), str):
        return None
    return SourceHealth(
        uri=data["uri"],
        failures=int(data.get("failures") or 0),
        last_error=data.get("last_error"),
        last_failure=data.get("last_failure"),
        last_success=data.get("last_success"),
        failing_since=data.get("failing_since"),
    )


def _write(folder: Path, path: Path, health: SourceHealth) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(path, orjson.dumps(asdict(health), option=orjson.OPT_SORT_KEYS))
