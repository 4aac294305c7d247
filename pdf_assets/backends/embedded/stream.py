"""Tables without a usable ruling grid, rebuilt from text alignment ("stream" tables).

Rows are text lines (a header written over three lines is three rows, as camelot's
stream flavour and its ground truth have it); superscripts join the line they sit on.
A line is cut into segments where the gap between glyphs exceeds `SEGMENT_GAP_EM`
(a space is ~0.3 em, a column gutter is wider). Columns come from the body rows, the
rows with the most common segment count: their segments' x-ranges, merged where they
overlap, are the columns; every segment (headers included) goes to the column it
overlaps most, the leftmost on a tie (camelot puts a spanning header's text in the
first column it covers). Leading caption lines ("Table 5: ...") are not table rows.
In the body, a line that fills only some columns and sits closer to the line above
than body rows sit to each other continues that row's cells (a wrapped cell stays one
cell, its lines joined by newlines) instead of becoming a row of its own.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pdf_assets.backends.embedded.layout import Cell
from pdf_assets.backends.embedded.table_text import Char, line_text

#: a gap between glyphs wider than this many font sizes separates two cells
SEGMENT_GAP_EM = 1.0
#: glyphs whose baselines differ by less than this many font sizes share a line
BASELINE_TOLERANCE_EM = 0.25
CAPTION = re.compile(r"^\s*(table|tab\.)\s*:?\s*\d+", re.IGNORECASE)


@dataclass(frozen=True)
class StreamGrid:
    """A span-free grid: cells in reading order, their texts, and the header row count."""

    cells: tuple[Cell, ...]
    texts: tuple[str, ...]
    header_rows: int


def _lines(chars: Sequence[Char]) -> list[list[Char]]:
    """Glyphs grouped by baseline; a line of small glyphs (a superscript) joins the
    line it is raised above or lowered below."""
    lines: list[list[Char]] = []
    for ch in sorted((c for c in chars if c.c.strip()), key=lambda c: c.baseline):
        ref = lines[-1][0] if lines else None
        if ref is not None and abs(ch.baseline - ref.baseline) <= BASELINE_TOLERANCE_EM * max(ch.size, ref.size):
            lines[-1].append(ch)
        else:
            lines.append([ch])
    merged: list[list[Char]] = []
    for line in lines:
        size = max(c.size for c in line)
        if merged:
            prev = merged[-1]
            psize = max(c.size for c in prev)
            small = size < 0.8 * psize or psize < 0.8 * size
            if small and abs(line[0].baseline - prev[0].baseline) <= 0.6 * max(size, psize):
                prev.extend(line)
                continue
        merged.append(line)
    return [sorted(line, key=lambda c: c.x0) for line in merged]


def segments(line: Sequence[Char]) -> list[list[Char]]:
    """A line's glyphs (sorted by x) cut where the gap exceeds SEGMENT_GAP_EM."""
    out: list[list[Char]] = []
    for ch in line:
        if out and ch.x0 - out[-1][-1].x1 <= SEGMENT_GAP_EM * max(ch.size, out[-1][-1].size):
            out[-1].append(ch)
        else:
            out.append([ch])
    return out


def _span(seg: Sequence[Char]) -> tuple[float, float]:
    return min(c.x0 for c in seg), max(c.x1 for c in seg)


def _columns(rows: Sequence[Sequence[Sequence[Char]]]) -> list[tuple[float, float]]:
    """Column x-ranges from the body rows (those with the most common segment count)."""
    counts = Counter(len(r) for r in rows if len(r) >= 2)
    if not counts:
        return []
    body = max(counts, key=lambda n: (counts[n], n))
    spans = sorted(_span(seg) for row in rows if len(row) >= body for seg in row)
    bands: list[list[float]] = []
    for a, b in spans:
        if bands and a <= bands[-1][1]:
            bands[-1][1] = max(bands[-1][1], b)
        else:
            bands.append([a, b])
    return [(a, b) for a, b in bands]


def _column_of(seg: Sequence[Char], cuts: Sequence[float]) -> int:
    """The column (between consecutive cuts) the segment overlaps most; leftmost on ties."""
    a, b = _span(seg)
    overlaps = [min(b, cuts[i + 1]) - max(a, cuts[i]) for i in range(len(cuts) - 1)]
    return max(range(len(overlaps)), key=lambda i: (overlaps[i], -i))


def _words(seg: Sequence[Char]) -> list[list[Char]]:
    """A segment cut at its spaces (space glyphs or gaps over 0.25 em)."""
    out: list[list[Char]] = []
    for ch in seg:
        if out and ch.x0 - out[-1][-1].x1 <= 0.25 * max(ch.size, 1.0):
            out[-1].append(ch)
        else:
            out.append([ch])
    return out


def _split_dense(seg: list[Char], cuts: Sequence[float]) -> list[list[Char]]:
    """A body segment whose words sit in different columns is two cells set too close
    together ("6,922,900 12,664,000"): each word goes to the column holding its centre."""
    pieces: dict[int, list[Char]] = {}
    for word in _words(seg):
        a, b = _span(word)
        col = next(i for i in range(len(cuts) - 1) if (a + b) / 2 < cuts[i + 1])
        pieces.setdefault(col, []).extend(word)
    return [pieces[c] for c in sorted(pieces)]


def _header_rows(rows: Sequence[Sequence[Sequence[Char]]], n_cols: int) -> int:
    """Rows above the first full row are header rows; so is that row itself when it has
    no digits beyond its first column while most rows below it do (column titles over
    numbers)."""
    first = next((i for i, row in enumerate(rows) if len(row) >= max(2, n_cols - 1)), 0)
    numeric = [any(ch.c.isdigit() for seg in row[1:] for ch in seg) for row in rows]
    below = numeric[first + 1 :]
    if below and not numeric[first] and sum(below) > len(below) / 2:
        first += 1
    return first


def _continuations(rows: Sequence[Sequence[Sequence[Char]]], n_cols: int, header_rows: int) -> set[int]:
    """Body lines that continue the row above (a wrapped cell), not rows of their own.

    A line is a continuation when it fills fewer columns than a full row and sits closer
    below the previous line than full rows sit to each other (the median pitch between
    adjacent full rows; without such pairs nothing is merged, so evenly spaced label-only
    rows, such as section titles, stay rows).
    """
    full = [len(row) >= max(2, n_cols - 1) for row in rows]
    base = [sorted(c.baseline for seg in row for c in seg)[0] for row in rows]
    pitches = sorted(base[i + 1] - base[i] for i in range(header_rows, len(rows) - 1) if full[i] and full[i + 1])
    if not pitches:
        return set()
    pitch = pitches[len(pitches) // 2]
    return {r for r in range(header_rows + 1, len(rows)) if not full[r] and base[r] - base[r - 1] < 0.85 * pitch}


def stream_grid(chars: Sequence[Char]) -> StreamGrid | None:
    """The grid implied by text alignment, or None with fewer than two rows or columns."""
    rows = [segments(line) for line in _lines(chars)]
    while rows and CAPTION.match(" ".join(line_text(s) for s in rows[0])):
        rows.pop(0)
    bands = _columns(rows)
    if len(rows) < 2 or len(bands) < 2:
        return None
    inner = [(bands[i][1] + bands[i + 1][0]) / 2 for i in range(len(bands) - 1)]
    cuts = [-float("inf"), *inner, float("inf")]
    edges = [min(b[0] for b in bands), *inner, max(b[1] for b in bands)]
    header_rows = _header_rows(rows, len(bands))
    merged = _continuations(rows, len(bands), header_rows)
    texts: dict[tuple[int, int], dict[int, list[str]]] = {}  # (row, col) -> line -> pieces
    tops: list[float] = []
    bottoms: list[float] = []
    for r, row in enumerate(rows):
        top, bottom = min(c.y0 for seg in row for c in seg), max(c.y1 for seg in row for c in seg)
        if r in merged:
            bottoms[-1] = max(bottoms[-1], bottom)
        else:
            tops.append(top)
            bottoms.append(bottom)
        out = len(tops) - 1
        pieces = row if r < header_rows else [p for seg in row for p in _split_dense(seg, cuts)]
        for seg in pieces:
            texts.setdefault((out, _column_of(seg, cuts)), {}).setdefault(r, []).append(line_text(seg))
    cells = [
        Cell(r, c, 1, 1, (edges[c], tops[r], edges[c + 1], bottoms[r]))
        for r in range(len(tops))
        for c in range(len(bands))
    ]
    return StreamGrid(
        cells=tuple(cells),
        texts=tuple(
            "\n".join(" ".join(parts) for parts in texts.get((cell.row, cell.col), {}).values()) for cell in cells
        ),
        header_rows=header_rows,
    )
