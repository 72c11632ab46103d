"""alert_counts stays equal to a GROUP BY over the alerts through every kind of write."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from detectors.alert import Evidence
from service.alerts.counts import alert_counts
from service.alerts.models import AlertRow
from service.alerts.store import save_alerts
from service.alerts.triage import triage
from tests.factories import alert


def _grouped(session) -> dict[tuple[str, str], int]:
    stmt = select(AlertRow.severity, AlertRow.status, func.count()).group_by(
        AlertRow.severity, AlertRow.status
    )
    return {(sev, status): int(n) for sev, status, n in session.execute(stmt)}


def test_counts_follow_new_folded_triaged_and_deleted_alerts(session):
    before = alert_counts(session)
    first = alert(severity="medium")
    save_alerts(session, [first, alert(severity="high"), alert(severity="high")])
    # A repeat of ``first`` at critical: folded into it, which moves it to critical.
    repeat = first.model_copy(
        update={
            "severity": "critical",
            "last_seen": first.last_seen + timedelta(minutes=5),
            "evidence": Evidence(event_ids=["evt-later"]),
        }
    )
    save_alerts(session, [repeat])
    triage(session, first.id, actor="kim", status="acknowledged")
    triage(session, first.id, actor="kim", note="only a note: no count moves")
    gone = session.get(AlertRow, first.id)
    session.delete(gone)
    session.flush()
    assert alert_counts(session) == _grouped(session)
    added = {pair: n - before.get(pair, 0) for pair, n in alert_counts(session).items()}
    assert {pair: n for pair, n in added.items() if n} == {("high", "open"): 2}


def test_a_suppressed_new_alert_counts_as_suppressed(session):
    from service.suppressions.store import SuppressionSpec, create_suppression

    create_suppression(session, SuppressionSpec(rule_id="noisy", reason="known"), creator="kim")
    before = alert_counts(session).get(("high", "suppressed"), 0)
    save_alerts(session, [alert(rule_id="noisy")])
    assert alert_counts(session)[("high", "suppressed")] == before + 1
    assert alert_counts(session) == _grouped(session)


def test_the_migration_counts_the_alerts_already_stored(tmp_path):
    from sqlalchemy.orm import Session

    from service.db import make_engine
    from service.migrations import run_upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as connection:
        run_upgrade(connection, "0005_audit_key_prefix")
        connection.exec_driver_sql(
            "INSERT INTO alerts (id, dedup_key, dedup_hash, detector, rule_id, title, severity, "
            "severity_rank, score, first_seen, last_seen, count, status, tags, evidence, "
            "created_at, updated_at) VALUES ('a1', 'k', 'h', 'rule', 'r', 't', 'high', 3, 1.0, "
            "'2026-03-02 10:00:00.000000', '2026-03-02 10:00:00.000000', 1, 'open', '[]', '{}', "
            "'2026-03-02 10:00:00.000000', '2026-03-02 10:00:00.000000')"
        )
        run_upgrade(connection)
    with Session(engine) as session:
        assert alert_counts(session) == {("high", "open"): 1}
        save_alerts(session, [alert(severity="high")])
        assert alert_counts(session) == {("high", "open"): 2}
    engine.dispose()
