"""Imports each command module once so it registers on the app (one line per module)."""

from __future__ import annotations

from service.cli import normalize  # noqa: F401
from service.cli import simulate  # noqa: F401
from service.cli import train  # noqa: F401
from service.cli import models  # noqa: F401
from service.cli import ingest  # noqa: F401
from service.cli import detect  # noqa: F401
from service.cli import rules  # noqa: F401
from service.cli import keys  # noqa: F401
from service.cli import alerts  # noqa: F401
from service.cli import serve  # noqa: F401
from service.cli import webhooks  # noqa: F401
from service.cli import score  # noqa: F401
from service.cli import demo  # noqa: F401
