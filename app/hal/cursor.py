"""Keyset (cursor) paging: opaque, signed cursors and the WHERE clause that resumes after one.

A cursor names a position in a collection's order: the sort-key values and the tiebreak (the id)
of the item it starts after (``next``) or before (``prev``). It is signed with the application's
secret (itsdangerous) and salted with the collection's rel and its effective sort, so a client can
neither forge one nor move one to another collection or another ``sort=``; filters may change
freely (a cursor is a position, not a result set). Resuming costs an index seek, whatever the
depth: ``WHERE (created, id) beyond (the cursor's values) ORDER BY created, id LIMIT size``.
"""

from __future__ import annotations

import enum
import functools
import hmac
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson
from itsdangerous import BadSignature, Signer, URLSafeSerializer
from itsdangerous.encoding import base64_encode, want_bytes
from sqlalchemy import and_, false, or_

from .grammar import QueryError

__all__ = ["Cursor", "CursorCodec", "beyond"]

NEXT, PREV = "n", "p"


@dataclass(frozen=True)
class Cursor:
    """A decoded cursor: ``direction`` (``"n"`` after ``values``, ``"p"`` before) and the key values."""

    raw: str
    direction: str
    values: tuple


def _encode(value: Any) -> Any:
    """A key value as JSON that ``_decode`` turns back into the same Python value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return {"e": value.name}
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": value.hex}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _decode(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    ((tag, text),) = value.items()
    return {
        "e": str,
        "t": datetime.fromisoformat,
        "d": date.fromisoformat,
        "u": uuid.UUID,
        "n": Decimal,
    }[tag](text)


class _Signer(Signer):
    """itsdangerous' ``Signer`` giving the same signatures at a fraction of the cost: the stock one
    derives its key again for every signature and runs Python's own HMAC (its SHA-1 is a wrapper
    function, which ``hmac`` cannot hand to OpenSSL); here the key is derived once per scope and the
    HMAC is OpenSSL's one-shot ``hmac.digest``. Checking a signature is the stock code."""

    @functools.cached_property
    def _signing_key(self) -> bytes:
        return self.derive_key()

    def get_signature(self, value: str | bytes) -> bytes:
        if self.digest_method is not Signer.default_digest_method:
            return super().get_signature(value)
        return base64_encode(hmac.digest(self._signing_key, want_bytes(value), "sha1"))


class _Serializer(URLSafeSerializer):
    default_signer = _Signer

    @functools.lru_cache(maxsize=256)  # noqa: B019 (one per codec, i.e. per app; a signer per scope)
    def make_signer(self, salt: Any = None) -> Any:
        """The signer of one scope, made once (itsdangerous makes one per call)."""
        return super().make_signer(salt)

    def dump_payload(self, obj: Any) -> bytes:
        """The JSON, base64-encoded, without the zlib attempt: a cursor's few dozen bytes never get
        shorter, and ``load_payload`` reads a payload with or without compression alike. orjson writes
        the compact UTF-8 JSON itsdangerous' encoder writes (which builds a ``JSONEncoder`` per call:
        half of a cursor's cost); only a float's exponent may be spelled shorter (``1e-7``), the same
        number to the standard library's ``json.loads`` that reads it back."""
        return base64_encode(orjson.dumps(obj))


class CursorCodec:
    """Signs and checks cursors with one secret (the app's ``SECRET_KEY``)."""

    def __init__(self, secret: str | bytes) -> None:
        self._serializer = _Serializer(secret, salt="halyard.hal.cursor")

    def dumps(self, scope: str, direction: str, values: tuple) -> str:
        """The opaque cursor for ``values`` in ``scope`` (the collection's rel and sort)."""
        return self._serializer.dumps([direction, [_encode(v) for v in values]], salt=scope)

    def loads(self, raw: str, scope: str, width: int) -> Cursor:
        """The cursor ``raw``, checked against ``scope`` and the key width; QueryError naming ``cursor``."""
        try:
            direction, values = self._serializer.loads(raw, salt=scope)
            if direction not in (NEXT, PREV) or len(values) != width:
                raise ValueError
            decoded = tuple(_decode(v) for v in values)
        except (BadSignature, ValueError, TypeError, KeyError):
            raise QueryError(
                "cursor",
                "is not a cursor of this collection and sort: use the next/prev links as given",
            ) from None
        return Cursor(raw, direction, decoded)


def _equal(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


def _nullable(column: Any) -> bool:
    """False only for a table column (or ORM attribute of one) declared NOT NULL."""
    return getattr(getattr(column, "expression", column), "nullable", True) is not False


def _past(column: Any, descending: bool, value: Any, nulls_low: bool) -> Any:
    """``column`` strictly after ``value`` in ``ORDER BY column [DESC]`` (NULL placement included)."""
    nullable = _nullable(column)
    # Where NULLs sort: before every value ("low": SQLite, MySQL) or after ("high": PostgreSQL).
    nulls_after = nulls_low == descending
    if value is None:
        return column.is_not(None) if not nulls_after else false()
    bound = column < value if descending else column > value
    return or_(bound, column.is_(None)) if nulls_after and nullable else bound


def beyond(order: list[tuple[Any, bool]], values: tuple, *, nulls_low: bool) -> Any:
    """The rows strictly after ``values`` in ``order`` ((column, descending) pairs, tiebreak last).

    ``a > x OR (a = x AND b > y) OR ...``, plus a redundant ``a >= x`` (or ``<=``) when ``a`` is
    NOT NULL, so the database seeks its index to the position instead of scanning up to it.
    """
    terms = []
    for i, ((column, descending), value) in enumerate(zip(order, values, strict=True)):
        equal = [_equal(c, v) for (c, _), v in zip(order[:i], values[:i], strict=True)]
        terms.append(and_(*equal, _past(column, descending, value, nulls_low)))
    clause = or_(*terms)
    (first, descending), value = order[0], values[0]
    if value is not None and not _nullable(first):
        clause = and_(first <= value if descending else first >= value, clause)
    return clause
