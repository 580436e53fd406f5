"""Time helpers: the server stores naive UTC datetimes and renders RFC 3339 with milliseconds."""

from datetime import UTC, datetime


def utcnow():
    """The current time as a naive UTC datetime (what every DateTime column stores)."""
    return datetime.now(UTC).replace(tzinfo=None)


def rfc3339(value):
    """``2026-01-02T03:04:05.678Z`` for a naive-UTC or aware datetime; None stays None."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"  # milliseconds truncated, as the filters read them
