"""Keys, roles, rate limit and the audit log."""

from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select

from service.api import deps
from service.api.limits import ApiLimits
from service.audit.models import AuditRow
from service.keys.cache import KeyCache
from service.keys.models import ApiKeyRow
from service.keys.store import revoke_key, server_secret
from tests.factories import cloudtrail_file, cloudtrail_record
from tests.service.api.conftest import assert_problem, make_api


def test_missing_key_is_401_problem_json(api):
    response = api.client.get("/v1/alerts")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_and_revoked_keys_are_401(api):
    clock = [0.0]
    api.state.keys = KeyCache(ttl=5.0, clock=lambda: clock[0])
    key = api.new_key("viewer", name="soon-gone")
    headers = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/alerts", headers=headers).status_code == 200
    tampered = key[:-2] + ("AA" if not key.endswith("AA") else "BB")
    assert_problem(
        api.client.get("/v1/alerts", headers={"Authorization": f"Bearer {tampered}"}), 401
    )
    with api.db.session() as session:
        revoke_key(session, "soon-gone")
    clock[0] = 4.9  # the documented window: a revoked key works until its cache entry expires
    assert api.client.get("/v1/alerts", headers=headers).status_code == 200
    clock[0] = 5.0
    assert_problem(api.client.get("/v1/alerts", headers=headers), 401)
    clock[0] = 100.0  # and it does not come back
    assert_problem(api.client.get("/v1/alerts", headers=headers), 401)


def test_a_cached_key_needs_no_database_trip(api, monkeypatch):
    asked: list[str] = []
    real = deps.authenticate

    def counted(session, presented, **kwargs):
        asked.append(presented)
        return real(session, presented, **kwargs)

    monkeypatch.setattr(deps, "authenticate", counted)
    key, other = api.new_key("viewer"), api.new_key("viewer")
    for presented in (key, key, key, other):
        response = api.client.get("/v1/alerts", headers={"Authorization": f"Bearer {presented}"})
        assert response.status_code == 200
    assert asked == [key, other]


def test_last_used_is_written_with_the_audit_batch(api):
    api.client.get("/v1/alerts", headers=api.headers("viewer"))
    assert api.state.audit.flush()
    with api.db.session() as session:
        row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.role == "viewer"))
        audited = session.scalar(select(AuditRow).where(AuditRow.key_id == row.id))
    assert row.last_used_at is not None
    assert row.last_used_at == audited.at


def test_viewer_cannot_patch_alerts(api):
    response = api.client.patch(
        "/v1/alerts/x", json={"status": "resolved"}, headers=api.headers("viewer")
    )
    assert_problem(response, 403)


def test_ingest_key_can_only_post_events(api):
    ingest = api.headers("ingest")
    assert_problem(api.client.get("/v1/alerts", headers=ingest), 403)
    assert_problem(api.client.get("/v1/suppressions", headers=ingest), 403)
    body = cloudtrail_file(cloudtrail_record())
    assert api.client.post("/v1/events", content=body, headers=ingest).status_code == 200


def test_only_ingest_keys_post_events(api):
    body = cloudtrail_file(cloudtrail_record())
    for role in ("viewer", "analyst", "admin"):
        assert_problem(api.client.post("/v1/events", content=body, headers=api.headers(role)), 403)


def test_keys_are_stored_as_hmac_never_in_clear(api):
    key = api.new_key("admin", name="root-ish")
    with api.db.session() as session:
        row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.name == "root-ish"))
        stored = [str(getattr(row, c.key)) for c in ApiKeyRow.__table__.columns]
    secret_part = key.split("_", 2)[2]
    assert not any(secret_part in value for value in stored)
    expected = hmac.new(server_secret(api.settings.home), key.encode(), hashlib.sha256).hexdigest()
    assert row.hash == expected
    assert (api.settings.home / "api-keys.secret").stat().st_mode & 0o777 == 0o600


def test_rate_limit_answers_429_with_retry_after(fresh_database):
    api = make_api(fresh_database, ApiLimits(rate_per_second=0.01, burst=3))
    headers = api.headers("viewer")
    with api.client:  # the lifespan stops the app's audit writer before the database goes
        codes = [api.client.get("/v1/alerts", headers=headers).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        response = api.client.get("/v1/alerts", headers=headers)
    assert_problem(response, 429)
    assert int(response.headers["retry-after"]) >= 1


def test_every_api_call_is_audited(api):
    api.client.get("/v1/alerts?status=open&q=%27x", headers=api.headers("viewer"))
    api.client.get("/v1/alerts")
    api.client.get("/healthz")
    assert api.state.audit.flush()
    with api.db.session() as session:
        rows = list(session.scalars(select(AuditRow).order_by(AuditRow.id)))
    assert [(r.method, r.route, r.status_code) for r in rows] == [
        ("GET", "/v1/alerts", 200),
        ("GET", "/v1/alerts", 401),
    ]
    assert rows[0].role == "viewer"
    assert rows[0].key_id is not None
    assert rows[0].query == "status=open&q=%27x"
    assert rows[0].client_ip
    assert rows[1].key_id is None


def test_a_refused_key_is_audited_with_its_prefix(api):
    good = api.new_key("viewer", name="leaked")
    with api.db.session() as session:
        revoke_key(session, "leaked")
    api.client.get("/v1/alerts", headers={"Authorization": f"Bearer {good}"})
    api.client.get("/v1/alerts", headers={"Authorization": "Bearer ft_0123456789ab_wrong"})
    api.client.get("/v1/alerts", headers={"Authorization": "Bearer <script>"})
    assert api.state.audit.flush()
    with api.db.session() as session:
        rows = list(session.scalars(select(AuditRow).order_by(AuditRow.id)))
    assert [(r.status_code, r.key_prefix) for r in rows] == [
        (401, good[:15]),
        (401, "ft_0123456789ab"),
        (401, None),  # not our shape: nothing of it is kept
    ]
