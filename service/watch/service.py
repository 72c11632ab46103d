"""The watcher inside ``functrail serve`` (``FUNCTRAIL_WATCH_SOURCES``): built with the app,
its batches counted in the app's metrics, its lag and staleness scraped from ``/metrics``."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipelines.settings import Settings
from service.api.metrics import Metrics
from service.db import Database
from service.watch.batch import BatchReport
from service.watch.loop import Watcher

log = logging.getLogger("functrail.watch")

LAG_BUCKETS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 900, 3600)


def watch_in_process(settings: Settings, db: Database, metrics: Metrics) -> Watcher | None:
    """The watcher of ``settings.watch_sources`` reporting into ``metrics``; None when unset."""
    if not settings.watch_sources:
        return None
    watcher = Watcher(
        settings,
        db,
        settings.watch_sources,
        interval=settings.watch_interval,
        on_batch=lambda report: log.info("%s", report.line()),
    )
    WatchMetrics(watcher, metrics)
    return watcher


class WatchMetrics(Collector):
    """Per input: the lag histogram (arrival -> detection), and at scrape time the last lag,
    the last good poll, staleness, and whether this process holds the writer lease."""

    def __init__(self, watcher: Watcher, metrics: Metrics) -> None:
        self.watcher = watcher
        registry = metrics.registry
        self.lag = Histogram(
            "functrail_watch_lag_seconds",
            "seconds from a record's arrival (file landed, object notified, push appended) "
            "to its detection, per source",
            ["source"],
            buckets=LAG_BUCKETS,
            registry=registry,
        )
        self.batches = Counter(
            "functrail_watch_batches", "micro-batches the watcher ran", registry=registry
        )
        self.events = Counter(
            "functrail_watch_events",
            "records the watcher's micro-batches took, and how many it detected",
            ["stage"],
            registry=registry,
        )
        registry.register(self)
        previous = watcher.on_batch

        def counted(report: BatchReport) -> None:
            self.observe(report)
            if previous is not None:
                previous(report)

        watcher.on_batch = counted

    def observe(self, report: BatchReport) -> None:
        self.batches.inc()
        self.events.labels("taken").inc(report.events)
        self.events.labels("detected").inc(report.detected)
        for uri, lags in report.lags.items():
            for lag in lags:
                self.lag.labels(uri).observe(lag)

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        last = GaugeMetricFamily(
            "functrail_watch_last_lag_seconds",
            "the worst lag of the source's last records",
            labels=["source"],
        )
        polled = GaugeMetricFamily(
            "functrail_watch_last_poll_age_seconds",
            "seconds since the source was last polled without error",
            labels=["source"],
        )
        stale = GaugeMetricFamily(
            "functrail_watch_stale", "1 for a source not polled for a while", labels=["source"]
        )
        stale_now = set(self.watcher.stale(now))
        for uri, status in self.watcher.status.items():
            if status.lag is not None:
                last.add_metric([uri], status.lag)
            if status.last_ok is not None:
                polled.add_metric([uri], now - status.last_ok)
            stale.add_metric([uri], 1.0 if uri in stale_now else 0.0)
        writer = GaugeMetricFamily(
            "functrail_watch_writer", "1 in the process whose watcher holds the writer lease"
        )
        writer.add_metric([], 1.0 if self.watcher.lease.held else 0.0)
        yield from (last, polled, stale, writer)
