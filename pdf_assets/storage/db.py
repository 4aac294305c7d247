"""Engines, the schema's migrations, and transactions.

`session_scope` is the one place in the project that commits: repository functions only
stage changes, so a run's rows become visible all at once or not at all.

`init_db` brings a database to the newest Alembic revision (`storage/migrations`). Several
processes may start on a fresh database at once (three Dagster run workers, the CLI and a
sensor), so the upgrade runs under a database-wide lock: `pg_advisory_xact_lock` on
PostgreSQL (DDL there is transactional, so the lock and the upgrade commit together),
`BEGIN IMMEDIATE` on SQLite (its one write lock; waiters queue on the busy timeout). The
losers find the schema at head once they get the lock and do nothing.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from sqlite3 import Connection as SQLiteConnection
from sqlite3 import Cursor as SQLiteCursor
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry

from pdf_assets.core.errors import ConfigError, DatabaseUnavailableError

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
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _use_wal(cursor: SQLiteCursor) -> None:
    """Switch the database to WAL once (a no-op when it already is), retrying while another
    connection holds the lock: SQLite answers a journal-mode change that meets a lock with
    "database is locked" at once, without waiting out the busy timeout, so several processes
    opening a fresh database together would otherwise fail at random."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    waited, pause = 0.0, 0.01
    limit = float(cursor.execute("PRAGMA busy_timeout").fetchone()[0]) / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or waited >= limit:
                raise
        time.sleep(pause)
        waited += pause
        pause = min(pause * 2, 0.5)


#: How long a SQLite connection waits for another's write lock before `database is locked`.
#: A 200k-region run writes for 10-12 s on one core, and several partitions may queue.
DEFAULT_BUSY_TIMEOUT_S = 120.0
BUSY_TIMEOUT_ENV = "PDF_ASSETS_DB_BUSY_TIMEOUT_S"
#: How long connecting to a PostgreSQL server may take before the database counts as unreachable.
CONNECT_TIMEOUT_S = 10


def busy_timeout_s(value: float | None = None) -> float:
    """`value`, else `PDF_ASSETS_DB_BUSY_TIMEOUT_S`, else `DEFAULT_BUSY_TIMEOUT_S`."""
    if value is None:
        raw = os.environ.get(BUSY_TIMEOUT_ENV)
        try:
            value = float(raw) if raw else DEFAULT_BUSY_TIMEOUT_S
        except ValueError as exc:
            raise ConfigError(f"{BUSY_TIMEOUT_ENV} must be a number of seconds, not {raw!r}") from exc
    if value < 0:
        raise ConfigError(f"the database busy timeout must be >= 0 seconds, not {value}")
    return value


def mask(url: str | URL) -> str:
    """The URL as it may appear in a message or a log: the password replaced by ***."""
    try:
        parsed = normalize_url(url) if isinstance(url, str) else url
    except ConfigError:
        return "<not a database URL>"
    return parsed.render_as_string(hide_password=True)


def make_engine(url: str, *, busy_timeout: float | None = None) -> Engine:
    """An engine for `url`: SQLite files get their folder, WAL, foreign keys and a busy timeout.

    `busy_timeout` (seconds, SQLite only) defaults to `busy_timeout_s()`: a second writer
    waits that long for the first one's transaction instead of failing at once.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_s(busy_timeout)})
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    connect_args: dict[str, Any] = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)


MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Alembic installs its `op` and `context` proxies as module globals while it runs, so two
# threads of one process must not upgrade at once; other processes are held off by the
# database lock in `schema_lock`.
_UPGRADE_LOCK = threading.Lock()
# Any fixed 64-bit number: the key of the PostgreSQL advisory lock around schema upgrades.
_PG_LOCK_KEY = 0x7064665F61737365  # "pdf_asse"
FIRST_REVISION = "0001"


class SchemaVersionError(DatabaseUnavailableError):
    """The database's schema revision is unknown here: a newer release wrote it."""


def migrations_config(url: str | None = None) -> Config:
    """Alembic's configuration for the shipped revisions, without an alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(migrations_config())


def head_revision() -> str:
    """The newest revision of the shipped migrations."""
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS}")
    return head


def _known(revision: str) -> bool:
    return any(script.revision == revision for script in _scripts().walk_revisions())


def current_revision(conn: Connection) -> str | None:
    """The database's revision; None for an empty database or one from before Alembic."""
    return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def schema_lock(conn: Connection) -> Iterator[None]:
    """Hold the database-wide schema lock for one transaction on `conn`, committed on success.

    Every run of the revisions goes through it (`init_db`, and `migrations/env.py` for
    Alembic's own API): on SQLite it also switches foreign keys off for the transaction, so
    a revision that rebuilds a table does not cascade the old table's DROP to its children.
    """
    sqlite = conn.dialect.name == "sqlite"
    if sqlite:
        # Rebuilding a table (revision 0002) drops it; with foreign keys on, that DROP would
        # cascade to its children. The pragma is ignored inside a transaction: set it first.
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    try:
        yield
        if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
            raise RuntimeError("the schema upgrade left rows that break a foreign key; rolled back")
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        if sqlite:
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            conn.commit()


def _upgrade(conn: Connection) -> None:
    """Under the lock: stamp a database from before Alembic, then upgrade it to head."""
    config = migrations_config()
    config.attributes["connection"] = conn
    revision = current_revision(conn)
    if revision == head_revision():
        return  # another process upgraded it while this one waited for the lock
    if revision is not None and not _known(revision):
        raise SchemaVersionError(
            f"the database {mask(conn.engine.url)} has schema revision {revision}, which this release does not "
            f"know (its newest is {head_revision()}): it was written by a newer pdf-assets; upgrade this one"
        )
    if revision is None and inspect(conn).has_table("documents"):
        # Tables without `alembic_version`: created by `create_all` before migrations
        # existed, which built exactly revision 0001.
        command.stamp(config, FIRST_REVISION)
    command.upgrade(config, "head")
    logger.info("database schema upgraded from %s to %s", revision or "nothing", head_revision())


def init_db(engine: Engine) -> None:
    """Bring the database to the newest schema revision; safe to run from several processes at once."""
    with _UPGRADE_LOCK, engine.connect() as conn:
        if current_revision(conn) == head_revision():
            return
        conn.rollback()  # end the read, so the lock is the transaction's first statement
        with schema_lock(conn):
            _upgrade(conn)
    logger.debug("schema ready on %s", mask(engine.url))


@contextmanager
def engine_scope(url: str, *, init: bool = True) -> Iterator[Engine]:
    """An engine for `url` (see `make_engine`), its schema brought up to date unless `init` is
    False (readers that must never create tables, the migrations themselves), and disposed
    when the block ends: short-lived callers hold no pooled connections after their work."""
    engine = make_engine(url)
    try:
        if init:
            init_db(engine)
        yield engine
    finally:
        engine.dispose()


def check_database(url: str) -> None:
    """Connect to `url` and bring its schema up to date, or raise `DatabaseUnavailableError`.

    Meant to run before any model work, so an unreachable or unwritable database stops a run
    in seconds rather than after its inference, at the write. The message names the URL with
    the password masked and says what the driver said.
    """
    try:
        with engine_scope(url):
            pass
    except (SQLAlchemyError, OSError) as exc:  # OSError: e.g. a SQLite folder that cannot be made
        reason = getattr(exc, "orig", None) or exc
        raise DatabaseUnavailableError(f"cannot use the database {mask(url)}: {reason}") from exc


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
