"""Rule on/off switches kept in the store, handed to the rule engine."""

MAX_DAYS = 366
"""The longest span of rule stats (``stats.py``, ``/v1/rules/{id}/stats``, ``rules stats``); here
so that ``functrail rules stats --help`` shows it without importing SQLAlchemy."""
