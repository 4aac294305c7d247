"""The embedded table backend on tiny generated PDFs: text direction, multi-line cells,
borderless tables, regions that are not tables, and the cap on vector drawing.

Every page is drawn with PyMuPDF in tmp_path (ruling lines plus inserted text, some of
it turned with `rotate=`), so these tests need neither the shared corpus nor OCR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pymupdf
import pytest

from pdf_assets.backends.embedded import load
from pdf_assets.backends.embedded.table_text import Char, cell_text, rect_in_frame, to_frame
from pdf_assets.backends.embedded.tables import TableNotFoundError
from pdf_assets.core.config import ModelSpec
from pdf_assets.core.errors import ConfigError, NotATableError, TableTooComplexError
from pdf_assets.core.types import Box, Crop, Region, RegionKey, TableStructure, kind_of_label

GRID = (("State", "Men", "Women"), ("Kerala", "2161", "3195"), ("Goa", "1645", "2391"))
CELL_W, CELL_H = 90.0, 24.0
ORIGIN = (72.0, 100.0)

Point = tuple[float, float]


def _grid(table: TableStructure) -> list[list[str]]:
    rows = [[""] * table.n_cols for _ in range(table.n_rows)]
    for cell in table.cells:
        rows[cell.row][cell.col] = " ".join(cell.text.split())
    return rows


def _run(pdf: Path, box: Box, max_path_items: int | None = None) -> TableStructure:
    options = (("max_path_items", str(max_path_items)),) if max_path_items else ()
    model = load(ModelSpec(stage="tables", options=options), "cpu")
    region = Region(RegionKey("d" * 64, 0, 0), "p1", "table", kind_of_label("table"), box, 1.0)
    (table,) = model.run([Crop(region, str(pdf), "unused.png", 2.0, 100, 100, True)])
    assert isinstance(table, TableStructure)
    return table


def _upright(x: float, y: float) -> Point:
    return ORIGIN[0] + x, ORIGIN[1] + y


def _sideways(x: float, y: float) -> Point:
    """The table turned a quarter counter-clockwise: its text runs up the page."""
    width = CELL_W * len(GRID[0])
    return ORIGIN[0] + y, ORIGIN[1] + width - x


def _draw_table(
    page: pymupdf.Page,
    rows: Sequence[Sequence[str]],
    to_page: Callable[[float, float], Point] = _upright,
    rotate: int = 0,
    heights: Sequence[float] | None = None,
) -> None:
    """A ruled grid in table coordinates (x along the rows, y down), mapped onto the page."""
    heights = list(heights or [CELL_H] * len(rows))
    ys = [sum(heights[:i]) for i in range(len(rows) + 1)]
    width = CELL_W * len(rows[0])
    for y in ys:
        page.draw_line(to_page(0, y), to_page(width, y), width=0.8)
    for c in range(len(rows[0]) + 1):
        page.draw_line(to_page(c * CELL_W, 0), to_page(c * CELL_W, ys[-1]), width=0.8)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            for i, line in enumerate(text.split("\n")):
                page.insert_text(to_page(c * CELL_W + 5, ys[r] + 16 + 13 * i), line, fontsize=10, rotate=rotate)


def _save(doc: pymupdf.Document, path: Path) -> Path:
    doc.save(path)
    doc.close()
    return path


def test_rect_and_glyphs_map_into_the_reading_frame() -> None:
    # Bottom-to-top text (turn 3): reading frame x' = -y, y' = x.
    assert rect_in_frame((10, 20, 30, 60), 3) == (-60, 10, -20, 30)
    assert rect_in_frame(rect_in_frame((10, 20, 30, 60), 3), 1) == (10, 20, 30, 60)
    # "Hi" written upwards at x = 100: "H" lower on the page than "i".
    chars = [Char("H", 92, 190, 100, 198, 10, 100, 3), Char("i", 92, 184, 100, 190, 10, 100, 3)]
    (h, i) = to_frame(chars, 3)
    assert h.x0 < i.x0 and h.turn == i.turn == 0 and h.baseline == i.baseline == 100
    assert cell_text(chars) == "Hi"


def test_rotated_header_cell_is_read_along_its_direction(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    rows = [["State", "", ""], *GRID[1:]]
    _draw_table(page, rows, heights=[60, CELL_H, CELL_H])
    for c, word in ((1, "Men"), (2, "Women")):
        page.insert_text(_upright(c * CELL_W + 20, 55), word, fontsize=10, rotate=90)
    pdf = _save(doc, tmp_path / "rotated-header.pdf")
    table = _run(pdf, Box(ORIGIN[0] + 3, ORIGIN[1] + 3, ORIGIN[0] + 260, ORIGIN[1] + 105))
    assert _grid(table) == [list(row) for row in GRID]


def test_sideways_table_is_turned_upright(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    _draw_table(page, GRID, _sideways, rotate=90)
    pdf = _save(doc, tmp_path / "sideways.pdf")
    width = CELL_W * 3
    table = _run(pdf, Box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + 3 * CELL_H, ORIGIN[1] + width))
    assert (table.n_rows, table.n_cols) == (3, 3)
    assert _grid(table) == [list(row) for row in GRID]


def test_sideways_table_on_a_rotated_page_is_turned_upright(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    _draw_table(page, GRID, _sideways, rotate=90)
    page.set_rotation(180)
    pdf = _save(doc, tmp_path / "sideways-rotated.pdf")
    width = CELL_W * 3
    with pymupdf.open(pdf) as reread:
        rect = pymupdf.Rect(ORIGIN[0], ORIGIN[1], ORIGIN[0] + 3 * CELL_H, ORIGIN[1] + width)
        shown = rect * reread[0].rotation_matrix
    table = _run(pdf, Box(shown.x0, shown.y0, shown.x1, shown.y1))
    assert _grid(table) == [list(row) for row in GRID]


def test_multi_line_cell_stays_one_cell(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    rows = [list(GRID[0]), ["Tamil\nNadu", "2134", "2858"], list(GRID[2])]
    _draw_table(page, rows, heights=[CELL_H, 40, CELL_H])
    pdf = _save(doc, tmp_path / "multi-line.pdf")
    table = _run(pdf, Box(ORIGIN[0] + 3, ORIGIN[1] + 3, ORIGIN[0] + 250, ORIGIN[1] + 85))
    assert (table.n_rows, table.n_cols) == (3, 3)
    (cell,) = [c for c in table.cells if (c.row, c.col) == (1, 0)]
    assert cell.text == "Tamil\nNadu"
    assert _grid(table)[1] == ["Tamil Nadu", "2134", "2858"]


def test_borderless_table_gets_columns_from_text_alignment(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 90), "Table 3: Outlay by state", fontsize=12)
    rows = [
        ("State", "Revenue", "Capital"),
        ("Andhra Pradesh", "47,824,589", "1,275,000"),
        ("Goa", "4,055,567", "330,053"),
    ]
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            page.insert_text((72 + 120 * c, 120 + 16 * r), text, fontsize=10)
    pdf = _save(doc, tmp_path / "borderless.pdf")
    table = _run(pdf, Box(70, 75, 400, 160))
    assert _grid(table) == [list(row) for row in rows]
    assert [c.is_header for c in table.cells if c.col == 0] == [True, False, False]


def test_numbers_set_closer_than_the_gutter_still_split_into_columns(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    rows = [("Name", "Q1", "Q2"), ("Alpha", "6,922,900", "12,664,000"), ("Beta", "110", "330")]
    # Numbers set flush right; "6,922,900" ends 4 pt (0.4 em) before "12,664,000" begins.
    rights = (0.0, 210.0, 266.0)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            x = 72 if c == 0 else rights[c] - pymupdf.get_text_length(text, fontsize=10)
            page.insert_text((x, 120 + 16 * r), text, fontsize=10)
    pdf = _save(doc, tmp_path / "dense.pdf")
    table = _run(pdf, Box(70, 105, 300, 160))
    assert _grid(table) == [list(row) for row in rows]


def test_table_of_contents_is_not_a_table(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    for i, title in enumerate(("Notices", "Trademarks", "Preface", "Authors", "Chapter 1. Security")):
        page.insert_text((72, 100 + 14 * i), f"{title} " + ". " * (30 - len(title) // 2), fontsize=10)
        page.insert_text((480, 100 + 14 * i), str(i + 7), fontsize=10)
    pdf = _save(doc, tmp_path / "toc.pdf")
    with pytest.raises(NotATableError, match="table of contents"):
        _run(pdf, Box(70, 88, 500, 170))


def test_boxed_paragraph_is_not_a_table(tmp_path: Path) -> None:
    # An infobox drawn as a 2 x 2 grid: a label column, and one cell holding a paragraph.
    doc = pymupdf.open()
    page = doc.new_page()
    page.draw_rect(pymupdf.Rect(72, 100, 420, 240), width=1)
    page.draw_line((72, 220), (420, 220), width=1)
    page.draw_line((140, 100), (140, 240), width=1)
    page.insert_text((78, 114), "Note", fontsize=10)
    text = "Farmers in the northern valley planted barley early this spring and reported strong yields. " * 4
    page.insert_textbox(pymupdf.Rect(146, 104, 416, 218), text, fontsize=10)
    page.insert_text((78, 234), "Source", fontsize=10)
    page.insert_text((146, 234), "Survey 2012", fontsize=10)
    pdf = _save(doc, tmp_path / "infobox.pdf")
    with pytest.raises(NotATableError, match="text box"):
        _run(pdf, Box(72, 100, 420, 240))


def test_region_without_grid_or_columns_raises_table_not_found(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 100), "A single line of text", fontsize=10)
    pdf = _save(doc, tmp_path / "line.pdf")
    with pytest.raises(TableNotFoundError):
        _run(pdf, Box(70, 88, 300, 106))


def test_page_with_too_much_vector_drawing_fails_fast(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    _draw_table(page, GRID)
    for i in range(300):
        page.draw_line((72, 400 + i), (500, 400 + i), width=0.1)
    pdf = _save(doc, tmp_path / "busy.pdf")
    box = Box(ORIGIN[0] + 3, ORIGIN[1] + 3, ORIGIN[0] + 250, ORIGIN[1] + 70)
    with pytest.raises(TableTooComplexError, match="max_path_items"):
        _run(pdf, box, max_path_items=200)
    assert _grid(_run(pdf, box, max_path_items=1000)) == [list(row) for row in GRID]


def test_max_path_items_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_path_items"):
        load(ModelSpec(stage="tables", options=(("max_path_items", "0"),)), "cpu")


def test_wrapped_cell_of_a_borderless_table_stays_one_cell(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    # Rows 20 pt apart; "Pradesh" wraps 11 pt below "Andhra"; "South" is a label-only row.
    lines = [
        (120, ("State", "Revenue", "Capital")),
        (140, ("Kerala", "27,923,965", "929,503")),
        (160, ("Andhra", "47,824,589", "1,275,000")),
        (171, ("Pradesh", "", "")),
        (191, ("Goa", "4,055,567", "330,053")),
        (211, ("South", "", "")),
        (231, ("Delhi", "28,084,780", "4,550,000")),
    ]
    for y, row in lines:
        for c, text in enumerate(row):
            if text:
                page.insert_text((72 + 120 * c, y), text, fontsize=10)
    pdf = _save(doc, tmp_path / "wrapped.pdf")
    table = _run(pdf, Box(70, 105, 400, 240))
    grid = _grid(table)
    assert [row[0] for row in grid] == ["State", "Kerala", "Andhra Pradesh", "Goa", "South", "Delhi"]
    assert grid[2] == ["Andhra Pradesh", "47,824,589", "1,275,000"]
    (wrapped,) = [c for c in table.cells if (c.row, c.col) == (2, 0)]
    assert wrapped.text == "Andhra\nPradesh"


def test_scanned_boxed_paragraph_is_not_a_table(tmp_path: Path) -> None:
    source = tmp_path / "infobox-source.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    page.draw_rect(pymupdf.Rect(72, 100, 420, 230), width=1.5)
    text = "Farmers in the northern valley planted barley early this spring and reported strong yields. " * 4
    page.insert_textbox(pymupdf.Rect(82, 110, 410, 224), text, fontsize=11)
    _save(doc, source)
    with pymupdf.open(source) as src:
        pix = src[0].get_pixmap(matrix=pymupdf.Matrix(2, 2))
    scan = pymupdf.open()
    scan.new_page().insert_image(pymupdf.Rect(0, 0, 595, 842), pixmap=pix)
    pdf = _save(scan, tmp_path / "infobox-scan.pdf")
    model = load(ModelSpec(stage="tables"), "cpu")
    region = Region(RegionKey("d" * 64, 0, 0), "p1", "table", kind_of_label("table"), Box(72, 100, 420, 230), 1.0)
    with pytest.raises(NotATableError):
        model.run([Crop(region, str(pdf), "unused.png", 2.0, 100, 100, False)])


def test_ocr_cell_lines_broken_after_a_slash_join_without_a_break() -> None:
    from pdf_assets.backends.embedded.tables import _join_lines

    assert _join_lines(["Ballots", "Incomplete/", "Terminated"]) == "Ballots\nIncomplete/Terminated"
    assert _join_lines([]) == ""
