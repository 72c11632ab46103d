"""PostgreSQL pooled connections: pinged only after sitting idle, and replaced when gone."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from service import db as service_db
from service.db import make_engine
from tests.service.conftest import PG_URL

pytestmark = pytest.mark.integration


def _counting_pings(engine):
    pings = []
    real = engine.dialect.do_ping

    def counted(connection):
        pings.append(1)
        return real(connection)

    engine.dialect.do_ping = counted
    return pings


def test_a_connection_in_steady_use_is_not_pinged_per_checkout():
    engine = make_engine(PG_URL)
    pings = _counting_pings(engine)
    try:
        for _ in range(20):
            with engine.connect() as conn:
                assert conn.scalar(text("SELECT 1")) == 1
        assert len(pings) == 1  # the new connection's first checkout only
    finally:
        engine.dispose()


def test_an_idle_connection_whose_backend_died_is_replaced_before_use(monkeypatch):
    monkeypatch.setattr(service_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout is "idle"
    engine = make_engine(PG_URL, pool_size=1)
    killer = make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            first = conn.scalar(text("SELECT pg_backend_pid()"))
        with killer.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            conn.commit()
        with engine.connect() as conn:  # no error: the ping failed, the pool reconnected
            assert conn.scalar(text("SELECT pg_backend_pid()")) != first
    finally:
        engine.dispose()
        killer.dispose()


def test_reads_skip_the_transaction_and_hand_back_a_transactional_connection(fresh_database):
    db, _ = fresh_database
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite reads keep their defaults")
    with db.reads() as connection:
        assert connection.connection.driver_connection.autocommit
        assert connection.scalar(text("SELECT 1")) == 1
    with db.sessions() as session:  # the same pooled connection, back to transactions
        assert not session.connection().connection.driver_connection.autocommit
