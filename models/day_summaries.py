"""What each scored day added to the principals' history, so tomorrow's run knows today.

A model's history ends where its training span ends. Without this, a principal that first
used a new address on Monday is "first-seen" again on Tuesday, Wednesday... until the next
``functrail train``. The daily job therefore saves one summary per scored day (a
``PrincipalHistory`` of that day's events) beside the model versions, and scores day D
against the model's history followed by the summaries of the days between the end of
training and D.

Layout under the registry root::

    days/2026-03-02.json          {"folder": "2026-03-02.4f1c..."}  (replaced atomically)
    days/2026-03-02.4f1c.../      principals, seen, hours as Parquet

A summary is written into a fresh folder and published by replacing the pointer file, so a
run killed mid-write leaves the previous summary (or none) in force, and a rerun of the day
replaces it with the same content: saving is idempotent. Summaries are independent of the
model version: a new model trained through a later day simply uses fewer of them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path

from models.bundle import AnomalyModel
from pipelines.features import PrincipalHistory

_POINTER = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")


class DaySummaries:
    """Per-day history summaries in ``root`` (the registry's ``days`` folder)."""

    def __init__(self, registry_root: Path) -> None:
        self.root = Path(registry_root) / "days"

    def days(self) -> list[date]:
        """Days with a published summary, oldest first."""
        if not self.root.is_dir():
            return []
        found = (_POINTER.match(p.name) for p in self.root.iterdir())
        return sorted(date.fromisoformat(m.group(1)) for m in found if m)

    def save(self, day: date, summary: PrincipalHistory) -> None:
        """Publish ``summary`` as the day's; the summary it replaces is removed afterwards."""
        self.root.mkdir(parents=True, exist_ok=True)
        folder = f"{day.isoformat()}.{uuid.uuid4().hex}"
        summary.save(self.root / folder)
        fd, tmp = tempfile.mkstemp(prefix=".pointer-", dir=self.root)
        with os.fdopen(fd, "w") as out:
            json.dump({"folder": folder}, out)
        os.replace(tmp, self.root / f"{day.isoformat()}.json")
        # The replaced summary, and any a killed run wrote but never published.
        for stale in self.root.glob(f"{day.isoformat()}.*"):
            if stale.is_dir() and stale.name != folder:
                shutil.rmtree(stale, ignore_errors=True)

    def load(self, day: date) -> PrincipalHistory | None:
        """The day's summary, or None when that day was never scored."""
        folder = self._folder(day)
        return PrincipalHistory.load(self.root / folder) if folder else None

    def history_for(self, model: AnomalyModel, day: date) -> PrincipalHistory:
        """The model's history moved on through every summarized day after training, before
        ``day``. Days inside the training span are already in the model's history."""
        trained_until = _training_end(model)
        wanted = tuple(
            d for d in self.days() if d < day and (trained_until is None or d >= trained_until)
        )
        stamps = tuple((d, self._folder(d)) for d in wanted)
        return _merged(self, model, stamps)

    def _folder(self, day: date) -> str | None:
        pointer = self.root / f"{day.isoformat()}.json"
        try:
            folder = str(json.loads(pointer.read_text())["folder"])
        except FileNotFoundError:
            return None
        if "/" in folder or "\\" in folder or not folder.startswith(day.isoformat()):
            raise ValueError(f"{pointer}: folder {folder!r} is not a summary of {day}")
        return folder


def _training_end(model: AnomalyModel) -> date | None:
    """The first day after the training span (its ``end`` is exclusive, at midnight UTC)."""
    span = model.manifest.get("training_span") or {}
    end = span.get("end")
    return datetime.fromisoformat(end).date() if end else None


_CACHE: dict[tuple[object, ...], PrincipalHistory] = {}
_CACHE_SIZE = 4


def _merged(
    summaries: DaySummaries, model: AnomalyModel, stamps: tuple[tuple[date, str | None], ...]
) -> PrincipalHistory:
    """Merged in day order. Cached per process by the published folder names (a republished
    day gets a new folder, so it misses): a worker scores many partitions of one day."""
    if not stamps:
        return model.history
    key = (summaries.root, model.version, stamps)
    cached = _CACHE.get(key) if model.version is not None else None
    if cached is not None:
        return cached
    history = model.history
    for _day, folder in stamps:
        if folder is not None:
            history = history.merge(PrincipalHistory.load(summaries.root / folder))
    if model.version is not None:
        while len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = history
    return history
