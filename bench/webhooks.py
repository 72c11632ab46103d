"""Webhook delivery throughput: the outbox + dispatcher against plain sequential POSTs.

Runs a local receiver on 127.0.0.1, queues N alerts for one subscription (SQLite by default,
``--database URL`` for PostgreSQL) and times ``Dispatcher.run_once`` until the queue is
empty, with 1 and 2 dispatchers; then times the simplest alternative, one ``httpx.post`` per
alert with no outbox, signing or retries. Prints deliveries/s and peak RSS.

    python bench/webhooks.py --alerts 500
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipelines.settings import Settings
from service.alerts.store import SavedAlert
from service.db import open_database
from service.webhooks import outbox, store
from service.webhooks.dispatcher import Dispatcher, DispatcherConfig
from service.webhooks.formats import FORMATS, RenderContext, encode_body
from service.webhooks.store import NewSubscription
from tests.factories import alert
from tests.service.webhooks.receivers import receiver


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_outbox(n: int, dispatchers: int, database: str | None) -> float:
    home = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    settings = Settings(home=home, database_url=database, webhook_allow_private=True)
    schema = f"bench_{int(time.time())}_{dispatchers}" if database else None
    db = open_database(settings, schema=schema)
    alerts = [alert() for _ in range(n)]
    with receiver() as r:
        with db.session() as s:
            _sub, secret = store.create_subscription(s, settings, NewSubscription(url=r.url))
            assert secret is not None  # a new subscription's secret is returned once
            r.secret = secret
        with db.session() as s:
            outbox.enqueue_for_alerts(s, [SavedAlert(a, "new") for a in alerts])
        workers = [
            Dispatcher(db.sessions, settings, DispatcherConfig(batch=50), name=f"b{i}")
            for i in range(dispatchers)
        ]
        start = time.perf_counter()
        threads = [threading.Thread(target=lambda d=d: _drain(d)) for d in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - start
        for d in workers:
            d.stop()
        assert len(r.delivered()) == n, (len(r.delivered()), n)
        assert all(c.verified for c in r.calls)
    if schema:
        with db.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    db.dispose()
    return n / elapsed


def _drain(dispatcher: Dispatcher) -> None:
    while dispatcher.run_once():
        pass


def run_plain(n: int) -> float:
    alerts = [alert() for _ in range(n)]
    fmt = FORMATS["generic"]
    with receiver() as r, httpx.Client() as client:
        start = time.perf_counter()
        for a in alerts:
            body = encode_body(fmt.render(a, RenderContext(event="alert.created", delivery_id="x")))
            client.post(r.url, content=body, headers={"Content-Type": "application/json"})
        elapsed = time.perf_counter() - start
        assert len(r.calls) == n
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=500)
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (default SQLite)")
    args = parser.parse_args()
    backend = "postgresql" if args.database else "sqlite"
    plain = run_plain(args.alerts)
    print(f"plain httpx.post, sequential, no outbox:  {plain:8.0f} deliveries/s")
    for n in (1, 2):
        rate = run_outbox(args.alerts, n, args.database)
        print(f"outbox on {backend}, {n} dispatcher(s):       {rate:8.0f} deliveries/s")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
