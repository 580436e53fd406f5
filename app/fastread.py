"""Constant Core SELECTs run straight on the DB-API cursor: the reads on the hottest request paths
(the credential checks, one asset, a space's rights).

SQLAlchemy compiles each statement once per dialect, and its own types convert the parameters and the
result values (``TypeEngine.bind_processor``/``result_processor`` of each type's dialect
implementation), so the SQL and the values are what ``Connection.execute`` sends and returns. What is
skipped is the per-execution machinery around the cursor (execution context, compiled-cache lookup,
result metadata and ``Row`` objects), which costs several times a short indexed SELECT on SQLite
(docs/decisions.md 21). Statements run on the caller's connection (``app.extensions.core_connection``)
inside its transaction; the engine's ``before_cursor_execute`` listeners see them; a DB-API error is
raised as SQLAlchemy's ``DBAPIError`` subclass, and a disconnect invalidates the connection, as
``Connection.execute`` would do. Not supported (refused at compile time): expanding (``IN``) and
literal-rendered parameters, and result types whose processor turns a NULL into something else (no
column read here has one: SQLAlchemy's own types keep None).

``stored`` names columns read, and parameters sent, as the driver holds them (no type conversion): an
id that a page only echoes or matches again need not become a ``uuid.UUID`` and back (32 hex digits on
SQLite; PostgreSQL's driver gives its own ``uuid.UUID``). ``typed()`` converts such values when a
caller needs them typed after all (a paging cursor's key).
"""

import functools
from collections import namedtuple

from sqlalchemy import exc

_GIVEN = object()  # a parameter the caller must give (``bindparam(name)`` without a value)


class FastRead:
    """One constant SELECT, compiled per dialect on first use.

    ``rows(connection, params)`` returns a list of named tuples (fields named as the statement's
    columns), holding the values ``Connection.execute(stmt, params).all()`` would hold (the ``stored``
    columns as the driver gives them). ``compile(dialect)`` raises ValueError for a statement it does
    not support; ``rows`` compiles on first use."""

    def __init__(self, stmt, *, stored=()):
        self.stmt = stmt
        self.row = namedtuple("Row", [column.key for column in stmt.selected_columns], rename=True)
        self.stored = frozenset(stored)
        self._compiled = {}

    def compile(self, dialect):
        """Compile for ``dialect`` (once); ValueError for IN lists and literal-rendered parameters."""
        entry = self._compiled.get(dialect)
        if entry is not None:
            return entry
        compiled = self.stmt.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("FastRead supports plain bound parameters only (no IN lists, no literal binds)")
        escaped = compiled.escaped_bind_names
        by_name = {}  # name in the SQL: (parameter key, bind processor or None, value of a literal's bind)
        for bind, name in compiled.bind_names.items():
            stored = bind.key in self.stored
            by_name[escaped.get(name, name)] = (
                bind.key,
                None if stored else bind.type.dialect_impl(dialect).bind_processor(dialect),
                _GIVEN if bind.required else bind.effective_value,
            )
        # In the order the SQL takes them (a positional paramstyle lists a name once per occurrence).
        names = [escaped.get(n, n) for n in compiled.positiontup] if compiled.positiontup else list(by_name)
        binds = [by_name[name] for name in names]
        results = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.stmt.selected_columns
        ]
        stored = [column.key in self.stored for column in self.stmt.selected_columns]
        processed = tuple(
            (i, process)
            for i, (process, as_stored) in enumerate(zip(results, stored, strict=True))
            if process is not None and not as_stored
        )
        # What ``typed()`` applies: the processors skipped for the stored columns.
        deferred = [p if as_stored else None for p, as_stored in zip(results, stored, strict=True)]
        named = None if compiled.positiontup is not None else names
        entry = (compiled.string, named, binds, processed, deferred)
        self._compiled[dialect] = entry
        return entry

    def typed(self, dialect, index, value):
        """The value of column ``index`` of a row of ``rows()`` as ``Connection.execute`` returns it
        (converted if the column is ``stored``)."""
        process = self.compile(dialect)[4][index]
        return value if process is None or value is None else process(value)

    def rows(self, connection, params):
        dialect = connection.dialect
        sql, named, binds, processed, _ = self._compiled.get(dialect) or self.compile(dialect)
        args = []
        for key, process, fixed in binds:
            value = params[key] if fixed is _GIVEN else params.get(key, fixed)
            args.append(value if process is None else process(value))
        args = dict(zip(named, args, strict=True)) if named is not None else tuple(args)
        driver = connection.connection.driver_connection
        cursor = driver.cursor()
        try:
            for listener in connection.dispatch.before_cursor_execute:
                listener(connection, cursor, sql, args, None, False)
            cursor.execute(sql, args)
            fetched = cursor.fetchall()
        except dialect.loaded_dbapi.Error as error:
            invalidated = dialect.is_disconnect(error, driver, cursor)
            if invalidated:
                connection.invalidate(error)
            raise exc.DBAPIError.instance(
                sql,
                args,
                error,
                dialect.loaded_dbapi.Error,
                connection_invalidated=invalidated,
                dialect=dialect,
            ) from error
        finally:
            cursor.close()
        make = functools.partial(tuple.__new__, self.row)  # the named tuple, without _make's checks
        if not processed:
            return list(map(make, fetched))
        out = []
        for row in fetched:  # only the columns whose type converts (ids, datetimes) are touched
            row = list(row)
            for i, process in processed:
                value = row[i]
                if value is not None:  # NULL stays None
                    row[i] = process(value)
            out.append(make(row))
        return out

    def first(self, connection, params):
        """The first row of ``rows()``, or None."""
        rows = self.rows(connection, params)
        return rows[0] if rows else None
