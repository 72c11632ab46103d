"""What every API query and body shares: times the store can hold, text it can hold.

Callers control every value, so a value the database or Python's datetime cannot represent
must be a 422 here, never an error deep in a driver (a 500 whose log carries SQL and values).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Final

from pydantic import AfterValidator, BaseModel, field_validator

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


ApiTime = Annotated[datetime, AfterValidator(bounded_utc)]
"""A time from a caller: aware UTC, between 1970 and 2100 (422 otherwise)."""


class RequestBody(BaseModel):
    """The base of every JSON body the API takes: no string in it may hold NUL (422).

    PostgreSQL text cannot store NUL, so a NUL in a webhook's ``url`` or ``description`` was
    a 500 there (and stored on SQLite). One check on the base covers each field a body model
    has now or gains later, lists and maps included.
    """

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _holds_nul(value):
            raise ValueError("NUL characters are not accepted")
        return value


def _holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    return False
