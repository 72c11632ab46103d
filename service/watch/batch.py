"""One micro-batch: new blobs and pushed records -> the lake -> rules -> alerts and outbox ->
checkpoints. The daily job's path (``score_day``) at a smaller scale, in the same order of
durability, so a kill -9 anywhere repeats a step and never skips one:

1. every input's new blobs are normalized, the push log's pending records taken;
2. ``LakeWriter.store`` (the data folder's one writer): fsynced, deduplicated by id;
3. the rules over the batch's records (``StreamRules``: windows carried across batches),
   conflicts as ``event_id_conflict`` alerts;
4. ``save_alerts`` + ``enqueue_for_alerts`` in one transaction (alert ids follow the dedup key
   and first event, so a batch done twice, or the daily ``score`` after it, finds them
   unchanged and queues nothing twice);
5. only then the inputs let go of their blobs (checkpoints, queue messages) and the push log of
   its records.

Step 3 runs over every record of the batch, not only those new to the lake: after a crash
between 2 and 4 the records are in the lake but their alerts are not. Records this process has
already detected (``RecentIds``) are skipped, so sources that re-read an overlap (LookupEvents'
settle window) are not detected again and again.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from detectors.alert import Alert
from detectors.rules.stream import StreamRules
from pipelines.dropped import NO_DROPS, DroppedFields
from pipelines.events import EVENT_SCHEMA, events_from_arrow
from pipelines.ingest import normalize_ref
from pipelines.provenance import Stored
from pipelines.pushlog import Pending, PushLog
from pipelines.rejects import Reject, write_rejects
from pipelines.settings import Settings
from pipelines.source_health import record_attempt
from pipelines.sources import BlobRef
from pipelines.writer import LakeWriter
from service.alerts.store import save_alerts
from service.coverage.report import coverage_findings
from service.db import Database
from service.ingest.conflicts import conflict_alerts
from service.rules.store import rule_states, shadow_plan
from service.scoring.detect import rule_registry
from service.watch.inputs import Budget, WatchInput
from service.webhooks.outbox import enqueue_for_alerts

log = logging.getLogger("functrail.watch")
CRASH_HOOK = "FUNCTRAIL_WATCH_CRASH_AT"
"""Test hook: ``os._exit`` at a named step of a batch (``stored``, ``saved``, ``released``)."""
MAX_BLOBS = 2_000
MAX_BYTES = 64 * 1024 * 1024
"""A micro-batch takes at most this many blobs / stored bytes (~100-500k CloudTrail events);
the pushes add at most ``max_push_rows``."""
COVERAGE_EVERY = 3600.0
"""Seconds between the watcher's coverage passes."""
PUSHES = "push"
"""The name the push log goes by in reports and metrics."""


class RecentIds:
    """The ids of the records this process detected last, at most ``limit`` of them."""

    def __init__(self, limit: int = 500_000) -> None:
        self.limit = limit
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, ids: Iterable[str]) -> None:
        for event_id in ids:
            self._ids[event_id] = None
            self._ids.move_to_end(event_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)

    def unseen(self, table: pa.Table) -> pa.Table:
        """The rows of ``table`` not detected yet, the first of each id."""
        if not table.num_rows:
            return table
        ids = table.column("id").to_pylist()
        keep: list[int] = []
        taken: set[str] = set()
        for position, event_id in enumerate(ids):
            if event_id not in self._ids and event_id not in taken:
                taken.add(event_id)
                keep.append(position)
        if len(keep) == table.num_rows:
            return table
        return table.take(pa.array(keep, pa.int64()))


@dataclass
class Polled:
    """What one input gave a batch: its blobs, when each arrived, and any failure."""

    input: WatchInput
    refs: list[BlobRef] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    events: int = 0
    error: str | None = None


@dataclass
class BatchReport:
    """What one micro-batch did: the progress line and the metrics come from it."""

    number: int
    blobs: int = 0
    events: int = 0
    new: int = 0
    detected: int = 0
    pushed: int = 0
    rejects: int = 0
    dropped: DroppedFields = NO_DROPS
    alerts: dict[str, int] = field(default_factory=dict)
    deliveries: int = 0
    seconds: float = 0.0
    lags: dict[str, list[float]] = field(default_factory=dict)
    """per input (and ``push``): seconds from each blob's arrival to its detection"""
    errors: dict[str, str] = field(default_factory=dict)
    polled: list[str] = field(default_factory=list)
    """inputs polled without error"""
    backlog: bool = False
    """the batch was full: more is waiting, the next one starts at once"""

    def line(self) -> str:
        changes = ", ".join(f"{n} {k}" for k, n in sorted(self.alerts.items())) or "none"
        worst = max((max(v) for v in self.lags.values() if v), default=None)
        text = (
            f"watch batch {self.number}: {self.blobs} blobs, {self.pushed} pushed, "
            f"{self.events} events ({self.new} new to the lake, {self.detected} detected), "
            f"alerts: {changes}, {self.deliveries} deliveries queued"
        )
        if self.rejects:
            text += f", {self.rejects} rejected"
        if self.backlog:
            text += ", more waiting"
        if worst is not None:
            text += f", lag up to {worst:.1f} s"
        text += f", {self.seconds:.2f} s"
        for uri, why in self.errors.items():
            text += f"; {uri} failed: {why}"
        return text


@dataclass
class BatchRunner:
    """The state a watcher keeps between micro-batches (its writer, rules and recent ids)."""

    settings: Settings
    db: Database
    inputs: list[WatchInput]
    pushlog: PushLog | None
    max_push_rows: int = 50_000
    max_blobs: int = MAX_BLOBS
    max_bytes: int = MAX_BYTES
    stream: StreamRules = field(default_factory=StreamRules)
    recent: RecentIds = field(default_factory=RecentIds)
    coverage_every: float = COVERAGE_EVERY
    _writer: LakeWriter | None = None
    _number: int = 0
    _coverage_at: float | None = None
    _sources_ok: set[str] = field(default_factory=set)

    @property
    def writer(self) -> LakeWriter:
        if self._writer is None:
            self._writer = LakeWriter(self.settings)
        return self._writer

    def run(self) -> BatchReport:
        """One micro-batch through every step; the caller holds the ``WriterLease``."""
        self._number += 1
        clock = time.perf_counter()
        report = BatchReport(self._number)
        budget = Budget(self.max_blobs, self.max_bytes)
        polled = [self._poll(one, report, budget) for one in self.inputs]
        report.backlog = budget.exhausted
        tables, rejects = self._normalize(polled, report)
        pending = self.pushlog.pending(self.max_push_rows) if self.pushlog is not None else None
        if pending is not None and pending.rows:
            tables.append(pending.events)
            report.pushed = pending.rows
            report.backlog |= pending.rows >= self.max_push_rows
        batch = pa.concat_tables(tables) if tables else EVENT_SCHEMA.empty_table()
        report.events = batch.num_rows
        stored = self.writer.store(batch) if batch.num_rows else Stored(batch)
        report.new = stored.count
        _crash_point("stored")
        fresh = self.recent.unseen(batch)
        report.detected = fresh.num_rows
        alerts = self._detect(fresh) + conflict_alerts(stored.conflicts) + self._coverage()
        with self.db.session() as session:
            # the daily job's shadow rules and model stay shadow here: stored, never delivered
            saved = save_alerts(session, alerts, shadow=shadow_plan(session))
            report.deliveries = enqueue_for_alerts(session, saved)
        report.alerts = dict(Counter(s.change for s in saved))
        _crash_point("saved")
        for one in polled:
            if one.refs:
                one.input.done(one.refs)
        if pending is not None:
            self.pushlog.commit(pending)  # type: ignore[union-attr]
        _crash_point("released")
        self.recent.add(fresh.column("id").to_pylist())
        if rejects:
            write_rejects(rejects, self.settings.rejects_dir, "watch")
        report.seconds = time.perf_counter() - clock
        _lags(report, polled, pending)
        return report

    def _poll(self, one: WatchInput, report: BatchReport, budget: Budget) -> Polled:
        try:
            found = one.poll(budget)
        except Exception as exc:  # one failing source must not stop the others
            report.errors[one.uri] = f"{type(exc).__name__}: {exc}"
            record_attempt(self.settings, one.uri, report.errors[one.uri])
            self._sources_ok.discard(one.uri)
            return Polled(one, error=report.errors[one.uri])
        if one.uri not in self._sources_ok:  # a success is written once, not every poll
            record_attempt(self.settings, one.uri, None)
            self._sources_ok.add(one.uri)
        report.polled.append(one.uri)
        return Polled(one, [r for r, _ in found], [a for _, a in found])

    def _normalize(
        self, polled: list[Polled], report: BatchReport
    ) -> tuple[list[pa.Table], list[Reject]]:
        tables: list[pa.Table] = []
        rejects: list[Reject] = []
        start, end = _ALL
        for one in polled:
            for ref in one.refs:
                done = normalize_ref(ref, settings=self.settings, start=start, end=end, clip=False)
                rejects.extend(done.rejects)
                report.dropped += done.dropped
                if done.events.num_rows:
                    tables.append(done.events)
                    one.events += done.events.num_rows
            report.blobs += len(one.refs)
        report.rejects = len(rejects)
        return tables, rejects

    def _coverage(self) -> list[Alert]:
        """Coverage findings on the first batch and then once every ``coverage_every``
        seconds: a silent account or a stopped log type is alerted within the hour, not at
        the next daily run (~0.1-0.3 s for 200 accounts; stable alert ids, so finding one
        again changes nothing)."""
        now = time.monotonic()
        if self._coverage_at is not None and now - self._coverage_at < self.coverage_every:
            return []
        self._coverage_at = now
        try:
            return coverage_findings(self.writer.lake, self.settings, datetime.now(UTC))
        except Exception:  # coverage must never hold up the batch's records
            log.exception("coverage pass failed; the next one is in an hour")
            return []

    def _detect(self, fresh: pa.Table) -> list[Alert]:
        if not fresh.num_rows:
            return []
        with self.db.session() as session:
            enabled = rule_states(session)
        ordered = fresh.take(pc.sort_indices(fresh, [("time", "ascending")]))
        return self.stream.run(events_from_arrow(ordered), rule_registry(self.settings, enabled))


_ALL = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))
"""A watcher keeps every record it gets, whatever its time (the lake partitions by day)."""


def _lags(report: BatchReport, polled: list[Polled], pending: Pending | None) -> None:
    now = time.time()
    for one in polled:
        if one.arrived:
            report.lags[one.input.uri] = [max(0.0, now - when) for when in one.arrived]
    if pending is not None and pending.rows and pending.oldest is not None:
        report.lags[PUSHES] = [max(0.0, now - pending.oldest)]


def _crash_point(step: str) -> None:
    """Die like SIGKILL at ``step`` when the test hook asks (no cleanup, no commit)."""
    if os.environ.get(CRASH_HOOK) == step:
        os._exit(137)


def lag_summary(lags: Mapping[str, list[float]]) -> dict[str, float]:
    """The worst lag of each input in a batch."""
    return {uri: max(values) for uri, values in lags.items() if values}
