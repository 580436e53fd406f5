"""Collections: the §4 query grammar applied to a SQLAlchemy ``select()``, plus paging.

A resource declares a ``Collection`` once (its fields, sort order and
limits); a view calls ``collection.page(session, stmt, request.args)`` and
turns the resulting ``Page`` into a HAL document. Every filter and sort runs
in SQL and ``total`` is one COUNT query — or none, when the caller passes a
``TotalsCache`` scope that names the data's current generation (see there).
"""

from __future__ import annotations

import functools
import math
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any
from urllib.parse import quote

from sqlalchemy import BigInteger, bindparam, func, select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import NotFound

from app.fastread import FastRead

from .cursor import NEXT, PREV, CursorCodec, beyond
from .document import Document
from .grammar import (
    OPERATORS,
    Field,
    Filter,
    Query,
    QueryError,
    Variable,
    parse_integer,
    parse_sort,
    parse_value,
)
from .links import Link, query_template

__all__ = ["Collection", "Page", "Field", "QueryError", "TotalsCache"]

_PAGING = ("page", "size", "limit", "offset", "cursor")
# A numbered page's LIMIT and OFFSET are parameters of its SELECT, not part of it: one statement (and
# one compiled SQL) serves every page of a filter and sort.
_LIMIT, _OFFSET = bindparam("halyard_limit", type_=BigInteger), bindparam("halyard_offset", type_=BigInteger)
_MAX_OFFSET = 2**62
_DECLARED: weakref.WeakSet = weakref.WeakSet()  # every Collection alive (some are built per request)


class Collection:
    """The declared grammar and paging policy of one collection resource."""

    def __init__(
        self,
        *,
        rel: str,
        item_rel: str,
        fields: list[Field],
        id_field: str | None = None,
        default_sort: tuple[str, ...] = (),
        tiebreak: Any = None,
        max_size: int | None = None,
        default_size: int | None = None,
        extra_params: tuple[str, ...] = (),
        not_found: Callable[[], Exception] | None = None,
    ) -> None:
        """Declare the collection; ``not_found`` builds the error for a failed id lookup."""
        self.rel, self.item_rel = rel, item_rel
        self.fields = {f.name: f for f in fields}
        reserved = set(_PAGING) | {"sort"} | set(extra_params)
        clashes = sorted(f.name for f in fields if f.filterable and f.name in reserved)
        if clashes:
            raise ValueError(f"filterable fields {clashes} clash with paging/sort/extra parameters")
        if id_field is not None and id_field not in self.fields:
            raise ValueError(f"id_field {id_field!r} is not a declared field")
        self.id_field = id_field
        self.tiebreak = tiebreak
        # None: the caller's limits (the app passes its configured ones) or 10/200
        self.max_size, self.default_size = max_size, default_size
        self.extra_params = tuple(extra_params)
        self.not_found = not_found
        self._expansions: dict[str, str] = {}  # the options template's expansion, by paging style
        self._statements = _Statements()
        self._filters = {v.name: v for v in self.filter_variables()}  # every filter spelling, by name
        taken = reserved | set(self.fields)
        clashes = sorted(n for n, v in self._filters.items() if v.op != "eq" and n in taken)
        if clashes:
            raise ValueError(f"filter names {clashes} clash with declared fields or parameters")
        try:
            self.default_sort = (
                parse_sort("sort", ",".join(default_sort), self.fields) if default_sort else []
            )
        except QueryError as exc:
            raise ValueError(f"default_sort: {exc.description}") from None
        _DECLARED.add(self)  # so a page can type its filter form (``declared``)

    @staticmethod
    def declared(
        rel: str, variables: Iterable[str] | None = None, *, item: bool = False
    ) -> Collection | None:
        """The live collection with this ``rel`` (``item``: this ``item_rel``) whose ``<rel>/options``
        template has exactly ``variables`` (either paging style; None: any), or None. What a browsable
        page types its filter form and sort headers from, and a relation page its grammar."""
        wanted = None if variables is None else set(variables)
        for collection in list(_DECLARED):
            if (collection.item_rel if item else collection.rel) != rel:
                continue
            if wanted is None or wanted in (
                {*collection.variables("page")},
                {*collection.variables("offset")},
            ):
                return collection
        return None

    def limits(self, default_size: int | None = None, max_size: int | None = None) -> tuple[int, int]:
        """(default size, cap): the collection's own, else the caller's, else 10 and 200; the cap wins."""
        caps = [x for x in (self.max_size, max_size) if x]
        cap = min(caps) if caps else 200
        return min(self.default_size or default_size or 10, cap), cap

    @staticmethod
    def max_page(max_size: int) -> int:
        """The last page number any page size up to ``max_size`` may ask for: its OFFSET stays below
        2**62 (SQL's LIMIT/OFFSET are 64-bit); one bound for every size, so a description can state it."""
        return _MAX_OFFSET // max_size

    @staticmethod
    def max_offset() -> int:
        """The largest ``offset``."""
        return _MAX_OFFSET

    def parse(
        self,
        args: MultiDict,
        *,
        default_size: int | None = None,
        max_size: int | None = None,
        cursors: CursorCodec | None = None,
    ) -> Query:
        """Validate ``args`` strictly into a Query, or raise QueryError naming the parameter.

        A ``cursor`` is checked with ``cursors`` (without one, or without a tiebreak, the collection
        has no cursor paging and the parameter is unknown)."""
        default_size, max_size = self.limits(default_size, max_size)
        query = Query(size=default_size)
        paging: dict[str, str] = {}
        for key, values in args.lists():
            if key in self.extra_params:
                query.extras += [(key, v) for v in values]
                continue
            if len(values) > 1:
                raise QueryError(key, "must not be repeated")
            if key in _PAGING:
                paging[key] = values[0]
            elif key == "sort":
                query.sort = parse_sort(key, values[0], self.fields)
            else:
                query.filters.append(self._filter(key, values[0], query))
        self._paging(paging, query, max_size)
        if "cursor" in paging:
            if cursors is None or self.tiebreak is None:
                raise QueryError("cursor", "unknown query parameter (this collection has no cursor paging)")
            query.style = "cursor"
            query.cursor = cursors.loads(paging["cursor"], self.cursor_scope(query), len(self.order(query)))
        return query

    def order(self, query: Query) -> list[tuple[Any, bool]]:
        """The ORDER BY of ``query`` as (column, descending) pairs: the sort, then the tiebreak."""
        keys = [(self.fields[name].column, desc) for name, desc in (query.sort or self.default_sort)]
        return keys + [(self.tiebreak, False)] if self.tiebreak is not None else keys

    def cursor_scope(self, query: Query) -> str:
        """What a cursor is valid for: this collection in this order."""
        sort = ",".join(("-" if desc else "") + name for name, desc in (query.sort or self.default_sort))
        return f"{self.rel} {sort}"

    def _filter(self, key: str, raw: str, query: Query) -> Filter:
        """Parse one filter parameter: ``prop``, or an operator in either spelling (``prop!`` or
        ``prop.not``, ``prop~`` or ``prop.contains``, ``propFrom`` or ``prop.from``, ``propTo`` or
        ``prop.to``; ``grammar.OPERATORS``)."""
        variable = self._filters.get(key)
        if variable is None:
            variable = self._operator_of(key)
        name, op = variable.field.name, variable.op
        fld = self.fields[name]
        is_id = name == self.id_field and op == "eq" and "," not in raw
        if not fld.filterable and not is_id:
            raise QueryError(key, f"property {name!r} cannot be filtered")
        if op == "contains" and raw == "":
            raise QueryError(key, "must not be empty")
        if op in ("eq", "ne"):
            values = [parse_value(fld, key, v) for v in raw.split(",")]
            if op == "eq" and len(values) > 1:
                op = "any"
        else:
            values = [parse_value(fld, key, raw, upper=op == "to")]
        query.id_lookup = query.id_lookup or is_id
        return Filter(fld, op, values, key, raw)

    def _operator_of(self, key: str) -> Variable:
        """Why ``key`` is no filter of this collection: a QueryError naming it."""
        if key in self.fields:
            raise QueryError(key, f"property {key!r} cannot be filtered")
        for operator in OPERATORS:
            for stem in (key.removesuffix(operator.suffix), key.removesuffix("." + operator.alias)):
                if stem != key and stem in self.fields:
                    fld = self.fields[stem]
                    if not fld.filterable:
                        raise QueryError(key, f"property {stem!r} cannot be filtered")
                    if operator.op == "contains":
                        raise QueryError(key, f"property {stem!r} does not support '~=' (contains)")
                    raise QueryError(key, f"property {stem!r} does not support ranges")
        raise QueryError(key, "unknown query parameter (not a declared property)")

    def _paging(self, paging: dict[str, str], query: Query, max_size: int) -> None:
        """Validate page/size or limit/offset (never both styles) into ``query``."""
        offset_style = [k for k in ("limit", "offset") if k in paging]
        if offset_style and ("page" in paging or "size" in paging):
            raise QueryError(offset_style[0], "cannot be combined with page/size")
        if "cursor" in paging and (offset_style or "page" in paging):
            raise QueryError("cursor", "cannot be combined with page, limit or offset")

        def number(key: str, low: int, high: int) -> int | None:
            return parse_integer(key, paging[key], low, high) if key in paging else None

        # SQL LIMIT/OFFSET are 64-bit: the offset (also page * size) stays below 2**62
        if offset_style:
            query.style = "offset"
            query.size = number("limit", 1, max_size) or query.size
            query.offset = number("offset", 0, _MAX_OFFSET) or 0
            query.page = query.offset // query.size + 1
        else:
            query.size = number("size", 1, max_size) or query.size
            query.page = number("page", 1, self.max_page(max_size)) or 1
            query.offset = (query.page - 1) * query.size

    def apply(self, stmt: Any, query: Query) -> Any:
        """Add the query's WHERE clauses and ORDER BY (sort, then the tiebreak) to ``stmt``."""
        return self._order(self._where(stmt, query), query)

    def _where(self, stmt: Any, query: Query) -> Any:
        """``stmt`` with one WHERE clause per filter."""
        for flt in query.filters:
            stmt = stmt.where(flt.field.clause(flt.op, flt.values))
        return stmt

    def _order(self, stmt: Any, query: Query, *, reverse: bool = False) -> Any:
        """``stmt`` ordered by the requested (or default) sort, then the tiebreak (or the reverse)."""
        keys = [column.desc() if desc != reverse else column.asc() for column, desc in self.order(query)]
        return stmt.order_by(*keys) if keys else stmt

    def page(
        self,
        session: Any,
        stmt: Any,
        args: MultiDict,
        *,
        scalars: bool = True,
        totals: TotalsScope | None = None,
        key: Any = None,
        cursors: CursorCodec | None = None,
        reuse: bool = False,
        stored: tuple[str, ...] = (),
        **limits: int | None,
    ) -> Page:
        """Run the query: one COUNT and one LIMIT/OFFSET select, a keyset page, or the id-lookup item.

        ``session`` is an ORM Session or a Core Connection (for Core selects: no ORM execution layer).
        ``limits`` (``default_size``, ``max_size``) are the caller's paging limits, see ``limits()``.
        Items are the first column of each row (ORM entities for ``select(Model)``), or with
        ``scalars=False`` whole rows (for Core selects of several columns). ``totals`` (a
        ``TotalsCache.scope(...)``) reuses the COUNT of an earlier request with the same filters.
        ``key`` (the primary-key column of ``stmt``'s table) makes an unfiltered page past the first a *late
        row lookup*: the OFFSET skips keys only (an index-only walk when an index covers ``stmt``'s
        conditions, the sort and the key), then the page's rows are read by key — for page 4,000 of 100,000
        assets on SQLite that takes a quarter off the query. A page with filters reads rows while it skips (a
        filter is checked on the row), so it selects them directly. ``cursors`` turns on cursor paging (a
        collection with a tiebreak): a ``cursor=`` page is one keyset SELECT with no COUNT, and a numbered
        page links its ``next``/``prev`` by cursor too. ``reuse``: ``stmt`` lives across requests
        (module-level or cached), so the SELECTs built over it are kept (bounded) and reused by later requests
        with the same filters and sort (``_Statements``); on a Core connection, such a SELECT's second use on
        compiles it for the DB-API cursor (``FastRead``): its rows are named tuples, with the ``stored``
        columns as the driver holds them (e.g. ids a page only echoes; a cursor gets them typed).
        """
        query = self.parse(args, cursors=cursors, **limits)
        core = hasattr(session, "dialect")  # a Core Connection, not an ORM Session
        dialect = session.dialect if core else session.get_bind().dialect
        # What the SQL of this page depends on besides ``stmt``: a filter's clause may differ by dialect.
        shape = (dialect.name, scalars, tuple(query.sort), tuple((f.param, f.raw) for f in query.filters))
        memo = functools.partial(self._statements.get, stmt, reuse=reuse)
        # Core SELECTs kept across requests run on the DB-API cursor from their second use on.
        fast = functools.partial(self._statements.fast, stmt, dialect, stored) if reuse and core else None
        filtered = memo(("where", shape), lambda: self._where(stmt, query))
        if query.id_lookup:
            fetch = session.scalars if scalars else session.execute
            item = fetch(self._order(filtered, query).limit(1)).first()
            if item is None:
                raise (
                    self.not_found()
                    if self.not_found
                    else NotFound(f"No item matches {self.id_field}={args.get(self.id_field)!r}.")
                )
            return Page([item], 1, query, single=item, collection=self)
        keyed = _Keyed(stmt, self.order(query) if cursors is not None and self.tiebreak is not None else [])
        if query.cursor is not None:
            return self._keyset_page(session, memo, filtered, shape, query, keyed, scalars, cursors)
        filters = tuple(sorted((f.param, f.raw) for f in query.filters)) if totals is not None else None
        total = totals.get(filters) if totals is not None else None
        if total is None:
            count = memo(
                ("count", shape), lambda: select(func.count()).select_from(filtered.order_by(None).subquery())
            )
            counting = fast and fast(("count", shape), count)
            total = (counting.rows(session, {})[0][0] if counting else session.scalar(count)) or 0
            if totals is not None:
                totals.put(filters, total)

        # A filter is read from the row (no index holds a title substring, or a type together with the
        # sort), so a filtered page reads its rows while skipping anyway: a late lookup would only add
        # the second read (measured on 100,000 assets: 0.13 against 0.09 ms at OFFSET 20, 31 against
        # 24 ms at OFFSET 20,000). Unfiltered, the skip walks the sort's index alone.
        late = key is not None and query.offset > 0 and not query.filters

        def page_select() -> Any:
            if late:
                keys = self._order(filtered.with_only_columns(key), query).limit(_LIMIT)
                rows = filtered.where(key.in_(keys.offset(_OFFSET).scalar_subquery()))
            else:
                rows = filtered.limit(_LIMIT).offset(_OFFSET)
            return keyed.select(self._order(rows, query), scalars)

        page_stmt = memo(("page", shape, late), page_select)
        bounds = {_LIMIT.key: query.size, _OFFSET.key: query.offset}
        reader = fast and fast(("page", shape, late), page_stmt)
        items, item_keys, retype = keyed.run(session, page_stmt, scalars, bounds, reader)
        return Page(items, total, query, collection=self, keys=item_keys, cursors=cursors, retype=retype)

    def _keyset_page(
        self,
        session: Any,
        memo: Callable[[Hashable, Callable[[], Any]], Any],
        filtered: Any,
        shape: tuple,
        query: Query,
        keyed: _Keyed,
        scalars: bool,
        cursors: CursorCodec,
    ) -> Page:
        """The page after (or before) ``query.cursor``: ``size + 1`` rows in one seek, no COUNT."""
        cursor, forward = query.cursor, query.cursor.direction == NEXT
        order = [(column, desc != (not forward)) for column, desc in keyed.order]
        nulls_low = shape[0] not in ("postgresql", "oracle")

        def keyset_select() -> Any:
            rows = filtered.where(beyond(order, cursor.values, nulls_low=nulls_low)).limit(query.size + 1)
            return keyed.select(self._order(rows, query, reverse=not forward), scalars)

        where = (shape, query.size, cursor.direction, cursor.values)
        items, item_keys, _ = keyed.run(session, memo(("keyset", where), keyset_select), scalars)
        more = len(items) > query.size
        items, item_keys = items[: query.size], item_keys[: query.size]
        if not forward:
            items.reverse(), item_keys.reverse()
        nav = (True, more) if forward else (more, True)
        return Page(items, None, query, collection=self, keys=item_keys, cursors=cursors, around=nav)

    def filter_variables(self) -> list[Variable]:
        """Every filter parameter, in template order: per field the bare property (equality; also the
        id lookup) and each operator it supports (``grammar.OPERATORS``) as a suffix; then the same
        operators in their dotted spelling (after all the others: the template of before is a prefix)."""
        out: list[Variable] = []
        for f in self.fields.values():
            if f.filterable or f.name == self.id_field:
                out.append(Variable(f.name, f, "eq"))
            if f.filterable:
                out += [Variable(f.name + o.suffix, f, o.op, o) for o in OPERATORS if o.applies(f)]
        for f in self.fields.values():
            if f.filterable:
                out += [
                    Variable(f"{f.name}.{o.alias}", f, o.op, o, alias=True) for o in OPERATORS if o.applies(f)
                ]
        return out

    def grammar(self, style: str | None = "page") -> list[Variable]:
        """The query parameters of one paging style (``page``, ``offset``; ``None``: every parameter the
        parser accepts, for the OpenAPI description), in template order: paging, ``sort``, the extras,
        the filters. The one list the parser's vocabulary, the ``…/options`` template and
        app/openapi/generate.py are read from."""
        cursor = ["cursor"] if self.tiebreak is not None else []
        if style is None:
            paging = ["page", "size", *cursor, "limit", "offset"]
        else:  # "page", "cursor" (a cursor page's template pages by number or cursor) or "offset"
            paging = ["limit", "offset"] if style == "offset" else ["page", "size", *cursor]
        names = paging + (["sort"] if any(f.sortable for f in self.fields.values()) else [])
        names += [p for p in self.extra_params if p not in names]  # e.g. the catalogue's required ``query``
        return [Variable(n) for n in names] + self.filter_variables()

    def variables(self, style: str = "page") -> list[str]:
        """Every variable of the grammar, in template order."""
        return [v.name for v in self.grammar(style)]

    def options_link(self, base_url: str, style: str = "page") -> Link:
        """The templated ``<rel>/options`` link showing the whole grammar."""
        expansion = self._expansions.get(style)
        if expansion is None:  # "{?page,size,…}": the same for every request
            expansion = self._expansions[style] = query_template("", self.variables(style))
        if expansion and "?" in base_url:
            expansion = "{&" + expansion[2:]
        return Link(base_url + expansion, templated=True)


class TotalsCache:
    """A bounded per-process cache of collection totals (the COUNT of a filter), for data that
    carries a generation: a number its writers change in the same transaction as the rows.

    The caller scopes every lookup with that generation (``cache.scope(space_id, generation)``), so
    a write anywhere makes every cached total of the old generation unreachable at once, in every
    process, with no invalidation messages: the next request reads the new generation (which it
    reads anyway, e.g. with its access check) and counts again. Paging through a filter then costs
    one COUNT per change of the data instead of one per page. Least recently used entries go
    first once ``max_entries`` are held; safe for threaded servers.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, int] = OrderedDict()
        self._lock = threading.Lock()

    def scope(self, *generation: Hashable) -> TotalsScope:
        """The cache as seen by one collection at one generation of its data."""
        return TotalsScope(self, generation)

    def get(self, key: Hashable) -> int | None:
        with self._lock:
            total = self._entries.get(key)
            if total is not None:
                self._entries.move_to_end(key)
            return total

    def put(self, key: Hashable, total: int) -> None:
        with self._lock:
            self._entries[key] = total
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


@dataclass(frozen=True)
class TotalsScope:
    """``TotalsCache`` entries of one collection generation, keyed by the query's filters."""

    cache: TotalsCache
    generation: tuple

    def get(self, filters: Hashable) -> int | None:
        return self.cache.get((self.generation, filters))

    def put(self, filters: Hashable, total: int) -> None:
        self.cache.put((self.generation, filters), total)


class _Statements:
    """The SELECTs a collection built over long-lived base statements (``page(reuse=True)``: a
    module-level or cached statement, e.g. a space's assets), by what they depend on.

    A statement built again costs its construction and SQLAlchemy's walk of it for its cache key
    (about 0.1 ms for a page of assets: more than executing it); a reused one carries its memoized
    key. The ``SIZE`` most recently used are kept. Safe for threaded servers.
    """

    SIZE = 256

    def __init__(self) -> None:
        self._built: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, base: Any, key: Hashable, build: Callable[[], Any], reuse: bool) -> Any:
        """``build()``, the statement ``key`` over ``base``: made once per (base, key) when ``reuse``."""
        if not reuse:
            return build()
        with self._lock:
            made = self._built.get((base, key))
            if made is not None:
                self._built.move_to_end((base, key))
                return made
        made = build()
        with self._lock:
            self._built[(base, key)] = made
            while len(self._built) > self.SIZE:
                self._built.popitem(last=False)
        return made

    def fast(self, base: Any, dialect: Any, stored: tuple[str, ...], key: Hashable, stmt: Any) -> Any:
        """``stmt`` (built over ``base`` as ``key``) as a ``FastRead`` compiled for ``dialect``, from its
        second use on; None at its first use (a SELECT with a filter value seen once may never come
        back: compiling it costs twice SQLAlchemy's cached execution) or when FastRead refuses it
        (an IN list)."""
        entry = (base, "fast", key)
        with self._lock:
            made = self._built.get(entry)
            if made is not None:
                self._built.move_to_end(entry)
        if made is None:
            made = _SEEN_ONCE
        elif made is _SEEN_ONCE:
            try:
                made = FastRead(stmt, stored=stored)
                made.compile(dialect)
            except ValueError:
                made = _REFUSED
        else:
            return made if made is not _REFUSED else None
        with self._lock:
            self._built[entry] = made
            while len(self._built) > self.SIZE:
                self._built.popitem(last=False)
        return made if isinstance(made, FastRead) else None


_SEEN_ONCE, _REFUSED = object(), object()  # ``_Statements.fast`` entries that are not a FastRead


class _Keyed:
    """A page's SELECT that also reads each item's order-key values (what a cursor holds)."""

    def __init__(self, stmt: Any, order: list[tuple[Any, bool]]) -> None:
        self.order = order
        selected = list(stmt.selected_columns)
        found = [next((i for i, c in enumerate(selected) if c is column), None) for column, _ in order]
        # Core rows that select the key columns already (e.g. the assets' list) carry their own keys.
        self.positions = found if order and None not in found else None

    def select(self, stmt: Any, scalars: bool) -> Any:
        """``stmt`` as ``run`` executes it: with the key columns added where its rows lack them."""
        if not self.order or (not scalars and self.positions is not None):
            return stmt
        return stmt.add_columns(*(column for column, _ in self.order))

    def run(
        self, session: Any, stmt: Any, scalars: bool, params: dict | None = None, fast: FastRead | None = None
    ) -> tuple[list, list | None, Callable[[tuple], tuple] | None]:
        """(items, their key tuples or None without cursor paging, what types the keys or None) of
        ``stmt`` (made by ``select``) with ``params``; run by ``fast`` (``stmt``'s FastRead) if given."""
        if fast is not None:
            rows = fast.rows(session, params)
        elif not self.order:
            return list((session.scalars if scalars else session.execute)(stmt, params).all()), None, None
        else:
            rows = session.execute(stmt, params).all()
        if not self.order:
            return rows, None, None
        if not scalars and self.positions is not None:
            indexes = self.positions
            items = rows if fast is not None else list(rows)
        else:
            width = len(rows[0]) - len(self.order) if rows else 0  # an entity is one column of the row
            indexes = list(range(width, width + len(self.order)))
            items = [row[0] for row in rows] if scalars else [row[:width] for row in rows]
        pick = itemgetter(*indexes)
        keys = list(map(pick, rows)) if len(indexes) > 1 else [(pick(row),) for row in rows]
        if fast is None or not fast.stored:
            return items, keys, None
        dialect = session.dialect
        return items, keys, lambda values: tuple(map(functools.partial(fast.typed, dialect), indexes, values))


_PLAIN = re.compile(r"[\w.~,!:-]*", re.ASCII).fullmatch  # what ``quote(text, safe=",!:")`` leaves as is


def _quote(text: Any) -> str:
    text = str(text)
    return text if _PLAIN(text) else quote(text, safe=",!:")


def _url(base: str, pairs: Iterable[tuple[str, Any]]) -> str:
    """``base`` plus an encoded query string that keeps ``,``, ``!`` and ``:`` readable (what
    ``urlencode(pairs, quote_via=quote, safe=",!:")`` writes, without quoting what needs none)."""
    query = "&".join(f"{_quote(key)}={_quote(value)}" for key, value in pairs)
    return f"{base}?{query}" if query else base


@dataclass
class Page:
    """One page of a collection: the items, the total and the query that selected them."""

    items: list
    total: int | None  # None on a cursor page (no COUNT)
    query: Query
    single: Any = None
    collection: Collection | None = None
    keys: list[tuple] | None = None  # each item's order-key values, with cursor paging
    cursors: CursorCodec | None = None
    around: tuple[bool, bool] = (False, False)  # a cursor page: (items before it, items after it)
    retype: Callable[[tuple], tuple] | None = None  # ``keys`` as a cursor holds them, when stored values

    @property
    def count(self) -> int:
        """Items on this page."""
        return len(self.items)

    def navigation(self) -> dict[str, dict[str, Any]]:
        """Paging targets as ``{rel: {"page": n}}``, ``{rel: {"offset": n}}`` or ``{rel: {"cursor": c}}``.

        With cursor paging, ``prev``/``next`` of a page with items are cursors (a client following
        them never pays for an OFFSET); a cursor page links ``first`` but has no ``last`` (no total).
        """
        q, size = self.query, self.query.size
        if q.style == "cursor":
            nav: dict[str, dict[str, Any]] = {"first": {"page": 1}}
            if self.items and self.around[0]:
                nav["prev"] = {"cursor": self._cursor(PREV, 0)}
            if self.items and self.around[1]:
                nav["next"] = {"cursor": self._cursor(NEXT, -1)}
            return nav
        if q.style == "offset":
            last = (self.total - 1) // size * size if self.total else 0
            here, key, start, step = q.offset, "offset", 0, size
        else:
            last = max(1, math.ceil(self.total / size))
            here, key, start, step = q.page, "page", 1, 1
        nav = {}
        if here != start:
            nav["first"] = {key: start}
            nav["prev"] = {key: max(start, min(here - step, last))}
        if q.offset + size < self.total:
            nav["next"] = {key: here + step}
        nav["last"] = {key: last}
        if q.style == "page" and self.keys:
            if "prev" in nav:
                nav["prev"] = {"cursor": self._cursor(PREV, 0)}
            if "next" in nav:
                nav["next"] = {"cursor": self._cursor(NEXT, -1)}
        return nav

    def _cursor(self, direction: str, index: int) -> str:
        """The cursor before (PREV) or after (NEXT) item ``index`` of this page."""
        scope = self.collection.cursor_scope(self.query)
        values = self.keys[index]
        return self.cursors.dumps(scope, direction, self.retype(values) if self.retype else values)

    def document(
        self, self_url: str, item_docs: list[Document], *, options_url: str | None = None
    ) -> Document:
        """The collection document: count, total (not on a cursor page), paging links, options, items."""
        if self.collection is None:
            raise ValueError("this page was not produced by a Collection")
        base = self_url.split("?", 1)[0]
        props = {"count": self.count} if self.total is None else {"count": self.count, "total": self.total}
        doc = Document(props, _url(base, self.query.params()))
        for rel, target in self.navigation().items():
            doc.link(rel, _url(base, self.query.params(**target)))
        options_base = (options_url or base).split("?", 1)[0]
        doc.link(
            f"{self.collection.rel}/options", self.collection.options_link(options_base, self.query.style)
        )
        return doc.embed_many(self.collection.item_rel, item_docs)
