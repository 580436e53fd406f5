"""app/timeutil.rfc3339: a datetime, and the text SQLite holds for one (a page reads it as stored)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from app.timeutil import rfc3339

STORE = DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 1, 2, 3, 4, 5, 678901),
        datetime(2026, 1, 2, 3, 4, 5),
        datetime(2026, 12, 31, 23, 59, 59, 999999),
        datetime(1999, 1, 1, 0, 0, 0, 999),
    ],
)
def test_sqlites_stored_text_renders_as_its_datetime(value):
    stored = STORE(value)
    assert isinstance(stored, str) and rfc3339(stored) == rfc3339(value)
    assert rfc3339(value) == value.isoformat(timespec="milliseconds") + "Z"


def test_other_values():
    assert rfc3339(None) is None
    aware = datetime(2026, 1, 2, 5, 4, 5, 678000, tzinfo=timezone(timedelta(hours=2)))
    assert rfc3339(aware) == "2026-01-02T03:04:05.678Z" == rfc3339(aware.astimezone(UTC))
    assert rfc3339("2026-01-02T03:04:05") == "2026-01-02T03:04:05.000Z"  # other ISO text is parsed
    with pytest.raises(ValueError):
        rfc3339("not a time")
