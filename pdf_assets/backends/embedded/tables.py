"""Table structure with PyMuPDF's table finder, and ruling lines + OCR for scanned pages.

Born-digital pages: `page.find_tables` over the whole page, then the table that best
matches the region. Layout boxes hug the text, so a ruled frame often reaches beyond
them (twotables_2.pdf: ~9 pt; a short last column: much more); searching only inside
the box loses the outer rules and with them the first or last column. Invisible paths
(white fills without a stroke, used as cell backgrounds) are dropped first: the finder
treats every rectangle edge as a ruling line and would split the header rows. Cell text
is rebuilt from characters (`rawdict`), because the finder's own `extract()` runs with
tiny glyph boxes, so "7.2" becomes "72\\n." (the dot sits lower) and "Tamil Nadu" loses
its space; text is read along its own direction, and a table drawn sideways is turned
upright (`table_text`). Without rules, or when the rules miss column boundaries (shaded
rows, one cell holding a whole row), the grid comes from text alignment (`stream`).
Before any of that, the page's drawing is counted: past `max_path_items` the region is
an item failure, not a stalled run.

Image-only pages: the page is rendered, ruling lines are found with morphology, the
grid matching the region is rebuilt with spans (a missing rule between two grid slots
merges them), and RapidOCR's lines are assigned to cells. Without rulings, rows and
columns come from clustering the OCR lines; a region that yields neither is an item
error, never a one-cell table.

Regions that are not really tables (a table of contents, a boxed paragraph) raise
`NotATableError` (`table_checks`), so the stage can fall back to their text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pymupdf

from pdf_assets.backends.embedded.layout import (
    Cell,
    Rect,
    boundaries,
    cells_from_rulings,
    pixmap_to_bgr,
    ruled_table_boxes,
)
from pdf_assets.backends.embedded.ocr import (
    DEFAULT_MIN_PX_PER_PT,
    OcrLine,
    make_engine,
    recognize,
    visual_lines,
)
from pdf_assets.backends.embedded.stream import segments, stream_grid
from pdf_assets.backends.embedded.table_checks import reject_contents, reject_grid
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
from pdf_assets.core.errors import DocumentError, NotATableError, TableTooComplexError
from pdf_assets.core.model import BatchModel
from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Crop, TableCell, TableStructure

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

logger = logging.getLogger(__name__)


def area(r: Rect) -> float:
    return max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])


def intersection(a: Rect, b: Rect) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def contains(r: Rect, x: float, y: float) -> bool:
    return r[0] <= x <= r[2] and r[1] <= y <= r[3]


def expand(r: Rect, margin: float, size: tuple[float, float]) -> Rect:
    """`r` grown by `margin` on every side, kept on the page."""
    return (max(0.0, r[0] - margin), max(0.0, r[1] - margin), min(size[0], r[2] + margin), min(size[1], r[3] + margin))


def _union(a: Rect, b: Rect) -> Rect:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _index(bounds: Sequence[float], v: float) -> int:
    return min(range(len(bounds)), key=lambda i: abs(bounds[i] - v))


def cells_from_boxes(boxes: Sequence[Rect]) -> list[Cell]:
    """Row/col indices and spans of cell boxes, measured against the shared boundaries."""
    ys = boundaries([v for b in boxes for v in (b[1], b[3])])
    xs = boundaries([v for b in boxes for v in (b[0], b[2])])
    cells: dict[tuple[int, int], Cell] = {}
    for b in boxes:
        r0, r1, c0, c1 = _index(ys, b[1]), _index(ys, b[3]), _index(xs, b[0]), _index(xs, b[2])
        if r1 > r0 and c1 > c0 and (r0, c0) not in cells:
            cells[(r0, c0)] = Cell(r0, c0, r1 - r0, c1 - c0, (xs[c0], ys[r0], xs[c1], ys[r1]))
    return sorted(cells.values(), key=lambda c: (c.row, c.col))


def spanned_header_rows(cells: Sequence[Cell]) -> int:
    """Header = the first row plus the rows its cells span down into (multi-level headers)."""
    first = [c for c in cells if c.row == 0]
    return max((c.row_span for c in first), default=0)


def _bands(intervals: Sequence[tuple[float, float]], gap: float) -> list[tuple[float, float]]:
    merged: list[list[float]] = []
    for a, b in sorted(intervals):
        if merged and a <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return [(a, b) for a, b in merged]


def _cuts(bands: Sequence[tuple[float, float]]) -> list[float]:
    """Boundaries between consecutive bands (midpoints), plus the outer edges."""
    inner = [(bands[i][1] + bands[i + 1][0]) / 2 for i in range(len(bands) - 1)]
    return [bands[0][0], *inner, bands[-1][1]]


def cells_from_text_lines(boxes: Sequence[Rect]) -> list[Cell]:
    """A span-free grid for an unruled table: rows from vertically overlapping text lines,
    columns from x-intervals that no text line bridges. Empty when either count is < 2."""
    if not boxes:
        return []
    rows = _bands([(b[1], b[3]) for b in boxes], gap=0.0)
    cols = _bands([(b[0], b[2]) for b in boxes], gap=3.0)
    if len(rows) < 2 or len(cols) < 2:
        return []
    ys, xs = _cuts(rows), _cuts(cols)
    return [Cell(r, c, 1, 1, (xs[c], ys[r], xs[c + 1], ys[r + 1])) for r in range(len(rows)) for c in range(len(cols))]


__all__ = ["Char", "EmbeddedTableModel", "TableNotFoundError", "cell_text"]


class TableNotFoundError(NotATableError):
    """No table grid could be recovered for a region (recorded as an item failure)."""


@dataclass(frozen=True)
class _Found:
    """A recovered grid: cells in points plus how many leading rows are header rows."""

    cells: tuple[Cell, ...]
    header_rows: int
    texts: tuple[str, ...]


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


def _best(candidates: Sequence[Rect], box: Rect) -> int | None:
    """Index of the candidate that best matches the region (IoU, so a page-wide frame
    loses to the grid inside it); None when none covers half of the smaller box."""
    best, best_iou = None, 0.0
    for i, cand in enumerate(candidates):
        inter = intersection(cand, box)
        iou = inter / (area(cand) + area(box) - inter) if inter > 0 else 0.0
        if iou > best_iou and inter >= 0.5 * min(area(cand), area(box)):
            best, best_iou = i, iou
    return best


def _best_table(tables: Sequence[pymupdf.table.Table], box: Rect) -> pymupdf.table.Table | None:
    """The finder's table for the region, if it is a real grid (two rows and columns)."""
    grids = [t for t in tables if t.row_count >= 2 and t.col_count >= 2]
    index = _best([tuple(t.bbox) for t in grids], box)
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


def _ruled_grid(page: pymupdf.Page, table: pymupdf.table.Table) -> tuple[_Found, list[Char]]:
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
    return _Found(cells=tuple(cells), header_rows=header, texts=texts), chars


def _merged_columns(found: _Found, chars: Sequence[Char]) -> int:
    """Cells whose one line holds three or more gutter-separated pieces: rulings missing
    between columns (shaded rows without vertical rules), so the grid is not trusted."""
    count = 0
    for cell in found.cells:
        inside = upright([ch for ch in chars if contains(cell.box, ch.cx, ch.cy)])
        if any(len(segments([c for c in line if c.c.strip()])) >= 3 for line in text_lines(inside)):
            count += 1
    return count


def _stream(chars: Sequence[Char], box: Rect) -> _Found:
    grid = stream_grid(upright(chars))
    if grid is None:
        raise TableNotFoundError(f"no ruled grid or text columns found in region {tuple(round(v, 1) for v in box)}")
    return _Found(cells=grid.cells, header_rows=grid.header_rows, texts=grid.texts)


def vector_structure(page: pymupdf.Page, box: Rect, max_items: int = DEFAULT_MAX_PATH_ITEMS) -> _Found:
    """Ruled grid when the page has one for the region, else the text-alignment grid."""
    region_chars = page_chars(page, expand(box, 2.0, (page.rect.width, page.rect.height)))
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


def _ocr_lines_in_points(lines: Sequence[OcrLine], origin: tuple[float, float], scale: float) -> list[OcrLine]:
    ox, oy = origin
    return [
        OcrLine(ox + ln.x0 / scale, oy + ln.y0 / scale, ox + ln.x1 / scale, oy + ln.y1 / scale, ln.text, ln.score)
        for ln in lines
    ]


def _texts_from_ocr(cells: Sequence[Cell], lines: Sequence[OcrLine]) -> tuple[str, ...]:
    """Each OCR line goes to the cell it overlaps most; a cell's lines are read in order."""
    per_cell: list[list[OcrLine]] = [[] for _ in cells]
    for line in lines:
        lbox = (line.x0, line.y0, line.x1, line.y1)
        overlaps = [intersection(lbox, cell.box) for cell in cells]
        best = max(range(len(cells)), key=overlaps.__getitem__)
        if overlaps[best] > 0.3 * area(lbox):
            per_cell[best].append(line)
    return tuple(_join_lines(" ".join(w.text for w in row) for row in visual_lines(group)) for group in per_cell)


def _join_lines(lines: Iterable[str]) -> str:
    """A cell's lines, one per line; a line broken after a slash ("Incomplete/") goes on
    without a break, as the word it splits."""
    out = ""
    for line in lines:
        out += line if not out or out.endswith("/") else "\n" + line
    return out


class EmbeddedTableModel(BatchModel[Crop, list[Crop], list[_Found], TableStructure]):
    """Table crop -> cell grid with spans. CPU only; RapidOCR is loaded on first scan."""

    name = "embedded.pymupdf_tables"

    def __init__(
        self,
        threads: int | None = None,
        min_px_per_pt: float = DEFAULT_MIN_PX_PER_PT,
        max_path_items: int = DEFAULT_MAX_PATH_ITEMS,
    ) -> None:
        self.device = "cpu"
        self.threads = threads
        self.min_px_per_pt = min_px_per_pt
        self.max_path_items = max_path_items
        self._engine: RapidOCR | None = None

    def _ocr_engine(self) -> RapidOCR:
        """RapidOCR on first use: a run without scanned tables never loads it."""
        if self._engine is None:
            self._engine = make_engine(self.threads)
        return self._engine

    def preprocess(self, items: Sequence[Crop]) -> list[Crop]:
        return list(items)

    def forward(self, batch: list[Crop]) -> list[_Found]:
        # Documents stay open for this batch only, and close even when an item fails.
        docs: dict[str, pymupdf.Document] = {}
        try:
            return [self._one(crop, docs) for crop in batch]
        finally:
            for doc in docs.values():
                doc.close()

    def _one(self, crop: Crop, docs: dict[str, pymupdf.Document]) -> _Found:
        if crop.pdf_path not in docs:
            try:
                docs[crop.pdf_path] = open_pdf(crop.pdf_path)
            except Exception as exc:  # any open failure is a document error
                raise DocumentError(f"cannot open {crop.pdf_path!r}: {exc}") from exc
        page = docs[crop.pdf_path][crop.region.key.page_no]
        box = crop.region.box.as_tuple()
        if crop.text_layer:
            found = vector_structure(page, box, self.max_path_items)
        else:
            found = self._scanned_structure(page, box, crop.px_per_pt)
        reject_grid([c.row for c in found.cells], [c.col for c in found.cells], found.texts)
        return found

    def _scanned_structure(self, page: pymupdf.Page, box: Rect, px_per_pt: float) -> _Found:
        scale = max(px_per_pt, self.min_px_per_pt)
        pix = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False)
        full = pixmap_to_bgr(pix.samples, pix.width, pix.height, pix.n)
        # As on born-digital pages, the ruled frame may reach well beyond the region box.
        frames: list[Rect] = [
            (x0 / scale, y0 / scale, x1 / scale, y1 / scale) for x0, y0, x1, y1 in ruled_table_boxes(full, scale)
        ]
        index = _best(frames, box)
        outer = box if index is None else _union(box, frames[index])
        x0, y0, x1, y1 = expand(outer, 4.0, (page.rect.width, page.rect.height))
        image = full[int(y0 * scale) : int(y1 * scale), int(x0 * scale) : int(x1 * scale)]
        origin = (int(x0 * scale) / scale, int(y0 * scale) / scale)
        lines = _ocr_lines_in_points(recognize(self._ocr_engine(), image), origin, scale)
        reject_contents(" ".join(w.text for w in row) for row in visual_lines(lines))
        cells = cells_from_rulings(image, scale, origin)
        if not cells:
            inside = [ln for ln in lines if contains(box, (ln.x0 + ln.x1) / 2, ln.cy)]
            cells = cells_from_text_lines([(ln.x0, ln.y0, ln.x1, ln.y1) for ln in inside])
            lines = inside
        if not cells:
            raise TableNotFoundError(f"no ruling lines or text columns found in scanned region {box}")
        return _Found(cells=tuple(cells), header_rows=spanned_header_rows(cells), texts=_texts_from_ocr(cells, lines))

    def postprocess(self, raw: list[_Found], items: Sequence[Crop]) -> list[TableStructure]:
        return [_to_structure(found) for found, _ in zip(raw, items, strict=True)]

    def cost(self, item: Crop) -> float:
        return float(item.width_px * item.height_px)


def _to_structure(found: _Found) -> TableStructure:
    n_rows = max((c.row + c.row_span for c in found.cells), default=0)
    n_cols = max((c.col + c.col_span for c in found.cells), default=0)
    cells = tuple(
        TableCell(
            row=c.row,
            col=c.col,
            text=text,
            row_span=c.row_span,
            col_span=c.col_span,
            is_header=c.row < found.header_rows,
        )
        for c, text in sorted(zip(found.cells, found.texts, strict=True), key=lambda ct: (ct[0].row, ct[0].col))
    )
    return TableStructure(n_rows=n_rows, n_cols=n_cols, cells=cells)
