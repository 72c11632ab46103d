"""The API fixture of tests/service/api, for audit tests that go through HTTP."""

from tests.service.api.conftest import api  # noqa: F401  (a fixture, found by name)
