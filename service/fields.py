"""Field types every API query and body shares: times the store can hold, text it can hold.

Callers control every value, so a value the database or Python's datetime cannot represent
must be a 422 here, never an error deep in a driver (a 500 whose log carries SQL and values).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Final

from pydantic import AfterValidator

EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
"""Times before ``EARLIEST`` or at/after ``LATEST`` are refused: nothing functrail stores is
older than the epoch, and a far-future offset time (``9999-12-31T23:59:59-12:00``) overflows
the moment it is converted to UTC."""


def bounded_utc(moment: datetime) -> datetime:
    """``moment`` in UTC (no zone: taken as UTC); ValueError outside 1970-2100."""
    try:
        utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("time must be between 1970 and 2100 (UTC)") from None
    if not EARLIEST <= utc < LATEST:
        raise ValueError("time must be between 1970 and 2100 (UTC)")
    return utc


def no_nul(text: str) -> str:
    """``text`` unchanged; ValueError when it holds NUL, which PostgreSQL text cannot store."""
    if "\x00" in text:
        raise ValueError("NUL characters are not accepted")
    return text


ApiTime = Annotated[datetime, AfterValidator(bounded_utc)]
"""A time from a caller: aware UTC, between 1970 and 2100 (422 otherwise)."""
Text = Annotated[str, AfterValidator(no_nul)]
"""Text from a caller that is stored or compared in SQL: no NUL (422 otherwise)."""
