"""`pdf_assets.overlay` over a database the fake pipeline job wrote (SQLite)."""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest
from dagster import DagsterInstance

from pdf_assets.core.errors import ConfigError
from pdf_assets.overlay import add_overlay_arguments, draw_overlay, kind_colour, run_overlay
from pdf_assets.samples import write_samples
from pdf_assets.storage.db import make_engine
from pdf_assets.storage.queries import read_frame
from tests.dagster.pipeline_helpers import make_resource, run_job

TWO_PAGES = "two_pages.pdf"


@dataclass(frozen=True)
class Stored:
    db_url: str
    db_file: Path
    samples: list[Path]


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Stored:
    """Partition alpha: the 4 samples and a two-page PDF made of two of them; partition beta: a
    copy of one sample under the same name (so that name alone is ambiguous). Run once on the fakes."""
    tmp = tmp_path_factory.mktemp("overlay")
    samples = write_samples(tmp / "inbox" / "alpha")
    with pymupdf.open() as both:
        for sample in samples[:2]:
            with pymupdf.open(sample) as one:
                both.insert_pdf(one)
        both.save(tmp / "inbox" / "alpha" / TWO_PAGES)
    (tmp / "inbox" / "beta").mkdir()
    shutil.copy(samples[0], tmp / "inbox" / "beta" / samples[0].name)
    resource = make_resource(tmp, tmp / "inbox")
    with DagsterInstance.ephemeral() as instance:
        assert run_job(resource, instance, ["alpha", "beta"]).success
    return Stored(resource.database_url(), tmp / "db.sqlite", samples)


def _rows(db_url: str, name: str, partition: str = "alpha") -> tuple[dict, list[dict], list[dict]]:
    """The stored document `partition/name`, its pages by number and its regions."""
    engine = make_engine(db_url)
    try:
        docs, pages, regions = (read_frame(engine, t) for t in ("documents", "pages", "regions"))
    finally:
        engine.dispose()
    doc = docs[(docs["partition"] == partition) & docs["path"].str.endswith(f"/{name}")].to_dict("records")
    assert len(doc) == 1
    own = pages[pages["document_id"] == doc[0]["id"]].sort_values("page_no")
    return doc[0], own.to_dict("records"), regions[regions["page_id"].isin(own["id"])].to_dict("records")


def _copy_db(stored: Stored, tmp_path: Path) -> tuple[str, sqlite3.Connection]:
    """A private copy of the database (SQLite's backup reads through the WAL) to change freely."""
    target = tmp_path / "copy.sqlite"
    with sqlite3.connect(stored.db_file) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
    return f"sqlite:///{target}", sqlite3.connect(target, isolation_level=None)


def _outlined(plain: np.ndarray, drawn: np.ndarray, page: dict, regions: list[dict]) -> list[str]:
    """Kinds of the page's regions whose left edge (at mid-height) was drawn in their colour."""
    scale = plain.shape[1] / float(page["width_pt"])
    hits = []
    for r in regions:
        if r["page_id"] != page["id"]:
            continue
        x, y = round(r["x0"] * scale), round((r["y0"] + r["y1"]) / 2 * scale)
        rgb = tuple(int(v) for v in drawn[y, x][::-1])
        if rgb == kind_colour(r["kind"]) and not np.array_equal(plain[y, x], drawn[y, x]):
            hits.append(str(r["kind"]))
    return hits


def test_every_page_gets_its_boxes_in_the_colour_of_their_kind(stored: Stored, tmp_path: Path) -> None:
    written = draw_overlay(stored.db_url, TWO_PAGES, None, tmp_path / "out")
    assert written == [tmp_path / "out" / "two_pages-p001.png", tmp_path / "out" / "two_pages-p002.png"]
    _, pages, regions = _rows(stored.db_url, TWO_PAGES)
    assert len(pages) == 2 and regions
    kinds = []
    for path, page in zip(written, pages, strict=True):
        plain, drawn = cv2.imread(page["image_path"]), cv2.imread(str(path))
        assert drawn is not None and drawn.shape == plain.shape
        hits = _outlined(plain, drawn, page, regions)
        assert hits
        kinds += hits
    assert {"text", "table", "figure"} <= set(kinds)  # the fake layout puts a band of each on every page


def test_page_selects_one_page_and_refuses_one_out_of_range(stored: Stored, tmp_path: Path) -> None:
    assert draw_overlay(stored.db_url, TWO_PAGES, 2, tmp_path) == [tmp_path / "two_pages-p002.png"]
    assert [p.name for p in tmp_path.iterdir()] == ["two_pages-p002.png"]
    for page in (3, 0):
        with pytest.raises(ConfigError, match=f"page {page} is out of range.*2 stored page"):
            draw_overlay(stored.db_url, TWO_PAGES, page, tmp_path / "none")
    assert not (tmp_path / "none").exists()


def test_doc_id_and_its_prefix_name_a_document(stored: Stored, tmp_path: Path) -> None:
    doc, _, _ = _rows(stored.db_url, stored.samples[1].name)
    stem = stored.samples[1].stem
    assert draw_overlay(stored.db_url, doc["doc_id"], None, tmp_path / "a") == [tmp_path / "a" / f"{stem}-p001.png"]
    by_prefix = draw_overlay(stored.db_url, doc["doc_id"][:8].upper(), 1, tmp_path / "b")
    assert by_prefix == [tmp_path / "b" / f"{stem}-p001.png"]


def test_an_ambiguous_name_lists_the_candidates_and_a_path_suffix_settles_it(stored: Stored, tmp_path: Path) -> None:
    name = stored.samples[0].name
    with pytest.raises(ConfigError, match=re.escape(f"name '{name}' matches 2 documents")) as caught:
        draw_overlay(stored.db_url, name, None, tmp_path)
    assert f"alpha/{name}" in str(caught.value) and f"beta/{name}" in str(caught.value)
    assert not list(tmp_path.iterdir())
    assert draw_overlay(stored.db_url, f"beta/{name}", None, tmp_path) == [
        tmp_path / f"{stored.samples[0].stem}-p001.png"
    ]


def test_an_unknown_name_and_an_ambiguous_prefix_are_refused(stored: Stored, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no stored document matches 'nope\.pdf'; stored: .*alpha/"):
        draw_overlay(stored.db_url, "nope.pdf", None, tmp_path)
    db_url, conn = _copy_db(stored, tmp_path)
    ids = [row[0] for row in conn.execute("SELECT id FROM documents ORDER BY id LIMIT 2")]
    for n, row_id in enumerate(ids):
        conn.execute("UPDATE documents SET doc_id = ? WHERE id = ?", (f"abcdef{n}" + "0" * 57, row_id))
    conn.close()
    with pytest.raises(ConfigError, match="doc_id prefix 'abcdef' matches 2 documents"):
        draw_overlay(db_url, "abcdef", None, tmp_path)
    assert len(draw_overlay(db_url, "abcdef1", None, tmp_path / "one")) == 1
    with pytest.raises(ConfigError, match="needs 6 hex characters"):
        draw_overlay(db_url, "abcde", None, tmp_path)


def test_a_deleted_page_image_is_rendered_again_from_the_pdf(stored: Stored, tmp_path: Path) -> None:
    _, pages, _ = _rows(stored.db_url, TWO_PAGES)
    from_image = cv2.imread(str(draw_overlay(stored.db_url, TWO_PAGES, 2, tmp_path / "image")[0]))
    db_url, conn = _copy_db(stored, tmp_path)
    gone = tmp_path / "gone.png"
    shutil.copy(pages[1]["image_path"], gone)
    gone.unlink()
    conn.execute("UPDATE pages SET image_path = ? WHERE id = ?", (str(gone), int(pages[1]["id"])))
    rendered = cv2.imread(str(draw_overlay(db_url, TWO_PAGES, 2, tmp_path / "pdf")[0]))
    assert rendered.shape == cv2.imread(pages[1]["image_path"]).shape
    assert np.array_equal(rendered, from_image)  # the same render, the same boxes
    conn.execute(
        "UPDATE documents SET path = ? WHERE id = ?", (str(tmp_path / "moved.pdf"), int(pages[1]["document_id"]))
    )
    conn.close()
    with pytest.raises(ConfigError, match=r"page image and its PDF .* are both gone"):
        draw_overlay(db_url, "moved.pdf", 2, tmp_path / "neither")


def test_run_overlay_prints_each_file_or_the_error(
    stored: Stored, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser()
    add_overlay_arguments(parser)
    known = parser.parse_args([TWO_PAGES, "--out", str(tmp_path), "--db-url", stored.db_url])
    assert run_overlay(known) == 0
    assert capsys.readouterr().out.splitlines() == [str(tmp_path / f"two_pages-p00{n}.png") for n in (1, 2)]
    unknown = parser.parse_args(["nope.pdf", "--page", "1", "--out", str(tmp_path / "x"), "--db-url", stored.db_url])
    assert run_overlay(unknown) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: no stored document matches 'nope.pdf'") and not captured.out
    assert not (tmp_path / "x").exists()
