"""Table structure for table regions: the embedded backend's model, and scanned pages.

Born-digital pages go to `vector_tables` (PyMuPDF's table finder on the rulings, or a
grid from text alignment, text read in its own direction).

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
from typing import TYPE_CHECKING

import pymupdf

from pdf_assets.backends.embedded.layout import (
    Cell,
    Rect,
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
from pdf_assets.backends.embedded.table_checks import TableNotFoundError, reject_contents, reject_grid
from pdf_assets.backends.embedded.table_geometry import (
    Found,
    area,
    best_match,
    contains,
    expand,
    intersection,
    spanned_header_rows,
    union,
)
from pdf_assets.backends.embedded.table_text import Char, cell_text
from pdf_assets.backends.embedded.vector_tables import DEFAULT_MAX_PATH_ITEMS, vector_structure
from pdf_assets.core.errors import DocumentError
from pdf_assets.core.model import BatchModel, pixel_cost
from pdf_assets.core.pdf import open_pdf
from pdf_assets.core.types import Crop, TableCell, TableStructure

if TYPE_CHECKING:
    from rapidocr_onnxruntime import RapidOCR

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_MAX_PATH_ITEMS", "Char", "EmbeddedTableModel", "TableNotFoundError", "cell_text"]


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


class EmbeddedTableModel(BatchModel[Crop, list[Crop], list[Found], TableStructure]):
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

    def forward(self, batch: list[Crop]) -> list[Found]:
        # Documents stay open for this batch only, and close even when an item fails.
        docs: dict[str, pymupdf.Document] = {}
        try:
            return [self._one(crop, docs) for crop in batch]
        finally:
            for doc in docs.values():
                doc.close()

    def _one(self, crop: Crop, docs: dict[str, pymupdf.Document]) -> Found:
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

    def _scanned_structure(self, page: pymupdf.Page, box: Rect, px_per_pt: float) -> Found:
        scale = max(px_per_pt, self.min_px_per_pt)
        pix = page.get_pixmap(matrix=pymupdf.Matrix(scale, scale), alpha=False)
        full = pixmap_to_bgr(pix.samples, pix.width, pix.height, pix.n)
        # As on born-digital pages, the ruled frame may reach well beyond the region box.
        frames: list[Rect] = [
            (x0 / scale, y0 / scale, x1 / scale, y1 / scale) for x0, y0, x1, y1 in ruled_table_boxes(full, scale)
        ]
        index = best_match(frames, box)
        outer = box if index is None else union(box, frames[index])
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
        return Found(cells=tuple(cells), header_rows=spanned_header_rows(cells), texts=_texts_from_ocr(cells, lines))

    def postprocess(self, raw: list[Found], items: Sequence[Crop]) -> list[TableStructure]:
        return [_to_structure(found) for found, _ in zip(raw, items, strict=True)]

    def cost(self, item: Crop) -> float:
        return pixel_cost(item)


def _to_structure(found: Found) -> TableStructure:
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
