"""Schemathesis against the app's own OpenAPI: no generated request may end in a 500."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from requests.structures import CaseInsensitiveDict
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from service.api.limits import ApiLimits
from tests.factories import alert
from tests.service.api.conftest import make_api


@pytest.mark.slow
def test_generated_requests_never_get_a_server_error(fresh_database):
    limits = ApiLimits(max_body_bytes=64 * 1024, rate_per_second=1e6, burst=10**6)
    api = make_api(fresh_database, limits)
    api.save(alert())
    headers = api.headers("admin")
    for warm in ("/v1/models", "/v1/rules"):  # first use imports the registry and rule pack
        assert api.client.get(warm, headers=headers).status_code == 200
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # the app's own schema must load
        operations.append(result.ok())
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def check(case: schemathesis.Case) -> None:
            case.headers = CaseInsensitiveDict({**dict(case.headers or {}), **headers})
            response = case.call(timeout=120)
            case.validate_response(response, checks=[not_a_server_error])
            if response.status_code >= 400:
                [content_type] = response.headers["content-type"]
                assert content_type.startswith("application/problem+json")

        check()
    api.state.audit.close()  # before the database is dropped
