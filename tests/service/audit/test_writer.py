"""The batched audit writer: bursts all land, shutdown flushes, a full queue refuses calls."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event, func, select

from service.audit.models import AuditRow
from service.audit.store import AuditEntry
from service.audit.writer import AuditWriter
from service.db import Database, utcnow
from service.keys.models import ApiKeyRow
from tests.factories import HOSTILE
from tests.service.api.conftest import assert_problem, make_api


def _entry(n: int, key_id: str | None = None) -> AuditEntry:
    return AuditEntry("GET", "/v1/alerts", f"n={n}", 200, "127.0.0.1", key_id, "viewer")


def _rows(db: Database) -> list[AuditRow]:
    with db.session() as session:
        return list(session.scalars(select(AuditRow).order_by(AuditRow.id)))


def test_a_burst_of_api_calls_all_lands_in_order(api):
    headers = api.headers("viewer")
    for n in range(120):
        api.client.get(f"/v1/alerts?limit={n + 1}", headers=headers)
    assert api.state.audit.flush()
    rows = _rows(api.db)
    assert [r.query for r in rows] == [f"limit={n + 1}" for n in range(120)]
    assert {r.status_code for r in rows} == {200}


def test_batches_are_cut_at_max_batch(fresh_database):
    db, _ = fresh_database
    writer = AuditWriter(db, interval=60.0, max_batch=10)
    for n in range(25):
        writer.submit(_entry(n))
    assert writer.flush(timeout=10)
    assert [r.query for r in _rows(db)] == [f"n={n}" for n in range(25)]
    writer.close()


def test_the_writer_is_woken_for_a_first_row_and_a_full_batch_not_per_call(fresh_database):
    db, _ = fresh_database
    writer = AuditWriter(db, interval=60.0, max_batch=50)
    wakes = 0
    notify_all = writer._cond.notify_all

    def counted() -> None:
        nonlocal wakes
        wakes += 1
        notify_all()

    writer._cond.notify_all = counted  # type: ignore[method-assign]
    for n in range(49):
        writer.submit(_entry(n))
    assert wakes == 1  # the first row; the writer then sleeps out its interval
    writer.submit(_entry(49))
    assert wakes == 2  # a full batch goes at once
    assert writer.flush(timeout=10)
    assert len(_rows(db)) == 50
    writer.close()


def test_hostile_text_and_copy_escapes_are_stored_verbatim(fresh_database):
    db, _ = fresh_database
    tricky = f"{HOSTILE}\t\n\\N\\.\r"  # tab, newline, COPY's NULL marker and end-of-data line
    writer = AuditWriter(db)
    writer.submit(AuditEntry("GET", tricky, tricky, 200, "\\N", None, None))
    writer.submit(AuditEntry("GET", "/v1/alerts", "", 200, None, None, None))
    writer.close()
    first, second = _rows(db)
    assert (first.route, first.query, first.client_ip) == (tricky, tricky, "\\N")
    assert (second.client_ip, second.key_id, second.role) == (None, None, None)


def test_postgresql_rows_go_by_copy_not_by_insert(fresh_database):
    db, _ = fresh_database
    statements: list[str] = []
    event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    writer = AuditWriter(db)
    for n in range(30):
        writer.submit(_entry(n))
    writer.close()
    assert len(_rows(db)) == 30
    inserts = [s for s in statements if s.lstrip().upper().startswith("INSERT INTO AUDIT_LOG")]
    assert bool(inserts) == (db.engine.dialect.name == "sqlite")


def test_close_writes_what_is_queued(fresh_database):
    db, _ = fresh_database
    writer = AuditWriter(db, interval=60.0)  # would not write on its own for a minute
    for n in range(7):
        writer.submit(_entry(n))
    writer.close()
    assert len(_rows(db)) == 7
    assert writer.pending == 0


def test_app_shutdown_flushes_the_audit_rows(fresh_database):
    api = make_api(fresh_database)
    with api.client:
        api.state.audit.interval = 60.0
        headers = api.headers("viewer")
        for _ in range(5):
            api.client.get("/v1/alerts", headers=headers)
    with api.db.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditRow)) == 5


def test_rows_keep_the_time_of_the_call_not_of_the_write(fresh_database):
    db, _ = fresh_database
    writer = AuditWriter(db)
    at = utcnow() - timedelta(minutes=3)
    writer.submit(AuditEntry("GET", "/v1/alerts", "", 200, None, at=at))
    writer.close()
    assert _rows(db)[0].at == at


def test_last_used_moves_forward_only(fresh_database):
    db, _ = fresh_database
    api = make_api(fresh_database)
    api.new_key("viewer", name="kim")
    with db.session() as session:
        key_id = session.scalar(select(ApiKeyRow.id).where(ApiKeyRow.name == "kim"))
    later = utcnow()
    writer = AuditWriter(db)
    writer.submit(AuditEntry("GET", "/v1/alerts", "", 200, None, key_id, "viewer", at=later))
    writer.submit(
        AuditEntry("GET", "/v1/alerts", "", 200, None, key_id, "viewer", at=later - timedelta(1))
    )
    writer.close()
    with db.session() as session:
        row = session.get(ApiKeyRow, key_id)
        assert row is not None
        assert row.last_used_at == later


def test_full_queue_refuses_calls_with_503_until_it_drains(fresh_database):
    api = make_api(fresh_database)
    headers = api.headers("viewer")
    audit = AuditWriter(api.db, interval=60.0, max_pending=2)
    api.state.audit = audit
    assert api.client.get("/v1/alerts", headers=headers).status_code == 200
    assert api.client.get("/v1/alerts", headers=headers).status_code == 200
    refused = api.client.get("/v1/alerts", headers=headers)
    assert_problem(refused, 503)
    assert refused.headers["retry-after"] == "1"
    assert api.client.get("/healthz").status_code == 200  # probes are not audited
    assert audit.flush()
    assert api.client.get("/v1/alerts", headers=headers).status_code == 200
    audit.close()
    assert len(_rows(api.db)) == 3  # the refused call was not served, so it has no row


def test_a_failed_batch_is_kept_and_written_once_the_database_is_back(fresh_database):
    db, _ = fresh_database
    AuditRow.__table__.drop(db.engine)  # type: ignore[attr-defined]
    writer = AuditWriter(db, interval=0.01, retry_after=0.05)
    for n in range(3):
        writer.submit(_entry(n))
    assert not writer.flush(timeout=0.5)
    assert writer.pending == 3
    AuditRow.__table__.create(db.engine)  # type: ignore[attr-defined]
    assert writer.flush(timeout=10)
    writer.close()
    assert [r.query for r in _rows(db)] == ["n=0", "n=1", "n=2"]
