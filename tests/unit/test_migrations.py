"""Schema migrations, concurrent start-up, lock waits and the database check, on SQLite and PostgreSQL.

A database from before the quality columns is built with revision 0001 (which reproduces
the schema the project created with `create_all` until then), filled with rows, and opened
with `init_db`, as a newer release would find it.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlalchemy.exc import IntegrityError, OperationalError

from pdf_assets.core.errors import DatabaseUnavailableError
from pdf_assets.storage.db import (
    BUSY_TIMEOUT_ENV,
    SchemaVersionError,
    check_database,
    current_revision,
    engine_scope,
    head_revision,
    init_db,
    make_engine,
    migrations_config,
    schema_lock,
    session_scope,
)
from pdf_assets.storage.queries import row_counts
from pdf_assets.storage.repository import replace_partitions
from pdf_assets.storage.schema import Base
from tests.unit.test_storage import make_bundle


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database (no tables) of each dialect."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'db' / 'migrate.db'}"


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = make_engine(url)
    yield eng
    eng.dispose()


def schema_drift(engine: Engine) -> list[object]:
    """What Alembic finds different between the database and `schema.Base` (tables, columns, indexes)."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


def build_0001(engine: Engine, *, with_version_table: bool) -> None:
    """The schema as it was before Alembic and the quality columns, optionally without `alembic_version`."""
    with engine.connect() as conn:
        config = migrations_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        if not with_version_table:
            conn.execute(text("DROP TABLE alembic_version"))
        conn.commit()


def fill_0001(engine: Engine) -> None:
    """Rows as the old writer stored them: `documents.sha256` held the doc_id."""
    now = datetime(2024, 1, 2, tzinfo=timezone.utc)
    statements = [
        ("insert into partitions values ('old', '/in/old', 'fp', 'run-0', :now)", {"now": now}),
        ("insert into documents (id, sha256, partition, path, pages, status, error) values "
         "(1, 'aaa', 'old', '/in/old/a.pdf', 1, 'ok', null), (2, 'bbb', 'old', '/in/old/b.pdf', 0, 'error', 'x')", {}),
        ("insert into pages values (1, 1, 0, 612, 792, '/p.png', 5)", {}),
        ("insert into regions values (1, 1, 0, 'text', 'title', 0, 0, 1, 1, 0.75)", {}),
        ("insert into texts values (1, 1, 'Hello', 'text_layer', 1.0, 'fake')", {}),
        ("insert into failures (id, partition, run_id, stage, item, error) "
         "values (1, 'old', 'run-0', 'ocr', 'r', 'e')", {}),
    ]  # fmt: skip
    with engine.begin() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)


def test_a_fresh_database_gets_the_schema_of_the_code(engine: Engine) -> None:
    init_db(engine)
    init_db(engine)  # at head: nothing to do
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
    assert schema_drift(engine) == []


@pytest.mark.parametrize("with_version_table", [False, True], ids=["from-create-all", "at-0001"])
def test_an_old_database_is_upgraded_in_place(engine: Engine, with_version_table: bool) -> None:
    build_0001(engine, with_version_table=with_version_table)
    fill_0001(engine)
    init_db(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        docs = conn.execute(text("select doc_id, sha256, status, flags, failures from documents order by id")).all()
        assert [tuple(d) for d in docs] == [("aaa", "aaa", "ok", "", 0), ("bbb", "bbb", "error", "", 0)]
        assert conn.execute(text("select text from pages")).scalar_one() == ""
        assert tuple(conn.execute(text("select status, error, score from regions")).one()) == ("ok", None, 0.75)
        assert conn.execute(text("select doc_id from failures")).scalar_one() is None
    assert schema_drift(engine) == []
    # The rebuilt documents table still cascades: replacing the old partition removes its pages.
    with session_scope(engine) as session:
        replace_partitions(session, make_bundle("old", run_id="run-1"))
        counts = row_counts(session)
    bundle = make_bundle("old")
    assert (counts["documents"], counts["pages"], counts["texts"]) == (3, len(bundle.pages), len(bundle.texts))


def test_the_new_status_is_accepted_and_a_wrong_one_refused(engine: Engine) -> None:
    build_0001(engine, with_version_table=False)
    fill_0001(engine)
    init_db(engine)
    with engine.begin() as conn:
        conn.execute(text("update documents set status = 'partial' where id = 1"))
        conn.execute(text("update regions set status = 'recovered'"))
    with pytest.raises(IntegrityError, match=r"(?i)check"), engine.begin() as conn:
        conn.execute(text("update regions set status = 'maybe'"))


def _init_after(url: str, barrier: multiprocessing.synchronize.Barrier, errors: multiprocessing.Queue[str]) -> None:
    """One process of a concurrent start: wait for the others, then `init_db`."""
    engine = make_engine(url)
    try:
        barrier.wait(timeout=60)
        init_db(engine)
    except Exception as exc:  # noqa: BLE001 - reported to the test through the queue
        errors.put(f"{type(exc).__name__}: {exc}")
    finally:
        engine.dispose()


def test_three_processes_initialising_a_fresh_database_all_succeed(url: str, engine: Engine) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    errors: multiprocessing.Queue[str] = context.Queue()
    workers = [context.Process(target=_init_after, args=(url, barrier, errors)) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=180)
    failures = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert failures == []
    assert [w.exitcode for w in workers] == [0, 0, 0]
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(text("select count(*) from alembic_version")).scalar() == 1
    assert schema_drift(engine) == []


def test_threads_initialising_a_fresh_database_all_succeed(engine: Engine) -> None:
    barrier = threading.Barrier(3, timeout=60)
    errors: list[BaseException] = []

    def start() -> None:
        try:
            barrier.wait()
            init_db(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert errors == []
    assert schema_drift(engine) == []


def _hold_then_second_writer(engine: Engine, second: Engine, hold_s: float) -> list[BaseException]:
    """A first transaction writes partition a and holds it `hold_s`; meanwhile a second writes a too."""
    written = threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with session_scope(engine) as session:
                replace_partitions(session, make_bundle("a", run_id="run-1"))
                written.set()
                time.sleep(hold_s)  # a long write still in progress
        except BaseException as exc:  # noqa: BLE001 - reported to the caller
            errors.append(exc)
            written.set()

    holder = threading.Thread(target=first)
    holder.start()
    written.wait(timeout=60)
    try:
        with session_scope(second) as session:
            replace_partitions(session, make_bundle("a", run_id="run-2", n_docs=1))
    except BaseException as exc:  # noqa: BLE001 - reported to the caller
        errors.append(exc)
    holder.join(timeout=60)
    return errors


def test_a_second_writer_waits_for_the_first_instead_of_failing(engine: Engine) -> None:
    init_db(engine)
    assert _hold_then_second_writer(engine, engine, hold_s=3.0) == []
    with engine.connect() as conn:
        # The second write came last and replaced the first one's rows of the same partition.
        assert conn.execute(text("select run_id from partitions")).scalar_one() == "run-2"
        assert conn.execute(text("select count(*) from documents")).scalar() == 2  # one PDF + the broken one


def test_sqlite_without_a_long_busy_timeout_the_second_writer_fails(tmp_path: Path) -> None:
    """The control for the test above: what runs got before the busy timeout was raised."""
    db = f"sqlite:///{tmp_path / 'locked.db'}"
    patient, impatient = make_engine(db), make_engine(db, busy_timeout=0.2)
    try:
        init_db(patient)
        errors = _hold_then_second_writer(patient, impatient, hold_s=2.0)
    finally:
        patient.dispose()
        impatient.dispose()
    assert len(errors) == 1 and isinstance(errors[0], OperationalError)
    assert "database is locked" in str(errors[0])


def test_sqlite_busy_timeout_is_generous_and_configurable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def busy_ms(**kwargs: float) -> int:
        eng = make_engine(f"sqlite:///{tmp_path / 'x.db'}", **kwargs)
        try:
            with eng.connect() as conn:
                return int(conn.execute(text("PRAGMA busy_timeout")).scalar_one())
        finally:
            eng.dispose()

    assert busy_ms() == 120_000
    assert busy_ms(busy_timeout=5) == 5_000
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "300")
    assert busy_ms() == 300_000
    monkeypatch.setenv(BUSY_TIMEOUT_ENV, "soon")
    with pytest.raises(ValueError, match=BUSY_TIMEOUT_ENV):
        busy_ms()


def test_check_database_readies_a_reachable_database(url: str, engine: Engine) -> None:
    check_database(url)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()


def test_engine_scope_readies_the_schema_only_when_asked(url: str, engine: Engine) -> None:
    with engine_scope(url, init=False) as scoped, scoped.connect() as conn:
        assert current_revision(conn) is None  # a reader never creates tables
    with engine_scope(url) as scoped, scoped.connect() as conn:
        assert current_revision(conn) == head_revision()


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_check_database_names_an_unreachable_database_without_its_password(dialect: str, tmp_path: Path) -> None:
    if dialect == "postgresql":
        # A port nobody listens on: refused at once.
        bad, shown = "postgresql://pdf:s3cret-pw@127.0.0.1:1/pdf_assets", "127.0.0.1:1/pdf_assets"
    else:
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("a file where the database's folder should be")
        bad = shown = f"sqlite:///{blocker / 'db.sqlite'}"
    with pytest.raises(DatabaseUnavailableError) as info:
        check_database(bad)
    message = str(info.value)
    assert shown in message
    assert "s3cret-pw" not in message


def test_the_quality_revision_downgrades_and_upgrades_again(engine: Engine) -> None:
    init_db(engine)
    with session_scope(engine) as session:
        replace_partitions(session, make_bundle("a"))
    with engine.connect() as conn:
        config = migrations_config()
        config.attributes["connection"] = conn
        with schema_lock(conn):  # on SQLite: foreign keys off while tables are rebuilt
            command.downgrade(config, "0001")
        assert current_revision(conn) == "0001"
        assert conn.execute(text("select count(*) from documents")).scalar() == 3
    init_db(engine)
    assert schema_drift(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from pages")).scalar() == len(make_bundle("a").pages)


def test_alembics_own_api_upgrades_without_losing_rows(url: str, engine: Engine) -> None:
    """Without a connection handed over, env.py connects itself and takes the same lock."""
    build_0001(engine, with_version_table=True)
    fill_0001(engine)
    command.upgrade(migrations_config(url), "head")
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert conn.execute(text("select count(*) from pages")).scalar() == 1
        assert conn.execute(text("select count(*) from texts")).scalar() == 1


def test_a_database_from_a_newer_release_is_refused_clearly(engine: Engine) -> None:
    init_db(engine)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = '9999'"))
    with pytest.raises(SchemaVersionError, match=r"9999.*newer pdf-assets"):
        init_db(engine)
