"""The collection query grammar (DESIGN.md §4): declared fields, parsed values, errors.

``Collection.parse`` (app/hal/collection.py) turns a request's query MultiDict into a ``Query`` and is
strict: an unknown parameter, an undeclared property, a disallowed
operator, a bad value or a repeated parameter raises ``QueryError``
naming the parameter. Nothing is silently ignored.
"""

from __future__ import annotations

import enum
import math
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Uuid, and_, not_, or_
from werkzeug.exceptions import BadRequest

__all__ = [
    "Field",
    "Filter",
    "Query",
    "QueryError",
    "parse_value",
    "parse_sort",
    "INT32_MAX",
    "INT64_MAX",
    "parse_integer",
    "int_limit",
    "OPERATORS",
    "Operator",
    "Variable",
]

TYPES = ("str", "int", "float", "bool", "datetime", "uuid", "enum")
OPS = ("eq", "any", "ne", "contains", "from", "to")
INT32_MAX = 2**31 - 1  # SQL INTEGER (PostgreSQL int4)
INT64_MAX = 2**63 - 1  # SQL BIGINT: PostgreSQL refuses a bigger bound value, SQLite raises OverflowError
_INT = re.compile(r"[+-]?[0-9]+")
_DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
# A literal "+" in a query string decodes to a space: "…T10:00 01:00" means "+01:00".
_SPACE_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")


@dataclass(frozen=True)
class Operator:
    """One filter operator of the grammar with both of its spellings (docs/hal.md, "Filter names").

    ``suffix`` is appended to the property's name (``title!``, ``title~``, ``createdFrom``): the
    spelling of DESIGN.md §4. ``alias`` follows a dot (``title.not``, ``title.contains``,
    ``created.from``): a valid RFC 6570 variable name, which every URI Template library expands as
    it is (``!`` and ``~`` are not varchars, so a template must carry them percent-encoded, and
    libraries that re-encode ``%`` cannot fill them in). Both spellings parse to the same filter.
    ``symbol`` is what the browsable filter form's operator picker shows (app/browsable/page.py).
    """

    op: str  # the Filter op
    suffix: str
    alias: str
    applies: Callable[[Field], bool]
    description: str
    symbol: str


OPERATORS = (
    Operator("ne", "!", "not", lambda f: True, "Not equal; `a,b` matches neither.", "!="),
    Operator("contains", "~", "contains", lambda f: bool(f.search), "Contains, case-insensitive.", "~="),
    Operator("from", "From", "from", lambda f: bool(f.range), "Inclusive lower bound.", "from"),
    Operator("to", "To", "to", lambda f: bool(f.range), "Inclusive upper bound.", "to"),
)


@dataclass(frozen=True)
class Variable:
    """One query parameter of a collection's grammar: paging, ``sort``, an extra, or a filter.

    A filter's ``field`` and ``op`` (``eq`` for the bare property) and, for an operator, its
    ``operator`` and whether this is its dotted ``alias`` spelling."""

    name: str
    field: Field | None = None
    op: str | None = None
    operator: Operator | None = None
    alias: bool = False


class QueryError(BadRequest):
    """A query parameter did not validate (400, ``QUERY_DID_NOT_VALIDATE``)."""

    event = "QUERY_DID_NOT_VALIDATE"

    def __init__(self, param: str, message: str) -> None:
        """Name the offending ``param`` and say what is wrong with it."""
        self.param = param
        self.errors = {param: [message]}
        super().__init__(description=f"Query parameter {param!r}: {message}")


@dataclass
class Field:
    """A property of a collection that the grammar may filter or sort on.

    ``filter``, when given, is a hook ``filter(op, values) -> SQL clause`` for
    properties that are not plain columns; ``values`` is always a list of
    parsed values and ``op`` one of ``OPS``.
    """

    name: str
    column: Any = None
    type: str = "str"
    choices: tuple = ()
    filterable: bool = True
    sortable: bool = False
    search: bool | None = None
    range: bool | None = None
    filter: Callable[[str, list], Any] | None = None

    def __post_init__(self) -> None:
        """Fill the type-dependent defaults and check the declaration."""
        if self.type not in TYPES:
            raise ValueError(f"field {self.name!r}: unknown type {self.type!r}")
        if self.type == "enum" and not self.choices:
            raise ValueError(f"field {self.name!r}: an enum needs choices")
        if self.search is None:
            self.search = self.type == "str"
        if self.range is None:
            self.range = self.type in ("int", "float", "datetime")

    def clause(self, op: str, values: list) -> Any:
        """The SQL condition for ``op`` over parsed ``values``."""
        if self.filter is not None:
            return self.filter(op, values)
        col = self.column
        if self.type == "datetime" and op in ("eq", "any", "ne", "to") and all(map(_whole_ms, values)):
            # Datetimes are represented to the millisecond (rfc3339) but stored to the microsecond: a value
            # written to the millisecond (or coarser) means that whole millisecond, so the value an item
            # shows always finds it again (eq/any/ne), and ``propTo`` includes the millisecond it names.
            within = [_in_ms(col, v) for v in values]
            if op == "to":
                return col <= datetime.max if values[0] > _LAST_MS else col < values[0] + _MS
            return or_(*within) if op != "ne" else or_(not_(or_(*within)), col.is_(None))
        if op == "eq":
            return col == values[0]
        if op == "any":
            return col.in_(values)
        if op == "ne":
            # SQL's NULL != x is unknown; a missing value is still "not equal".
            return or_(col.not_in(values), col.is_(None))
        if op == "contains":
            return col.ilike(f"%{escape_like(str(values[0]))}%", escape="\\")
        if op == "from":
            return col >= values[0]
        if op == "to":
            return col <= values[0]
        raise ValueError(f"unknown operator {op!r}")


_MS = timedelta(milliseconds=1)
_LAST_MS = datetime.max - _MS  # the millisecond after a later value is past year 9999: no upper bound then


def _in_ms(col: Any, value: datetime) -> Any:
    """``col`` within the millisecond that starts at ``value``."""
    return col >= value if value > _LAST_MS else and_(col >= value, col < value + _MS)


def _whole_ms(value: Any) -> bool:
    return isinstance(value, datetime) and value.microsecond % 1000 == 0


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so ``%`` and ``_`` match themselves (escape char ``\\``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass
class Filter:
    """One parsed filter parameter: ``param=raw`` meaning ``field op values``."""

    field: Field
    op: str
    values: list
    param: str
    raw: str


@dataclass
class Query:
    """A parsed, validated collection query."""

    style: str = "page"
    page: int = 1
    size: int = 10
    offset: int = 0
    sort: list[tuple[str, bool]] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    id_lookup: bool = False
    extras: list[tuple[str, str]] = field(default_factory=list)
    cursor: Any = None  # a cursor page's decoded ``Cursor`` (style "cursor")

    def params(
        self, *, page: int | None = None, offset: int | None = None, cursor: str | None = None
    ) -> list[tuple[str, str]]:
        """Canonical query pairs (paging, sort, filters, extras), optionally moved to another page."""
        if cursor is not None or (self.style == "cursor" and page is None):
            pairs = [("cursor", cursor or self.cursor.raw), ("size", str(self.size))]
        elif self.style == "offset":
            pairs = [("limit", str(self.size)), ("offset", str(self.offset if offset is None else offset))]
        else:
            pairs = [("page", str(self.page if page is None else page)), ("size", str(self.size))]
        if self.sort:
            pairs.append(("sort", ",".join(("-" if desc else "") + name for name, desc in self.sort)))
        pairs += [(f.param, f.raw) for f in self.filters]
        return pairs + list(self.extras)


def parse_sort(param: str, raw: str, fields: dict[str, Field]) -> list[tuple[str, bool]]:
    """Parse ``[+|-]prop[,...]`` into ``(name, descending)`` pairs over sortable fields."""
    out: list[tuple[str, bool]] = []
    for item in raw.split(","):
        desc = item.startswith("-")
        name = item[1:] if item[:1] in ("-", "+", " ") else item
        fld = fields.get(name)
        if not name:
            raise QueryError(param, "empty sort key")
        if fld is None:
            raise QueryError(param, f"unknown property {name!r}")
        if not fld.sortable:
            raise QueryError(param, f"property {name!r} is not sortable")
        if any(n == name for n, _ in out):
            raise QueryError(param, f"property {name!r} appears twice")
        out.append((name, desc))
    return out


def parse_value(fld: Field, param: str, raw: str, *, upper: bool = False) -> Any:
    """Parse one raw value by the field's type, or raise QueryError.

    Datetimes become naive UTC; a date-only upper bound (``upper``) means the
    end of that day, so ``createdTo=2026-01-31`` includes the whole day.
    """
    kind = fld.type
    if kind == "str":
        return raw
    if kind == "int":
        limit = int_limit(fld)
        return parse_integer(param, raw, -limit, limit)
    if kind == "float":
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise QueryError(param, f"{raw!r} is not a number")
        return value
    if kind == "bool":
        lowered = raw.lower()
        if lowered not in ("true", "false", "1", "0"):
            raise QueryError(param, f"{raw!r} is not a boolean (true, false, 1, 0)")
        return lowered in ("true", "1")
    if kind == "datetime":
        return _parse_datetime(param, raw, upper)
    if kind == "uuid":
        try:
            value = uuid.UUID(raw)
        except ValueError:
            raise QueryError(param, f"{raw!r} is not a UUID") from None
        return value if isinstance(getattr(fld.column, "type", None), Uuid) else str(value)
    choices = {str(c.value if isinstance(c, enum.Enum) else c): c for c in fld.choices}
    if raw not in choices:
        raise QueryError(param, f"{raw!r} is not one of: {', '.join(choices)}")
    return choices[raw]


def parse_integer(param: str, raw: str, low: int, high: int) -> int:
    """A decimal integer in ``[low, high]``, or QueryError naming ``param`` (ASCII digits only; a
    string of thousands of digits is refused before ``int()``, which would raise on it)."""
    if not _INT.fullmatch(raw):
        raise QueryError(param, f"{raw[:40]!r} is not an integer")
    value = int(raw) if len(raw.lstrip("+-0")) <= 20 else high + 1
    if not low <= value <= high:
        raise QueryError(param, f"{raw[:40]!r} is out of range (must be between {low} and {high})")
    return value


def int_limit(fld: Field) -> int:
    """The largest magnitude the field's column holds (PostgreSQL rejects bigger bound values with an
    error)."""
    column_type = getattr(fld.column, "type", None)
    return INT64_MAX if isinstance(column_type, BigInteger) else INT32_MAX


def _parse_datetime(param: str, raw: str, upper: bool) -> datetime:
    """Parse ISO-8601 (``Z``, offsets, date-only) into naive UTC, in years 1 to 9999 (Python's range)."""
    text = _SPACE_OFFSET.sub(r"+\1", raw)
    try:
        if _DATE_ONLY.fullmatch(text):
            value = datetime.combine(date.fromisoformat(text), datetime.min.time())
            return value + timedelta(days=1, microseconds=-1) if upper else value
        value = datetime.fromisoformat(text)
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
    except ValueError:
        raise QueryError(param, f"{raw[:40]!r} is not an ISO-8601 date-time") from None
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is in year 10000 UTC
        raise QueryError(param, f"{raw[:40]!r} is outside years 0001 to 9999 (in UTC)") from None
    return value
