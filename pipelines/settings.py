"""One typed settings object, read from ``FUNCTRAIL_*`` environment variables.

It lives in the lowest layer because every layer needs the data folder; nothing reads the
environment at import time: callers build a ``Settings()`` and pass it in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    """Where functrail keeps its data, and the knobs an operator may turn."""

    model_config = SettingsConfigDict(env_prefix="FUNCTRAIL_", env_file=None, extra="ignore")

    home: Path = Field(default=Path("functrail-data"), description="the data folder")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in home")
    lake: str | None = Field(default=None, description="event lake root: a folder or s3:// URI")
    models: Path | None = Field(default=None, description="model registry folder")
    webhook_allow_private: bool = Field(
        default=False, description="allow webhook receivers on private and loopback addresses"
    )
    secret_key: SecretStr | None = Field(
        default=None, description="key that encrypts stored secrets (webhook signing secrets)"
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="bearer token GET /metrics requires (unset: /metrics answers anyone)",
    )
    rules_dir: Path | None = Field(
        default=None, description="a folder of extra Sigma rules, loaded beside the built-in pack"
    )
    rule_cache: bool = Field(
        default=True,
        description="keep compiled rules in the home's cache/rules (JSON, rebuilt when a rule"
        " file or functrail changes); off: compile every rule file on every run",
    )
    max_record_bytes: int = Field(
        default=8 * 1024 * 1024, description="a single audit record larger than this is rejected"
    )
    read_processes: int = Field(
        default=0,
        ge=0,
        description="processes `functrail detect` reads files with (forked, Linux only): 0 = "
        "one per CPU core it may use; 1 = this process alone",
    )
    max_file_bytes: int = Field(
        default=1024 * 1024 * 1024,
        description="a decompressed input file larger than this is rejected",
    )
    retention_days: int = Field(
        default=365,
        ge=1,
        description="days the lake keeps events: `functrail prune` deletes older partitions "
        "(not those an open alert's evidence needs), and a pushed record older is a reject",
    )
    retention_alert_days: int = Field(
        default=365,
        ge=1,
        description="days a resolved or suppressed alert is kept after its last change",
    )
    retention_audit_days: int = Field(
        default=365, ge=1, description="days the audit log keeps its rows"
    )
    retention_delivery_days: int = Field(
        default=90,
        ge=1,
        description="days a delivered or dead webhook delivery is kept after it ended",
    )
    prune_schedule: str | None = Field(
        default="03:30",
        pattern=r"^(off|([01][0-9]|2[0-3]):[0-5][0-9])$",
        description="HH:MM UTC: `functrail serve` applies the retention settings daily then; "
        "`off`: never",
    )
    push_drain_seconds: float = Field(
        default=1.0,
        gt=0,
        description="how often the writer moves pushed records from the push log to the lake",
    )
    push_drain_records: int = Field(
        default=10_000,
        ge=1,
        description="the writer moves pushed records at once when this many wait",
    )
    max_push_bytes: int = Field(
        default=32 * 1024 * 1024,
        description="a POST /v1/events body that decompresses to more than this is a 413",
    )

    coverage_baseline_days: int = Field(
        default=14,
        ge=1,
        le=60,
        description="coverage compares the last 24 h with the days before: this many",
    )
    coverage_silent_hours: float = Field(
        default=6.0,
        gt=0,
        description="an account (or log type) that usually sends events is silent after this "
        "many hours without one (longer for a sparse one: five of its usual gaps)",
    )
    coverage_min_daily: float = Field(
        default=24.0,
        gt=0,
        description="coverage judges accounts and log types with at least this many events a day",
    )
    coverage_source_failures: int = Field(
        default=3,
        ge=1,
        description="a source that failed this many pulls in a row is a coverage finding",
    )

    score_schedule: str | None = Field(
        default=None,
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="HH:MM UTC: `functrail serve` scores yesterday daily then; unset: off",
    )
    score_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="sources the scheduled score job ingests (comma or space separated)",
    )
    anomaly_dormant_days: float = Field(
        default=7.0,
        gt=0,
        description="days of silence after which a principal's return is a dormant-identity signal",
    )

    watch_sources: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="sources `functrail serve` watches in-process (space or comma separated); "
        "unset: no watcher",
    )
    watch_interval: float = Field(
        default=10.0, gt=0, description="seconds between the watcher's micro-batches"
    )

    @field_validator("score_sources", "watch_sources", mode="before")
    @classmethod
    def _split_sources(cls, value: object) -> object:
        """``a,b`` or ``a b`` from the environment (the deploy/ examples pass it to a shell)."""
        if isinstance(value, str):
            return [part for part in re.split(r"[,\s]+", value) if part]
        return value

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'functrail.db').as_posix()}"

    @property
    def lake_root(self) -> str:
        return self.lake or str(self.home / "lake")

    @property
    def models_dir(self) -> Path:
        return self.models or self.home / "models"

    @property
    def checkpoints_dir(self) -> Path:
        return self.home / "checkpoints"

    @property
    def rejects_dir(self) -> Path:
        return self.home / "rejects"

    @property
    def rule_cache_dir(self) -> Path | None:
        """Where compiled rule files are cached (``detectors.rules.plan_cache``), or None."""
        return self.home / "cache" / "rules" if self.rule_cache else None
