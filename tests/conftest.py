"""Shared fixtures: an isolated FUNCTRAIL_HOME per test so nothing leaks between tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings rooted in a fresh temporary data folder (SQLite database, local lake)."""
    home = tmp_path / "home"
    monkeypatch.setenv("FUNCTRAIL_HOME", str(home))
    for name in ("FUNCTRAIL_DATABASE_URL", "FUNCTRAIL_LAKE", "FUNCTRAIL_MODELS"):
        monkeypatch.delenv(name, raising=False)
    return Settings()
