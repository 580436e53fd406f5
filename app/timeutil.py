"""Time helpers: the server stores naive UTC datetimes and renders RFC 3339 with milliseconds."""

from datetime import UTC, datetime


def utcnow():
    """The current time as a naive UTC datetime (what every DateTime column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(value):
    """``2026-01-02T03:04:05.678Z`` for a naive-UTC or aware datetime, or for a naive-UTC one as SQLite
    holds it (SQLAlchemy's ``DateTime`` text, read as stored by a page: app/fastread.py); None stays None."""
    if value is None:
        return None
    if value.__class__ is str:
        if len(value) == 26 and value[10] == " " and value[19] == ".":  # "2026-01-02 03:04:05.678901"
            return f"{value[:10]}T{value[11:23]}Z"
        value = datetime.fromisoformat(value)  # any other ISO 8601 text: parsed, never echoed
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"  # milliseconds truncated, as the filters read them
