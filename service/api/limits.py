"""The API's limits, in one object the app factory takes (tests shrink them)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ApiLimits:
    max_body_bytes: int = 10 * 1024 * 1024
    """POST /v1/events and every other body; larger -> 413"""
    max_query_chars: int = 4096
    """the whole query string; longer -> 414"""
    rate_per_second: float = 50.0
    burst: int = 200
    cors_origins: tuple[str, ...] = field(default_factory=tuple)
    """closed unless listed"""
