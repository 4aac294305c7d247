"""What the database says about quality, on SQLite and PostgreSQL: document and region status,
failures located by document and region, flags, content hashes, page text; identical files;
one transaction per partition; and a missing folder that must not empty its partition.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from pdf_assets.core.bundle import RunBundle
from pdf_assets.core.types import DocumentInfo, ItemFailure, Region, RegionKey, TextResult
from pdf_assets.report import print_summary
from pdf_assets.storage.db import init_db, make_engine, session_scope
from pdf_assets.storage.queries import row_counts, summary
from pdf_assets.storage.repository import BundleError, MissingFolderError, replace_partitions
from pdf_assets.storage.writes import write_by_partition, write_partition
from tests.unit.test_storage import make_bundle, merge


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "postgresql":
        eng = make_engine(request.getfixturevalue("postgres_url"))
    else:
        eng = make_engine(f"sqlite:///{tmp_path / 'db' / 'quality.db'}")
    init_db(eng)
    yield eng
    eng.dispose()


def write(engine: Engine, bundle: RunBundle) -> dict[str, int]:
    with session_scope(engine) as session:
        return replace_partitions(session, bundle)


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def counts(engine: Engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return row_counts(session)


def with_failures(partition: str = "a") -> RunBundle:
    """make_bundle's documents (two readable, one broken), hit by failures of every shape."""
    bundle = make_bundle(partition)
    doc0, doc1, broken = bundle.documents
    title, figure = RegionKey(doc0.doc_id, 0, 0), RegionKey(doc0.doc_id, 0, 1)
    failures = (
        ItemFailure("render", broken.path, "FileDataError: broken", doc_id=broken.doc_id),
        ItemFailure("text", title.slug(), "garbled text layer", region=title, recovered="ocr"),
        ItemFailure("figures", figure.slug(), "model crashed", region=figure),
        ItemFailure("figures", figure.slug(), "model crashed", region=figure),  # the same error twice
        ItemFailure("tables", figure.slug(), "not a table", region=figure, recovered="text_layer"),
        ItemFailure("layout", f"{doc1.path}#1", "timeout", doc_id=doc1.doc_id),
        ItemFailure("ocr", "batch-7", "worker lost"),  # names nothing: the run's only partition
    )
    docs = (
        replace(doc0, sha256="c" * 64, flags=("encrypted", "repaired")),
        replace(doc1, sha256="c" * 64),  # the same bytes as doc0
        broken,
    )
    return replace(bundle, documents=docs, failures=failures)


def test_documents_carry_status_counts_flags_and_hash(engine: Engine) -> None:
    bundle = with_failures()
    write(engine, bundle)
    got = rows(
        engine,
        "select doc_id, sha256, status, failures, failed_regions, recovered_regions, flags, error "
        "from documents order by id",
    )
    doc0, doc1, broken = bundle.documents
    assert got == [
        (doc0.doc_id, "c" * 64, "partial", 4, 1, 1, "encrypted,repaired", None),
        (doc1.doc_id, "c" * 64, "partial", 1, 0, 0, "", None),
        (broken.doc_id, broken.doc_id, "error", 1, 0, 0, "", "FileDataError: broken"),  # no hash yet: the id
    ]


@pytest.mark.parametrize(
    ("flags", "status"),
    [(("encrypted", "downscaled"), "ok"), (("repaired",), "partial"), (("pages_empty",), "partial")],
)
def test_a_partly_read_document_is_partial_without_any_failure(
    engine: Engine, flags: tuple[str, ...], status: str
) -> None:
    bundle = make_bundle("a")
    doc0, doc1, broken = bundle.documents
    write(engine, replace(bundle, documents=(replace(doc0, flags=flags), doc1, broken), failures=()))
    got = rows(engine, "select status, flags from documents where doc_id = :d", d=doc0.doc_id)
    assert got == [(status, ",".join(flags))]


def test_regions_say_which_failed_and_which_were_recovered(engine: Engine) -> None:
    bundle = with_failures()
    write(engine, bundle)
    got = rows(
        engine,
        "select d.doc_id, p.page_no, r.idx, r.status, r.error, r.score from regions r "
        "join pages p on p.id = r.page_id join documents d on d.id = p.document_id "
        "where r.status <> 'ok' order by p.page_no, r.idx",
    )
    doc0 = bundle.documents[0].doc_id
    assert got == [
        (doc0, 0, 0, "recovered", "text: garbled text layer", 0.9),
        (doc0, 0, 1, "failed", "figures: model crashed\ntables: not a table", 0.9),
    ]
    ok = rows(engine, "select count(*) from regions where status = 'ok' and error is null")[0][0]
    assert ok == len(bundle.regions) - 2


def test_failures_are_located_and_join_their_document(engine: Engine) -> None:
    bundle = with_failures()
    write(engine, bundle)
    got = rows(
        engine,
        "select f.stage, f.partition, f.doc_id, f.page_no, f.region_idx, f.recovered, d.path from failures f "
        "left join documents d on d.partition = f.partition and d.doc_id = f.doc_id order by f.id",
    )
    doc0, doc1, broken = bundle.documents
    assert got == [
        ("render", "a", broken.doc_id, None, None, None, broken.path),
        ("text", "a", doc0.doc_id, 0, 0, "ocr", doc0.path),
        ("figures", "a", doc0.doc_id, 0, 1, None, doc0.path),
        ("figures", "a", doc0.doc_id, 0, 1, None, doc0.path),
        ("tables", "a", doc0.doc_id, 0, 1, "text_layer", doc0.path),
        ("layout", "a", doc1.doc_id, None, None, None, doc1.path),
        ("ocr", "a", None, None, None, None, None),
    ]


def test_a_failure_without_partition_finds_it_through_its_document(engine: Engine) -> None:
    a, b = make_bundle("a"), make_bundle("b")
    region = b.regions[0].key
    hit_b = ItemFailure("text", region.slug(), "boom", region=region)
    unplaced = ItemFailure("ocr", "batch", "worker lost")
    write(engine, replace(merge(a, b), failures=(hit_b, unplaced)))
    assert rows(engine, "select stage, partition from failures order by id") == [("text", "b"), ("ocr", None)]
    assert rows(engine, "select partition, count(*) from documents where status = 'partial' group by partition") == [
        ("b", 1)
    ]


def test_page_text_is_the_texts_in_reading_order(engine: Engine) -> None:
    bundle = make_bundle("a", n_docs=1, n_pages=1)
    doc = bundle.documents[0]
    key = lambda i: RegionKey(doc.doc_id, 0, i)  # noqa: E731
    extra = [Region(key(i), "a", "text", bundle.regions[0].kind, bundle.regions[0].box, 0.5) for i in (3, 4, 5)]
    texts = (
        TextResult(key(5), "a", "text", "last", "ocr", 0.25, "fake"),
        *bundle.texts,  # region 0: "T0"
        TextResult(key(4), "a", "text", "  ", "ocr", 0.5, "fake"),  # blank: left out
        TextResult(key(3), "a", "text", "middle\nline", "text_layer", 1.0, "fake"),
    )
    write(engine, replace(bundle, regions=(*bundle.regions, *extra), texts=texts))
    assert rows(engine, "select text from pages") == [("T0\n\nmiddle\nline\n\nlast",)]
    conf = rows(engine, "select r.idx, t.confidence from texts t join regions r on r.id = t.region_id order by r.idx")
    assert conf == [(0, 0.8), (3, 1.0), (4, 0.5), (5, 0.25)]


def identical_files(partition: str, sha: str, run_id: str = "run-1") -> RunBundle:
    """Two byte-identical PDFs in one folder: one sha256, two doc_ids, the same regions' positions."""
    bundle = make_bundle(partition, run_id=run_id, n_docs=1, n_pages=2)
    doc = bundle.documents[0]
    copy = DocumentInfo(f"{doc.doc_id[:32]}-copy", partition, doc.path.replace(".pdf", " (copy).pdf"), doc.pages)

    def moved(item: Any) -> Any:
        return replace(item, key=replace(item.key, doc_id=copy.doc_id))

    pages = tuple(replace(p, doc_id=copy.doc_id, pdf_path=copy.path) for p in bundle.pages)
    return replace(
        bundle,
        documents=(replace(doc, sha256=sha), replace(copy, sha256=sha), *bundle.documents[1:]),
        pages=bundle.pages + pages,
        regions=bundle.regions + tuple(moved(r) for r in bundle.regions),
        texts=bundle.texts + tuple(moved(t) for t in bundle.texts),
        figures=bundle.figures + tuple(moved(f) for f in bundle.figures),
        tables=bundle.tables + tuple(moved(t) for t in bundle.tables),
    )


def per_document(engine: Engine) -> list[tuple[Any, ...]]:
    return rows(
        engine,
        "select d.partition, d.path, d.sha256, count(distinct p.id), count(r.id) from documents d "
        "left join pages p on p.document_id = d.id left join regions r on r.page_id = p.id "
        "group by d.partition, d.path, d.sha256 order by d.partition, d.path",
    )


@pytest.mark.parametrize("runs", ["one run", "two runs"])
def test_identical_files_in_one_and_in_two_folders_are_separate_documents(engine: Engine, runs: str) -> None:
    sha = "e" * 64
    a, b = identical_files("a", sha), identical_files("b", sha, run_id="run-2")
    if runs == "one run":
        write(engine, merge(a, b))
    else:
        write(engine, a)
        write(engine, b)
    per_page = 3  # make_bundle puts a title, a figure and a table on every page
    copies = [
        (d.partition, d.path, d.sha256 or d.doc_id, d.pages, d.pages * per_page) for d in (*a.documents, *b.documents)
    ]
    assert per_document(engine) == sorted(copies)
    assert rows(engine, "select count(distinct sha256) from documents where pages > 0") == [(1,)]
    write(engine, a)  # re-running one folder replaces its copies and leaves the other folder's
    assert per_document(engine) == sorted(copies)


def test_two_documents_sharing_a_doc_id_in_one_folder_are_refused(engine: Engine) -> None:
    bundle = make_bundle("a")
    twin = replace(bundle.documents[0], path="/in/a/twin.pdf")
    with pytest.raises(BundleError, match="share the doc_id"):
        write(engine, replace(bundle, documents=(*bundle.documents, twin)))
    assert set(counts(engine).values()) == {0}


def test_writing_partition_by_partition_stores_what_one_transaction_stores(engine: Engine, tmp_path: Path) -> None:
    bundle = merge(with_failures("a"), make_bundle("b"), make_bundle("c"))
    bundle = replace(bundle, failures=(*bundle.failures, ItemFailure("ocr", "batch-9", "worker lost")))
    inserted = write_by_partition(engine, bundle)
    first = counts(engine)
    assert inserted == first
    assert first["stage_metrics"] == len(bundle.metrics) and first["partitions"] == 3
    write_by_partition(engine, bundle)  # idempotent, but for the metrics' history
    second = counts(engine)
    assert second.pop("stage_metrics") == 2 * first.pop("stage_metrics")
    assert second == first
    one_go = make_engine(f"sqlite:///{tmp_path / 'one-go.db'}")
    try:
        init_db(one_go)
        write(one_go, bundle)
        assert {k: v for k, v in counts(one_go).items() if k != "stage_metrics"} == first
        status = "select partition, doc_id, status, failures from documents order by partition, doc_id"
        assert rows(one_go, status) == rows(engine, status)
    finally:
        one_go.dispose()


def test_one_partition_is_written_alone(engine: Engine) -> None:
    write(engine, merge(make_bundle("a"), make_bundle("b")))
    before_b = rows(engine, "select id, path from documents where partition = 'b' order by id")
    metrics = rows(engine, "select count(*) from stage_metrics")
    smaller = merge(make_bundle("a", run_id="run-2", n_docs=1), make_bundle("b", run_id="run-2", n_docs=3))
    write_partition(engine, smaller, "a")
    assert rows(engine, "select id, path from documents where partition = 'b' order by id") == before_b
    assert rows(engine, "select count(*) from documents where partition = 'a'") == [(2,)]
    assert rows(engine, "select count(*) from stage_metrics") == metrics  # the run's rows: write_run_rows
    with pytest.raises(KeyError):
        write_partition(engine, smaller, "z")


def test_a_missing_folder_never_empties_its_partition(engine: Engine, tmp_path: Path) -> None:
    write(engine, make_bundle("a"))
    before = counts(engine)
    gone = RunBundle("run-2", {"a": (str(tmp_path / "unmounted"), "fp-2")})
    with pytest.raises(MissingFolderError, match="unmounted"):
        write(engine, gone)
    with pytest.raises(MissingFolderError):
        write_by_partition(engine, gone)
    assert counts(engine) == before
    # A folder that exists but is now empty is a real change: its rows go.
    (tmp_path / "emptied").mkdir()
    write(engine, RunBundle("run-3", {"a": (str(tmp_path / "emptied"), "fp-3")}))
    assert counts(engine)["documents"] == 0


def test_summary_counts_partial_documents_and_failed_regions(engine: Engine) -> None:
    write(engine, merge(with_failures("a"), make_bundle("b")))
    with session_scope(engine) as session:
        a, b = summary(session).partitions
    assert (a.documents_ok, a.documents_partial, a.documents_error) == (0, 2, 1)
    assert (a.regions_failed, a.regions_recovered) == (1, 1)
    assert (b.documents_ok, b.documents_partial, b.documents_error) == (2, 0, 1)
    assert (b.regions_failed, b.regions_recovered) == (0, 0)


def test_show_prints_document_and_region_status(engine: Engine, capsys: pytest.CaptureFixture[str]) -> None:
    write(engine, merge(with_failures("a"), make_bundle("b")))
    assert print_summary(engine.url.render_as_string(hide_password=False)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "docs ok/partial/error" in lines[0] and "failed/recovered" in lines[0]
    by_partition = {line.split()[0]: line.split() for line in lines[2:4]}
    assert by_partition["a"][1:3] == ["0/2/1", "4"]
    assert "1/1" in by_partition["a"] and "0/0" in by_partition["b"]


def test_splitting_a_bundle_in_one_pass_equals_taking_each_partition(engine: Engine) -> None:
    bundle = merge(with_failures("a"), make_bundle("b"))
    bundle = replace(bundle, failures=(*bundle.failures, ItemFailure("ocr", "batch-9", "worker lost")))
    parts = bundle.by_partition()
    assert list(parts) == ["a", "b"]
    assert all(parts[key] == bundle.only(key) for key in parts)
    placed = sum(len(p.failures) for p in parts.values()) + len(bundle.run_level().failures)
    assert placed == len(bundle.failures)
    with pytest.raises(ValueError, match="undeclared"):
        replace(bundle, partitions={"a": bundle.partitions["a"]}).by_partition()
