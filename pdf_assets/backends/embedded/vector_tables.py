"""Born-digital table regions: PyMuPDF's table finder on the vector rulings, else a grid
from text alignment.

The finder runs over the whole page and the table that best matches the region is kept:
layout boxes hug the text, so a ruled frame often reaches beyond them (twotables_2.pdf:
~9 pt; a short last column: much more). Invisible paths (white fills without a stroke,
used as cell backgrounds) are dropped first: the finder treats every rectangle edge as a
ruling line and would split the header rows. Cell text is rebuilt from glyphs and read in
its own direction (`table_text`); a table drawn sideways is turned upright. Without a
ruled grid, or when the rules miss column boundaries (shaded rows, a whole row in one
cell), the grid comes from text alignment (`stream`). Before any of that the page's
drawing is counted: past `max_items` the region fails fast instead of stalling the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pymupdf

from pdf_assets.backends.embedded.layout import Rect, boundaries
from pdf_assets.backends.embedded.stream import segments, stream_grid
from pdf_assets.backends.embedded.table_checks import TableNotFoundError, reject_contents
from pdf_assets.backends.embedded.table_geometry import (
    Found,
    best_match,
    cells_from_boxes,
    contains,
    expand,
    spanned_header_rows,
)
from pdf_assets.backends.embedded.table_text import (
    Char,
    cell_text,
    dominant_turn,
    line_text,
    page_chars,
    rect_in_frame,
    text_lines,
    to_frame,
    upright,
)
from pdf_assets.core.errors import TableTooComplexError

logger = logging.getLogger(__name__)


#: vector path items (lines, curves, rectangles) a region's page may have before the
#: finder is skipped; 200k line operations once kept it busy for 527 s
DEFAULT_MAX_PATH_ITEMS = 20_000


def path_items(page: pymupdf.Page) -> int:
    """Drawing items on the page, counted from the fast C-level listing."""
    return sum(len(path.get("items", ())) for path in page.get_cdrawings())


def visible_paths(page: pymupdf.Page, max_items: int = DEFAULT_MAX_PATH_ITEMS) -> list[dict[str, object]]:
    """Vector paths a reader can see: unstroked white fills are backgrounds, not rulings.

    Raises TableTooComplexError past `max_items` drawing items, before the slow listing.
    """
    count = path_items(page)
    if count > max_items:
        raise TableTooComplexError(
            f"page {page.number} has {count} vector drawing items, over the table finder's limit of "
            f"{max_items} (option max_path_items of the tables stage)"
        )
    keep = []
    for path in page.get_drawings():
        fill = path.get("fill")
        white = fill is not None and all(float(v) > 0.95 for v in fill)
        if path.get("color") is None and (fill is None or white):
            continue
        keep.append(path)
    return keep


def _best_table(tables: Sequence[pymupdf.table.Table], box: Rect) -> pymupdf.table.Table | None:
    """The finder's table for the region, if it is a real grid (two rows and columns)."""
    grids = [t for t in tables if t.row_count >= 2 and t.col_count >= 2]
    index = best_match([tuple(t.bbox) for t in grids], box)
    return None if index is None else grids[index]


def find_vector_table(
    page: pymupdf.Page, box: Rect, max_items: int = DEFAULT_MAX_PATH_ITEMS
) -> pymupdf.table.Table | None:
    """The ruled table of the whole page that matches the region (a layout box may end
    far inside the frame when the last column's text is short), or None."""
    found = page.find_tables(use_layout=False, paths=visible_paths(page, max_items))
    return _best_table(found.tables if found else [], box)


def _header_rows_vector(table: pymupdf.table.Table, rows: Sequence[float]) -> int:
    header = table.header
    if header is None or header.external or header.bbox is None:
        return 0
    bottom = float(header.bbox[3])
    return sum(1 for y in rows[1:] if y <= bottom + 1.0)


def _ruled_grid(page: pymupdf.Page, table: pymupdf.table.Table) -> tuple[Found, list[Char]]:
    """The finder's cells read in the table's own direction: a table drawn sideways is
    turned upright (its rows become rows again) before indices and texts are taken."""
    boxes: list[Rect] = [tuple(c) for c in table.cells if c is not None]
    chars = page_chars(page, tuple(table.bbox))
    turn = dominant_turn(chars)
    if turn:
        boxes, chars = [rect_in_frame(b, turn) for b in boxes], to_frame(chars, turn)
    cells = cells_from_boxes(boxes)
    texts = tuple(cell_text([ch for ch in chars if contains(cell.box, ch.cx, ch.cy)]) for cell in cells)
    if turn:
        header = spanned_header_rows(cells)
    else:
        header = _header_rows_vector(table, boundaries([v for b in boxes for v in (b[1], b[3])]))
    return Found(cells=tuple(cells), header_rows=header, texts=texts), chars


def _merged_columns(found: Found, chars: Sequence[Char]) -> int:
    """Cells whose one line holds three or more gutter-separated pieces: rulings missing
    between columns (shaded rows without vertical rules), so the grid is not trusted."""
    count = 0
    for cell in found.cells:
        inside = upright([ch for ch in chars if contains(cell.box, ch.cx, ch.cy)])
        if any(len(segments([c for c in line if c.c.strip()])) >= 3 for line in text_lines(inside)):
            count += 1
    return count


def _stream(chars: Sequence[Char], box: Rect) -> Found:
    grid = stream_grid(upright(chars))
    if grid is None:
        raise TableNotFoundError(f"no ruled grid or text columns found in region {tuple(round(v, 1) for v in box)}")
    return Found(cells=grid.cells, header_rows=grid.header_rows, texts=grid.texts)


def _unrotated(page: pymupdf.Page, box: Rect) -> tuple[Rect, tuple[float, float]]:
    """The region and page size in unrotated page space, where the text layer and the
    drawings live; region boxes come from the rendered page, which shows `/Rotate`."""
    if not page.rotation:
        return box, (page.rect.width, page.rect.height)
    shown = pymupdf.Rect(box) * page.derotation_matrix
    size = page.rect * page.derotation_matrix
    return (shown.x0, shown.y0, shown.x1, shown.y1), (size.width, size.height)


def vector_structure(page: pymupdf.Page, box: Rect, max_items: int = DEFAULT_MAX_PATH_ITEMS) -> Found:
    """Ruled grid when the page has one for the region, else the text-alignment grid.

    Everything runs in unrotated page space: the text layer and the drawings handed to
    the finder are there, and the finder's cells follow the drawings it is given.
    """
    box, size = _unrotated(page, box)
    region_chars = page_chars(page, expand(box, 2.0, size))
    reject_contents(line_text(line) for line in text_lines(upright(region_chars)))
    table = find_vector_table(page, box, max_items)
    if table is None:
        logger.debug("no ruled table matches region %s; using text alignment", box)
        return _stream(region_chars, box)
    found, chars = _ruled_grid(page, table)
    if _merged_columns(found, chars) >= 2:
        logger.debug("ruled grid of region %s merges columns; using text alignment", box)
        return _stream(region_chars, box)
    return found
