"""Lakey's word grammar for ``GET /catalogue/items/?query=...`` over item names.

A word matches names that contain it (case-insensitive). Words are combined left to right:
a bare word (no operator before it) and ``|`` mean OR, ``&`` means AND, ``~`` means AND NOT,
so ``IOT ~features | temp`` is ``((IOT AND NOT features) OR temp)``. An empty query matches
every item. Operators may touch words (``iot&temp``); a leading ``~`` negates the first word;
two operators in a row or a trailing operator are errors.
"""

import re

from sqlalchemy import and_, not_, or_, true

from app.errors import QueryDidNotValidate
from app.hal.grammar import escape_like

TOKEN = re.compile(r"[&|~]|[^\s&|~]+")
OPERATORS = {"&": and_, "|": or_, "~": lambda a, b: and_(a, not_(b))}


def parse(text):
    """``[(operator, word), ...]`` for ``text``; the first operator is None or ``~``."""
    terms, pending = [], None
    for token in TOKEN.findall(text or ""):
        if token in OPERATORS:
            if pending is not None:
                raise _error(f"operator {pending!r} is followed by {token!r}; put a word between them")
            if not terms and token != "~":
                raise _error(f"the query cannot start with {token!r}")
            pending = token
            continue
        terms.append((pending if terms or pending else None, token))
        pending = None
    if pending is not None:
        raise _error(f"the query ends with the operator {pending!r}")
    if len(text or "") > 500:
        raise _error("the query is longer than 500 characters")
    return terms


def clause(column, text):
    """The SQL condition of ``text`` over ``column`` (a name column)."""
    condition = None
    for operator, word in parse(text):
        match = column.ilike(f"%{escape_like(word)}%", escape="\\")
        if condition is None:
            condition = not_(match) if operator == "~" else match
        else:
            condition = OPERATORS[operator or "|"](condition, match)
    return true() if condition is None else condition


def _error(text):
    return QueryDidNotValidate(f"Query parameter 'query': {text}", errors={"query": [text]})
