"""Prometheus metrics: requests and latencies by route, ingest counts, alerts by severity.

Each app has its own registry (tests build many apps). Alert counts come from the counters
the alert writers keep (``alert_counts``: ~20 rows), read at scrape time so every API process
reports the same truth; a scrape no longer groups every alert (~1 s at 1M alerts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.alerts.counts import alert_counts
from service.db import Database

log = logging.getLogger("functrail.api")


class _AlertGauge(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "functrail_alerts", "alerts in the store", labels=["severity", "status"]
        )
        try:
            with self.db.sessions() as session:
                for (severity, status), n in alert_counts(session).items():
                    gauge.add_metric([severity, status], n)
        except Exception:  # a scrape must answer even when the database does not
            log.warning("alert gauge: database unavailable", exc_info=True)
        yield gauge


class Metrics:
    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "functrail_http_requests",
            "HTTP requests answered",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "functrail_http_request_seconds",
            "time to answer",
            ["route"],
            registry=self.registry,
        )
        self.ingest = Counter(
            "functrail_ingest_records",
            "records pushed to POST /v1/events",
            ["outcome"],
            registry=self.registry,
        )
        self.lake_records = Counter(
            "functrail_lake_records",
            "pushed records the writer moved to the lake: written, or dropped as repeats",
            ["outcome"],
            registry=self.registry,
        )
        self.conflicts = Counter(
            "functrail_event_id_conflicts",
            "records with a stored id and other content (event_id_conflict alerts)",
            registry=self.registry,
        )
        self.push_lag = Gauge(
            "functrail_push_lag_seconds",
            "age of the oldest record of the last batch the writer stored",
            registry=self.registry,
        )
        self.writer = Gauge(
            "functrail_push_writer",
            "1 in the process that holds the data folder's writer lease",
            registry=self.registry,
        )
        self.audit_refused = Counter(
            "functrail_audit_refused",
            "/v1 calls refused with 503 because the audit queue was full",
            registry=self.registry,
        )
        self.registry.register(_AlertGauge(db))

    def render(self) -> bytes:
        return generate_latest(self.registry)
