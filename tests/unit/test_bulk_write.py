"""The bulk write path: COPY on PostgreSQL, executemany on SQLite, and what they store.

Every stored value is compared with the bundle it came from, through the ids (so a wrong id
shows up as a wrong join), and with what the old `INSERT ... RETURNING` path stores for the
same bundle. Strings carry what COPY's text format has to escape.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DataError, IntegrityError

from pdf_assets.core.types import (
    Box,
    ChartData,
    DocumentInfo,
    FigureResult,
    ItemFailure,
    PageRef,
    Region,
    RegionKey,
    StageMetrics,
    TableCell,
    TableResult,
    TextResult,
    kind_of_label,
)
from pdf_assets.storage.bulk import PostgresCopyWriter, ReturningWriter, SqliteWriter, writer_for
from pdf_assets.storage.db import init_db, make_engine, session_scope
from pdf_assets.storage.queries import row_counts
from pdf_assets.storage.repository import RunBundle, replace_partitions

#: what COPY's text format escapes or could mistake for NULL or end-of-data; no NUL (PostgreSQL has none)
TRICKY = (
    "tab\there",
    "line\nbreak",
    "cr\rand crlf\r\n",
    "back\\slash \\t \\n",
    "\\N",
    "\\.",
    "NULL",
    "",
    "  padded  ",
    "'single' \"double\" `back`",
    "ünïcödé ✓ 😀 中文 עברית",
    "\x01\x08\x0b\x0c\x1f\x7f controls",
    "\u2028line\u2029separators",
    "a,b;c|d <x> & {json: [1]}",
)
FLOATS = (0.1 + 0.2, 1 / 3, 1e-300, 1.7976931348623157e308, -2.5, 0.0)
PAGES = len(TRICKY) // 2


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        eng = make_engine(request.getfixturevalue("postgres_url"))
    else:
        eng = make_engine(f"sqlite:///{tmp_path / 'db' / 'bulk.db'}")
    init_db(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    eng = make_engine(postgres_url)
    init_db(eng)
    yield eng
    eng.dispose()


def _results(doc: DocumentInfo, page_no: int, n: int) -> tuple[list[Region], list[object]]:
    """Regions of every kind on one page, with results whose strings and floats are tricky."""
    part, sha = doc.partition, doc.doc_id
    labels = ("title", "text", "figure", "table", "figure")
    regions = [
        Region(RegionKey(sha, page_no, i), part, label, kind_of_label(label), Box(FLOATS[i], 1 / 7, 300.5, 1e3), x)
        for i, (label, x) in enumerate(zip(labels, reversed(FLOATS), strict=False))
    ]
    word = TRICKY[n % len(TRICKY)]
    cells = (TableCell(0, 0, word, col_span=2, is_header=True), TableCell(1, 0, "\\N"), TableCell(1, 1, "\t"))
    charts = (
        ChartData(f"raw {word}", word, (word, "b"), ((word, "\\N"),)),
        ChartData("unparsable\t<0x0A>", None, (), (), parse_ok=False),
    )
    return regions, [
        TextResult(regions[0].key, part, "title", word, "ocr", FLOATS[n % len(FLOATS)], "engine\t1"),
        TextResult(regions[1].key, part, "text", "".join(TRICKY), "text_layer", 1.0, "fake"),
        FigureResult(regions[2].key, part, f"/crops/{word}.png", word or None, charts[n % 2], "fake"),
        TableResult(regions[3].key, part, 2, 2, cells, f'"{word}",\n', f"| {word} |", f"<td>{word}</td>", "fake"),
        FigureResult(regions[4].key, part, "/crops/plain.png", None, None, "fake"),
    ]


def tricky_bundle(partition: str, run_id: str = "run-1") -> RunBundle:
    """Two documents of seven pages plus a broken one; each tricky string is one page's word."""
    docs = [
        DocumentInfo(hashlib.sha256(f"doc{i}".encode()).hexdigest(), partition, f"/in/{TRICKY[i]}{i}.pdf", PAGES)
        for i in range(2)
    ]
    broken = DocumentInfo("0" * 64, partition, "/in/broken\\.pdf", 0, "FileDataError:\tbroken\n\\N")
    pages, regions, results = [], [], []
    for doc in docs:
        for page_no in range(PAGES):
            n = len(pages)
            pages.append(PageRef(doc.doc_id, partition, doc.path, page_no, 612.0, 1 / 3, f"/p/{TRICKY[n]}.png", 2.0, n))
            page_regions, page_results = _results(doc, page_no, n)
            regions += page_regions
            results += page_results
    return RunBundle(
        run_id=run_id,
        partitions={partition: (f"/in/{partition}\t", "fp\n1")},
        documents=(*docs, broken),
        pages=tuple(pages),
        regions=tuple(regions),
        texts=tuple(r for r in results if isinstance(r, TextResult)),
        figures=tuple(r for r in results if isinstance(r, FigureResult)),
        tables=tuple(r for r in results if isinstance(r, TableResult)),
        failures=(ItemFailure("render", broken.path, "boom\t\\N\n"), ItemFailure("ocr", "x", "", partition)),
        metrics=(StageMetrics("layout", "fake", "cpu", 6, 2, [4, 2], 1, 0, 0.5, 2**40),),
    )


def _chart_json(chart: ChartData | None) -> str | None:
    if chart is None or not chart.parse_ok:
        return None
    return json.dumps({"header": list(chart.header), "rows": [list(r) for r in chart.rows]})


def expected(bundle: RunBundle) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows as `stored` reads them back, in bundle order, computed from the bundle alone."""
    docs = {d.doc_id: d for d in bundle.documents}
    where = lambda k: (docs[k.doc_id].path, k.page_no, k.index)  # noqa: E731
    return {
        "documents": [(d.doc_id, d.path, d.pages, "error" if d.error else "ok", d.error) for d in bundle.documents],
        "pages": [(p.pdf_path, p.page_no, p.width_pt, p.height_pt, p.image_path, p.text_chars) for p in bundle.pages],
        "regions": [(*where(r.key), r.kind.value, r.label, *r.box.as_tuple(), r.score) for r in bundle.regions],
        "texts": [(*where(t.key), t.text, t.source, t.confidence, t.engine) for t in bundle.texts],
        "figures": [
            (
                *where(f.key),
                f.crop_path,
                f.caption,
                f.chart and f.chart.title,
                _chart_json(f.chart),
                f.chart and f.chart.raw_text,
                f.chart and f.chart.parse_ok,
                f.engine,
            )
            for f in bundle.figures
        ],
        "tables": [
            (
                *where(t.key),
                t.n_rows,
                t.n_cols,
                json.dumps([asdict(c) for c in t.cells]),
                t.csv,
                t.markdown,
                t.html,
                t.engine,
            )
            for t in bundle.tables
        ],
        "failures": [(f.stage, f.item, f.error) for f in bundle.failures],
    }


_JOIN = "join regions r on r.id = x.region_id join pages p on p.id = r.page_id join documents d on d.id = p.document_id"
_QUERIES = {
    "documents": "select sha256, path, pages, status, error from documents d where d.partition = :p order by d.id",
    "pages": "select d.path, page_no, width_pt, height_pt, image_path, text_chars from pages x "
    "join documents d on d.id = x.document_id where d.partition = :p order by x.id",
    "regions": "select d.path, p.page_no, x.idx, kind, label, x0, y0, x1, y1, score from regions x "
    "join pages p on p.id = x.page_id join documents d on d.id = p.document_id where d.partition = :p order by x.id",
    "texts": f"select d.path, p.page_no, r.idx, x.text, source, confidence, engine from texts x {_JOIN} "
    "where d.partition = :p order by x.id",
    "figures": "select d.path, p.page_no, r.idx, crop_path, caption, chart_title, chart_json, chart_raw, "
    f"chart_parse_ok, engine from figures x {_JOIN} where d.partition = :p order by x.id",
    "tables": "select d.path, p.page_no, r.idx, n_rows, n_cols, cells_json, csv, markdown, html, x.engine "
    f"from tables x {_JOIN} where d.partition = :p order by x.id",
    "failures": "select stage, item, error from failures where partition = :p or run_id = :r order by id",
}


def stored(engine: Engine, bundle: RunBundle) -> dict[str, list[tuple[Any, ...]]]:
    """Each table's rows of the bundle's partition, reached from documents through the ids."""
    (partition,) = bundle.partitions
    params = {"p": partition, "r": bundle.run_id}
    with engine.connect() as conn:
        return {name: [tuple(row) for row in conn.execute(text(q), params)] for name, q in _QUERIES.items()}


def row_counts_of(bundle: RunBundle) -> dict[str, int]:
    names = ("documents", "pages", "regions", "texts", "figures", "tables", "failures")
    counts = {"partitions": len(bundle.partitions), **{n: len(getattr(bundle, n)) for n in names}}
    return {**counts, "stage_metrics": len(bundle.metrics)}


def write(engine: Engine, bundle: RunBundle, *, old: bool = False) -> dict[str, int]:
    with session_scope(engine) as session:
        return replace_partitions(session, bundle, writer=ReturningWriter(session) if old else None)


def test_writer_for_picks_the_dialects_bulk_path(engine: Engine) -> None:
    with session_scope(engine) as session:
        writer = writer_for(session)
    assert isinstance(writer, PostgresCopyWriter if engine.dialect.name == "postgresql" else SqliteWriter)


def test_rows_equal_the_bundle_exactly(engine: Engine) -> None:
    bundle = tricky_bundle("a")
    write(engine, bundle)
    got, want = stored(engine, bundle), expected(bundle)
    for table in want:
        assert got[table] == want[table], table
    with engine.connect() as conn:
        partition = conn.execute(text("select folder, fingerprint, run_id from partitions")).one()
        metric = conn.execute(text("select stage, peak_memory_bytes, partitions from stage_metrics")).one()
    assert tuple(partition) == ("/in/a\t", "fp\n1", "run-1")
    assert tuple(metric) == ("layout", 2**40, "a")


def test_bulk_path_stores_what_the_returning_path_stores(engine: Engine) -> None:
    new, old = tricky_bundle("new", run_id="run-new"), tricky_bundle("old", run_id="run-old")
    assert write(engine, new) == write(engine, old, old=True)
    assert stored(engine, new) == stored(engine, old)
    # And the new rows point at their own partition's parents, not at the other's.
    with engine.connect() as conn:
        mixed = conn.execute(text(f"select count(*) from texts x {_JOIN} where d.partition not in ('new', 'old')"))
        assert mixed.scalar() == 0


def test_nulls_stay_null_and_empty_strings_stay_empty(engine: Engine) -> None:
    bundle = tricky_bundle("a")
    write(engine, bundle)
    with engine.connect() as conn:
        no_chart = conn.execute(
            text(
                "select caption, chart_title, chart_json, chart_raw, chart_parse_ok from figures where crop_path = :c"
            ),
            {"c": "/crops/plain.png"},
        ).all()
        unparsed = conn.execute(text("select chart_json, chart_parse_ok from figures where chart_raw like 'unp%'"))
        assert {tuple(r) for r in unparsed} == {(None, False)}
        assert conn.execute(text("select count(*) from texts where text = ''")).scalar() == 1
        assert conn.execute(text("select count(*) from texts where text = :s"), {"s": "\\N"}).scalar() == 1
        assert conn.execute(text("select count(*) from documents where error is null")).scalar() == 2
    assert no_chart and set(no_chart) == {(None, None, None, None, None)}


def test_postgres_writes_every_table_with_copy(pg_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    copies: list[str] = []
    original = psycopg.Cursor.copy

    def spy(self: psycopg.Cursor[Any], statement: Any, *args: Any, **kwargs: Any) -> Any:
        copies.append(str(statement))
        return original(self, statement, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "copy", spy)
    statements: list[str] = []
    event.listen(pg_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))

    bundle = tricky_bundle("a")
    assert write(pg_engine, bundle) == row_counts_of(bundle)
    copied = [s.split()[1] for s in copies]
    tables = ["partitions", "documents", "pages", "regions", "texts", "figures", "tables", "failures", "stage_metrics"]
    assert copied == tables and all(s.endswith("FROM STDIN") for s in copies)
    assert not [s for s in statements if s.lstrip().upper().startswith("INSERT")]
    assert stored(pg_engine, bundle) == expected(bundle)


def test_a_failing_insert_leaves_nothing_half_written(engine: Engine) -> None:
    good = tricky_bundle("a")
    write(engine, good)
    before = stored(engine, good)
    # The same region twice: documents and pages are written, then regions break a unique key.
    bad = replace(tricky_bundle("a", run_id="run-2"), regions=good.regions + good.regions[:1])
    with pytest.raises(IntegrityError):
        write(engine, bad)
    assert stored(engine, good) == before
    with session_scope(engine) as session:
        assert row_counts(session) == row_counts_of(good)


def test_postgres_rejects_nul_as_insert_does_and_writes_nothing(pg_engine: Engine) -> None:
    good = tricky_bundle("a")
    bad = replace(good, texts=(replace(good.texts[0], text="nul\x00inside"), *good.texts[1:]))
    with pytest.raises(DataError, match="NUL"):
        write(pg_engine, bad)  # mid-COPY, after documents, pages and regions were copied
    with session_scope(pg_engine) as session:
        assert set(row_counts(session).values()) == {0}


def test_ids_continue_after_rows_of_other_partitions(engine: Engine) -> None:
    a, b = tricky_bundle("a"), tricky_bundle("b", run_id="run-b")
    write(engine, a)
    write(engine, b)
    write(engine, a)  # a's new rows come after b's, wherever its old ids were
    assert stored(engine, a) == expected(a) and stored(engine, b) == expected(b)


def test_concurrent_writers_of_different_partitions_both_land(engine: Engine) -> None:
    bundles = [tricky_bundle(p, run_id=f"run-{p}") for p in ("a", "b")]
    # On PostgreSQL both transactions hold their reserved ids at once before either commits;
    # SQLite has one writer at a time, so there the second waits for the first.
    overlap = engine.dialect.name == "postgresql"
    barrier = threading.Barrier(2, timeout=30)
    errors: list[BaseException] = []

    def run(bundle: RunBundle) -> None:
        try:
            with session_scope(engine) as session:
                replace_partitions(session, bundle)
                if overlap:
                    barrier.wait()
        except BaseException as exc:  # noqa: BLE001 - reported below, in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(b,)) for b in bundles]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    for bundle in bundles:
        assert stored(engine, bundle) == expected(bundle)
    with session_scope(engine) as session:
        counts = row_counts(session)
    assert counts == {k: 2 * v for k, v in row_counts_of(bundles[0]).items()}


def test_sqlite_commits_stay_fully_synchronous(tmp_path: Path) -> None:
    eng = make_engine(f"sqlite:///{tmp_path / 'sync.db'}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL: a committed run survives a power cut
    eng.dispose()
