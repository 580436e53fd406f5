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
"""

from collections import namedtuple

from sqlalchemy import exc

_GIVEN = object()  # a parameter the caller must give (``bindparam(name)`` without a value)


class FastRead:
    """One constant SELECT, compiled per dialect on first use.

    ``rows(connection, params)`` returns a list of named tuples (fields named as the statement's
    columns), holding the values ``Connection.execute(stmt, params).all()`` would hold."""

    def __init__(self, stmt):
        self.stmt = stmt
        self.row = namedtuple("Row", [column.key for column in stmt.selected_columns])
        self._compiled = {}

    def _compile(self, dialect):
        compiled = self.stmt.compile(dialect=dialect)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("FastRead supports plain bound parameters only (no IN lists, no literal binds)")
        escaped = compiled.escaped_bind_names
        binds = []  # (parameter name, name in the SQL, bind processor or None, value of a literal's bind)
        for name, bind in compiled.binds.items():
            binds.append(
                (
                    name,
                    escaped.get(name, name),
                    bind.type.dialect_impl(dialect).bind_processor(dialect),
                    _GIVEN if bind.required else bind.effective_value,
                )
            )
        results = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in self.stmt.selected_columns
        ]
        processed = tuple((i, process) for i, process in enumerate(results) if process is not None)
        entry = (compiled.string, compiled.positiontup, binds, processed)
        self._compiled[dialect] = entry
        return entry

    def rows(self, connection, params):
        dialect = connection.dialect
        sql, positional, binds, processed = self._compiled.get(dialect) or self._compile(dialect)
        values = {}
        for name, key, process, fixed in binds:
            value = params[name] if fixed is _GIVEN else params.get(name, fixed)
            values[key] = value if process is None else process(value)
        args = tuple(values[key] for key in positional) if positional is not None else values
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
        make = self.row._make
        if not processed:
            return [make(row) for row in fetched]
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
