"""Bulk writers: how `repository.replace_partitions` gets a run's rows into its transaction fast.

A writer has two calls: `insert` for rows nothing points at, and `insert_ids` for parents,
which returns the new ids in the order of the rows so that children can refer to them. Writers
run on the session's connection and never commit, so a failure anywhere still rolls the whole
run back. One writer per dialect, picked by `writer_for`:

- PostgreSQL with psycopg 3: `COPY ... FROM STDIN` for every table. COPY returns nothing, so
  parents' ids are reserved first from the id column's sequence and copied explicitly.
  `nextval` never hands a value out twice, not even to two concurrent transactions nor after
  a rollback, so runs writing different partitions at the same time get disjoint ids without
  taking any lock. (A staging table with `INSERT ... SELECT ... RETURNING` would be as safe
  but writes every row twice.) What remains of a write's time is mostly the server checking
  foreign keys row by row, which any way of inserting pays.
- SQLite: one `executemany` of a plain INSERT with explicit ids. SQLAlchemy cannot batch
  `INSERT ... RETURNING` on SQLite when the ids must come back in parameter order and falls
  back to one statement per row. SQLite admits one writer at a time, so once the transaction
  has written (replace_partitions deletes before it inserts) nobody else can insert before it
  commits, and ids from `max(id) + 1` on are free. They are also exactly what SQLite would
  have picked itself.
- Anything else: SQLAlchemy's `INSERT ... RETURNING` in parameter order (`ReturningWriter`).
  It is the portable path, what every dialect ran before, and the baseline of
  `benchmarks/db_write.py`, where a 200k-row write got 6x faster on PostgreSQL and 2.4x
  faster on SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Table, func, insert, select, text
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from pdf_assets.storage.schema import Base

if TYPE_CHECKING:
    import psycopg  # the `postgres` extra; only PostgresCopyWriter, picked for psycopg, uses it

Row = Mapping[str, object]


class BulkWriter(Protocol):
    """Inserts many rows of one table inside the caller's transaction."""

    def insert(self, model: type[Base], rows: Sequence[Row]) -> int:
        """Insert `rows` (all with the same keys); returns how many were inserted."""
        ...

    def insert_ids(self, model: type[Base], rows: Sequence[Row]) -> list[int]:
        """Insert `rows` and return their new ids in the order of `rows`."""
        ...


def _table(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table)
    return table


def _row_getter(dialect: Dialect, table: Table, columns: Sequence[str]) -> Callable[[Row], Sequence[object]]:
    """Row -> values in `columns` order, through the bind processors SQLAlchemy would apply.

    The processors (Float and DateTime on SQLite, Boolean checks everywhere) keep the driver
    receiving what an ORM insert would have sent it; only columns that have one pay for it.
    """
    get: Callable[[Row], Sequence[object]] = (
        itemgetter(*columns) if len(columns) > 1 else lambda row: (row[columns[0]],)
    )
    processors = [
        (i, processor)
        for i, name in enumerate(columns)
        if (processor := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None
    ]
    if not processors:
        return get

    def processed(row: Row) -> tuple[object, ...]:
        values = list(get(row))
        for i, processor in processors:
            values[i] = processor(values[i])
        return tuple(values)

    return processed


def _parameters(
    conn: Connection, table: Table, rows: Sequence[Row], ids: Sequence[int] | None = None
) -> tuple[list[str], Iterator[Sequence[object]]]:
    """The rows' column names (`id` first when `ids` are given) and their values, row by row."""
    columns = list(rows[0])
    get = _row_getter(conn.dialect, table, columns)
    if ids is None:
        return columns, map(get, rows)
    return ["id", *columns], ((new_id, *get(row)) for new_id, row in zip(ids, rows, strict=True))


class ReturningWriter:
    """SQLAlchemy executemany with `INSERT ... RETURNING id` in parameter order.

    Portable, but slow where the dialect cannot batch ordered RETURNING (SQLite: one
    statement per row; PostgreSQL: batches of 1,000 rows through a sorted VALUES list).
    """

    def __init__(self, session: Session) -> None:
        self._session = session

    def insert(self, model: type[Base], rows: Sequence[Row]) -> int:
        if rows:
            self._session.execute(insert(model), list(rows))
        return len(rows)

    def insert_ids(self, model: type[Base], rows: Sequence[Row]) -> list[int]:
        if not rows:
            return []
        stmt = insert(model).returning(_table(model).c.id, sort_by_parameter_order=True)
        return list(self._session.scalars(stmt, list(rows)))


class _ExplicitIdWriter:
    """Writers that choose the ids themselves and hand rows to the driver as tuples."""

    def __init__(self, session: Session) -> None:
        self._conn: Connection = session.connection()
        self._quote = self._conn.dialect.identifier_preparer

    def insert(self, model: type[Base], rows: Sequence[Row]) -> int:
        if rows:
            self._write(_table(model), *_parameters(self._conn, _table(model), rows))
        return len(rows)

    def insert_ids(self, model: type[Base], rows: Sequence[Row]) -> list[int]:
        if not rows:
            return []
        table = _table(model)
        ids = self._new_ids(table, len(rows))
        self._write(table, *_parameters(self._conn, table, rows, ids))
        return ids

    def _new_ids(self, table: Table, n: int) -> list[int]:
        raise NotImplementedError

    def _write(self, table: Table, columns: Sequence[str], values: Iterable[Sequence[object]]) -> None:
        raise NotImplementedError


class SqliteWriter(_ExplicitIdWriter):
    """One executemany of a plain INSERT per table, ids from `max(id) + 1`.

    Parameters go to the driver as tuples (`exec_driver_sql`): SQLAlchemy's per-row handling
    of dict parameters cost as much as SQLite's own work. Valid only once the transaction has
    written (an INSERT, UPDATE or DELETE, even of no rows): SQLite's one write lock is what
    keeps the ids free.
    """

    def _new_ids(self, table: Table, n: int) -> list[int]:
        first = (self._conn.scalar(select(func.max(table.c.id))) or 0) + 1
        return list(range(first, first + n))

    def _write(self, table: Table, columns: Sequence[str], values: Iterable[Sequence[object]]) -> None:
        names = ", ".join(self._quote.quote(c) for c in columns)
        marks = ", ".join("?" * len(columns))
        statement = f"INSERT INTO {self._quote.format_table(table)} ({names}) VALUES ({marks})"
        self._conn.exec_driver_sql(statement, list(values))


class PostgresCopyWriter(_ExplicitIdWriter):
    """`COPY ... FROM STDIN` on the session's psycopg 3 connection, in the session's transaction.

    Values go through psycopg's own adapters in COPY's text format, so strings with tabs,
    newlines and backslashes, floats and NULLs arrive exactly as a parameterised INSERT
    writes them. Driver errors are re-raised as SQLAlchemy's (IntegrityError, DataError...),
    as the other writers raise them.
    """

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        driver = self._conn.connection.driver_connection
        if driver is None:
            raise RuntimeError("the session's connection has no open psycopg connection")
        self._driver: psycopg.Connection[Any] = driver

    def _new_ids(self, table: Table, n: int) -> list[int]:
        """`n` fresh ids of `table.id`, rising, so ids follow the rows' order as INSERTs would."""
        name = self._quote.format_table(table)
        sequence = self._conn.scalar(text("select pg_get_serial_sequence(:t, 'id')"), {"t": name})
        if sequence is None:
            raise LookupError(f"{name}.id has no sequence to reserve ids from")
        query = text("select nextval(cast(:s as regclass)) from generate_series(1, :n)")
        return sorted(self._conn.scalars(query, {"s": sequence, "n": n}))

    def _write(self, table: Table, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
        names = ", ".join(self._quote.quote(c) for c in columns)
        statement = f"COPY {self._quote.format_table(table)} ({names}) FROM STDIN"
        dbapi_error: type[Exception] = self._conn.dialect.loaded_dbapi.Error
        try:
            with self._driver.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except dbapi_error as exc:
            dialect = self._conn.dialect
            raise DBAPIError.instance(statement, None, exc, dbapi_error, dialect=dialect) from exc


def writer_for(session: Session) -> BulkWriter:
    """The fastest writer for the session's database; `ReturningWriter` where none is known."""
    dialect = session.connection().dialect
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return PostgresCopyWriter(session)
    if dialect.name == "sqlite":
        return SqliteWriter(session)
    return ReturningWriter(session)
