"""Table Transformer detections (rows, columns, headers, spanning cells) -> a cell grid.

Table Transformer does not predict cells: it predicts full-width rows and full-height
columns, header rows and spanning cells. A cell is the intersection of one row and one
column; a spanning cell merges the grid cells it covers into its top-left anchor, which
carries `row_span`/`col_span`. Words (from the PDF text layer or OCR) go to the cell that
contains their centre. All boxes share one coordinate system (crop pixels or points; the
function does not care). Pure Python so it is unit-testable without a model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pdf_assets.core.types import Box, TableCell, TableStructure

# Two detections of the same row (or column) overlap heavily; real neighbours barely touch.
DUPLICATE_OVERLAP = 0.5
# A row is a header row when this much of it lies inside a detected column-header box.
HEADER_OVERLAP = 0.5
# A spanning cell covers a row/column when it overlaps this much of the row's height / column's width.
SPAN_OVERLAP = 0.5


def _overlap_1d(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def _dedupe(boxes: Sequence[Box], vertical: bool) -> list[Box]:
    """Sort rows top-down (columns left-right) and drop near-duplicate detections."""

    def span(b: Box) -> tuple[float, float]:
        return (b.y0, b.y1) if vertical else (b.x0, b.x1)

    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: sum(span(b))):
        lo, hi = span(box)
        size = max(hi - lo, 1e-6)
        if kept:
            plo, phi = span(kept[-1])
            shared = _overlap_1d(lo, hi, plo, phi)
            if shared / min(size, max(phi - plo, 1e-6)) > DUPLICATE_OVERLAP:
                continue
        kept.append(box)
    return kept


def _union(boxes: Sequence[Box]) -> Box | None:
    if not boxes:
        return None
    return boxes[0].union(*boxes[1:])


def _nearest(value: float, spans: Sequence[tuple[float, float]]) -> int:
    """Index of the span containing `value`, else of the span whose centre is closest."""
    for i, (lo, hi) in enumerate(spans):
        if lo <= value <= hi:
            return i
    return min(range(len(spans)), key=lambda i: abs((spans[i][0] + spans[i][1]) / 2 - value))


@dataclass
class _Grid:
    row_spans: list[tuple[float, float]]
    col_spans: list[tuple[float, float]]
    anchor: dict[tuple[int, int], tuple[int, int]]  # covered cell -> its spanning anchor
    size: dict[tuple[int, int], tuple[int, int]]  # anchor -> (row_span, col_span)

    def covered(self, box: Box) -> tuple[list[int], list[int]]:
        rows = [
            i
            for i, (lo, hi) in enumerate(self.row_spans)
            if _overlap_1d(box.y0, box.y1, lo, hi) > SPAN_OVERLAP * max(hi - lo, 1e-6)
        ]
        cols = [
            j
            for j, (lo, hi) in enumerate(self.col_spans)
            if _overlap_1d(box.x0, box.x1, lo, hi) > SPAN_OVERLAP * max(hi - lo, 1e-6)
        ]
        return rows, cols

    def merge(self, box: Box) -> None:
        """Merge the rectangle of cells under `box`, unless it collides with an earlier merge."""
        rows, cols = self.covered(box)
        if not rows or not cols or len(rows) * len(cols) < 2:
            return
        r0, r1, c0, c1 = rows[0], rows[-1], cols[0], cols[-1]
        cells = [(r, c) for r in range(r0, r1 + 1) for c in range(c0, c1 + 1)]
        if any(cell in self.anchor for cell in cells):
            return
        for cell in cells:
            self.anchor[cell] = (r0, c0)
        self.size[(r0, c0)] = (r1 - r0 + 1, c1 - c0 + 1)

    def cell_of(self, x: float, y: float) -> tuple[int, int]:
        cell = (_nearest(y, self.row_spans), _nearest(x, self.col_spans))
        return self.anchor.get(cell, cell)


def _header_rows(rows: Sequence[Box], headers: Sequence[Box]) -> set[int]:
    """Column-header boxes are as wide as the table, so only the vertical overlap matters."""
    return {
        i
        for i, row in enumerate(rows)
        if any(_overlap_1d(row.y0, row.y1, h.y0, h.y1) > HEADER_OVERLAP * max(row.height, 1e-6) for h in headers)
    }


def grid_from_detections(
    rows: list[Box],
    cols: list[Box],
    headers: list[Box],
    spans: list[Box],
    words: list[tuple[Box, str]],
) -> TableStructure:
    """Build the cell grid; with no rows (or no columns) the table is one row (or one column).

    Every grid position appears exactly once: as a plain cell, as a spanning anchor, or not at
    all when a spanning anchor covers it. Word order inside a cell follows the input order
    (the text layer's reading order), so callers should pass words in reading order.
    """
    rows = _dedupe(rows, vertical=True)
    cols = _dedupe(cols, vertical=False)
    extent = _union([*rows, *cols, *(b for b, _ in words)])
    if extent is None:
        return TableStructure(n_rows=0, n_cols=0, cells=())
    rows = rows or [extent]
    cols = cols or [extent]
    grid = _Grid([(r.y0, r.y1) for r in rows], [(c.x0, c.x1) for c in cols], {}, {})
    for span_box in sorted(spans, key=lambda b: -b.area):
        grid.merge(span_box)
    texts: dict[tuple[int, int], list[str]] = {}
    for box, text in words:
        if text.strip():
            texts.setdefault(grid.cell_of((box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2), []).append(text.strip())
    header_rows = _header_rows(rows, headers)
    cells: list[TableCell] = []
    for r in range(len(rows)):
        for c in range(len(cols)):
            if grid.anchor.get((r, c), (r, c)) != (r, c):
                continue
            row_span, col_span = grid.size.get((r, c), (1, 1))
            is_header = any(i in header_rows for i in range(r, r + row_span))
            text = " ".join(texts.get((r, c), []))
            cells.append(TableCell(r, c, text, row_span=row_span, col_span=col_span, is_header=is_header))
    return TableStructure(n_rows=len(rows), n_cols=len(cols), cells=tuple(cells))
