"""Engines and transactions.

`session_scope` is the one place in the project that commits: repository functions only
stage changes, so a run's rows become visible all at once or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from sqlite3 import Connection as SQLiteConnection

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from pdf_assets.core.errors import ConfigError
from pdf_assets.storage.schema import Base

logger = logging.getLogger(__name__)

# SQLAlchemy has no dialect called "postgres" and would pick psycopg2 for a bare
# "postgresql"; the project ships psycopg 3.
_DRIVER_REWRITES = {"postgres": "postgresql+psycopg", "postgresql": "postgresql+psycopg"}


def normalize_url(url: str) -> URL:
    """Parse `url`, pointing bare PostgreSQL URLs at the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"not a database URL: {url!r}") from exc
    driver = _DRIVER_REWRITES.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases."""
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _on_sqlite_connect(dbapi_connection: SQLiteConnection, _record: ConnectionPoolEntry) -> None:
    """Per-connection pragmas for a database written once per run and read at any time.

    - `foreign_keys=ON`: SQLite ignores foreign keys (and so ON DELETE CASCADE) unless every
      connection asks for them.
    - `journal_mode=WAL`: readers (pandas, the CLI) keep working while a run writes.
    - `synchronous=FULL`: SQLite's usual default, set so that no build can weaken it. A run
      that committed survives a power cut, as Dagster assumes once `db_rows` materialized.
      `NORMAL` would skip one fsync per commit, but a run commits once, and a large commit
      checkpoints (and syncs) the WAL anyway: in `benchmarks/db_write.py` it made no
      measurable difference.
    - no larger `cache_size`: it made no measurable difference to a 200k-row write either,
      and would cost memory on every pooled connection.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`: SQLite files get their folder, WAL and foreign keys."""
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def init_db(engine: Engine) -> None:
    """Create every missing table and index; existing ones are left as they are."""
    Base.metadata.create_all(engine, checkfirst=True)
    logger.debug("schema ready on %s", engine.url.render_as_string(hide_password=True))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session whose work is committed on success and rolled back on any error."""
    # expire_on_commit=False: callers may read attributes of rows after the block ends.
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
