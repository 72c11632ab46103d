"""Importing this module registers every command on the app (tests, scripts that use ``app``
directly); ``functrail`` itself imports only the command it runs (``dispatch.register``)."""

from __future__ import annotations

from service.cli.dispatch import register_all

register_all()
