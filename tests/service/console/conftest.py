"""The console tests reuse the API's app-over-its-own-database fixture."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from service.db import Database
from tests.service.api.conftest import Api, make_api


@pytest.fixture
def api(fresh_database: tuple[Database, Path]) -> Iterator[Api]:
    made = make_api(fresh_database)
    with made.client:
        yield made
