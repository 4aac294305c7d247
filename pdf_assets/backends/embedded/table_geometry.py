"""Grid geometry shared by the born-digital and scanned table paths (boxes in points).

A grid is a list of `Cell`s (anchor row/col, spans, box); `Found` is one recovered table:
its cells, their texts and how many leading rows are header rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pdf_assets.backends.embedded.layout import Cell, Rect, boundaries


def area(r: Rect) -> float:
    return max(0.0, r[2] - r[0]) * max(0.0, r[3] - r[1])


def intersection(a: Rect, b: Rect) -> float:
    return area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def contains(r: Rect, x: float, y: float) -> bool:
    return r[0] <= x <= r[2] and r[1] <= y <= r[3]


def expand(r: Rect, margin: float, size: tuple[float, float]) -> Rect:
    """`r` grown by `margin` on every side, kept on the page."""
    return (max(0.0, r[0] - margin), max(0.0, r[1] - margin), min(size[0], r[2] + margin), min(size[1], r[3] + margin))


def union(a: Rect, b: Rect) -> Rect:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def nearest_index(bounds: Sequence[float], v: float) -> int:
    return min(range(len(bounds)), key=lambda i: abs(bounds[i] - v))


def cells_from_boxes(boxes: Sequence[Rect]) -> list[Cell]:
    """Row/col indices and spans of cell boxes, measured against the shared boundaries."""
    ys = boundaries([v for b in boxes for v in (b[1], b[3])])
    xs = boundaries([v for b in boxes for v in (b[0], b[2])])
    cells: dict[tuple[int, int], Cell] = {}
    for b in boxes:
        r0, r1, c0, c1 = (
            nearest_index(ys, b[1]),
            nearest_index(ys, b[3]),
            nearest_index(xs, b[0]),
            nearest_index(xs, b[2]),
        )
        if r1 > r0 and c1 > c0 and (r0, c0) not in cells:
            cells[(r0, c0)] = Cell(r0, c0, r1 - r0, c1 - c0, (xs[c0], ys[r0], xs[c1], ys[r1]))
    return sorted(cells.values(), key=lambda c: (c.row, c.col))


def spanned_header_rows(cells: Sequence[Cell]) -> int:
    """Header = the first row plus the rows its cells span down into (multi-level headers)."""
    first = [c for c in cells if c.row == 0]
    return max((c.row_span for c in first), default=0)


def best_match(candidates: Sequence[Rect], box: Rect) -> int | None:
    """Index of the candidate that best matches the region (IoU, so a page-wide frame
    loses to the grid inside it); None when none covers half of the smaller box."""
    best, best_iou = None, 0.0
    for i, cand in enumerate(candidates):
        inter = intersection(cand, box)
        iou = inter / (area(cand) + area(box) - inter) if inter > 0 else 0.0
        if iou > best_iou and inter >= 0.5 * min(area(cand), area(box)):
            best, best_iou = i, iou
    return best


@dataclass(frozen=True)
class Found:
    """A recovered grid: cells in points plus how many leading rows are header rows."""

    cells: tuple[Cell, ...]
    header_rows: int
    texts: tuple[str, ...]
