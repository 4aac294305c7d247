"""The embedded default backends on real pages: PyMuPDF layout and tables, RapidOCR.

Pages are generated with PyMuPDF into tmp_path (a born-digital page with a title, a
paragraph and a ruled 3x3 table; an image-only copy of a text page), plus the shared
corpus where it is present (cell-level ground truth for twotables_2 and a scanned table).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from pdf_assets.backends.embedded import devices_for, load
from pdf_assets.backends.embedded.labels import PYMUPDF_LAYOUT_LABELS, canonical_label
from pdf_assets.backends.embedded.tables import Char, TableNotFoundError, cell_text
from pdf_assets.backends.registry import load_models
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.model import BatchModel
from pdf_assets.core.types import (
    LABELS,
    Box,
    Crop,
    DetectedRegion,
    PageRef,
    Region,
    RegionKey,
    TableStructure,
    kind_of_label,
)

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
needs_corpus = pytest.mark.skipif(not (CORPUS / "pdfs").is_dir(), reason=f"shared corpus not found at {CORPUS}")

SCALE = 2.0
PAGE_W, PAGE_H = 612.0, 792.0
TITLE = "Harvest Report"
PARAGRAPH = (
    "Farmers in the northern valley planted barley early this spring and reported strong yields across every field. "
)
GRID = (("Crop", "Acres", "Yield"), ("Barley", "120", "3.4"), ("Wheat", "85", "2.9"))
TABLE_FRAME = Box(72, 300, 432, 390)  # the ruled frame; cells are 120 x 30 pt

Models = dict[str, BatchModel[object, object, object, object]]


# -- helpers --------------------------------------------------------------------------


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _page_ref(pdf: Path, page_no: int, out: Path) -> PageRef:
    """Render a page like the pipeline does and describe it."""
    with pymupdf.open(pdf) as doc:
        page = doc[page_no]
        image = out / f"{pdf.stem}-{page_no}.png"
        page.get_pixmap(matrix=pymupdf.Matrix(SCALE, SCALE)).save(image)
        chars = len(page.get_text().strip())
        return PageRef("d" * 64, "p1", str(pdf), page_no, page.rect.width, page.rect.height, str(image), SCALE, chars)


def _crop(ref: PageRef, box: Box, label: str, out: Path, index: int = 0) -> Crop:
    """Cut `box` out of the stored page image, as the categorize stage does."""
    image = cv2.imread(ref.image_path)
    px = box.clipped(ref.width_pt, ref.height_pt).scaled(ref.px_per_pt)
    piece = image[int(px.y0) : int(px.y1), int(px.x0) : int(px.x1)]
    path = out / f"crop-{ref.page_no}-{index}.png"
    cv2.imwrite(str(path), piece)
    region = Region(RegionKey(ref.doc_id, ref.page_no, index), "p1", label, kind_of_label(label), box, 1.0)
    return Crop(region, ref.pdf_path, str(path), ref.px_per_pt, piece.shape[1], piece.shape[0], ref.has_text_layer)


def _grid(table: TableStructure) -> list[list[str]]:
    rows = [[""] * table.n_cols for _ in range(table.n_rows)]
    for cell in table.cells:
        rows[cell.row][cell.col] = _normal(cell.text)
    return rows


def _write_born_digital(path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    page.insert_text((72, 90), TITLE, fontsize=22)
    page.insert_textbox(pymupdf.Rect(72, 130, 540, 220), PARAGRAPH * 2, fontsize=11)
    f = TABLE_FRAME
    cw, ch = f.width / 3, f.height / 3
    for i in range(4):
        page.draw_line((f.x0, f.y0 + i * ch), (f.x1, f.y0 + i * ch), width=0.8)
        page.draw_line((f.x0 + i * cw, f.y0), (f.x0 + i * cw, f.y1), width=0.8)
    for r, row in enumerate(GRID):
        for c, text in enumerate(row):
            page.insert_text((f.x0 + c * cw + 6, f.y0 + r * ch + 19), text, fontsize=11)
    doc.save(path)
    doc.close()


def _write_image_only(path: Path, source: Path) -> None:
    """A scan: the source page rendered to pixels and placed as the only page content."""
    with pymupdf.open(source) as src:
        pix = src[0].get_pixmap(matrix=pymupdf.Matrix(SCALE, SCALE))
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_W, height=PAGE_H)
    page.insert_image(page.rect, pixmap=pix)
    doc.save(path)
    doc.close()


def _inside(region: DetectedRegion, ref: PageRef) -> bool:
    b = region.box
    return 0 <= b.x0 < b.x1 <= ref.width_pt and 0 <= b.y0 < b.y1 <= ref.height_pt


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models() -> Models:
    return {stage: load(ModelSpec(stage=stage), "cpu") for stage in ("layout", "ocr", "tables", "figures")}


@pytest.fixture(scope="module")
def born_digital(tmp_path_factory: pytest.TempPathFactory) -> PageRef:
    out = tmp_path_factory.mktemp("born")
    pdf = out / "born.pdf"
    _write_born_digital(pdf)
    return _page_ref(pdf, 0, out)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, born_digital: PageRef) -> PageRef:
    out = tmp_path_factory.mktemp("scan")
    pdf = out / "scan.pdf"
    _write_image_only(pdf, Path(born_digital.pdf_path))
    return _page_ref(pdf, 0, out)


# -- contract -------------------------------------------------------------------------


def test_registry_loads_every_stage_on_cpu() -> None:
    for stage in ("layout", "ocr", "tables", "figures"):
        spec = ModelSpec(stage=stage, backend="embedded", device="auto")
        assert devices_for(spec) == ["cpu"]
        (model,) = load_models(spec)
        assert model.device == "cpu"
        assert model.run([]) == []


def test_every_layout_class_of_the_installed_model_maps_to_a_canonical_label() -> None:
    import yaml

    config_dir = Path(pymupdf.__file__).parent / "layout" / "resources" / "onnx"
    configs = [yaml.safe_load(cfg.read_text()) for cfg in config_dir.glob("*.yaml")]
    classes = {name for cfg in configs for name in cfg["data"]["class_list"]}
    assert classes, "no layout class list found in the installed pymupdf.layout"
    assert classes <= set(PYMUPDF_LAYOUT_LABELS)
    assert {canonical_label(name) for name in classes} <= set(LABELS)
    assert canonical_label("picture") == "figure"
    assert {name: canonical_label(name) for name in PYMUPDF_LAYOUT_LABELS} == PYMUPDF_LAYOUT_LABELS


def test_cell_text_orders_low_dots_and_restores_missing_spaces() -> None:
    size = 10.0
    # "7.2" where the dot's box sits below the digits (tiny-glyph extraction), and
    # "Tamil Nadu" drawn without a space glyph, only a gap.
    chars = [
        Char("7", 0, 0, 5, 7, size, 7),
        Char(".", 5, 6, 7, 7.5, size, 7),
        Char("2", 7, 0, 12, 7, size, 7),
        Char("T", 0, 20, 6, 27, size, 27),
        Char("a", 6, 20, 11, 27, size, 27),
        Char("N", 14.5, 20, 21, 27, size, 27),
        Char("u", 21, 20, 26, 27, size, 27),
    ]
    assert cell_text(chars) == "7.2\nTa Nu"


# -- generated pages ------------------------------------------------------------------


def test_layout_finds_text_and_table_on_a_born_digital_page(models: Models, born_digital: PageRef) -> None:
    (regions,) = models["layout"].run([born_digital])
    labels = {r.label for r in regions}
    assert "table" in labels
    assert labels & {"text", "title", "section_header"}
    assert all(r.label in LABELS and _inside(r, born_digital) for r in regions)
    table = next(r for r in regions if r.label == "table")
    assert table.box.intersection(TABLE_FRAME) > 0.5 * table.box.area


def test_table_backend_reads_the_ruled_grid(models: Models, born_digital: PageRef, tmp_path: Path) -> None:
    # A layout-style box that hugs the text, inside the ruled frame.
    box = Box(TABLE_FRAME.x0 + 5, TABLE_FRAME.y0 + 8, TABLE_FRAME.x1 - 20, TABLE_FRAME.y1 - 8)
    (table,) = models["tables"].run([_crop(born_digital, box, "table", tmp_path)])
    assert (table.n_rows, table.n_cols) == (3, 3)
    assert _grid(table) == [list(row) for row in GRID]
    assert all(cell.row_span == 1 and cell.col_span == 1 for cell in table.cells)


def test_layout_and_ocr_read_an_image_only_page(models: Models, scanned: PageRef, tmp_path: Path) -> None:
    assert not scanned.has_text_layer
    (regions,) = models["layout"].run([scanned])
    texts = [r for r in regions if r.label == "text"]
    assert texts and all(_inside(r, scanned) for r in regions)
    crops = [_crop(scanned, r.box, r.label, tmp_path, i) for i, r in enumerate(texts)]
    read = " ".join(o.text for o in models["ocr"].run(crops)).lower()
    for word in ("harvest", "report", "barley", "northern valley"):
        assert word in _normal(read)


def test_scanned_ruled_table_gets_cells_from_rulings_and_ocr(models: Models, scanned: PageRef, tmp_path: Path) -> None:
    crop = _crop(scanned, TABLE_FRAME, "table", tmp_path)
    (table,) = models["tables"].run([crop])
    assert _grid(table) == [list(row) for row in GRID]


def test_scanned_region_without_a_table_is_an_error(models: Models, scanned: PageRef, tmp_path: Path) -> None:
    crop = _crop(scanned, Box(72, 60, 400, 100), "table", tmp_path)  # just the title line
    with pytest.raises(TableNotFoundError):
        models["tables"].run([crop])


def test_ocr_returns_empty_text_for_a_blank_crop(models: Models, tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), np.full((60, 200, 3), 255, dtype=np.uint8))
    region = Region(RegionKey("d" * 64, 0, 0), "p1", "text", kind_of_label("text"), Box(0, 0, 100, 30), 1.0)
    (out,) = models["ocr"].run([Crop(region, "none.pdf", str(blank), SCALE, 200, 60, False)])
    assert (out.text, out.confidence) == ("", 0.0)


def test_figure_backend_returns_no_chart_for_each_crop(models: Models, born_digital: PageRef, tmp_path: Path) -> None:
    crops = [_crop(born_digital, Box(72, 130, 300, 200), "figure", tmp_path, i) for i in range(3)]
    assert models["figures"].run(crops) == [None, None, None]


# -- shared corpus --------------------------------------------------------------------


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return [[_normal(v) for v in row] for row in csv.reader(f)]


def _data_rows(rows: Sequence[Sequence[str]], first: str) -> list[list[str]]:
    start = next(i for i, row in enumerate(rows) if row and row[0] == first)
    return [list(row) for row in rows[start:]]


@needs_corpus
@pytest.mark.corpus
def test_corpus_twotables_cells_match_ground_truth(models: Models, tmp_path: Path) -> None:
    ref = _page_ref(CORPUS / "pdfs" / "twotables_2.pdf", 0, tmp_path)
    (regions,) = models["layout"].run([ref])
    boxes = [r.box for r in regions if r.label == "table"]
    assert len(boxes) == 2
    crops = [_crop(ref, box, "table", tmp_path, i) for i, box in enumerate(boxes)]
    for i, table in enumerate(models["tables"].run(crops), start=1):
        truth = _data_rows(_csv_rows(CORPUS / "groundtruth" / f"twotables_2.table{i}.csv"), "Kerala")
        assert table.n_cols == 8
        assert _data_rows(_grid(table), "Kerala") == truth
        assert len(truth) == 11  # Kerala .. Pooled
        header = [c for c in table.cells if c.is_header]
        assert any(c.text == "Literacy Status" and c.col_span == 6 for c in header)


@needs_corpus
@pytest.mark.corpus
def test_corpus_ocr_reads_the_scanned_page(models: Models, tmp_path: Path) -> None:
    ref = _page_ref(CORPUS / "pdfs" / "ocr_test.pdf", 0, tmp_path)
    (out,) = models["ocr"].run([_crop(ref, Box(0, 0, ref.width_pt, ref.height_pt), "text", tmp_path)])
    expected = "Docling bundles PDF document conversion to JSON and Markdown in an easy self contained package"
    assert expected in _normal(out.text)
    assert out.confidence > 0.5


@needs_corpus
@pytest.mark.corpus
def test_corpus_scanned_table_with_spans_matches_ground_truth(models: Models, tmp_path: Path) -> None:
    ref = _page_ref(CORPUS / "pdfs" / "table-multi-row-column-cells.pdf", 0, tmp_path)
    (regions,) = models["layout"].run([ref])
    (box,) = [r.box for r in regions if r.label == "table"]
    (table,) = models["tables"].run([_crop(ref, box, "table", tmp_path)])
    truth = _csv_rows(CORPUS / "groundtruth" / "table-multi-row-column-cells-actual.csv")
    assert (table.n_rows, table.n_cols) == (len(truth), 6)
    assert _data_rows(_grid(table), "Blind") == _data_rows(truth, "Blind")
    results = next(c for c in table.cells if c.text == "Results")
    assert (results.col_span, results.is_header) == (2, True)
