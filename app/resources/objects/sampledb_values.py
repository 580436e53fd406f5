"""The values both halves of SampleDB's schema language share: ``Violation``, the pint unit registry,
and the number, id, language and date forms. ``schemas_sampledb`` (the check of a schema) and
``data_sampledb`` (the check of data against it) import this module; neither imports the other back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
LANGUAGE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


@dataclass(frozen=True)
class Violation:
    """One rule broken at ``path`` (a tuple of keys/indexes)."""

    path: tuple
    message: str

    def __str__(self) -> str:
        where = " -> ".join(str(p) for p in self.path)
        return f"{self.message} (at {where})" if where else self.message


@lru_cache(maxsize=1)
def unit_registry():
    """The one pint registry (building it is slow, so it is shared)."""
    import pint

    return pint.UnitRegistry()


def parse_units(text):
    """A pint Unit for ``text`` (``"1"`` means dimensionless), or None when pint cannot parse it."""
    if not isinstance(text, str) or not text.strip():
        return None
    registry = unit_registry()
    if text.strip() == "1":
        return registry.dimensionless
    try:
        return registry.Unit(text)
    except Exception:  # noqa: BLE001 — pint raises several types (and AssertionError) for bad input
        return None


def is_number(value):
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and value == value
        and value not in (float("inf"), float("-inf"))
    )


def is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_id(value):
    """An id the database can hold (32-bit, non-negative)."""
    return is_count(value) and value <= 2**31 - 1
