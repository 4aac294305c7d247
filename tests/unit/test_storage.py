"""Storage layer on SQLite and PostgreSQL: schema, replace-by-partition, transactions, summary."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect, text

from pdf_assets.core.errors import ConfigError
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
from pdf_assets.storage.db import init_db, make_engine, normalize_url, session_scope
from pdf_assets.storage.queries import partition_states, read_frame, row_counts, summary
from pdf_assets.storage.repository import BundleError, RunBundle, replace_partitions
from pdf_assets.storage.schema import TABLES


@pytest.fixture
def postgres_engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        eng = request.getfixturevalue("postgres_engine")
    else:
        eng = make_engine(f"sqlite:///{tmp_path / 'db' / 'test.db'}")
    init_db(eng)
    yield eng
    eng.dispose()


def _sha(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _page_results(doc: DocumentInfo, page_no: int) -> tuple[list[Region], TextResult, FigureResult, TableResult]:
    """A title, a figure and a table region on one page, each with its model's result."""
    part, sha = doc.partition, doc.doc_id
    regions = [
        Region(
            RegionKey(sha, page_no, i),
            part,
            label,
            kind_of_label(label),
            Box(10.0 * i, 20.0, 10.0 * i + 5.5, 40.25),
            0.9,
        )
        for i, label in enumerate(("title", "figure", "table"))
    ]
    source = "text_layer" if page_no else "ocr"
    text_ = TextResult(regions[0].key, part, "title", f"T{page_no}", source, 0.8, "fake")
    chart = ChartData("a | b <0x0A> 1 | 2", "Sales", ("a", "b"), (("1", "2"),)) if page_no else None
    figure = FigureResult(regions[1].key, part, "/crops/c.png", "Fig. 1", chart, "fake")
    cells = (TableCell(0, 0, "h", col_span=2, is_header=True), TableCell(1, 0, "x"), TableCell(1, 1, "y"))
    table = TableResult(regions[2].key, part, 2, 2, cells, "h,\nx,y", "|h|", "<table/>", "fake")
    return regions, text_, figure, table


def make_bundle(
    partition: str, run_id: str = "run-1", n_docs: int = 2, n_pages: int = 2, fingerprint: str = "fp-1"
) -> RunBundle:
    """A small but complete bundle: every page has a text, a figure and a table; one PDF is broken."""
    docs = [DocumentInfo(_sha(partition, i), partition, f"/in/{partition}/{i}.pdf", n_pages) for i in range(n_docs)]
    broken = DocumentInfo(_sha(partition, "bad"), partition, f"/in/{partition}/bad.pdf", 0, "FileDataError: broken")
    pages, regions, texts, figures, tables = [], [], [], [], []
    for doc in docs:
        for page_no in range(n_pages):
            pages.append(PageRef(doc.doc_id, partition, doc.path, page_no, 612.0, 792.0, "/p.png", 2.0, 10 * page_no))
            page_regions, text_, figure, table = _page_results(doc, page_no)
            regions += page_regions
            texts.append(text_)
            figures.append(figure)
            tables.append(table)
    return RunBundle(
        run_id=run_id,
        partitions={partition: (f"/in/{partition}", fingerprint)},
        documents=(*docs, broken),
        pages=tuple(pages),
        regions=tuple(regions),
        texts=tuple(texts),
        figures=tuple(figures),
        tables=tuple(tables),
        failures=(ItemFailure("render", broken.path, "FileDataError: broken"),),
        metrics=(StageMetrics("layout", "fake", "cpu", len(pages), 2, [4, 2], 1, 0, 0.5, 123),),
    )


def merge(*bundles: RunBundle) -> RunBundle:
    """One run over several partitions."""

    def cat(name: str) -> tuple[object, ...]:
        return tuple(x for b in bundles for x in getattr(b, name))

    names = ("documents", "pages", "regions", "texts", "figures", "tables", "failures", "metrics")
    parts = {k: v for b in bundles for k, v in b.partitions.items()}
    return RunBundle(bundles[0].run_id, parts, *(cat(n) for n in names))


def expected_counts(bundle: RunBundle) -> dict[str, int]:
    return {
        "partitions": len(bundle.partitions),
        "documents": len(bundle.documents),
        "pages": len(bundle.pages),
        "regions": len(bundle.regions),
        "texts": len(bundle.texts),
        "figures": len(bundle.figures),
        "tables": len(bundle.tables),
        "failures": len(bundle.failures),
        "stage_metrics": len(bundle.metrics),
    }


def write(engine: Engine, bundle: RunBundle) -> dict[str, int]:
    with session_scope(engine) as session:
        return replace_partitions(session, bundle)


def counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return row_counts(session)


def test_init_db_is_idempotent(engine: Engine) -> None:
    init_db(engine)
    init_db(engine)
    assert set(inspect(engine).get_table_names()) == {*TABLES, "alembic_version"}
    assert set(counts(engine).values()) == {0}


def test_replace_inserts_every_kind(engine: Engine) -> None:
    bundle = make_bundle("a")
    inserted = write(engine, bundle)
    assert inserted == expected_counts(bundle)
    assert counts(engine) == expected_counts(bundle)

    regions = read_frame(engine, "regions")
    first = bundle.regions[1].box
    stored = regions[(regions.idx == 1)].iloc[0]
    assert (stored.x0, stored.y0, stored.x1, stored.y1) == first.as_tuple()

    figures = read_frame(engine, "figures")
    charts = [json.loads(v) for v in figures.chart_json.dropna()]
    assert charts and all(c == {"header": ["a", "b"], "rows": [["1", "2"]]} for c in charts)
    assert figures.chart_json.isna().sum() == sum(1 for f in bundle.figures if f.chart is None)

    cells = json.loads(read_frame(engine, "tables").cells_json.iloc[0])
    assert cells[0] == {"row": 0, "col": 0, "row_span": 1, "col_span": 2, "text": "h", "is_header": True}


def test_replace_twice_is_idempotent(engine: Engine) -> None:
    bundle = merge(make_bundle("a"), make_bundle("b"))
    # A runner failure without a partition in a multi-partition run must not pile up either.
    bundle = replace(bundle, failures=(*bundle.failures, ItemFailure("ocr", "x", "boom")))
    write(engine, bundle)
    first = counts(engine)
    write(engine, bundle)
    second = counts(engine)
    assert second.pop("stage_metrics") == 2 * first.pop("stage_metrics")  # metrics are history
    assert second == first == {k: v for k, v in expected_counts(bundle).items() if k != "stage_metrics"}


def test_replacing_a_leaves_b_untouched(engine: Engine) -> None:
    write(engine, merge(make_bundle("a"), make_bundle("b")))
    before_b = read_frame(engine, "documents").query("partition == 'b'").reset_index(drop=True)
    with session_scope(engine) as session:
        summary_b = [p for p in summary(session).partitions if p.key == "b"]

    smaller_a = make_bundle("a", run_id="run-2", n_docs=1, n_pages=1, fingerprint="fp-2")
    write(engine, smaller_a)

    after_b = read_frame(engine, "documents").query("partition == 'b'").reset_index(drop=True)
    assert after_b.equals(before_b)
    with session_scope(engine) as session:
        states = partition_states(session)
        assert [p for p in summary(session).partitions if p.key == "b"] == summary_b
    assert states["a"][0] == "fp-2" and states["b"][0] == "fp-1"
    # No orphans: the cascade removed all of a's old pages, regions and results.
    total = counts(engine)
    b = make_bundle("b")
    for table in ("documents", "pages", "regions", "texts", "figures", "tables"):
        assert total[table] == len(getattr(smaller_a, table)) + len(getattr(b, table)), table


def test_failed_transaction_leaves_nothing_half_written(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        replace_partitions(session, make_bundle("a"))
        raise RuntimeError("crash after writing")
    assert set(counts(engine).values()) == {0}

    write(engine, make_bundle("a"))
    before = counts(engine)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        replace_partitions(session, make_bundle("a", run_id="run-2", n_docs=3, fingerprint="fp-2"))
        raise RuntimeError("crash after replacing")
    assert counts(engine) == before
    with session_scope(engine) as session:
        assert partition_states(session)["a"][0] == "fp-1"


def test_inconsistent_bundle_raises_and_writes_nothing(engine: Engine) -> None:
    good = make_bundle("a")
    orphan = TextResult(RegionKey("f" * 64, 0, 0), "a", "text", "?", "ocr", 0.5, "e")
    bad = replace(good, texts=(*good.texts, orphan))
    with pytest.raises(BundleError), session_scope(engine) as session:
        replace_partitions(session, bad)
    assert set(counts(engine).values()) == {0}

    stray = replace(good, partitions={})
    with pytest.raises(BundleError), session_scope(engine) as session:
        replace_partitions(session, stray)


def test_errored_document_keeps_its_error(engine: Engine) -> None:
    bundle = make_bundle("a")
    write(engine, bundle)
    docs = read_frame(engine, "documents")
    broken = docs[docs.status == "error"]
    assert list(broken.path) == [d.path for d in bundle.documents if d.error]
    assert list(broken.error) == ["FileDataError: broken"]
    assert list(broken.pages) == [0]
    assert docs[docs.status == "ok"].error.isna().all()
    failures = read_frame(engine, "failures")
    assert list(failures.partition) == ["a"]  # one-partition run: the failure is attributed


def test_summary_reports_counts(engine: Engine) -> None:
    a, b = make_bundle("a"), make_bundle("b", n_docs=1, n_pages=3)
    write(engine, merge(a, b))
    with session_scope(engine) as session:
        data = summary(session)
    assert [p.key for p in data.partitions] == ["a", "b"]
    for bundle, got in zip((a, b), data.partitions, strict=True):
        assert got.documents_ok == sum(d.error is None for d in bundle.documents)
        assert got.documents_error == sum(d.error is not None for d in bundle.documents)
        assert got.pages == len(bundle.pages)
        assert got.regions_by_kind == dict(Counter(r.kind.value for r in bundle.regions))
        assert got.texts_by_source == dict(Counter(t.source for t in bundle.texts))
        assert (got.tables, got.figures) == (len(bundle.tables), len(bundle.figures))
        assert got.updated_at.tzinfo is not None
    assert len(data.recent_failures) == 2
    metrics = read_frame(engine, "stage_metrics")
    assert list(metrics.stage) == ["layout", "layout"]  # one row per partition's bundle, as written
    assert list(metrics.max_batch_size) == [4, 4] and list(metrics.min_batch_size) == [2, 2]


def test_partition_states_are_utc(engine: Engine) -> None:
    moment = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    with session_scope(engine) as session:
        replace_partitions(session, make_bundle("a"), now=moment)
    with session_scope(engine) as session:
        assert partition_states(session) == {"a": ("fp-1", moment)}


def test_read_frame_rejects_unknown_tables(engine: Engine) -> None:
    with pytest.raises(ConfigError):
        read_frame(engine, "documents; DROP TABLE documents")


def test_sqlite_engine_creates_folder_and_enables_wal_and_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "deeper" / "x.db"
    eng = make_engine(f"sqlite:///{path}")
    with eng.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    eng.dispose()
    assert path.exists()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@h:5432/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_normalize_url_picks_psycopg(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver


def test_normalize_url_rejects_garbage() -> None:
    with pytest.raises(ConfigError):
        normalize_url("not a url")
